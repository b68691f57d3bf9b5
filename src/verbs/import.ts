import type { Readable } from "node:stream";
import { inflater } from "../image/codecs.js";
import { applyChanges } from "../image/config-changes.js";
import { detectCompression, ingestLayer, peek } from "../image/layer-ingest.js";
import type { Digest } from "../oci/digest.js";
import { BerthError, withContext } from "../oci/errors.js";
import { MediaType } from "../oci/media-types.js";
import { parseReference } from "../oci/reference.js";
import type { ImageConfig } from "../oci/schema.js";
import type { LocalStore } from "../store/local-store.js";
import { hostPlatform } from "./platform.js";
import { recordNewImage } from "./stored-image.js";

export interface ImportOptions {
  /** REPOSITORY[:TAG] to give the new image. */
  reference?: string;
  /** Dockerfile instructions applied to the config (--change). */
  changes?: readonly string[];
  /** The history comment (--message); docker's default is "Imported from <source>". */
  message?: string;
  /** Where the tar came from, for the default comment: "-" for stdin. */
  source?: string;
  /** The creation time; default SOURCE_DATE_EPOCH read by the caller, else now. */
  created?: Date;
}

/**
 * `docker import`: makes a one-layer image from a root filesystem tar (plain or gzip'd).
 * The layer is stored uncompressed, as docker's store keeps layers.
 */
export async function importImage(store: LocalStore, src: Readable, opts: ImportOptions = {}): Promise<Digest> {
  const ref = opts.reference ? parseReference(opts.reference) : undefined;
  if (ref?.digest)
    throw new BerthError("INVALID_REFERENCE", `import needs REPOSITORY[:TAG], not a digest: ${opts.reference}`);
  // bad --change instructions fail before any input is read
  const containerConfig = applyChanges({}, opts.changes ?? []);
  try {
    return await store.withLease(async (lease) => {
      const tar = await decompressed(src);
      const layer = await ingestLayer(lease, tar, {}, "imported file system");
      if (layer.layerSize === null || layer.diffId === null) {
        throw new BerthError("INVALID_ARCHIVE", "the input is not a tar archive (or is truncated)");
      }
      const created = (opts.created ?? new Date()).toISOString();
      const comment = opts.message ?? `Imported from ${opts.source ?? "-"}`;
      const platform = hostPlatform();
      const config: ImageConfig = {
        architecture: platform.architecture,
        comment,
        config: containerConfig,
        created,
        history: [{ created, comment }],
        os: platform.os,
        rootfs: { type: "layers", diff_ids: [layer.diffId] },
      };
      return recordNewImage(
        store,
        lease,
        config,
        [{ mediaType: MediaType.ociLayer, digest: layer.digest, size: layer.size }],
        [{ diffId: layer.diffId, size: layer.layerSize }],
        { ref },
      );
    });
  } catch (err) {
    throw withContext("importing", err);
  }
}

async function decompressed(src: Readable): Promise<Readable> {
  const { bytes, stream } = await peek(src);
  const compression = detectCompression(bytes);
  const inflate = inflater(compression, "the imported archive");
  if (!inflate) return stream;
  stream.pipe(inflate);
  return inflate;
}

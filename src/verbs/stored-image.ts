import type { Digest } from "../oci/digest.js";
import { MediaType, ociImageManifest } from "../oci/media-types.js";
import type { Reference } from "../oci/reference.js";
import type { Descriptor, ImageConfig, Manifest } from "../oci/schema.js";
import { type ImageRecord, type NewImage, registerImage, resolveImage } from "../store/image-records.js";
import type { Lease, LocalStore } from "../store/local-store.js";
import { settleImages } from "../store/pending-layers.js";

/** A stored image with its manifest and config read and checked. */
export interface StoredImage {
  record: ImageRecord;
  manifest: Manifest;
  config: ImageConfig;
  configBytes: Buffer;
}

export function readStoredImage(store: LocalStore, record: ImageRecord): StoredImage {
  const manifest = store.readManifest(record.manifest);
  const configBytes = store.readBlob(record.id as Digest);
  const config = JSON.parse(configBytes.toString("utf8")) as ImageConfig; // validated on entry (LocalStore.readConfig)
  return { record, manifest, config, configBytes };
}

/** Resolves a user's name or ID and reads the image. */
export function openImage(store: LocalStore, nameOrId: string): StoredImage {
  return readStoredImage(store, resolveImage(store, nameOrId).image);
}

/** openImage, once the layers a pull left unmeasured are checked and measured (its size is known). */
export async function openMeasuredImage(store: LocalStore, nameOrId: string): Promise<StoredImage> {
  const image = openImage(store, nameOrId);
  if (image.record.size >= 0) return image;
  await settleImages(store, [image.record.id]);
  return readStoredImage(store, resolveImage(store, image.record.id).image);
}

/**
 * Writes `config` and an OCI manifest of it and `layers` (already in the store) through the
 * lease, and records the image with `ref` (default tag `latest`) pointing at it. Returns the
 * image ID.
 */
export function recordNewImage(
  store: LocalStore,
  lease: Lease,
  config: ImageConfig,
  layers: Descriptor[],
  layerSizes: NewImage["layerSizes"],
  opts: { parent?: Digest; ref?: Reference | undefined } = {},
): Digest {
  const c = lease.putBytes(Buffer.from(JSON.stringify(config)));
  const manifest = ociImageManifest(c, layers);
  const m = lease.putBytes(Buffer.from(JSON.stringify(manifest)));
  registerImage(
    store,
    {
      manifestDigest: m.digest,
      manifestMediaType: MediaType.ociManifest,
      manifestSize: m.size,
      manifest,
      config,
      layerSizes,
      ...(opts.parent ? { parent: opts.parent } : {}),
    },
    opts.ref ? [{ ...opts.ref, tag: opts.ref.tag ?? "latest" }] : [],
  );
  return c.digest;
}

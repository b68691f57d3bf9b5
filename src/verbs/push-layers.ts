import * as fs from "node:fs";
import { pipeline, Transform, type TransformCallback } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { inflater } from "../image/codecs.js";
import { canGzipFileInto, compressor, gzipFileInto } from "../image/layer-compression.js";
import {
  type CopyError,
  type HashedCopy,
  hashedFile,
  OFFTHREAD_HASH_MIN,
  OffThreadHash,
} from "../image/offthread-hash.js";
import { type Digest, sha256 } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { type Compression, layerCompression, layerMediaType, MediaType } from "../oci/media-types.js";
import type { Descriptor } from "../oci/schema.js";
import { retriableUpload, uploadLent, uploadStreamed } from "../registry-client/blob-upload.js";
import type { RegistryClient } from "../registry-client/registry-client.js";
import { RegistryError } from "../registry-client/registry-error.js";
import { findCompressedLayer, recordCompressedLayer } from "../store/layer-compressions.js";
import type { Lease, LocalStore } from "../store/local-store.js";
import type { StoredImage } from "./stored-image.js";

export type Compressed = Exclude<Compression, "none">;

/** One layer of a push: sent as stored, or as a compressed copy (already made, or to make). */
export interface LayerPlan {
  stored: Descriptor;
  diffId: Digest;
  /** What the pushed manifest names; undefined until the copy is made. */
  send: Descriptor | undefined;
  /** The copy to make (or made), when the layer is not sent as stored. */
  convert?: { from: Compression; to: Compressed };
}

/** Layer media types push may compress: plain distributable tars, and with force any distributable one. */
const DISTRIBUTABLE: ReadonlySet<string> = new Set([
  MediaType.ociLayer,
  MediaType.ociLayerGzip,
  MediaType.ociLayerZstd,
  MediaType.dockerLayer,
  MediaType.dockerLayerGzip,
  MediaType.dockerLayerZstd,
]);

/**
 * What each layer becomes. A plain tar is compressed as asked; a compressed layer is sent as
 * stored (docker never recompresses), unless `force` and it is compressed otherwise (buildx's
 * force-compression). Foreign and non-distributable layers always go as they are. A copy made
 * by an earlier push is found in the store, so planning never compresses anything.
 */
export function planLayers(
  store: LocalStore,
  image: StoredImage,
  compression: Compression,
  force: boolean,
): LayerPlan[] {
  const diffIds = image.config.rootfs.diff_ids;
  return image.manifest.layers.map((stored, i) => {
    const diffId = (diffIds[i] ?? stored.digest) as Digest;
    const from = layerCompression(stored.mediaType) ?? "none";
    const convertible = DISTRIBUTABLE.has(stored.mediaType) && from !== compression;
    if (compression === "none" || !convertible || (from !== "none" && !force)) return { stored, diffId, send: stored };
    const plan: LayerPlan = { stored, diffId, send: undefined, convert: { from, to: compression } };
    const cached = findCompressedLayer(store, diffId, compression);
    if (cached) plan.send = { ...stored, mediaType: mediaTypeFor(plan), digest: cached.digest, size: cached.size };
    return plan;
  });
}

/**
 * The manifest to push: the stored one when every layer goes as stored (its digest unchanged),
 * else the same with the compressed descriptors. zstd has no Docker v2s2 media type docker
 * itself reads, so a Docker manifest with a zstd layer becomes an OCI one (as BuildKit does);
 * the config's bytes, so the image ID, are the same either way.
 */
export function pushedManifest(
  store: LocalStore,
  image: StoredImage,
  layers: readonly Descriptor[],
): { bytes: Buffer; digest: Digest; mediaType: string } {
  if (layers.every((d, i) => d === image.manifest.layers[i]))
    return {
      bytes: store.readBlob(image.record.manifest),
      digest: image.record.manifest,
      mediaType: image.record.manifestMediaType,
    };
  const toOci =
    image.record.manifestMediaType === MediaType.dockerManifest &&
    layers.some((d) => d.mediaType === MediaType.ociLayerZstd);
  const doc = JSON.parse(store.readBlob(image.record.manifest).toString("utf8")) as Record<string, unknown>;
  let mediaType = image.record.manifestMediaType;
  let out = layers;
  if (toOci) {
    mediaType = MediaType.ociManifest;
    doc.mediaType = mediaType;
    doc.config = { ...image.manifest.config, mediaType: MediaType.ociConfig };
    out = layers.map((d) => {
      const c = layerCompression(d.mediaType);
      if (c === undefined || d.mediaType === MediaType.dockerForeignLayer)
        throw new BerthError(
          "UNSUPPORTED",
          `layer ${d.digest} (${d.mediaType}) has no OCI media type: push with --compression gzip`,
        );
      return { ...d, mediaType: layerMediaType(c, "oci") };
    });
  }
  doc.layers = out;
  const bytes = Buffer.from(JSON.stringify(doc));
  return { bytes, digest: sha256(bytes), mediaType };
}

export interface CompressUpload {
  store: LocalStore;
  lease: Lease;
  client: RegistryClient;
  repo: string;
  plan: LayerPlan;
  attempts: number;
  backoffMs: number;
  /** Bytes of the stored layer read so far (the compressed size is unknown until the end). */
  onBytes: (n: number) => void;
  onRestart: () => void;
  /** The store's compressed copy could not be written (a full disk): the push went on without it. */
  onWarning?: (message: string) => void;
}

/**
 * Compresses a stored layer while uploading it, in one pass: store file → (inflate) → compress
 * → hash, a temp file in the store and the upload. Once the registry has taken the blob under
 * its digest, the temp file becomes the store's blob (through the lease, so nothing half-written
 * is ever visible and a prune cannot take it) and the cache records it.
 */
export async function compressAndUpload(opts: CompressUpload): Promise<Descriptor> {
  const { store, plan } = opts;
  const convert = plan.convert;
  if (!convert) throw new Error("compressAndUpload: a layer sent as stored");
  const what = `layer ${plan.diffId} (${convert.to})`;
  for (let failures = 0; ; ) {
    const tmp = store.tempPath();
    // A first try of a large plain layer to gzip goes from the file through shared memory to
    // the socket (lentUpload); anything else, and every retry, through streams and undici.
    const lent =
      failures === 0 &&
      convert.from === "none" &&
      convert.to === "gzip" &&
      plan.stored.size >= OFFTHREAD_HASH_MIN &&
      canGzipFileInto();
    try {
      const sent = (lent && (await lentUpload(opts, tmp, what))) || (await streamedUpload(opts, convert, tmp, what));
      // The copy is a cache for the next push: the registry has the blob either way.
      if (sent.copyError) {
        opts.onWarning?.(
          `${what}: the compressed copy was not kept in the store (${sent.copyError.message}): the next push compresses it again`,
        );
      } else {
        opts.lease.adoptVerified(tmp, sent.digest);
        recordCompressedLayer(store, plan.diffId, convert.to, sent);
      }
      return { ...plan.stored, mediaType: mediaTypeFor(plan), digest: sent.digest, size: sent.size };
    } catch (err) {
      // a 401 on the lent PATCH: the stream path's requests get a new token
      const refused = lent && err instanceof RegistryError && err.status === 401;
      if (!refused && (!retriableUpload(err) || ++failures >= opts.attempts)) throw err;
      if (refused) failures++;
      opts.onRestart();
      await sleep(opts.backoffMs * 2 ** (failures - 1));
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
}

interface Sent {
  digest: Digest;
  size: number;
  /** Why the store's copy was given up, when it was. */
  copyError?: CopyError;
}

/**
 * The hash worker's count of the bytes it wrote must be the count made, before the file becomes
 * the blob; a copy given up (a full disk) is not checked, as it will not become one.
 */
function checkWritten(what: string, copy: HashedCopy, size: number): void {
  if (!copy.copyError && copy.written !== size)
    throw new BerthError(
      "STORE",
      `${what}: the store's copy holds ${copy.written} of ${size} bytes (is the disk full?)`,
    );
}

/**
 * The stored tar's gzip bytes made into the hash worker's ring (gzipFileInto), where the worker
 * hashes them and writes the store's copy while the socket sends the same memory: no stream,
 * no per-piece buffers. Undefined when the registry put the upload elsewhere.
 */
async function lentUpload(opts: CompressUpload, tmp: string, what: string): Promise<Sent | undefined> {
  const { store, plan } = opts;
  if (!store.hasBlob(plan.stored.digest)) return undefined; // the stream path says so
  fs.writeFileSync(tmp, ""); // the worker appends to it
  let size = 0;
  let ring: OffThreadHash | undefined;
  let finished = false;
  let copyError: CopyError | undefined;
  try {
    const digest = await uploadLent({
      client: opts.client,
      repo: opts.repo,
      what,
      produce: async (lend) => {
        const r = new OffThreadHash("sha256", { path: tmp, have: 0, optional: true }, lend);
        ring = r;
        const sink = {
          update: (bytes: Uint8Array) => {
            size += bytes.length;
            return r.update(bytes);
          },
          region: (max: number) => r.region(max),
          filled: (n: number) => {
            size += n;
            return r.filled(n);
          },
        };
        await gzipFileInto(store.blobPath(plan.stored.digest), plan.stored.size, sink, opts.onBytes);
        finished = true;
        const copy = await r.finish();
        checkWritten(what, copy, size);
        copyError = copy.copyError;
        return `sha256:${copy.hex}` as Digest;
      },
    });
    return digest ? { digest, size, ...(copyError ? { copyError } : {}) } : undefined;
  } finally {
    if (!finished) await ring?.dispose();
  }
}

/**
 * Compresses a stored layer while uploading it, in one pass: store file → (inflate) → compress
 * → hash, a temp file in the store and the upload.
 */
async function streamedUpload(
  opts: CompressUpload,
  convert: { from: Compression; to: Compressed },
  tmp: string,
  what: string,
): Promise<Sent> {
  const { store, plan } = opts;
  // a large layer's compressed bytes are hashed and written to the store on a worker thread
  // (image/offthread-hash.ts): inline, the hash took ~0.4 s of the main thread's time per 500 MiB
  const file = hashedFile("sha256", tmp, plan.stored.size, { optional: true });
  let size = 0;
  let copyError: CopyError | undefined;
  let body: Transform | undefined;
  let finished = false;
  try {
    const tee = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        size += chunk.length;
        let waiting: Promise<void> | undefined;
        try {
          waiting = file.update(chunk);
        } catch (err) {
          cb(err as Error);
          return;
        }
        if (waiting) waiting.then(() => cb(null, chunk), cb);
        else cb(null, chunk);
      },
    });
    const counter = new Transform({
      highWaterMark: 1 << 20,
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        opts.onBytes(chunk.length);
        cb(null, chunk);
      },
    });
    const stages: NodeJS.ReadWriteStream[] = [counter];
    const inflate = inflater(convert.from, what);
    if (inflate) stages.push(inflate);
    stages.push(compressor(convert.to, what), tee);
    body = pipeline([store.openBlob(plan.stored.digest), ...stages], () => undefined) as unknown as Transform;
    const digest = await uploadStreamed({
      client: opts.client,
      repo: opts.repo,
      body,
      digest: async () => {
        finished = true;
        const copy = await file.finish();
        checkWritten(what, copy, size);
        copyError = copy.copyError;
        return `sha256:${copy.hex}` as Digest;
      },
      what,
    });
    return { digest, size, ...(copyError ? { copyError } : {}) };
  } finally {
    // a failure before the body was read (the POST) leaves the file open and zstd running
    body?.destroy();
    if (!finished) await file.dispose();
  }
}

/** gzip keeps the stored layer's family (Docker's diff.tar.gzip in a v2s2 manifest); zstd is OCI's. */
function mediaTypeFor(plan: LayerPlan): string {
  const to = plan.convert?.to ?? "gzip";
  const docker = plan.stored.mediaType.startsWith("application/vnd.docker.");
  return layerMediaType(to, docker && to === "gzip" ? "docker" : "oci");
}

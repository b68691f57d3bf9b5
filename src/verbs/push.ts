import * as fs from "node:fs";
import { join } from "node:path";
import { OFFTHREAD_HASH_MIN, warmHashWorker } from "../image/offthread-hash.js";
import { type Digest, shortId } from "../oci/digest.js";
import { BerthError, withContext } from "../oci/errors.js";
import { type Compression, MediaType } from "../oci/media-types.js";
import { formatPlatform } from "../oci/platform.js";
import { formatReference, fullName, parseReference, type Reference } from "../oci/reference.js";
import type { Descriptor } from "../oci/schema.js";
import { uploadBlob } from "../registry-client/blob-upload.js";
import { Registries } from "../registry-client/registries.js";
import { pushScope, type RegistryClient } from "../registry-client/registry-client.js";
import type { RegistryConfig } from "../registry-client/registry-config.js";
import type { RetryListener } from "../registry-client/transport.js";
import { addRepoDigest, namesHoldingBlob, resolveImage, tagsOfRepository, tryResolve } from "../store/image-records.js";
import type { Lease, LocalStore } from "../store/local-store.js";
import { parseCompression } from "./compression-option.js";
import { mapLimit } from "./concurrency.js";
import { compressAndUpload, type LayerPlan, planLayers, pushedManifest } from "./push-layers.js";
import { readStoredImage, type StoredImage } from "./stored-image.js";
import type { TransferListener } from "./transfer-events.js";

export interface PushOptions {
  registry: RegistryConfig;
  /** Every tag of the repository held in the store. */
  allTags?: boolean;
  onProgress?: TransferListener;
  onRetry?: RetryListener;
  /** Told each tag as its push starts. */
  onStart?: (ref: Reference) => void;
  /**
   * How plain tar layers travel: gzip (the default, as docker and skopeo), zstd, or none (as
   * stored). A compressed layer is sent as stored unless forceCompression.
   */
  compression?: Compression;
  /** Recompress layers compressed otherwise than `compression` asks (buildx's force-compression). */
  forceCompression?: boolean;
  /** What went wrong without stopping the push (a compressed copy the store had no room for). */
  onWarning?: (message: string) => void;
}

export interface PushedImage {
  reference: string;
  tag: string;
  digest: Digest;
  /** The manifest's size in bytes, which docker prints. */
  size: number;
}

/**
 * `docker push`: store → registry. Layers and config go first (each skipped when the
 * registry has it, mounted when another repository of it has, else uploaded, resumably),
 * the manifest last, by tag. Plain tar layers are compressed on the way (gzip unless told
 * otherwise) and the manifest names the compressed blobs; the config is sent as stored, so the
 * image ID stays. An image whose layers all go as stored is pushed with its stored manifest.
 */
export async function push(store: LocalStore, reference: string, opts: PushOptions): Promise<PushedImage[]> {
  parseCompression(opts.compression ?? "gzip");
  const ref = parseReference(reference);
  if (ref.digest) throw new BerthError("USAGE", `cannot push a digest reference (${reference}): push by tag`);
  if (opts.allTags && ref.tag) throw new BerthError("USAGE", `tag can't be used with --all-tags/-a (${reference})`);
  const tags = opts.allTags
    ? tagsOfRepository(store, fullName(ref)).map((n) => n.slice(fullName(ref).length + 1))
    : [ref.tag ?? "latest"];
  if (tags.length === 0)
    throw new BerthError("IMAGE_UNKNOWN", `An image does not exist locally with the repository: ${fullName(ref)}`);
  const registries = new Registries(opts.registry, opts.onRetry);
  try {
    const client = registries.client(ref.domain);
    const out: PushedImage[] = [];
    for (const tag of tags) {
      const tagged = { ...ref, tag };
      opts.onStart?.(tagged);
      try {
        out.push(await pushOne(store, client, tagged, opts));
      } catch (err) {
        throw withContext(`pushing ${formatReference(tagged)}`, err);
      }
    }
    return out;
  } finally {
    await registries.close();
  }
}

async function pushOne(
  store: LocalStore,
  client: RegistryClient,
  ref: Reference,
  opts: PushOptions,
): Promise<PushedImage> {
  const resolved = tryResolve(store, formatReference(ref));
  if (!resolved?.tag)
    throw new BerthError(
      "IMAGE_UNKNOWN",
      `An image does not exist locally with the tag: ${formatReference(ref, true)}`,
    );
  // The registry's first answer (the TLS probe, GET /v2/) comes while the store is read and the
  // lease taken (~9 ms before the first request asked for it); every request waits for this one.
  client.ping().catch(() => undefined); // a failure is met again, and reported, by that request
  const image = readStoredImage(store, resolved.image);
  const pushed = await pushImage(store, client, ref, image, ref.tag ?? "latest", opts);
  return { reference: formatReference(ref), tag: ref.tag ?? "latest", digest: pushed.digest, size: pushed.size };
}

interface PushedManifest {
  digest: Digest;
  size: number;
  mediaType: string;
}

/**
 * An image's blobs, then its manifest under `tag`, or inside an index push (no tag) under its
 * digest: the pushed manifest's, which differs from the stored one once layers are compressed.
 */
async function pushImage(
  store: LocalStore,
  client: RegistryClient,
  ref: Reference,
  image: StoredImage,
  tag: string | undefined,
  opts: PushOptions,
): Promise<PushedManifest> {
  const progress = opts.onProgress ?? (() => undefined);
  const plans = planLayers(store, image, opts.compression ?? "gzip", opts.forceCompression === true);
  // a large layer to compress is hashed on a worker thread, which takes ~25 ms of CPU to come
  // up: start it now, while the registry answers, rather than when the first bytes are made
  if (plans.some((p) => p.convert && !p.send && p.stored.size >= OFFTHREAD_HASH_MIN)) warmHashWorker();
  for (const b of image.manifest.layers) progress({ id: shortId(b.digest), status: "Preparing" });
  // Every layer as it will be sent is known (stored, or compressed by an earlier push): the
  // manifest is known too. Already there under this name: a registry accepts a manifest only
  // once the blobs it names are in the repository, so nothing else need be asked.
  const known = plans.map((p) => p.send);
  if (known.every((d): d is Descriptor => d !== undefined)) {
    const manifest = pushedManifest(store, image, known);
    if ((await client.manifestDigest(ref.path, tag ?? manifest.digest, [pushScope(ref.path)])) === manifest.digest) {
      for (const b of image.manifest.layers) progress({ id: shortId(b.digest), status: "Layer already exists" });
      addRepoDigest(store, `${fullName(ref)}@${manifest.digest}`, image.record.id);
      return { digest: manifest.digest, size: manifest.bytes.length, mediaType: manifest.mediaType };
    }
  }
  return store.withLease((lease) => pushBlobsAndManifest(store, client, ref, image, tag, plans, lease, opts));
}

async function pushBlobsAndManifest(
  store: LocalStore,
  client: RegistryClient,
  ref: Reference,
  image: StoredImage,
  tag: string | undefined,
  plans: readonly LayerPlan[],
  lease: Lease,
  opts: PushOptions,
): Promise<PushedManifest> {
  const progress = opts.onProgress ?? (() => undefined);
  const journalDir = join(store.root, "tmp");
  const sent: Descriptor[] = plans.map((p) => p.send ?? p.stored);
  // Everything the push reads, for as long as it runs: the stored manifest, config and layers (an rmi
  // meanwhile took the layers not yet sent, and the push failed half way) and the copies an
  // earlier push made (a prune could take them). The lease's end lets go of what nothing names.
  lease.protect(image.record.manifest);
  lease.protect(image.manifest.config.digest);
  for (const p of plans) {
    lease.protect(p.stored.digest);
    if (p.send) lease.protect(p.send.digest);
  }
  const jobs = [...plans.map((plan, i) => ({ plan, i })), { plan: undefined, i: -1 }];
  await mapLimit(jobs, opts.registry.maxConcurrentUploads, async ({ plan, i }) => {
    const isLayer = plan !== undefined;
    const id = shortId(plan ? plan.stored.digest : image.manifest.config.digest);
    if (plan?.convert && !plan.send) {
      let current = 0;
      sent[i] = await compressAndUpload({
        store,
        lease,
        client,
        repo: ref.path,
        plan,
        attempts: opts.registry.attempts,
        backoffMs: opts.registry.backoffMs,
        onBytes: (n) => {
          current += n;
          progress({ id, status: "Pushing", current, total: plan.stored.size });
        },
        onRestart: () => {
          current = 0;
        },
        ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
      });
      progress({ id, status: "Pushed" });
      return;
    }
    const desc = plan ? (plan.send ?? plan.stored) : image.manifest.config;
    const path = store.blobPath(desc.digest);
    if (!fs.existsSync(path))
      throw new BerthError("BLOB_UNKNOWN", `blob ${desc.digest} of the image is missing from the store`);
    let current = 0;
    const outcome = await uploadBlob({
      client,
      repo: ref.path,
      digest: desc.digest,
      size: desc.size,
      open: (start, end) => fs.createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20 }),
      // a compressed copy was pushed wherever the layer it comes from was
      mountFrom: mountCandidates(store, plan ? plan.stored.digest : desc.digest, ref),
      journalDir,
      // one PUT up to the chunk size (at most 32 MiB: a failed PUT starts over), PATCH chunks above
      monolithicMax: Math.min(32 << 20, opts.registry.uploadChunkSize),
      chunkSize: opts.registry.uploadChunkSize,
      attempts: opts.registry.attempts,
      backoffMs: opts.registry.backoffMs,
      onResume: (offset) => {
        current = offset;
        if (isLayer) progress({ id, status: "Resuming", current, total: desc.size });
      },
      onBytes: (n) => {
        current += n;
        if (isLayer) progress({ id, status: "Pushing", current, total: desc.size });
      },
    });
    if (!isLayer) return;
    if (outcome.kind === "exists") progress({ id, status: "Layer already exists" });
    else if (outcome.kind === "mounted") progress({ id, status: `Mounted from ${outcome.from}` });
    else progress({ id, status: "Pushed" });
  });
  const manifest = pushedManifest(store, image, sent);
  const digest = await client.putManifest(
    ref.path,
    tag ?? manifest.digest,
    manifest.bytes,
    manifest.mediaType,
    `putting the manifest of image ${shortId(image.record.id)}`,
  );
  addRepoDigest(store, `${fullName(ref)}@${digest}`, image.record.id);
  return { digest, size: manifest.bytes.length, mediaType: manifest.mediaType };
}

/**
 * Pushes several stored images as one multi-platform image: each image first (blobs, then its
 * manifest by digest), then an OCI index naming them with the platform of each config, by tag.
 * The registry accepts the index only once every manifest it names is there.
 */
export async function pushIndex(
  store: LocalStore,
  target: string,
  images: readonly string[],
  opts: PushOptions,
): Promise<PushedImage> {
  const ref = parseReference(target);
  if (ref.digest) throw new BerthError("USAGE", `cannot push an index to a digest reference (${target}): push by tag`);
  if (images.length === 0) throw new BerthError("USAGE", "an index needs at least one image");
  const tag = ref.tag ?? "latest";
  const members = images.map((name) => readStoredImage(store, resolveImage(store, name).image));
  const seen = new Set<string>();
  for (const m of members) {
    const p = formatPlatform(m.config);
    if (seen.has(p))
      throw new BerthError("USAGE", `two of the images are for ${p}: an index holds one image per platform`);
    seen.add(p);
  }
  const registries = new Registries(opts.registry, opts.onRetry);
  try {
    const client = registries.client(ref.domain);
    const manifests = [];
    for (const m of members) {
      const pushed = await pushImage(store, client, ref, m, undefined, opts);
      manifests.push({
        mediaType: pushed.mediaType,
        digest: pushed.digest,
        size: pushed.size,
        platform: {
          architecture: m.config.architecture,
          os: m.config.os,
          ...(m.config.variant ? { variant: m.config.variant } : {}),
        },
      });
    }
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
    const digest = await client.putManifest(ref.path, tag, bytes, MediaType.ociIndex, "putting the index");
    return { reference: formatReference({ ...ref, tag }), tag, digest, size: bytes.length };
  } catch (err) {
    throw withContext(`pushing ${formatReference({ ...ref, tag })}`, err);
  } finally {
    await registries.close();
  }
}

/** Other repositories of the same registry that hold the blob, as this store knows. */
function mountCandidates(store: LocalStore, digest: Digest, ref: Reference): string[] {
  const out = new Set<string>();
  for (const name of namesHoldingBlob(store, digest)) {
    try {
      const other = parseReference(name);
      if (other.domain === ref.domain && other.path !== ref.path) out.add(other.path);
    } catch {
      // a stored name berth cannot parse names nothing to mount from
    }
  }
  return [...out];
}

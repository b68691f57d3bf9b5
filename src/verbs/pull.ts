import { ingestLayer } from "../image/layer-ingest.js";
import { OFFTHREAD_HASH_MIN, warmHashWorker } from "../image/offthread-hash.js";
import { type Digest, shortId } from "../oci/digest.js";
import { BerthError, isDiskFull, withContext } from "../oci/errors.js";
import { isIndexMediaType, isManifestMediaType, layerCompression } from "../oci/media-types.js";
import { formatPlatform, hostPlatform, type PlatformSpec, parsePlatform, platformMatches } from "../oci/platform.js";
import { formatReference, fullName, parseReference, type Reference, withDefaultTag } from "../oci/reference.js";
import {
  type Descriptor,
  type ImageConfig,
  imageConfigSchema,
  indexSchema,
  type Manifest,
  manifestSchema,
  parseJson,
} from "../oci/schema.js";
import { type Downloaded, downloadLayer, fetchSmallBlob } from "../registry-client/blob-download.js";
import { Registries } from "../registry-client/registries.js";
import type { FetchedManifest, RegistryClient } from "../registry-client/registry-client.js";
import type { RegistryConfig } from "../registry-client/registry-config.js";
import type { RetryListener } from "../registry-client/transport.js";
import { blobHasDiffId, layerSizes, registerImage, tryResolve, UNKNOWN_SIZE } from "../store/image-records.js";
import type { Lease, LocalStore } from "../store/local-store.js";
import type { LayerClaim } from "../store/pending-layers.js";
import { mapLimit } from "./concurrency.js";
import type { TransferListener } from "./transfer-events.js";

export interface PullOptions {
  registry: RegistryConfig;
  /** `os/arch[/variant]`; default the host's. */
  platform?: string;
  /** Every tag of the repository (the reference must then name no tag). */
  allTags?: boolean;
  onProgress?: TransferListener;
  onRetry?: RetryListener;
  /** Told each tag's "latest: Pulling from library/nginx" moment. */
  onStart?: (ref: Reference) => void;
}

export interface PulledImage {
  /** Full name with tag or digest as pulled. */
  reference: string;
  /** The digest the registry knows the image by (an index's, for a multi-platform image). */
  digest: Digest;
  /** The image ID (config digest). */
  id: Digest;
  /** false when the store already had the image under this name. */
  downloaded: boolean;
}

/**
 * `docker pull`: registry → store. The manifest is negotiated (OCI index or manifest, Docker
 * list or v2s2), an index narrowed to one platform, every byte checked against its digest
 * and every layer against its diffID before the image and its tag are recorded in one
 * transaction. Layers the store has are not fetched; a download cut short resumes.
 */
export async function pull(store: LocalStore, reference: string, opts: PullOptions): Promise<PulledImage[]> {
  const ref = parseReference(reference);
  if (opts.allTags && (ref.tag || ref.digest)) {
    throw new BerthError("USAGE", `tag can't be used with --all-tags/-a: give the repository only (${reference})`);
  }
  const platform = wantedPlatform(opts.platform);
  const registries = new Registries(opts.registry, opts.onRetry);
  try {
    const clients = registries.pullClients(ref.domain);
    const refs = opts.allTags
      ? (
          await fromFirstThatServes(clients, (client) =>
            client.listTags(ref.path, `listing the tags of ${fullName(ref)}`),
          ).catch((err: unknown) => {
            throw withContext(`pulling ${fullName(ref)}`, err);
          })
        ).map((t) => ({ ...ref, tag: t }))
      : [withDefaultTag(ref)];
    if (refs.length === 0)
      throw new BerthError("IMAGE_UNKNOWN", `pulling ${fullName(ref)}: the repository has no tags`);
    const out: PulledImage[] = [];
    for (const r of refs) {
      opts.onStart?.(r);
      try {
        out.push(await fromFirstThatServes(clients, (client) => pullOne(store, client, r, platform, opts)));
      } catch (err) {
        throw withContext(`pulling ${formatReference(r)}`, err);
      }
    }
    return out;
  } finally {
    await registries.close();
  }
}

/**
 * `fn` with each client in turn (a Docker Hub pull's mirrors, then Hub) until one serves it, as
 * dockerd falls back from a mirror: one that is down, lacks the image, refuses us or sends
 * bad bytes gives way to the next. The store's own failures (a full disk) and bad requests
 * do not: the next would fail the same. The last one's error is the one reported.
 */
async function fromFirstThatServes<T>(
  clients: readonly RegistryClient[],
  fn: (c: RegistryClient) => Promise<T>,
): Promise<T> {
  for (const [i, client] of clients.entries()) {
    try {
      return await fn(client);
    } catch (err) {
      const last = i === clients.length - 1;
      const ours = (err instanceof BerthError && (err.code === "STORE" || err.code === "USAGE")) || isDiskFull(err);
      if (last || ours) throw err;
    }
  }
  throw new Error("no registry to pull from");
}

/**
 * `--platform`, normalised as containerd does (aarch64 is arm64, linux/arm is linux/arm/v7), so
 * pull picks what build and run mean by the same words; a bad one keeps pull's own message.
 */
function wantedPlatform(text: string | undefined): PlatformSpec & { explicit: boolean } {
  if (!text) return { ...hostPlatform(), explicit: false };
  try {
    return { ...parsePlatform(text), explicit: true };
  } catch {
    throw new BerthError("USAGE", `invalid platform "${text}": expected os/arch or os/arch/variant, like linux/arm64`);
  }
}

async function pullOne(
  store: LocalStore,
  client: RegistryClient,
  ref: Reference,
  platform: PlatformSpec & { explicit: boolean },
  opts: PullOptions,
): Promise<PulledImage> {
  const repo = ref.path;
  const top = await client.getManifest(repo, ref.digest ?? ref.tag ?? "latest", "fetching manifest");
  const image = isIndexMediaType(top.mediaType) ? await fromIndex(client, repo, top, platform) : top;
  if (!isManifestMediaType(image.mediaType)) {
    throw new BerthError(
      "UNSUPPORTED",
      `manifest ${image.digest} is a ${image.mediaType || "document of unknown type"}, not an image berth can pull`,
    );
  }
  const manifest = parseJson(manifestSchema, image.bytes, `image manifest ${image.digest}`);
  // a large compressed layer to fetch is hashed on a worker (blob-download.ts): start it now,
  // while the config comes, rather than when the layer's first bytes do
  if (
    manifest.layers.some(
      (l) =>
        l.size >= OFFTHREAD_HASH_MIN && layerCompression(l.mediaType) !== "none" && !store.hasBlob(l.digest as Digest),
    )
  )
    warmHashWorker();
  const previous = ref.tag ? tryResolve(store, formatReference(ref))?.image.id : undefined;

  return store.withLease(async (lease) => {
    const read = readConfig(client, repo, manifest, lease).then(({ config, configBytes }) => {
      if (
        platform.explicit &&
        !isIndexMediaType(top.mediaType) &&
        // os and architecture only, as before: a config often leaves its variant out
        !platformMatches({ os: platform.os, architecture: platform.architecture }, config)
      ) {
        throw new BerthError(
          "UNSUPPORTED",
          `the image is for ${config.os}/${config.architecture}, not the requested ${formatPlatform(platform)}`,
        );
      }
      const diffIds = config.rootfs.diff_ids as Digest[];
      if (diffIds.length !== manifest.layers.length) {
        throw new BerthError(
          "REGISTRY",
          `manifest ${image.digest} lists ${manifest.layers.length} layers but its config has ${diffIds.length} diff_ids`,
        );
      }
      return { config, configBytes, diffIds };
    });
    // The layers start while the config comes (a round trip and a parse less before the first
    // byte), except when the config's platform may still refuse the image: an explicit
    // --platform on a single-platform manifest waits for it, so nothing is fetched in vain.
    const mayRefuse = platform.explicit && !isIndexMediaType(top.mediaType);
    if (mayRefuse) await read;
    const diffIdOf = (j: number) => read.then((r) => r.diffIds[j] as Digest);
    const layers = mapLimit(manifest.layers, opts.registry.maxConcurrentDownloads, (layer, j) =>
      fetchLayer(client, repo, layer, () => diffIdOf(j), lease, opts),
    );
    // both settle before the lease ends: no download is left writing when one of them failed
    const [settledConfig, settledLayers] = await Promise.allSettled([read, layers]);
    if (settledConfig.status === "rejected") throw settledConfig.reason;
    if (settledLayers.status === "rejected") throw settledLayers.reason;
    const { config, configBytes, diffIds } = settledConfig.value;
    const pulled = settledLayers.value;
    lease.putBytes(configBytes, { digest: manifest.config.digest, size: manifest.config.size }, "image config");
    lease.putBytes(image.bytes, { digest: image.digest }, "image manifest");
    registerImage(
      store,
      {
        manifestDigest: image.digest,
        manifestMediaType: image.mediaType,
        manifestSize: image.bytes.length,
        manifest,
        config,
        layerSizes: diffIds.map((d, j) => ({ diffId: d, size: (pulled[j] as PulledLayer).size })),
        pendingLayers: pulled.flatMap((p) => (p.pending ? [p.pending] : [])),
        repoDigests: [`${fullName(ref)}@${top.digest}`],
      },
      ref.tag ? [ref] : [],
    );
    const id = manifest.config.digest;
    return { reference: formatReference(ref), digest: top.digest, id, downloaded: previous !== id };
  });
}

/** Picks the platform's manifest from an index (containerd's match: os and arch, and variant when asked). */
async function fromIndex(
  client: RegistryClient,
  repo: string,
  top: FetchedManifest,
  platform: PlatformSpec,
): Promise<FetchedManifest> {
  const index = parseJson(indexSchema, top.bytes, `image index ${top.digest}`);
  const candidates = index.manifests.filter(
    (m) => isManifestMediaType(m.mediaType) && m.platform !== undefined && platformMatches(platform, m.platform),
  );
  const chosen = candidates[0];
  if (!chosen) {
    throw new BerthError(
      "UNSUPPORTED",
      `no matching manifest for ${formatPlatform(platform)} in the manifest list entries`,
    );
  }
  const child = await client.getManifest(repo, chosen.digest, `fetching manifest ${chosen.digest}`);
  if (child.bytes.length !== chosen.size) {
    throw new BerthError(
      "SIZE_MISMATCH",
      `manifest ${chosen.digest}: ${child.bytes.length} bytes, the index says ${chosen.size}`,
    );
  }
  // The index's media type is the one the digest was taken over; a header may differ.
  return { ...child, mediaType: chosen.mediaType };
}

async function readConfig(
  client: RegistryClient,
  repo: string,
  manifest: Manifest,
  lease: Lease,
): Promise<{ config: ImageConfig; configBytes: Buffer }> {
  const d = manifest.config;
  const what = `image config ${d.digest}`;
  lease.protect(d.digest);
  const configBytes = lease.store.hasBlob(d.digest)
    ? lease.store.readBlob(d.digest)
    : await fetchSmallBlob(client, repo, d.digest, d.size, what);
  return { config: parseJson(imageConfigSchema, configBytes, what), configBytes };
}

/** What pulling one layer gave: docker's size of it (UNKNOWN_SIZE until measured), and its claim if unchecked. */
interface PulledLayer {
  size: number;
  pending?: LayerClaim;
}

/**
 * One layer into the store (or found there). A compressed layer is checked against its
 * digest only: its diffID (and docker's size) wait for its first use, which inflates it anyway
 * (store/pending-layers.ts). A plain tar's digest is its diffID, so it is checked whole here.
 */
async function fetchLayer(
  client: RegistryClient,
  repo: string,
  layer: Descriptor,
  diffIdOf: () => Promise<Digest>,
  lease: Lease,
  opts: PullOptions,
): Promise<PulledLayer> {
  const id = shortId(layer.digest);
  const progress = opts.onProgress ?? (() => undefined);
  const store = lease.store;
  const compression = layerCompression(layer.mediaType);
  if (compression === undefined) {
    throw new BerthError(
      "UNSUPPORTED",
      `layer ${layer.digest} has media type ${layer.mediaType}, which is not a layer berth can unpack`,
    );
  }
  const deferred = compression !== "none";
  // Lease first, then look: a prune between the two would otherwise remove what we found.
  lease.protect(layer.digest);
  const present = store.hasBlob(layer.digest);
  // a layer to download does not wait for the config; one found in the store does
  const known = present ? await diffIdOf() : undefined;
  if (known && blobHasDiffId(store, layer.digest, known)) {
    progress({ id, status: "Already exists" });
    return { size: layerSizes(store, [known])[0] ?? 0 };
  }
  let staged: Downloaded | undefined;
  if (present) {
    // present but never seen as this layer
    progress({ id, status: "Already exists" });
    if (!deferred) {
      staged = await ingestLayer(
        lease,
        store.openBlob(layer.digest),
        { digest: layer.digest, size: layer.size },
        `layer ${layer.digest}`,
      );
    }
  } else {
    progress({ id, status: "Pulling fs layer" });
    let current = 0;
    staged = await downloadLayer({
      client,
      repo,
      digest: layer.digest,
      size: layer.size,
      lease,
      what: `layer ${layer.digest}`,
      attempts: opts.registry.attempts,
      backoffMs: opts.registry.backoffMs,
      digestOnly: deferred,
      onResume: (have) => {
        current = have;
        progress({ id, status: "Resuming", current, total: layer.size });
      },
      onBytes: (n) => {
        current += n;
        progress({ id, status: "Downloading", current, total: layer.size });
      },
    });
    progress({ id, status: "Download complete" });
  }
  const diffId = known ?? (await diffIdOf());
  if (deferred) {
    progress({ id, status: "Pull complete" });
    return { size: UNKNOWN_SIZE, pending: { digest: layer.digest, diffId } };
  }
  if (!staged || staged.layerSize === null)
    throw new BerthError("REGISTRY", `layer ${layer.digest} is not a tar archive`);
  if (staged.diffId !== diffId) {
    throw new BerthError(
      "DIGEST_MISMATCH",
      `layer ${layer.digest} unpacks to ${staged.diffId}, but the image config expects ${diffId}`,
    );
  }
  progress({ id, status: "Pull complete" });
  return { size: staged.layerSize };
}

import { posix } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { extract } from "tar-stream";
import { detectCompression, ingestLayer, type StagedBlob } from "../image/layer-ingest.js";
import { type Digest, digestHex, parseDigest, sha256 } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import {
  isIndexMediaType,
  isManifestMediaType,
  layerMediaType,
  MediaType,
  ociImageManifest,
} from "../oci/media-types.js";
import { parseReference, type Reference } from "../oci/reference.js";
import {
  archiveManifestSchema,
  type ImageConfig,
  type ImageIndex,
  imageConfigSchema,
  indexSchema,
  type Manifest,
  manifestSchema,
  parseJson,
} from "../oci/schema.js";
import type { NewImage } from "../store/image-records.js";
import type { Lease } from "../store/local-store.js";

/** Entries up to this size are also kept in memory: configs, manifests and indexes are small. */
const SMALL = 4 << 20;

interface Entry {
  staged: StagedBlob;
  bytes?: Buffer;
}

/** An image read from an archive, its blobs already verified and in the store. */
export interface ArchiveImage {
  image: NewImage;
  tags: Reference[];
  /** How the archive named it, for messages. */
  label: string;
}

/**
 * Reads a docker-archive (docker save, podman save), an OCI layout tar, or either gzip'd,
 * from a stream. Every file is ingested into the store through `lease` as it passes, verified
 * against the digest its name or the manifests claim; the images are returned for the caller
 * to register in one transaction. Throws INVALID_ARCHIVE with the path at fault.
 */
export async function readArchive(src: Readable, lease: Lease, hostPlatform: { os: string; architecture: string }) {
  const entries = new Map<string, Entry>();
  const links = new Map<string, string>();
  const tarStream = await maybeGunzip(src);
  const parser = extract();
  const done = new Promise<void>((resolve, reject) => {
    parser.on("finish", resolve);
    parser.on("error", (err) =>
      reject(
        err instanceof BerthError ? err : new BerthError("INVALID_ARCHIVE", `not a valid tar archive: ${err.message}`),
      ),
    );
    tarStream.on("error", (err) =>
      reject(err instanceof BerthError ? err : new BerthError("INVALID_ARCHIVE", `reading archive: ${err.message}`)),
    );
  });
  parser.on("entry", (header, stream, next) => {
    const name = normalise(header.name);
    if (header.type === "symlink" && header.linkname) {
      // docker save writes a layer shared by several images once and links the others to it
      // (`<id>/layer.tar -> ../<first>/layer.tar`); a target outside the archive is refused.
      const target = header.linkname.startsWith("/")
        ? "../"
        : normalise(posix.join(posix.dirname(name), header.linkname));
      if (target.startsWith("../") || target === "..") {
        stream.resume();
        parser.destroy(new BerthError("INVALID_ARCHIVE", `archive entry "${name}" links outside the archive`));
        return;
      }
      links.set(name, target);
    }
    if (header.type !== "file" && header.type !== "contiguous-file") {
      stream.on("end", next);
      stream.resume();
      return;
    }
    handleEntry(name, header.size ?? 0, stream)
      .then(() => next())
      .catch((err: unknown) => {
        stream.resume();
        parser.destroy(err as Error);
      });
  });
  async function handleEntry(name: string, size: number, stream: AsyncIterable<unknown>) {
    if (name === "" || name.startsWith("../"))
      throw new BerthError("INVALID_ARCHIVE", `archive entry "${name}" escapes the archive`);
    const claimed = claimedDigest(name);
    if (size <= SMALL) {
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      const bytes = Buffer.concat(chunks);
      // Small entries are ingested lazily (only if an image uses them): metadata files such
      // as manifest.json must not land in the store.
      const digest = sha256(bytes);
      if (claimed && claimed !== digest) throw mismatch(name, claimed, digest);
      entries.set(name, {
        staged: { digest, size: bytes.length, compression: detectCompression(bytes), diffId: null, layerSize: null },
        bytes,
      });
      return;
    }
    const staged = await ingestLayer(
      lease,
      stream,
      claimed ? { digest: claimed, size } : { size },
      `archive entry ${name}`,
    );
    entries.set(name, { staged });
  }
  tarStream.pipe(parser);
  await done;
  if (entries.size === 0) throw new BerthError("INVALID_ARCHIVE", "the archive is empty: no files in it");

  // Links resolve once the whole tar is read: a link may come before its target.
  for (const [name, target] of links) {
    let resolved: string | undefined = target;
    for (let hops = 0; resolved !== undefined && !entries.has(resolved) && hops < 16; hops++)
      resolved = links.get(resolved);
    const entry = resolved === undefined ? undefined : entries.get(resolved);
    if (entry) entries.set(name, entry);
  }
  const manifestJson = entries.get("manifest.json");
  if (manifestJson?.bytes) return fromDockerArchive(manifestJson.bytes, entries, lease);
  const indexJson = entries.get("index.json");
  if (indexJson?.bytes) return fromOciLayout(indexJson.bytes, entries, lease, hostPlatform);
  throw new BerthError(
    "INVALID_ARCHIVE",
    "not a docker or OCI image archive: it has neither manifest.json nor index.json at its top",
  );
}

function normalise(name: string): string {
  const n = posix.normalize(name.replace(/^\.\/+/, "")).replace(/\/+$/, "");
  return n === "." ? "" : n;
}

function claimedDigest(name: string): Digest | undefined {
  const m = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(name) ?? /^()([a-f0-9]{64})\.json$/.exec(name);
  if (!m) return undefined;
  try {
    return parseDigest(`${m[1] || "sha256"}:${m[2]}`);
  } catch {
    throw new BerthError("INVALID_ARCHIVE", `archive entry "${name}" has a malformed digest in its name`);
  }
}

function mismatch(name: string, claimed: Digest, actual: Digest): BerthError {
  return new BerthError(
    "DIGEST_MISMATCH",
    `archive entry ${name}: content has digest ${actual}, but its name claims ${claimed}`,
  );
}

async function maybeGunzip(src: Readable): Promise<Readable> {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let first = true;
  let target: NodeJS.WritableStream = out;
  src.on("data", (chunk: Buffer) => {
    if (first) {
      first = false;
      if (detectCompression(chunk) === "gzip") {
        const gunzip = createGunzip();
        gunzip.on("error", (err) => out.destroy(new BerthError("INVALID_ARCHIVE", `bad gzip data: ${err.message}`)));
        gunzip.pipe(out);
        target = gunzip;
      }
    }
    if (!target.write(chunk)) {
      src.pause();
      (target as PassThrough).once("drain", () => src.resume());
    }
  });
  src.on("end", () => target.end());
  src.on("error", (err) => out.destroy(err));
  return out;
}

function need(entries: Map<string, Entry>, path: string, what: string): Entry {
  const e = entries.get(normalise(path));
  if (!e) throw new BerthError("INVALID_ARCHIVE", `${what} names ${path}, which is not in the archive`);
  return e;
}

function needBytes(entries: Map<string, Entry>, path: string, what: string): Buffer {
  const e = need(entries, path, what);
  if (!e.bytes) throw new BerthError("INVALID_ARCHIVE", `${what} names ${path}, which is too large to be JSON`);
  return e.bytes;
}

/** Makes sure a staged entry is in the store and knows its layer facts. */
async function stageLayer(lease: Lease, entry: Entry, what: string): Promise<StagedBlob> {
  if (entry.bytes && (entry.staged.diffId === null || !lease.store.hasBlob(entry.staged.digest))) {
    const bytes = entry.bytes;
    entry.staged = await ingestLayer(
      lease,
      bufferStream(bytes),
      { digest: entry.staged.digest, size: bytes.length },
      what,
    );
  }
  return entry.staged;
}

function bufferStream(bytes: Buffer): Readable {
  const p = new PassThrough();
  p.end(bytes);
  return p;
}

async function fromDockerArchive(bytes: Buffer, entries: Map<string, Entry>, lease: Lease): Promise<ArchiveImage[]> {
  const list = parseJson(archiveManifestSchema, bytes, "manifest.json");
  const out: ArchiveImage[] = [];
  for (const [i, item] of list.entries()) {
    const what = `manifest.json entry ${i}`;
    const configBytes = needBytes(entries, item.Config, what);
    const config = parseJson(imageConfigSchema, configBytes, `image config ${item.Config}`);
    const configDigest = sha256(configBytes);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== item.Layers.length) {
      throw new BerthError(
        "INVALID_ARCHIVE",
        `${what}: lists ${item.Layers.length} layers but its config has ${diffIds.length} diff_ids`,
      );
    }
    const layers: Manifest["layers"] = [];
    const layerSizes: NewImage["layerSizes"] = [];
    for (const [j, path] of item.Layers.entries()) {
      const staged = await stageLayer(lease, need(entries, path, what), `layer ${path}`);
      checkLayer(staged, diffIds[j] as Digest, path);
      layers.push({ mediaType: layerMediaType(staged.compression, "oci"), digest: staged.digest, size: staged.size });
      layerSizes.push({ diffId: diffIds[j] as Digest, size: staged.layerSize ?? 0 });
    }
    lease.putBytes(configBytes, { digest: configDigest }, `image config ${item.Config}`);
    const manifest = ociImageManifest({ digest: configDigest, size: configBytes.length }, layers);
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const m = lease.putBytes(manifestBytes);
    const tags = (item.RepoTags ?? []).map((t) => parseTag(t, what));
    out.push({
      image: {
        manifestDigest: m.digest,
        manifestMediaType: MediaType.ociManifest,
        manifestSize: m.size,
        manifest,
        config,
        layerSizes,
      },
      tags,
      label: item.RepoTags?.[0] ?? configDigest,
    });
  }
  return out;
}

function checkLayer(staged: StagedBlob, diffId: Digest, path: string): void {
  if (staged.layerSize === null) {
    throw new BerthError("INVALID_ARCHIVE", `layer ${path} is not a tar archive (or is truncated)`);
  }
  if (staged.diffId !== diffId) {
    throw new BerthError(
      "DIGEST_MISMATCH",
      `layer ${path}: its content has diff ID ${staged.diffId}, but the image config expects ${diffId}`,
    );
  }
}

function parseTag(text: string, what: string): Reference {
  try {
    const ref = parseReference(text);
    if (ref.digest) throw new BerthError("INVALID_REFERENCE", "a digest is not a tag");
    return { ...ref, tag: ref.tag ?? "latest" };
  } catch (err) {
    throw new BerthError("INVALID_ARCHIVE", `${what}: bad RepoTag "${text}": ${(err as Error).message}`);
  }
}

async function fromOciLayout(
  bytes: Buffer,
  entries: Map<string, Entry>,
  lease: Lease,
  host: { os: string; architecture: string },
): Promise<ArchiveImage[]> {
  const index = parseJson(indexSchema, bytes, "index.json");
  const out: ArchiveImage[] = [];
  for (const [i, desc] of index.manifests.entries()) {
    const what = `index.json manifests[${i}]`;
    const annotations = desc.annotations ?? {};
    // containerd's annotation holds a full name; the OCI one often holds only a tag ("1.0",
    // "latest": skopeo, buildah), which names no repository, so such images load untagged.
    const refName = annotations["org.opencontainers.image.ref.name"];
    const name = annotations["io.containerd.image.name"] ?? (refName && /[/:]/.test(refName) ? refName : undefined);
    const tags = name ? [parseTag(name, what)] : [];
    const manifestDesc = pickManifest(entries, desc, host, what);
    const manifestBytes = blobBytes(entries, manifestDesc.digest, manifestDesc.size, what);
    const manifest = parseJson(manifestSchema, manifestBytes, `image manifest ${manifestDesc.digest}`);
    const configBytes = blobBytes(
      entries,
      manifest.config.digest,
      manifest.config.size,
      `manifest ${manifestDesc.digest}`,
    );
    const config = parseJson(imageConfigSchema, configBytes, `image config ${manifest.config.digest}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new BerthError(
        "INVALID_ARCHIVE",
        `manifest ${manifestDesc.digest}: ${manifest.layers.length} layers but ${diffIds.length} diff_ids`,
      );
    }
    const layerSizes: NewImage["layerSizes"] = [];
    for (const [j, layer] of manifest.layers.entries()) {
      const path = `blobs/${layer.digest.replace(":", "/")}`;
      const entry = need(entries, path, `manifest ${manifestDesc.digest}`);
      if (entry.staged.size !== layer.size) {
        throw new BerthError(
          "SIZE_MISMATCH",
          `layer ${layer.digest}: ${entry.staged.size} bytes, manifest says ${layer.size}`,
        );
      }
      const staged = await stageLayer(lease, entry, `layer ${layer.digest}`);
      checkLayer(staged, diffIds[j] as Digest, path);
      layerSizes.push({ diffId: diffIds[j] as Digest, size: staged.layerSize ?? 0 });
    }
    lease.putBytes(configBytes, { digest: manifest.config.digest }, "image config");
    lease.putBytes(manifestBytes, { digest: manifestDesc.digest }, "image manifest");
    out.push({
      image: {
        manifestDigest: manifestDesc.digest,
        manifestMediaType: manifest.mediaType ?? manifestDesc.mediaType,
        manifestSize: manifestBytes.length,
        manifest,
        config,
        layerSizes,
      },
      tags,
      label: name ?? refName ?? manifestDesc.digest,
    });
  }
  return out;
}

function blobBytes(entries: Map<string, Entry>, digest: Digest, size: number, what: string): Buffer {
  const path = `blobs/${digest.replace(":", "/")}`;
  const bytes = needBytes(entries, path, what);
  if (bytes.length !== size) {
    throw new BerthError("SIZE_MISMATCH", `blob ${digest}: ${bytes.length} bytes, but ${what} says ${size}`);
  }
  return bytes;
}

/** Follows an index down to the image manifest for the host's platform. */
function pickManifest(
  entries: Map<string, Entry>,
  desc: ImageIndex["manifests"][number],
  host: { os: string; architecture: string },
  what: string,
): { digest: Digest; size: number; mediaType: string } {
  if (isManifestMediaType(desc.mediaType)) return desc;
  if (!isIndexMediaType(desc.mediaType)) {
    throw new BerthError("UNSUPPORTED", `${what}: media type ${desc.mediaType} is not an image`);
  }
  const nested = parseJson(indexSchema, blobBytes(entries, desc.digest, desc.size, what), `image index ${desc.digest}`);
  const match =
    nested.manifests.find((m) => m.platform?.os === host.os && m.platform?.architecture === host.architecture) ??
    (nested.manifests.length === 1 ? nested.manifests[0] : undefined);
  if (!match) {
    throw new BerthError(
      "UNSUPPORTED",
      `${what}: index ${digestHex(desc.digest).slice(0, 12)} has no image for ${host.os}/${host.architecture}`,
    );
  }
  return pickManifest(entries, match, host, `index ${desc.digest}`);
}

export type { ImageConfig };

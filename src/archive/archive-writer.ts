import { once } from "node:events";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pack } from "tar-stream";
import { type Digest, digestHex } from "../oci/digest.js";
import { MediaType } from "../oci/media-types.js";
import { familiarName, parseReference } from "../oci/reference.js";
import type { Manifest } from "../oci/schema.js";
import type { LocalStore } from "../store/local-store.js";

/** One image to write: its manifest as stored and the full tag names to record. */
export interface ArchiveEntryImage {
  manifestDigest: Digest;
  manifestMediaType: string;
  manifest: Manifest;
  tags: string[];
}

/**
 * Writes images as one tar that is both a docker-archive (manifest.json + repositories, what
 * `docker load` and `podman load` read) and an OCI image layout (oci-layout + index.json +
 * blobs/), as docker 25+ does. Blobs shared by several images are written once. Entries have
 * fixed owners and times, so the same images always give the same bytes.
 */
export async function writeArchive(
  store: LocalStore,
  images: readonly ArchiveEntryImage[],
  out: Writable,
): Promise<void> {
  const tar = pack();
  const piped = pipeline(tar, out);
  const written = new Set<string>();
  const header = { mtime: new Date(0), uid: 0, gid: 0, uname: "", gname: "", mode: 0o644 };

  const addBytes = async (name: string, bytes: Buffer) => {
    tar.entry({ ...header, name, size: bytes.length }, bytes);
  };
  const addBlob = async (digest: Digest) => {
    if (written.has(digest)) return;
    written.add(digest);
    const name = `blobs/${digest.replace(":", "/")}`;
    const size = store.blobSize(digest);
    let finished!: Promise<void>;
    const entry = (() => {
      let e!: ReturnType<typeof tar.entry>;
      finished = new Promise<void>((resolve, reject) => {
        e = tar.entry({ ...header, name, size }, (err) => (err ? reject(err) : resolve()));
      });
      return e;
    })();
    for await (const chunk of store.openBlob(digest)) {
      if (!entry.write(chunk as Buffer)) await once(entry, "drain");
    }
    (entry as unknown as Writable).end();
    await finished;
  };

  await addBytes("oci-layout", Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  const dockerManifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  const indexManifests: object[] = [];
  for (const img of images) {
    const config = img.manifest.config.digest;
    await addBlob(config);
    for (const layer of img.manifest.layers) await addBlob(layer.digest);
    await addBlob(img.manifestDigest);
    const familiarTags = img.tags.map(toFamiliar);
    dockerManifest.push({
      Config: `blobs/${config.replace(":", "/")}`,
      RepoTags: familiarTags.length ? familiarTags : null,
      Layers: img.manifest.layers.map((l) => `blobs/${l.digest.replace(":", "/")}`),
    });
    const top = img.manifest.layers.at(-1);
    for (const t of familiarTags) {
      const i = t.lastIndexOf(":");
      const repo = t.slice(0, i);
      repositories[repo] ??= {};
      if (top) (repositories[repo] as Record<string, string>)[t.slice(i + 1)] = digestHex(top.digest);
    }
    const base = {
      mediaType: img.manifestMediaType,
      digest: img.manifestDigest,
      size: store.blobSize(img.manifestDigest),
    };
    if (img.tags.length === 0) indexManifests.push(base);
    for (const t of img.tags) {
      indexManifests.push({
        ...base,
        annotations: {
          "io.containerd.image.name": t,
          "org.opencontainers.image.ref.name": t.slice(t.lastIndexOf(":") + 1),
        },
      });
    }
  }
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: indexManifests };
  await addBytes("index.json", Buffer.from(`${JSON.stringify(index)}\n`));
  await addBytes("manifest.json", Buffer.from(`${JSON.stringify(dockerManifest)}\n`));
  await addBytes("repositories", Buffer.from(`${JSON.stringify(repositories)}\n`));
  tar.finalize();
  await piped;
}

function toFamiliar(fullTag: string): string {
  const ref = parseReference(fullTag);
  return `${familiarName(ref)}:${ref.tag ?? "latest"}`;
}

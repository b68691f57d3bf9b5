import type { Writable } from "node:stream";
import { type ArchiveEntryImage, writeArchive } from "../archive/archive-writer.js";
import { withContext } from "../oci/errors.js";
import { resolveImage } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";
import { settleImages } from "../store/pending-layers.js";
import { readStoredImage } from "./stored-image.js";

/**
 * `docker save`: writes the named images (by name or ID) as one tar that docker load,
 * podman load, skopeo (docker-archive: and oci-archive:) and umoci all read. Naming an image
 * by tag saves that tag; naming it by ID saves all its tags, as docker does.
 */
export async function save(store: LocalStore, names: readonly string[], out: Writable): Promise<void> {
  const byId = new Map<string, ArchiveEntryImage>();
  for (const name of names) {
    const resolved = resolveImage(store, name);
    // a pulled layer's diffID is checked before the archive vouches for it (docker load will too)
    await settleImages(store, [resolved.image.id]);
    const image = readStoredImage(store, resolved.image);
    const entry = byId.get(image.record.id) ?? {
      manifestDigest: image.record.manifest,
      manifestMediaType: image.record.manifestMediaType,
      manifest: image.manifest,
      tags: [],
    };
    const tags = resolved.tag ? [resolved.tag] : resolved.repoDigest ? [] : image.record.tags;
    for (const t of tags) if (!entry.tags.includes(t)) entry.tags.push(t);
    byId.set(image.record.id, entry);
  }
  const entries = [...byId.values()];
  try {
    // what the archive will hold is kept until it is written: an rmi meanwhile deleted the
    // blobs not yet written, and the save broke off half way
    await store.withLease(async (lease) => {
      for (const e of entries) {
        for (const d of [e.manifestDigest, e.manifest.config.digest, ...e.manifest.layers.map((l) => l.digest)])
          lease.protect(d);
      }
      await writeArchive(store, entries, out);
    });
  } catch (err) {
    throw withContext("saving images", err);
  }
}

import type { Digest } from "../oci/digest.js";
import { digestHex, isDigest } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { formatReference, fullName, parseReference, type Reference, withDefaultTag } from "../oci/reference.js";
import type { ImageConfig, Manifest } from "../oci/schema.js";
import type { LocalStore } from "./local-store.js";

/** One image as the store knows it: enough to list it without reading any blob. */
export interface ImageRecord {
  id: Digest;
  manifest: Digest;
  manifestMediaType: string;
  manifestSize: number;
  created: string | null;
  createdMs: number | null;
  size: number;
  addedMs: number;
  parent: Digest | null;
  labels: Record<string, string> | null;
  tags: string[];
  repoDigests: string[];
  intermediate: boolean;
}

interface ImageRow {
  id: string;
  manifest: string;
  manifest_media_type: string;
  manifest_size: number;
  created: string | null;
  created_ms: number | null;
  size: number;
  added_ms: number;
  parent: string | null;
  labels: string | null;
  intermediate: number;
}

/** What registering an image needs; every blob named must already be in the store. */
export interface NewImage {
  manifestDigest: Digest;
  manifestMediaType: string;
  manifestSize: number;
  manifest: Manifest;
  config: ImageConfig;
  /** docker's size per layer, in manifest order, keyed by diffID; UNKNOWN_SIZE when not yet measured. */
  layerSizes: { diffId: Digest; size: number }[];
  /** Layer blobs stored without inflating them: their diffID is the config's claim until checked. */
  pendingLayers?: { digest: Digest; diffId: Digest }[];
  parent?: Digest;
  repoDigests?: string[];
  /** A build step's image: build cache, not listed (unless -a) nor dangling. */
  intermediate?: boolean;
}

export interface TagChange {
  name: string;
  previous: Digest | null;
}

/**
 * Records an image and points `tags` at it, in one transaction. Tags that pointed at
 * another image move (as docker's do); returns what they pointed at before.
 */
export function registerImage(store: LocalStore, image: NewImage, tags: readonly Reference[]): TagChange[] {
  const id = image.manifest.config.digest;
  const blobs = new Set<string>([image.manifestDigest, id, ...image.manifest.layers.map((l) => l.digest)]);
  for (const d of blobs) {
    if (!store.hasBlob(d as Digest)) {
      throw new BerthError(
        "BLOB_UNKNOWN",
        `image ${digestHex(id).slice(0, 12)} names blob ${d}, which is not in the store`,
      );
    }
  }
  const createdMs = image.config.created ? Date.parse(image.config.created) : Number.NaN;
  const now = Date.now();
  return store.write(() => {
    const db = store.db;
    const insertLayer = db.prepare(
      `INSERT INTO layers(diff_id, size) VALUES (?, ?)
       ON CONFLICT(diff_id) DO UPDATE SET size = excluded.size WHERE layers.size < 0 AND excluded.size >= 0`,
    );
    for (const l of image.layerSizes) insertLayer.run(l.diffId, l.size);
    const insertPending = db.prepare("INSERT OR IGNORE INTO pending_layers(digest, diff_id) VALUES (?, ?)");
    for (const p of image.pendingLayers ?? []) insertPending.run(p.digest, p.diffId);
    const size = imageSize(
      store,
      image.layerSizes.map((l) => l.diffId),
    );
    const exists = db.prepare("SELECT 1 FROM images WHERE id = ?").get(id);
    if (!exists) {
      db.prepare(
        `INSERT INTO images(id, manifest, manifest_media_type, manifest_size, created, created_ms, size, added_ms, parent, labels, intermediate)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        id,
        image.manifestDigest,
        image.manifestMediaType,
        image.manifestSize,
        image.config.created ?? null,
        Number.isNaN(createdMs) ? null : createdMs,
        size,
        now,
        image.parent ?? null,
        image.config.config?.Labels ? JSON.stringify(image.config.config.Labels) : null,
        image.intermediate ? 1 : 0,
      );
      const insertBlob = db.prepare("INSERT OR IGNORE INTO image_blobs(image_id, digest) VALUES (?, ?)");
      for (const d of blobs) insertBlob.run(id, d);
      const insertLayerRef = db.prepare("INSERT OR IGNORE INTO image_layers(image_id, diff_id) VALUES (?, ?)");
      for (const l of image.layerSizes) insertLayerRef.run(id, l.diffId);
    }
    for (const rd of image.repoDigests ?? []) {
      db.prepare("INSERT OR REPLACE INTO repo_digests(name, image_id) VALUES (?, ?)").run(rd, id);
    }
    return tags.map((t) => setTag(store, t, id, now));
  });
}

function setTag(store: LocalStore, ref: Reference, id: Digest, now: number): TagChange {
  const name = tagName(ref);
  const previous = store.db.prepare("SELECT image_id FROM tags WHERE name = ?").pluck().get(name) as Digest | undefined;
  store.db.prepare("INSERT OR REPLACE INTO tags(name, image_id, tagged_ms) VALUES (?, ?, ?)").run(name, id, now);
  return { name, previous: previous && previous !== id ? previous : null };
}

/** The key a tag is stored under: the full normalised name and tag. */
export function tagName(ref: Reference): string {
  if (ref.digest)
    throw new BerthError("INVALID_REFERENCE", `"${formatReference(ref, true)}" names a digest; a tag is needed here`);
  return `${fullName(ref)}:${ref.tag ?? "latest"}`;
}

/** Adds tag `target` to an existing image. */
export function addTag(store: LocalStore, id: Digest, target: Reference): TagChange {
  return store.write(() => {
    if (!store.db.prepare("SELECT 1 FROM images WHERE id = ?").get(id)) {
      throw new BerthError("IMAGE_UNKNOWN", `No such image: ${id}`);
    }
    return setTag(store, target, id, Date.now());
  });
}

const SELECT_IMAGE = "SELECT * FROM images";

/** An images row as a record, with its tags and repo digests given. */
function recordOf(row: ImageRow, tags: string[], repoDigests: string[]): ImageRecord {
  return {
    id: row.id as Digest,
    manifest: row.manifest as Digest,
    manifestMediaType: row.manifest_media_type,
    manifestSize: row.manifest_size,
    created: row.created,
    createdMs: row.created_ms,
    size: row.size,
    addedMs: row.added_ms,
    parent: (row.parent as Digest | null) ?? null,
    labels: row.labels ? (JSON.parse(row.labels) as Record<string, string>) : null,
    intermediate: row.intermediate === 1,
    tags,
    repoDigests,
  };
}

function toRecord(store: LocalStore, row: ImageRow): ImageRecord {
  const names = (table: "tags" | "repo_digests") =>
    store.db.prepare(`SELECT name FROM ${table} WHERE image_id = ? ORDER BY name`).pluck().all(row.id) as string[];
  return recordOf(row, names("tags"), names("repo_digests"));
}

/** Every image with its tags, newest first; one query per table, not per image. */
export function listImages(store: LocalStore): ImageRecord[] {
  const rows = store.db.prepare(`${SELECT_IMAGE} ORDER BY COALESCE(created_ms, 0) DESC, id`).all() as ImageRow[];
  const tags = new Map<string, string[]>();
  for (const t of store.db.prepare("SELECT name, image_id FROM tags ORDER BY name").all() as {
    name: string;
    image_id: string;
  }[]) {
    const list = tags.get(t.image_id);
    if (list) list.push(t.name);
    else tags.set(t.image_id, [t.name]);
  }
  const digests = new Map<string, string[]>();
  for (const t of store.db.prepare("SELECT name, image_id FROM repo_digests ORDER BY name").all() as {
    name: string;
    image_id: string;
  }[]) {
    const list = digests.get(t.image_id);
    if (list) list.push(t.name);
    else digests.set(t.image_id, [t.name]);
  }
  return rows.map((row) => recordOf(row, tags.get(row.id) ?? [], digests.get(row.id) ?? []));
}

export function getImage(store: LocalStore, id: Digest): ImageRecord | undefined {
  const row = store.db.prepare(`${SELECT_IMAGE} WHERE id = ?`).get(id) as ImageRow | undefined;
  return row ? toRecord(store, row) : undefined;
}

/** How a user's argument matched an image. */
export interface Resolved {
  image: ImageRecord;
  /** The tag the user named, when they named one (rmi untags only that). */
  tag?: string;
  /** The repo digest the user named. */
  repoDigest?: string;
}

/**
 * Finds the image a user means by `nameOrId`, as docker does: a full or short image ID,
 * a name (with `latest` by default), a name with a digest, or a manifest digest.
 */
export function resolveImage(store: LocalStore, nameOrId: string): Resolved {
  const found = tryResolve(store, nameOrId);
  if (!found) throw new BerthError("IMAGE_UNKNOWN", `No such image: ${nameOrId}`);
  return found;
}

export function tryResolve(store: LocalStore, nameOrId: string): Resolved | undefined {
  const db = store.db;
  const byId = (id: string) => getImage(store, id as Digest);
  if (isDigest(nameOrId)) {
    const image = byId(nameOrId) ?? byManifest(store, nameOrId);
    return image ? { image } : undefined;
  }
  if (/^[a-f0-9]{64}$/.test(nameOrId)) {
    const image = byId(`sha256:${nameOrId}`);
    return image ? { image } : undefined;
  }
  let ref: Reference | undefined;
  try {
    ref = parseReference(nameOrId);
  } catch (err) {
    if (!/^[a-f0-9]{1,63}$/.test(nameOrId)) throw err;
  }
  if (ref) {
    if (ref.digest) {
      const name = `${fullName(ref)}@${ref.digest}`;
      const id = db.prepare("SELECT image_id FROM repo_digests WHERE name = ?").pluck().get(name) as string | undefined;
      const image = id ? byId(id) : byManifest(store, ref.digest);
      if (image) return { image, repoDigest: name };
    } else {
      const name = tagName(withDefaultTag(ref));
      const id = db.prepare("SELECT image_id FROM tags WHERE name = ?").pluck().get(name) as string | undefined;
      const image = id ? byId(id) : undefined;
      if (image) return { image, tag: name };
    }
  }
  if (/^[a-f0-9]{1,63}$/.test(nameOrId)) {
    const ids = db
      .prepare("SELECT id FROM images WHERE id >= ? AND id < ? LIMIT 2")
      .pluck()
      .all(`sha256:${nameOrId}`, `sha256:${nameOrId}g`) as string[];
    if (ids.length > 1) {
      throw new BerthError("IMAGE_UNKNOWN", `multiple images found with prefix ${nameOrId}: give more of the ID`);
    }
    const image = ids[0] ? byId(ids[0]) : undefined;
    if (image) return { image };
  }
  return undefined;
}

function byManifest(store: LocalStore, digest: string): ImageRecord | undefined {
  const row = store.db.prepare(`${SELECT_IMAGE} WHERE manifest = ?`).get(digest) as ImageRow | undefined;
  return row ? toRecord(store, row) : undefined;
}

/** A size not measured yet: a pulled layer's before it is first unpacked (pending-layers.ts). */
export const UNKNOWN_SIZE = -1;

/** docker's per-layer sizes, by diffID; 0 for a layer the store never measured, UNKNOWN_SIZE for one pending. */
export function layerSizes(store: LocalStore, diffIds: readonly string[]): number[] {
  const q = store.db.prepare("SELECT size FROM layers WHERE diff_id = ?").pluck();
  return diffIds.map((d) => (q.get(d) as number | undefined) ?? 0);
}

/** docker's image size: the sum of its layers' sizes, or UNKNOWN_SIZE while one is unmeasured. */
export function imageSize(store: LocalStore, diffIds: readonly string[]): number {
  const sizes = layerSizes(store, diffIds);
  return sizes.some((s) => s < 0) ? UNKNOWN_SIZE : sizes.reduce((sum, s) => sum + s, 0);
}

/** Containers (running or not) that use an image. */
export function containersUsing(store: LocalStore, id: Digest): { id: string; name: string; state: string }[] {
  return store.db.prepare("SELECT id, name, state FROM containers WHERE image_id = ?").all(id) as {
    id: string;
    name: string;
    state: string;
  }[];
}

/** Images built on top of this one (docker's "dependent child images"). */
export function childrenOf(store: LocalStore, id: Digest): Digest[] {
  return store.db.prepare("SELECT id FROM images WHERE parent = ?").pluck().all(id) as Digest[];
}

/** Removes a tag; returns whether it existed. Call inside a write transaction. */
export function removeTag(store: LocalStore, name: string): boolean {
  return store.db.prepare("DELETE FROM tags WHERE name = ?").run(name).changes > 0;
}

/**
 * Deletes an image row and the blobs only it referenced. Call inside a write transaction.
 * Returns the blobs removed and the bytes freed.
 */
export function deleteImageRow(store: LocalStore, id: Digest): { removed: Digest[]; bytes: number } {
  const blobs = store.db
    .prepare(
      `SELECT digest FROM image_blobs WHERE image_id = ?
       UNION SELECT c.digest FROM layer_compressions c JOIN image_layers l ON l.diff_id = c.diff_id
        WHERE l.image_id = ?`,
    )
    .pluck()
    .all(id, id) as string[]; // with the compressed copies push made of its layers
  store.db.prepare("DELETE FROM tags WHERE image_id = ?").run(id);
  store.db.prepare("DELETE FROM repo_digests WHERE image_id = ?").run(id);
  store.db.prepare("UPDATE images SET parent = NULL WHERE parent = ?").run(id);
  store.db.prepare("DELETE FROM images WHERE id = ?").run(id);
  store.db.prepare("DELETE FROM layers WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)").run();
  store.db.prepare("DELETE FROM pending_layers WHERE digest NOT IN (SELECT digest FROM image_blobs)").run();
  const freed = store.deleteUnreferenced(blobs);
  const forget = store.db.prepare("DELETE FROM layer_findings WHERE digest = ?");
  for (const d of freed.removed) forget.run(d);
  return freed;
}

/**
 * Whether a stored image already pairs blob `digest` with layer `diffId`: then a pull that
 * finds the blob present knows its diffID without unpacking it again.
 */
export function blobHasDiffId(store: LocalStore, digest: Digest, diffId: Digest): boolean {
  return (
    store.db
      .prepare(
        `SELECT 1 FROM image_blobs b JOIN image_layers l ON l.image_id = b.image_id
          WHERE b.digest = ? AND l.diff_id = ? LIMIT 1`,
      )
      .get(digest, diffId) !== undefined
  );
}

/** Names (tags and repo digests) of images that hold `digest`: where a push may mount it from. */
export function namesHoldingBlob(store: LocalStore, digest: Digest): string[] {
  return store.db
    .prepare(
      `SELECT t.name FROM tags t JOIN image_blobs b ON b.image_id = t.image_id WHERE b.digest = ?
       UNION SELECT r.name FROM repo_digests r JOIN image_blobs b ON b.image_id = r.image_id WHERE b.digest = ?`,
    )
    .pluck()
    .all(digest, digest) as string[];
}

/**
 * Records that the registry holds an image under `name@digest` (docker adds this after a
 * push). Nothing is recorded for an image removed meanwhile (an rmi while it was pushed).
 */
export function addRepoDigest(store: LocalStore, name: string, id: Digest): void {
  store.write(() => {
    store.db
      .prepare("INSERT OR REPLACE INTO repo_digests(name, image_id) SELECT ?, id FROM images WHERE id = ?")
      .run(name, id);
  });
}

/** Tags (full names) of one repository, e.g. every `localhost:5000/app:*`. */
export function tagsOfRepository(store: LocalStore, repository: string): string[] {
  return (
    store.db
      .prepare("SELECT name FROM tags WHERE name > ? AND name < ? ORDER BY name")
      .pluck()
      .all(`${repository}:`, `${repository};`) as string[]
  ).filter((n) => n.lastIndexOf(":") === repository.length);
}

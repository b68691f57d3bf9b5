import type { Digest } from "../oci/digest.js";
import { refreshContainer } from "../runtime/container-state.js";
import { listContainerRecords } from "../runtime/containers.js";
import { isAlive } from "../runtime/process-identity.js";
import { containerDirOf, removeContainerFiles } from "../runtime/rootfs.js";
import { pruneSnapshots } from "../runtime/snapshots.js";
import { containersUsing, deleteImageRow, listImages } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";

export interface PruneResult {
  untagged: string[];
  deleted: Digest[];
  containers: string[];
  /** Bytes of blob files removed. */
  bytes: number;
}

/**
 * `docker image prune`: deletes dangling images (no name), or with `all` every image no
 * container uses; then sweeps what crashed processes left (stale leases, temp files) and
 * blobs nothing references. One write transaction: concurrent loads wait, and their
 * in-flight blobs are protected by their leases.
 */
export function pruneImages(store: LocalStore, opts: { all?: boolean; buildCache?: boolean } = {}): PruneResult {
  return store.write(() => {
    const result: PruneResult = { untagged: [], deleted: [], containers: [], bytes: 0 };
    store.sweepDead();
    let progress = true;
    // Children before parents: deleting one may make its parent prunable.
    while (progress) {
      progress = false;
      const records = listImages(store);
      const parents = new Set(records.map((r) => r.parent).filter(Boolean));
      for (const r of records) {
        const named = r.tags.length + r.repoDigests.length > 0;
        if (named && !opts.all) continue;
        if (r.intermediate && !opts.all && !opts.buildCache) continue;
        if (parents.has(r.id)) continue;
        if (containersUsing(store, r.id).length > 0) continue;
        result.untagged.push(...r.tags, ...r.repoDigests);
        const freed = deleteImageRow(store, r.id);
        result.deleted.push(r.id, ...freed.removed.filter((d) => d !== r.id));
        result.bytes += freed.bytes;
        progress = true;
      }
    }
    const referenced = store.referencedBlobs();
    const freed = store.deleteUnreferenced(store.listBlobs().filter((d) => !referenced.has(d)));
    result.bytes += freed.bytes;
    pruneSnapshots(store);
    return result;
  });
}

/** `docker container prune`: removes containers that are not running. */
export function pruneContainers(store: LocalStore): string[] {
  return pruneStoppedContainers(store).ids;
}

/**
 * The same, with the bytes their read/write layers held. A running row whose holder died is
 * corrected first (it may have ended unseen); a container still being created (its creator
 * alive) is left alone.
 */
export function pruneStoppedContainers(store: LocalStore): { ids: string[]; bytes: number } {
  for (const c of listContainerRecords(store)) refreshContainer(store, c);
  return store.write(() => {
    const victims = listContainerRecords(store).filter(
      (c) => c.state === "exited" || (c.state === "created" && !(c.spec.holder && isAlive(c.spec.holder))),
    );
    for (const c of victims) removeContainerFiles(containerDirOf(store, c.id));
    const del = store.db.prepare("DELETE FROM containers WHERE id = ?");
    for (const c of victims) del.run(c.id);
    return { ids: victims.map((c) => c.id), bytes: victims.reduce((sum, c) => sum + c.size, 0) };
  });
}

/** `docker system prune`: stopped containers, then dangling (or with `all`, unused) images. */
export function pruneSystem(store: LocalStore, opts: { all?: boolean } = {}): PruneResult {
  const containers = pruneContainers(store);
  // system prune also clears the build cache: the untagged images builds left for their steps
  const images = pruneImages(store, { ...opts, buildCache: true });
  return { ...images, containers };
}

export interface DiskUsage {
  images: { total: number; active: number; size: number; reclaimable: number };
  containers: { total: number; active: number; size: number; reclaimable: number };
  volumes: { total: number; active: number; size: number; reclaimable: number };
  buildCache: { total: number; active: number; size: number; reclaimable: number };
}

/** `docker system df`: sizes with shared layers counted once. */
export function diskUsage(store: LocalStore): DiskUsage {
  const db = store.db;
  const total = db
    .prepare("SELECT COUNT(*) FROM images WHERE intermediate = 0 OR id IN (SELECT image_id FROM tags)")
    .pluck()
    .get() as number;
  const active = db.prepare("SELECT COUNT(DISTINCT image_id) FROM containers").pluck().get() as number;
  const size = uniqueLayerBytes(store, "all");
  const used = uniqueLayerBytes(store, "active");
  const cacheCount = db
    .prepare("SELECT COUNT(*) FROM images WHERE intermediate = 1 AND id NOT IN (SELECT image_id FROM tags)")
    .pluck()
    .get() as number;
  const cacheBytes = uniqueLayerBytes(store, "cache-only");
  const cTotal = db.prepare("SELECT COUNT(*) FROM containers").pluck().get() as number;
  const cActive = db.prepare("SELECT COUNT(*) FROM containers WHERE state = 'running'").pluck().get() as number;
  const cSize = db.prepare("SELECT COALESCE(SUM(size), 0) FROM containers").pluck().get() as number;
  const cIdle = db
    .prepare("SELECT COALESCE(SUM(size), 0) FROM containers WHERE state != 'running'")
    .pluck()
    .get() as number;
  const zero = { total: 0, active: 0, size: 0, reclaimable: 0 };
  return {
    images: { total, active, size, reclaimable: size - used },
    containers: { total: cTotal, active: cActive, size: cSize, reclaimable: cIdle },
    volumes: zero,
    buildCache: { total: cacheCount, active: 0, size: cacheBytes, reclaimable: cacheBytes },
  };
}

/**
 * Sum of docker layer sizes over distinct layers: of all images, of those containers use, or
 * of those only build-cache images (untagged step images) hold.
 */
function uniqueLayerBytes(store: LocalStore, which: "all" | "active" | "cache-only"): number {
  const listed = "SELECT id FROM images WHERE intermediate = 0 OR id IN (SELECT image_id FROM tags)";
  const filter =
    which === "active"
      ? "WHERE il.image_id IN (SELECT image_id FROM containers)"
      : which === "all"
        ? `WHERE il.image_id IN (${listed})`
        : `WHERE il.diff_id NOT IN (SELECT diff_id FROM image_layers WHERE image_id IN (${listed}))`;
  return store.db
    .prepare(
      `SELECT COALESCE(SUM(l.size), 0) FROM layers l
        WHERE l.diff_id IN (SELECT DISTINCT il.diff_id FROM image_layers il ${filter})`,
    )
    .pluck()
    .get() as number;
}

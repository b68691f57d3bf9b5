import type { Digest } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { refreshContainer } from "../runtime/container-state.js";
import { listContainerRecords } from "../runtime/containers.js";
import { isAlive } from "../runtime/process-identity.js";
import { containerDirOf, removeContainerFiles } from "../runtime/rootfs.js";
import { pruneSnapshots } from "../runtime/snapshots.js";
import { containersUsing, deleteImageRow, listImages } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";
import { settleSizes } from "./images.js";

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
 * corrected first (it may have ended unseen); a container being created or started (its
 * holder alive) is left alone.
 */
export function pruneStoppedContainers(
  store: LocalStore,
  opts: { filters?: readonly string[]; now?: number } = {},
): { ids: string[]; bytes: number } {
  const keep = pruneFilter(opts.filters ?? [], opts.now ?? Date.now());
  for (const c of listContainerRecords(store)) refreshContainer(store, c);
  return store.write(() => {
    const victims = listContainerRecords(store).filter(
      (c) =>
        c.state !== "running" &&
        !(c.spec.holder && isAlive(c.spec.holder)) &&
        keep(c.createdMs, (c.spec.config?.Labels ?? {}) as Record<string, string>),
    );
    for (const c of victims) removeContainerFiles(containerDirOf(store, c.id));
    const del = store.db.prepare("DELETE FROM containers WHERE id = ?");
    for (const c of victims) del.run(c.id);
    return { ids: victims.map((c) => c.id), bytes: victims.reduce((sum, c) => sum + c.size, 0) };
  });
}

/**
 * docker's prune filters: until=TIME (a Go duration back from now, Unix seconds or RFC 3339),
 * label=KEY[=VALUE] and label!=KEY[=VALUE]. Returns whether an object passes them all.
 */
function pruneFilter(
  filters: readonly string[],
  now: number,
): (createdMs: number, labels: Readonly<Record<string, string>>) => boolean {
  const tests: ((createdMs: number, labels: Readonly<Record<string, string>>) => boolean)[] = [];
  for (const f of filters) {
    const m = /^(until|label!?)=(.*)$/.exec(f);
    if (!m)
      throw new BerthError("CONFLICT", `Invalid filter '${f.split("=")[0]}': prune filters by until, label and label!`);
    const [, key, value = ""] = m;
    if (key === "until") {
      const limit = untilMs(value, now);
      tests.push((created) => created < limit);
    } else {
      const eq = value.indexOf("=");
      const has = (labels: Readonly<Record<string, string>>) =>
        eq < 0 ? value in labels : labels[value.slice(0, eq)] === value.slice(eq + 1);
      tests.push(key === "label" ? (_c, labels) => has(labels) : (_c, labels) => !has(labels));
    }
  }
  return (created, labels) => tests.every((t) => t(created, labels));
}

function untilMs(value: string, now: number): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const parsed = Date.parse(value);
  if (!Number.isNaN(parsed)) return parsed;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value) {
    throw new BerthError("CONFLICT", `Invalid filter 'until=${value}': give a duration (24h), Unix seconds or a time`);
  }
  return now - parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] as string] as number), 0);
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
export async function diskUsage(store: LocalStore): Promise<DiskUsage> {
  await settleSizes(store);
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
        WHERE l.size >= 0 AND l.diff_id IN (SELECT DISTINCT il.diff_id FROM image_layers il ${filter})`,
    )
    .pluck()
    .get() as number;
}

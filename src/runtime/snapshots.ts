import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { type Digest, digestHex, sha256 } from "../oci/digest.js";
import type { LocalStore } from "../store/local-store.js";
import { applyLayer } from "./apply-layer.js";
import { mountOverlay, mountsUnder, unmount } from "./mount.js";

/**
 * Unpacked layers, each once, as overlayfs lower directories:
 *
 *   ROOT/snapshots/<chainID hex>/          one layer's changes on top of its parents, with
 *                                          deletions as overlay whiteouts (0/0 char devices)
 *                                          and replaced directories marked opaque
 *   ROOT/snapshots/init-<chainID hex>/     the mount points a container needs that the image
 *                                          lacks (docker's "-init" layer), see rootfs.ts
 *   ROOT/snapshots/.tmp-<pid>-<random>/    being written; renamed into place only when whole
 *
 * Snapshots are keyed by chainID, not diffID, as containerd keys them: a layer's snapshot is
 * made by applying it on an overlay mount of its parents, so that the kernel itself turns the
 * layer's whiteouts into overlay whiteouts, and that result depends on the parents.
 * A crash leaves only a .tmp- directory, which the next call removes (its pid is dead).
 */

export interface LayerRef {
  diffId: Digest;
  /** The blob holding the layer tar (plain or gzip'd). */
  blob: Digest;
}

/** The OCI image spec's ChainID of every prefix of `diffIds`. */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev ? sha256(`${prev} ${d}`) : d);
  }
  return out;
}

export function snapshotRoot(store: LocalStore): string {
  return join(store.root, "snapshots");
}

/** Makes sure every layer is unpacked; returns the snapshot directories, bottom layer first. */
export async function ensureSnapshots(store: LocalStore, layers: readonly LayerRef[]): Promise<string[]> {
  const root = snapshotRoot(store);
  fs.mkdirSync(root, { recursive: true });
  sweepTemps(root);
  const chains = chainIds(layers.map((l) => l.diffId));
  const dirs = chains.map((c) => join(root, digestHex(c)));
  for (let i = 0; i < layers.length; i++) {
    const dir = dirs[i] as string;
    if (fs.existsSync(dir)) continue;
    const layer = layers[i] as LayerRef;
    await buildSnapshot(root, dir, dirs.slice(0, i).reverse(), async (target) => {
      await applyLayer(target, store.openBlob(layer.blob));
    });
  }
  return dirs;
}

/**
 * Writes one snapshot: `fill` gets a directory that shows the parents (an overlay mount when
 * there are any) and whatever it changes lands in the new snapshot. Visible only when done.
 */
export async function buildSnapshot(
  root: string,
  dest: string,
  parents: readonly string[],
  fill: (dir: string) => Promise<void>,
): Promise<void> {
  const tmp = join(root, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  const upper = join(tmp, "fs");
  fs.mkdirSync(upper, { recursive: true, mode: 0o755 });
  try {
    if (parents.length === 0) {
      await fill(upper);
    } else {
      const work = join(tmp, "work");
      const merged = join(tmp, "merged");
      fs.mkdirSync(work);
      fs.mkdirSync(merged);
      mountOverlay({ lowers: parents, upper, work, target: merged, cwd: root });
      try {
        await fill(merged);
      } finally {
        unmount(merged);
      }
    }
    try {
      fs.renameSync(upper, dest);
    } catch (err) {
      // Another process finished the same snapshot first: theirs is as good as ours.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    }
  } finally {
    removeTree(tmp);
  }
}

/** Removes a directory tree, unmounting anything mounted inside it first. */
export function removeTree(dir: string): void {
  for (const m of mountsUnder(dir)) unmount(m);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Temp directories of processes that are gone (a crash or kill -9 mid-unpack). */
function sweepTemps(root: string): void {
  for (const name of fs.readdirSync(root)) {
    const m = /^\.tmp-(\d+)-/.exec(name);
    if (m && !alive(Number(m[1]))) removeTree(join(root, name));
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes snapshots no stored image needs. Call inside a write transaction (so no image is
 * being recorded meanwhile); images that containers use are never deleted, so their
 * snapshots stay. Returns how many directories went.
 */
export function pruneSnapshots(store: LocalStore): number {
  const root = snapshotRoot(store);
  if (!fs.existsSync(root)) return 0;
  const keep = new Set<string>();
  for (const id of store.db.prepare("SELECT id FROM images").pluck().all() as string[]) {
    try {
      const config = store.readConfig(id as Digest);
      const chains = chainIds(config.rootfs.diff_ids);
      for (const c of chains) keep.add(digestHex(c));
      const top = chains[chains.length - 1];
      keep.add(`init-${top ? digestHex(top) : "empty"}`);
    } catch {
      // an unreadable image keeps nothing alive; its own commands report the damage
    }
  }
  let removed = 0;
  for (const name of fs.readdirSync(root)) {
    if (name.startsWith(".tmp-") || keep.has(name)) continue;
    removeTree(join(root, name));
    removed++;
  }
  return removed;
}

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { basename, join } from "node:path";
import type { Readable } from "node:stream";
import type { Header } from "tar-stream";
import { measuredTar } from "../image/layer-ingest.js";
import { type Digest, digestHex, sha256 } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { type LocalStore, processAlive } from "../store/local-store.js";
import { checkClaim, isPending, recordSettled } from "../store/pending-layers.js";
import { applyLayer } from "./apply-layer.js";
import { mountOverlay, mountsUnder, unmount } from "./mount.js";
import { cleanEntryPath } from "./scoped-path.js";

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

/** The first components of every mount point the init layer may provide (rootfs.ts). */
export const MOUNT_POINT_TOPS: readonly string[] = ["proc", "sys", "dev", "etc"];

/**
 * The init snapshot an image of these chainIDs uses, if one exists: its own, or that of the
 * image below its top layers when those layers have nothing at or under a mount point (the
 * init layer depends only on what the image has there). Returns the directory, or undefined
 * when the image needs its own, `init-<top chainID>`. pruneSnapshots keeps what this finds.
 */
export function findInitSnapshot(root: string, chains: readonly Digest[]): string | undefined {
  if (chains.length === 0) {
    const empty = join(root, "init-empty");
    return fs.existsSync(empty) ? empty : undefined;
  }
  for (let i = chains.length - 1; i >= 0; i--) {
    const hex = digestHex(chains[i] as Digest);
    const init = join(root, `init-${hex}`);
    if (fs.existsSync(init)) return init;
    const layer = join(root, hex);
    // an entry, a whiteout or a symlink there: this layer may change what the init layer holds
    if (MOUNT_POINT_TOPS.some((t) => fs.lstatSync(join(layer, t), { throwIfNoEntry: false }))) return undefined;
  }
  return undefined;
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
    const parents = dirs.slice(0, i).reverse();
    const source = layerSource(store, layer);
    if (parents.length === 0 || !(await applyDirect(root, dir, parents, source))) {
      await buildSnapshot(root, dir, parents, async (target) => {
        await applyLayer(target, source.open());
        await source.check();
      });
    }
    source.settled();
  }
  return dirs;
}

/** Where an unpack reads a layer from, and how it checks a pulled layer's diffID on the way. */
export interface LayerSource {
  open(): Readable;
  /** After a whole read: throws if the layer is not what its image config says (before the snapshot is kept). */
  check(): Promise<void>;
  /** After the snapshot is kept: records the check, if one was made. */
  settled(): void;
}

/**
 * A layer whose diffID a pull left unchecked (store/pending-layers.ts) is hashed while it is
 * unpacked, and the snapshot is kept only if it matches: one inflate does both.
 */
export function layerSource(store: LocalStore, layer: LayerRef): LayerSource {
  const claim = { digest: layer.blob, diffId: layer.diffId };
  if (!isPending(store, claim))
    return { open: () => store.openBlob(layer.blob), check: async () => undefined, settled: () => undefined };
  let last: ReturnType<typeof measuredTar> | undefined;
  let size: number | undefined;
  return {
    open: () => {
      last = measuredTar(store.openBlob(layer.blob), `layer ${layer.blob}`, store.blobSize(layer.blob));
      return last.stream;
    },
    check: async () => {
      if (last) size = checkClaim(claim, await last.measured());
    },
    settled: () => {
      if (size !== undefined) recordSettled(store, claim, size);
    },
  };
}

/** Thrown by the direct unpack's guard: this layer needs the overlay mount after all. */
class NeedsMount extends Error {}

/**
 * Unpacks a layer straight into its new snapshot directory, without an overlay mount of its
 * parents, when that gives the same directory the mount would: the layer deletes nothing
 * (no whiteouts, so the kernel would write no whiteouts either), links only to its own files,
 * and reaches its entries through directories that are plain directories, or absent, in every
 * parent (through a mount, a parent's symlink would be followed). Most built layers (COPY,
 * a RUN that only adds) qualify. The mount costs two processes, and every file created
 * through overlayfs costs more kernel time than on the plain file system. Returns false, with
 * nothing left behind, when the layer needs the mount.
 */
async function applyDirect(
  root: string,
  dest: string,
  parents: readonly string[],
  source: LayerSource,
): Promise<boolean> {
  const seen = new Set<string>();
  /** Directories this layer has given as entries (and that are directories, or absent, below). */
  const dirs = new Set<string>([""]);
  /** What this layer has given as anything but a directory. */
  const nonDirs = new Set<string>();
  const inParents = (rel: string): fs.Stats | undefined => {
    for (const p of parents) {
      const st = fs.lstatSync(join(p, rel), { throwIfNoEntry: false });
      if (st) return st;
    }
    return undefined;
  };
  const guard = (h: Header, rel: string) => {
    if (rel === "") return;
    const base = rel.slice(rel.lastIndexOf("/") + 1);
    if (base.startsWith(".wh.")) throw new NeedsMount();
    if (h.type === "link" && !seen.has(cleanEntryPath(h.linkname ?? ""))) throw new NeedsMount();
    // An ancestor the layer does not list is made afresh here, but through the mount it would
    // be the parent's own (its owner and mode, or a symlink followed): only an ancestor no
    // parent has is made the same way both ways. Checked shortest first, so no lstat above
    // walks through a parent's symlink.
    let slash = rel.indexOf("/");
    while (slash >= 0) {
      const dir = rel.slice(0, slash);
      // a symlink this layer made would be followed, maybe into a parent's directory
      if (nonDirs.has(dir) || (!dirs.has(dir) && inParents(dir))) throw new NeedsMount();
      slash = rel.indexOf("/", slash + 1);
    }
    if (h.type === "directory" && !dirs.has(rel)) {
      // over a non-directory in any parent the mount would make an opaque directory
      if (parents.some((p) => fs.lstatSync(join(p, rel), { throwIfNoEntry: false })?.isDirectory() === false)) {
        throw new NeedsMount();
      }
      dirs.add(rel);
    } else if (h.type !== "directory") {
      nonDirs.add(rel);
    }
    seen.add(rel);
  };
  let ok = true;
  await buildSnapshot(root, dest, [], async (target) => {
    try {
      await applyLayer(target, source.open(), { guard });
    } catch (err) {
      if (!(err instanceof NeedsMount) && !(err instanceof BerthError && err.cause instanceof NeedsMount)) throw err;
      ok = false;
      throw new NeedsMount();
    }
    await source.check();
  }).catch((err: unknown) => {
    if (!(err instanceof NeedsMount)) throw err;
  });
  return ok;
}

/**
 * Makes a finished container's upper directory the snapshot of the layer that was made from
 * it (`chain`: that layer's chainID), by renaming it, instead of unpacking the layer again:
 * the upper directory already is that layer in overlay form (whiteouts as 0/0 devices, opaque
 * directories marked), the same form the mounted unpack writes. Call it after the layer is
 * recorded, and after `normalizeUpper` made the directory match the layer's tar. Returns
 * whether the directory was taken (false: the snapshot exists already; the caller removes it).
 */
export function adoptSnapshot(store: LocalStore, upper: string, chain: Digest): boolean {
  const root = snapshotRoot(store);
  fs.mkdirSync(root, { recursive: true });
  const dest = join(root, digestHex(chain));
  return !fs.existsSync(dest) && renameIntoPlace(upper, dest);
}

/**
 * Renames a finished snapshot directory to its name; false when another process made the
 * same snapshot first (theirs is as good as ours).
 */
function renameIntoPlace(dir: string, dest: string): boolean {
  try {
    fs.renameSync(dir, dest);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    return false;
  }
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
      mountOverlay({ lowers: parents, upper, work, target: merged, cwd: root, volatile: true });
      try {
        await fill(merged);
      } finally {
        unmount(merged);
      }
    }
    renameIntoPlace(upper, dest);
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
    if (m && !processAlive(Number(m[1]))) removeTree(join(root, name));
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
      const init = findInitSnapshot(root, chains);
      if (init) keep.add(basename(init));
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

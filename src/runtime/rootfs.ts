import * as fs from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { type Digest, digestHex } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import type { ImageConfig, Manifest } from "../oci/schema.js";
import type { LocalStore } from "../store/local-store.js";
import { applyLayer } from "./apply-layer.js";
import { type Baseline, type DiffOptions, diffBaseline, diffUpper, recordBaseline } from "./diff.js";
import { mountOverlay, overlaySupported, unmount } from "./mount.js";
import { lstatOrNull, resolveInRoot } from "./scoped-path.js";
import {
  buildSnapshot,
  chainIds,
  ensureSnapshots,
  findInitSnapshot,
  type LayerRef,
  layerSource,
  MOUNT_POINT_TOPS,
  removeTree,
  snapshotRoot,
} from "./snapshots.js";

/**
 * A container's root file system: the image's layers, read-only, under one read/write layer.
 *
 * - `overlay` (preferred): each layer unpacked once into a shared snapshot (snapshots.ts), an
 *   "init" snapshot on top with the mount points the runtime needs, and an overlayfs mount
 *   with the container's own upper directory. Nothing is copied; the upper directory holds
 *   exactly the container's changes (diff.ts reads it).
 * - `copy`: every layer applied into one plain directory per container, and a record of it
 *   before the run to find the changes afterwards. For when overlayfs is unavailable
 *   (not root, or a file system overlayfs cannot sit on). Slower, chosen explicitly.
 *
 *   ROOT/containers/<id>/rootfs    what the container sees as / (the overlay mount point)
 *   ROOT/containers/<id>/upper     overlay: the read/write layer
 *   ROOT/containers/<id>/work      overlay: the kernel's scratch directory
 *   ROOT/containers/<id>/baseline.json   copy: the tree as it was before the run
 */

export type StorageDriver = "overlay" | "copy";

export interface Rootfs {
  driver: StorageDriver;
  /** ROOT/containers/<id>: the OCI bundle directory too. */
  containerDir: string;
  /** The container's root directory. */
  path: string;
  /** overlay: the read/write layer. */
  upper: string | null;
}

/** What a stored image contributes: its layers, in order. */
export interface ImageLayers {
  manifest: Manifest;
  config: ImageConfig;
}

/**
 * Mount points the runtime creates when they are missing. Created in a layer of their own, as
 * docker's init layer, so they never show up as the container's changes.
 */
const MOUNT_DIRS = ["proc", "sys", "dev", "dev/pts", "dev/shm", "dev/mqueue", "etc"];
const MOUNT_FILES = ["etc/hosts", "etc/hostname", "etc/resolv.conf"];
for (const p of [...MOUNT_DIRS, ...MOUNT_FILES]) {
  // findInitSnapshot decides which init layers are shared by these first components
  if (!MOUNT_POINT_TOPS.includes(p.split("/")[0] ?? p)) throw new Error(`${p} is not under MOUNT_POINT_TOPS`);
}

/** overlay where this process can mount it, else copy. */
export function defaultStorageDriver(): StorageDriver {
  return overlaySupported() ? "overlay" : "copy";
}

export function containerDirOf(store: LocalStore, id: string): string {
  return join(store.root, "containers", id);
}

/** The image's layers as (diffID, blob) pairs, checked to agree. */
function layerRefs(image: ImageLayers): LayerRef[] {
  const diffIds = image.config.rootfs.diff_ids;
  if (diffIds.length !== image.manifest.layers.length) {
    throw new BerthError(
      "INVALID_JSON",
      `image has ${image.manifest.layers.length} layers but its config lists ${diffIds.length} diff_ids`,
    );
  }
  return diffIds.map((diffId, i) => ({ diffId, blob: image.manifest.layers[i]?.digest as Digest }));
}

export interface PrepareOptions {
  /**
   * The upper directory is thrown away or adopted as a snapshot once the container is done
   * (a build step), so its mount needs no syncs (see OverlayMount.volatile). Never for a
   * container that may be started again: after a host crash its changes could be half there.
   */
  volatile?: boolean;
}

/**
 * Prepares (or, for a container that exists, re-mounts) the container's root file system.
 * Idempotent: a container's upper directory or copy is kept across calls.
 */
export async function prepareRootfs(
  store: LocalStore,
  image: ImageLayers,
  containerDir: string,
  driver: StorageDriver,
  opts: PrepareOptions = {},
): Promise<Rootfs> {
  const layers = layerRefs(image);
  // the real path: runc refuses a root file system reached through a symlink (--root link)
  fs.mkdirSync(join(containerDir, "rootfs"), { recursive: true, mode: 0o755 });
  const path = fs.realpathSync(join(containerDir, "rootfs"));
  if (driver === "overlay") {
    if (!overlaySupported()) {
      throw new BerthError(
        "UNSUPPORTED",
        "overlayfs is not available (it needs root and a kernel with overlay); use the copy storage driver",
      );
    }
    const snapshots = await ensureSnapshots(store, layers);
    const init = await ensureInitSnapshot(store, layers, snapshots);
    const upper = join(containerDir, "upper");
    const work = join(containerDir, "work");
    fs.mkdirSync(upper, { recursive: true, mode: 0o755 });
    fs.mkdirSync(work, { recursive: true, mode: 0o700 });
    unmount(path);
    mountOverlay({
      lowers: [init, ...[...snapshots].reverse()],
      upper,
      work,
      target: path,
      cwd: snapshotRoot(store),
      volatile: opts.volatile === true,
    });
    return { driver, containerDir, path, upper };
  }
  const baselineFile = join(containerDir, "baseline.json");
  if (!fs.existsSync(baselineFile)) {
    // No record yet: any files here are from an attempt that died half-way.
    fs.rmSync(path, { recursive: true, force: true });
    fs.mkdirSync(path, { mode: 0o755 });
    for (const l of layers) {
      // a pulled layer not yet checked is checked as it is applied (the baseline below is
      // written only once all are, so a false one leaves a directory the next attempt redoes)
      const source = layerSource(store, l);
      await applyLayer(path, source.open());
      await source.check();
      source.settled();
    }
    createMountPoints(path);
    const tmp = `${baselineFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(recordBaseline(path)));
    fs.renameSync(tmp, baselineFile);
  }
  return { driver, containerDir, path, upper: null };
}

/**
 * The init snapshot for an image: its missing mount points, made once and shared. An image
 * whose top layers have nothing at or under any mount point has the same init layer as the
 * image below them, so it uses that one (findInitSnapshot): a build's steps would otherwise
 * each pay an overlay mount of all their layers just to find nothing to add.
 */
async function ensureInitSnapshot(
  store: LocalStore,
  layers: readonly LayerRef[],
  snapshots: string[],
): Promise<string> {
  const chains = chainIds(layers.map((l) => l.diffId));
  const root = snapshotRoot(store);
  const found = findInitSnapshot(root, chains);
  if (found) return found;
  const top = chains[chains.length - 1];
  const dest = join(root, `init-${top ? digestHex(top) : "empty"}`);
  fs.mkdirSync(root, { recursive: true });
  await buildSnapshot(root, dest, [...snapshots].reverse(), async (dir) => createMountPoints(dir));
  return dest;
}

/** Creates the runtime's mount points that `root` lacks (following its symlinks inside it). */
function createMountPoints(root: string): void {
  for (const d of MOUNT_DIRS) resolveInRoot(root, d, { followFinal: true, create: true });
  for (const f of MOUNT_FILES) {
    const slash = f.lastIndexOf("/");
    const parent = resolveInRoot(root, f.slice(0, slash), { followFinal: true, create: true });
    const path = join(root, parent, f.slice(slash + 1));
    if (!lstatOrNull(path)) fs.writeFileSync(path, "", { mode: 0o644, flag: "wx" });
  }
}

/** The file system of a container prepared earlier (to diff it after it ran, or remove it). */
export function openRootfs(containerDir: string, driver: StorageDriver): Rootfs {
  return {
    driver,
    containerDir,
    path: join(containerDir, "rootfs"),
    upper: driver === "overlay" ? join(containerDir, "upper") : null,
  };
}

/** Unmounts the container's file system (its files stay; prepareRootfs mounts it again). */
export function releaseRootfs(rootfs: Rootfs): void {
  if (rootfs.driver === "overlay") unmount(rootfs.path);
}

/** The container's changes as a layer tar (see diff.ts). */
export async function diffRootfs(rootfs: Rootfs, opts: DiffOptions = {}): Promise<Readable> {
  if (rootfs.upper) return diffUpper(rootfs.upper, opts);
  const baseline = JSON.parse(fs.readFileSync(join(rootfs.containerDir, "baseline.json"), "utf8")) as Baseline;
  return diffBaseline(rootfs.path, baseline, opts);
}

/** docker's SizeRw: bytes of regular files and symlink targets the container wrote. */
export function rootfsSize(rootfs: Rootfs): number {
  if (!rootfs.upper) return 0;
  let size = 0;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) size += fs.lstatSync(p).size;
      else if (e.isSymbolicLink()) size += Buffer.byteLength(fs.readlinkSync(p));
    }
  };
  walk(rootfs.upper);
  return size;
}

/** Unmounts and deletes everything of a container on disk. */
export function removeContainerFiles(containerDir: string): void {
  removeTree(containerDir);
}

/**
 * An image's file system to read from (COPY --from, RUN --mount=type=bind,from=): its layer
 * snapshots as a read-only overlay (lowers only), with none of the runtime's mount points.
 * One layer needs no mount at all. Returns the path and how to let go of it.
 */
export async function mountImageView(
  store: LocalStore,
  image: ImageLayers,
  target: string,
): Promise<{ path: string; release: () => void }> {
  const layers = layerRefs(image);
  if (layers.length === 0) {
    fs.mkdirSync(target, { recursive: true });
    return { path: target, release: () => fs.rmSync(target, { recursive: true, force: true }) };
  }
  const snapshots = await ensureSnapshots(store, layers);
  if (snapshots.length === 1) return { path: snapshots[0] as string, release: () => undefined };
  fs.mkdirSync(target, { recursive: true });
  try {
    mountOverlay({ lowers: [...snapshots].reverse(), target, cwd: snapshotRoot(store) });
  } catch (err) {
    throw new BerthError("STORE", `mounting an image's files at ${target} failed: ${(err as Error).message}`);
  }
  return {
    path: target,
    release: () => {
      unmount(target);
      fs.rmSync(target, { recursive: true, force: true });
    },
  };
}

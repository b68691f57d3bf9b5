import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { release } from "node:os";
import { relative, resolve } from "node:path";
import { getSystemErrorName } from "node:util";
import { BerthError } from "../oci/errors.js";
import { nativeMount } from "./native-mount.js";

/**
 * overlayfs mounts, through mount(2) and umount2(2) from berth's small native addon
 * (native/mount, an optional dependency built on install), else through the `mount` and
 * `umount` programs. Node has no mount call. The programs cost a fork of node plus libmount's
 * own start, twice per container: 10-20 ms per build step on a loaded host, against ~2 ms for
 * the calls. A hand-written addon rather than a library: no maintained package offers these
 * two calls, and they are the runtime's heart.
 *
 * The options are given relative to `cwd` (the kernel resolves them against the mounting
 * process's working directory; the addon changes it on a thread of its own): the legacy
 * mount(2) data is one page, and short relative names let ~60 layers fit where absolute store
 * paths would fit half as many. containerd and docker's overlay2 shorten their lowerdir lists
 * for the same reason.
 */

const MNT_DETACH = 2;

/** mount(2) copies at most one page of option text. */
const MAX_OPTIONS = 4000;

export interface OverlayMount {
  /** Read-only layers, topmost first. */
  lowers: readonly string[];
  /** The read/write layer and the kernel's scratch directory; without them, a read-only view. */
  upper?: string;
  work?: string;
  target: string;
  /** Where to resolve the paths from: they are given to the kernel relative to it. */
  cwd: string;
  /**
   * For an upper directory that is thrown away or adopted whole once the mount is gone (a
   * build step, a snapshot being written): no syncs. Unmounting an overlay otherwise syncs
   * the whole file system under the upper directory, everyone's dirty pages included
   * (62 ms instead of 5 ms after a step wrote 50 MB). Nothing under berth's store is fsynced
   * anyway (see ARCHITECTURE.md, crashes). Ignored on kernels before 5.10, which lack it.
   */
  volatile?: boolean;
}

/** Whether this process can mount overlayfs: root, and the kernel knows the filesystem. */
export function overlaySupported(): boolean {
  if (process.geteuid?.() !== 0) return false;
  try {
    return /\toverlay$/m.test(fs.readFileSync("/proc/filesystems", "utf8"));
  } catch {
    return false;
  }
}

export function mountOverlay(m: OverlayMount): void {
  const rel = (p: string) => {
    const r = relative(m.cwd, p) || ".";
    if (/[,:\\]/.test(r)) throw new BerthError("STORE", `cannot mount ${p}: overlayfs paths may not hold "," or ":"`);
    return r;
  };
  const options = [
    `lowerdir=${m.lowers.map(rel).join(":")}`,
    ...(m.upper && m.work
      ? [
          `upperdir=${rel(m.upper)}`,
          `workdir=${rel(m.work)}`,
          // redirect_dir and metacopy off: every change then lives as plain files in the upper
          // directory, which is what diff.ts reads (docker's overlay2 asks the same of the kernel).
          "redirect_dir=off",
          "metacopy=off",
          ...(m.volatile && volatileSupported() ? ["volatile"] : []),
        ]
      : []),
  ].join(",");
  if (options.length > MAX_OPTIONS) {
    throw new BerthError(
      "UNSUPPORTED",
      `an image of ${m.lowers.length} layers is too deep for one overlay mount; use the copy storage driver`,
    );
  }
  const target = resolve(m.target);
  const calls = nativeMount();
  if (calls) {
    const errno = calls.mount(m.cwd, "overlay", target, "overlay", 0, options);
    if (errno !== 0) {
      throw new BerthError(
        "STORE",
        `mounting the container's file system at ${m.target} failed: mount(2): ${getSystemErrorName(-errno)}`,
      );
    }
    return;
  }
  try {
    execFileSync("mount", ["-t", "overlay", "overlay", "-o", options, target], {
      cwd: m.cwd,
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? "";
    throw new BerthError(
      "STORE",
      `mounting the container's file system at ${m.target} failed: ${stderr || (err as Error).message}`,
    );
  }
}

/** overlayfs's "volatile" option came with Linux 5.10. */
function volatileSupported(): boolean {
  const [major = 0, minor = 0] = release()
    .split(".")
    .map((n) => Number.parseInt(n, 10));
  return major > 5 || (major === 5 && minor >= 10);
}

/** Unmounts `target` when something is mounted there; a busy mount is detached (lazy). */
export function unmount(target: string): void {
  const abs = realPath(target);
  if (!isMountPoint(abs)) return;
  const calls = nativeMount();
  if (calls) {
    if (calls.umount(abs, 0) === 0) return;
    const errno = calls.umount(abs, MNT_DETACH);
    if (errno !== 0)
      throw new BerthError("STORE", `unmounting ${abs} failed: umount2(2): ${getSystemErrorName(-errno)}`);
    return;
  }
  try {
    execFileSync("umount", [abs], { stdio: ["ignore", "ignore", "pipe"] });
  } catch {
    execFileSync("umount", ["-l", abs], { stdio: ["ignore", "ignore", "pipe"] });
  }
}

/**
 * The path as mountinfo shows it: the kernel records a mount point with its symlinks resolved,
 * so a store reached through a symlink (--root link/root) must be compared by its real path.
 */
function realPath(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** Whether `path` (absolute) is a mount point in this process's namespace. */
export function isMountPoint(path: string): boolean {
  return mountPoints().has(realPath(path));
}

/** Every mount point under `dir` (absolute), deepest first: what to unmount before removing it. */
export function mountsUnder(dir: string): string[] {
  const prefix = `${realPath(dir)}/`;
  return [...mountPoints()].filter((m) => m.startsWith(prefix)).sort((a, b) => b.length - a.length);
}

function mountPoints(): Set<string> {
  const out = new Set<string>();
  let text = "";
  try {
    text = fs.readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const field = line.split(" ")[4];
    // mountinfo escapes space, tab, newline and backslash as octal
    if (field) out.add(field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))));
  }
  return out;
}

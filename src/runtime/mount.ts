import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { relative, resolve } from "node:path";
import { BerthError } from "../oci/errors.js";

/**
 * overlayfs mounts through the `mount` and `umount` programs (Node has no mount call).
 *
 * The options are given relative to `cwd` (the kernel resolves them against the mounting
 * process's working directory): the legacy mount(2) data is one page, and short relative
 * names let ~60 layers fit where absolute store paths would fit half as many. containerd and
 * docker's overlay2 shorten their lowerdir lists for the same reason.
 */

/** mount(2) copies at most one page of option text. */
const MAX_OPTIONS = 4000;

export interface OverlayMount {
  /** Read-only layers, topmost first. */
  lowers: readonly string[];
  upper: string;
  work: string;
  target: string;
  /** Where to resolve the paths from (default: the common parent of the lowers). */
  cwd: string;
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
  // redirect_dir and metacopy off: every change then lives as plain files in the upper
  // directory, which is what diff.ts reads (docker's overlay2 asks the same of the kernel).
  const options = [
    `lowerdir=${m.lowers.map(rel).join(":")}`,
    `upperdir=${rel(m.upper)}`,
    `workdir=${rel(m.work)}`,
    "redirect_dir=off",
    "metacopy=off",
  ].join(",");
  if (options.length > MAX_OPTIONS) {
    throw new BerthError(
      "UNSUPPORTED",
      `an image of ${m.lowers.length} layers is too deep for one overlay mount; use the copy storage driver`,
    );
  }
  try {
    execFileSync("mount", ["-t", "overlay", "overlay", "-o", options, resolve(m.target)], {
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

/** Unmounts `target` when something is mounted there; a busy mount is detached (lazy). */
export function unmount(target: string): void {
  const abs = resolve(target);
  if (!isMountPoint(abs)) return;
  try {
    execFileSync("umount", [abs], { stdio: ["ignore", "ignore", "pipe"] });
  } catch {
    execFileSync("umount", ["-l", abs], { stdio: ["ignore", "ignore", "pipe"] });
  }
}

/** Whether `path` (absolute) is a mount point in this process's namespace. */
export function isMountPoint(path: string): boolean {
  return mountPoints().has(path);
}

/** Every mount point under `dir` (absolute), deepest first: what to unmount before removing it. */
export function mountsUnder(dir: string): string[] {
  const prefix = `${resolve(dir)}/`;
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

import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { delimiter, join } from "node:path";
import { getSystemErrorName } from "node:util";
import { extractWithXattrs, sortedXattrs, type XattrMap, xattrsOf } from "../image/tar-xattrs.js";
import { BerthError } from "../oci/errors.js";
import { type NativeMount, nativeMount } from "./native-mount.js";
import { cleanEntryPath } from "./scoped-path.js";

/**
 * Extended attributes on disk, values as bytes (security.capability is binary). Node has no
 * xattr calls; berth's addon (native/mount, see native-mount.ts) has llistxattr, lgetxattr and
 * lsetxattr, which never follow a symlink. Without the addon, two programs stand in:
 *
 * - reading: GNU tar (Essential in Debian, so always there), `--xattrs --no-recursion` over a
 *   list of directories, reads their attributes without reading any file's content. Only
 *   directories are read this way, which is where overlayfs keeps the opaque marker: without
 *   the addon, the attributes of files are not read, so they do not reach layers.
 * - writing: `setfattr` from Debian's `attr` package when it is installed (values go as base64,
 *   so binary ones survive); without it, attributes are skipped and the caller is told.
 *
 * In layer tars, attributes are `SCHILY.xattr.*` PAX records: image/tar-xattrs.ts writes and
 * reads them byte for byte. Which attributes are a layer's content is `isLayerXattr`'s call.
 */

export type { XattrMap };

/** The addon's xattr calls; null when it is not built (or is an older build without them). */
export type XattrCalls = Required<Pick<NativeMount, "llistxattr" | "lgetxattr" | "lsetxattr">>;

export function xattrCalls(): XattrCalls | null {
  const addon = nativeMount();
  return addon?.llistxattr && addon.lgetxattr && addon.lsetxattr ? (addon as XattrCalls) : null;
}

/**
 * Whether an attribute belongs in a layer. Not overlayfs's own bookkeeping (`trusted.overlay.*`:
 * opaque, origin, impure; about this mount, and written as `.wh..wh..opq` where it matters), nor
 * `security.selinux`, the host's label of the file, which the runtime gives files on hosts
 * that label. Everything else is kept: security.capability (what docker and BuildKit keep, and
 * all they keep), user.* (podman and buildah keep those too), ACLs (system.posix_acl_*).
 */
export function isLayerXattr(name: string): boolean {
  return !name.startsWith("trusted.overlay.") && name !== "security.selinux";
}

/** An entry whose attributes to read: its path relative to the root, and whether it is a directory. */
export interface XattrEntry {
  rel: string;
  dir: boolean;
}

/**
 * The attributes of each of `entries` (paths relative to `root`; "" is the root) that has
 * any. Through the addon: one llistxattr per entry (most have none), one lgetxattr per
 * attribute. Without it: directories only, through GNU tar.
 */
export async function readXattrs(
  root: string,
  entries: readonly XattrEntry[],
  calls: XattrCalls | null = xattrCalls(),
): Promise<Map<string, XattrMap>> {
  if (!calls) {
    return readDirXattrsWithTar(
      root,
      entries.filter((e) => e.dir).map((e) => e.rel),
    );
  }
  const out = new Map<string, XattrMap>();
  for (const e of entries) {
    const attrs = readPathXattrs(calls, join(root, e.rel));
    if (attrs) out.set(e.rel, attrs);
  }
  return out;
}

/** One path's attributes, read through the addon; undefined when it has none or there is no addon. */
export function pathXattrs(path: string, calls: XattrCalls | null = xattrCalls()): XattrMap | undefined {
  return calls ? readPathXattrs(calls, path) : undefined;
}

/** One path's attributes through the addon; undefined when it has none. */
function readPathXattrs(calls: XattrCalls, path: string): XattrMap | undefined {
  const names = calls.llistxattr(path);
  if (typeof names === "number") {
    // a file system without xattrs, or a file gone since it was listed (a live container's)
    if (names === ENOTSUP || names === ENOENT) return undefined;
    throw new BerthError("STORE", `listing the extended attributes of ${path}: ${getSystemErrorName(-names)}`);
  }
  if (names.length === 0) return undefined;
  let out: XattrMap | undefined;
  for (const name of names) {
    const value = calls.lgetxattr(path, name);
    if (typeof value === "number") {
      if (value === ENODATA) continue; // removed since it was listed
      throw new BerthError("STORE", `reading extended attribute ${name} of ${path}: ${getSystemErrorName(-value)}`);
    }
    out ??= {};
    out[name] = value;
  }
  return out;
}

const EPERM = 1;
const ENOENT = 2;
const ENODATA = 61;
const ENOTSUP = 95;

/**
 * A short fingerprint of `path`'s attributes ("" for none), for the copy storage driver's
 * record of a tree: setting an attribute changes no mtime. Through the addon only; without
 * it, "" (attribute-only changes then go unseen there, as before).
 */
export function xattrFingerprint(path: string, calls: XattrCalls | null = xattrCalls()): string {
  const attrs = pathXattrs(path, calls);
  if (!attrs) return "";
  const h = createHash("sha256");
  for (const [name, value] of sortedXattrs(attrs)) {
    h.update(`${name}\0${value.length}\0`).update(value);
  }
  return h.digest("hex").slice(0, 16);
}

/** GNU tar's view of directories' attributes (the fallback without the addon). */
async function readDirXattrsWithTar(root: string, dirs: readonly string[]): Promise<Map<string, XattrMap>> {
  const out = new Map<string, XattrMap>();
  if (dirs.length === 0) return out;
  const child = spawn(
    "tar",
    ["--xattrs", "--xattrs-include=*", "--no-recursion", "--null", "-C", root, "-cf", "-", "-T", "-"],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin.end(dirs.map((d) => `./${d}\0`).join(""));
  const parser = extractWithXattrs();
  const parsed = (async () => {
    for await (const entry of parser) {
      const attrs = xattrsOf(entry.header);
      if (attrs) out.set(cleanEntryPath(entry.header.name), attrs);
      entry.resume();
    }
  })();
  child.stdout.pipe(parser);
  const code = await new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c) => resolve(c ?? 1));
  });
  await parsed;
  if (code !== 0) {
    throw new BerthError("STORE", `reading extended attributes under ${root} with tar failed: ${stderr.trim()}`);
  }
  return out;
}

/**
 * Sets attributes on paths (a symlink itself, never its target): through the addon, else
 * `setfattr`. What the file system or the kernel refuses (EPERM: security.capability without
 * CAP_SETFCAP, user.* on a symlink; ENOTSUP: a file system without them) is a note, as docker
 * only warns then; any other failure throws.
 */
export class XattrWriter {
  private readonly setfattr: string | null;

  constructor(
    setfattr: string | null | undefined = undefined,
    private readonly calls: XattrCalls | null = xattrCalls(),
  ) {
    this.setfattr = calls ? null : setfattr === undefined ? findSetfattr() : setfattr;
  }

  /** Sets one attribute; returns why it was not set, or null when it was. */
  set(path: string, name: string, value: Buffer): string | null {
    if (this.calls) {
      const errno = this.calls.lsetxattr(path, name, value, 0);
      if (errno === 0) return null;
      if (errno === EPERM || errno === ENOTSUP) return getSystemErrorName(-errno);
      throw new BerthError("STORE", `setting extended attribute ${name} on ${path}: ${getSystemErrorName(-errno)}`);
    }
    if (!this.setfattr) return "setfattr (attr) is missing";
    try {
      execFileSync(this.setfattr, ["-h", "-n", name, "-v", `0s${value.toString("base64")}`, "--", path], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      return null;
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? "";
      if (/Operation not (permitted|supported)/.test(stderr)) return stderr;
      throw new BerthError(
        "STORE",
        `setting extended attribute ${name} on ${path}: ${stderr || (err as Error).message}`,
      );
    }
  }
}

/** Finds `setfattr` on PATH, or null. */
export function findSetfattr(path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, "setfattr");
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

import * as fs from "node:fs";
import { basename, join, posix } from "node:path";
import { BerthError } from "../oci/errors.js";
import { applyLayer } from "../runtime/apply-layer.js";
import { resolveInRoot } from "../runtime/scoped-path.js";

/** Who owns and how to mode what a COPY writes. */
export interface CopyOwnership {
  uid: number;
  gid: number;
  /** --chmod: replaces every copied file's and directory's mode. */
  chmod?: number;
}

export interface CopySource {
  /** Where it is on disk (already resolved inside its context or stage root). */
  path: string;
  /** The name it came by, for "COPY a b/" (the base name is kept). */
  name: string;
  /** false: never unpack it, even for ADD (docker leaves downloaded archives packed). */
  unpack?: boolean;
  /** Its path relative to the context (or stage root), for --parents and --exclude. */
  rel?: string;
}

export interface CopyOptions {
  unpackArchives?: boolean;
  forceDir?: boolean;
  /** --parents: keep each source's parent directories under the destination. */
  parents?: boolean;
  /** --exclude: a path (relative to the source directory being copied) it matches is not copied. */
  exclude?: (rel: string) => boolean;
}

/**
 * Copies sources into a mounted root file system with docker's rules: a directory source
 * copies its contents; the destination is a directory when it ends with "/", when several
 * sources are copied, or when it already is one in the image; missing parents are created.
 * Files keep their mode (unless --chmod) and get --chown's owner (else root). Every path in
 * the root is resolved inside it, so a symlink in the image cannot send a write outside.
 */
export async function copyInto(
  root: string,
  sources: readonly CopySource[],
  dest: string,
  own: CopyOwnership,
  opts: CopyOptions = {},
): Promise<void> {
  const destRel = dest.replace(/^\/+/, "");
  const existing = lstatInRoot(root, destRel);
  const destIsDir =
    dest.endsWith("/") || opts.forceDir === true || sources.length > 1 || (existing?.isDirectory() ?? false);
  const excluded = opts.exclude ?? (() => false);
  for (const src of sources) {
    // BuildKit matches --exclude against paths inside each source (and a file source's name)
    if (excluded(basename(src.name))) continue;
    const st = fs.statSync(src.path);
    const parentRel = opts.parents && src.rel ? posix.dirname(src.rel) : ".";
    const base = parentRel === "." ? destRel : posix.join(destRel, parentRel);
    if (st.isDirectory()) {
      const target = makeDirs(root, opts.parents && src.rel ? posix.join(destRel, src.rel) : base, own);
      copyTree(src.path, join(root, target), own, "", excluded);
    } else if (opts.unpackArchives && src.unpack !== false && isArchive(src.path)) {
      const target = makeDirs(root, base, own);
      await applyLayer(join(root, target), fs.createReadStream(src.path));
    } else {
      const rel = destIsDir || opts.parents ? posix.join(base, basename(src.name)) : destRel;
      const parent = makeDirs(root, posix.dirname(rel) === "." ? "" : posix.dirname(rel), own);
      copyFile(src.path, join(root, parent, posix.basename(rel)), st, own);
    }
  }
}

function lstatInRoot(root: string, rel: string): fs.Stats | null {
  try {
    return fs.statSync(join(root, resolveInRoot(root, rel, { followFinal: true })));
  } catch {
    return null;
  }
}

/** Creates `rel` and its missing parents inside the root; returns its resolved path. */
function makeDirs(root: string, rel: string, own: CopyOwnership): string {
  const parts = rel.split("/").filter(Boolean);
  let done = "";
  for (const p of parts) {
    const next = resolveInRoot(root, done ? `${done}/${p}` : p, { followFinal: true });
    const host = join(root, next);
    if (!fs.existsSync(host)) {
      fs.mkdirSync(host, { mode: 0o755 });
      fs.chmodSync(host, 0o755);
      fs.lchownSync(host, own.uid, own.gid);
    } else if (!fs.statSync(host).isDirectory()) {
      throw new BerthError("USAGE", `cannot copy to "/${rel}": "/${next}" is not a directory`);
    }
    done = next;
  }
  return done;
}

function copyFile(from: string, to: string, st: fs.Stats, own: CopyOwnership): void {
  const existing = lstatOrNull(to);
  if (existing?.isDirectory()) throw new BerthError("USAGE", `cannot replace directory ${to} with a file`);
  if (existing) fs.rmSync(to, { force: true });
  fs.copyFileSync(from, to);
  fs.chmodSync(to, own.chmod ?? st.mode & 0o7777);
  fs.lchownSync(to, own.uid, own.gid);
}

/** Copies a directory's contents (not the directory itself) into `to`. */
function copyTree(from: string, to: string, own: CopyOwnership, rel: string, excluded: (rel: string) => boolean): void {
  for (const name of fs.readdirSync(from).sort()) {
    const childRel = rel ? `${rel}/${name}` : name;
    if (excluded(childRel)) continue;
    const src = join(from, name);
    const dst = join(to, name);
    const st = fs.lstatSync(src);
    const existing = lstatOrNull(dst);
    if (st.isDirectory()) {
      if (existing && !existing.isDirectory()) fs.rmSync(dst, { force: true });
      if (!existing?.isDirectory()) fs.mkdirSync(dst);
      fs.chmodSync(dst, own.chmod ?? st.mode & 0o7777);
      fs.lchownSync(dst, own.uid, own.gid);
      copyTree(src, dst, own, childRel, excluded);
    } else if (st.isSymbolicLink()) {
      if (existing) fs.rmSync(dst, { force: true, recursive: existing.isDirectory() });
      fs.symlinkSync(fs.readlinkSync(src), dst);
      fs.lchownSync(dst, own.uid, own.gid);
    } else if (st.isFile()) {
      if (existing?.isDirectory()) fs.rmSync(dst, { recursive: true, force: true });
      copyFile(src, dst, st, own);
    }
  }
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/** ADD unpacks local tars (plain or gzip'd): recognised by content, as docker does. */
function isArchive(path: string): boolean {
  const fd = fs.openSync(path, "r");
  try {
    const head = Buffer.alloc(512);
    const n = fs.readSync(fd, head, 0, 512, 0);
    if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
    return n >= 262 && head.toString("latin1", 257, 262) === "ustar";
  } finally {
    fs.closeSync(fd);
  }
}

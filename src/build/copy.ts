import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { basename, join, posix } from "node:path";
import type { Readable } from "node:stream";
import { constants, gunzipSync } from "node:zlib";
import type { LayerEntry } from "../image/layer-writer.js";
import { BerthError } from "../oci/errors.js";
import { applyLayer } from "../runtime/apply-layer.js";
import { resolveInRoot } from "../runtime/scoped-path.js";

/** Who owns and how to mode what a COPY writes. */
export interface CopyOwnership {
  uid: number;
  gid: number;
  /** --chmod: replaces every copied file's and directory's mode. */
  chmod?: number;
  /** Keep each file's own owner (COPY --from without --chown); else uid and gid. */
  preserve?: boolean;
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
  /** .dockerignore: a context-relative path it matches is not copied. */
  ignored?: (contextRel: string) => boolean;
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
  const walk: TreeWalk = {
    own,
    excluded: opts.exclude ?? (() => false),
    ignored: opts.ignored ?? (() => false),
    links: new Map(),
  };
  for (const src of sources) {
    // BuildKit matches --exclude against paths inside each source (and a file source's name)
    if (walk.excluded(basename(src.name))) continue;
    const st = fs.statSync(src.path);
    const parentRel = opts.parents && src.rel ? posix.dirname(src.rel) : ".";
    const base = parentRel === "." ? destRel : posix.join(destRel, parentRel);
    if (st.isDirectory()) {
      const target = makeDirs(root, opts.parents && src.rel ? posix.join(destRel, src.rel) : base, own);
      copyTree(src.path, join(root, target), walk, "", src.rel ?? "");
    } else if (opts.unpackArchives && src.unpack !== false && archiveKind(src.path)) {
      const target = makeDirs(root, base, own);
      await applyLayer(join(root, target), openArchive(src.path, archiveKind(src.path) as ArchiveKind));
    } else {
      const rel = destIsDir || opts.parents ? posix.join(base, basename(src.name)) : destRel;
      const parent = makeDirs(root, posix.dirname(rel) === "." ? "" : posix.dirname(rel), own);
      copyFile(src.path, join(root, parent, posix.basename(rel)), st, own);
    }
  }
}

/** What a directory copy carries down: owners, filters, and the hardlinks seen so far. */
interface TreeWalk {
  own: CopyOwnership;
  /** --exclude, on paths relative to the source directory. */
  excluded: (rel: string) => boolean;
  /** .dockerignore, on paths relative to the context. */
  ignored: (contextRel: string) => boolean;
  /** Files with several links, by device and inode: the first copy, to link the others to. */
  links: Map<string, string>;
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
  setOwnerAndMode(to, st, own, own.chmod);
}

/** Owner first, then mode: chown clears setuid and setgid, so the mode must come after it. */
function setOwnerAndMode(path: string, st: fs.Stats, own: CopyOwnership, chmod: number | undefined): void {
  if (own.preserve) fs.lchownSync(path, st.uid, st.gid);
  else fs.lchownSync(path, own.uid, own.gid);
  fs.chmodSync(path, chmod ?? st.mode & 0o7777);
}

/** Copies a directory's contents (not the directory itself) into `to`. */
function copyTree(from: string, to: string, walk: TreeWalk, rel: string, contextRel: string): void {
  for (const name of fs.readdirSync(from).sort()) {
    const childRel = rel ? `${rel}/${name}` : name;
    const childContextRel = contextRel ? `${contextRel}/${name}` : name;
    if (walk.excluded(childRel) || walk.ignored(childContextRel)) continue;
    const src = join(from, name);
    const dst = join(to, name);
    const st = fs.lstatSync(src);
    const existing = lstatOrNull(dst);
    if (st.isDirectory()) {
      if (existing && !existing.isDirectory()) fs.rmSync(dst, { force: true });
      if (!existing?.isDirectory()) fs.mkdirSync(dst);
      setOwnerAndMode(dst, st, walk.own, walk.own.chmod);
      copyTree(src, dst, walk, childRel, childContextRel);
    } else if (st.isSymbolicLink()) {
      if (existing) fs.rmSync(dst, { force: true, recursive: existing.isDirectory() });
      fs.symlinkSync(fs.readlinkSync(src), dst);
      if (walk.own.preserve) fs.lchownSync(dst, st.uid, st.gid);
      else fs.lchownSync(dst, walk.own.uid, walk.own.gid);
    } else if (st.isFile()) {
      if (existing?.isDirectory()) fs.rmSync(dst, { recursive: true, force: true });
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? walk.links.get(key) : undefined;
      if (first) {
        // a hardlink in the source stays one in the image, as BuildKit copies it
        if (existing) fs.rmSync(dst, { force: true });
        fs.linkSync(first, dst);
        continue;
      }
      copyFile(src, dst, st, walk.own);
      if (st.nlink > 1) walk.links.set(key, dst);
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

type ArchiveKind = "tar" | "gzip" | "bzip2" | "xz";

/**
 * ADD unpacks local tars, plain or compressed with gzip, bzip2 or xz, recognised by content as
 * docker does; a compressed file that is not a tar inside (notes.txt.gz) is copied as it is.
 */
function archiveKind(path: string): ArchiveKind | undefined {
  const fd = fs.openSync(path, "r");
  let head: Buffer;
  try {
    head = Buffer.alloc(64 * 1024);
    head = head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
  } finally {
    fs.closeSync(fd);
  }
  const isTar = (b: Buffer) => b.length >= 262 && b.toString("latin1", 257, 262) === "ustar";
  if (isTar(head)) return "tar";
  if (head[0] === 0x1f && head[1] === 0x8b) {
    try {
      return isTar(gunzipSync(head, { finishFlush: constants.Z_SYNC_FLUSH })) ? "gzip" : undefined;
    } catch {
      return undefined;
    }
  }
  const kind =
    head.toString("latin1", 0, 3) === "BZh"
      ? "bzip2"
      : head.toString("latin1", 0, 6) === "\xfd7zXZ\0"
        ? "xz"
        : undefined;
  if (!kind) return undefined;
  // the first block, decompressed by the system's tool, says whether a tar is inside
  const r = spawnSync("sh", ["-c", `${kind} -dc "$1" 2>/dev/null | head -c 512`, "sh", path], { maxBuffer: 1 << 20 });
  return isTar(r.stdout ?? Buffer.alloc(0)) ? kind : undefined;
}

function openArchive(path: string, kind: ArchiveKind): Readable {
  if (kind === "tar" || kind === "gzip") return fs.createReadStream(path); // applyLayer gunzips
  const child = spawn(kind, ["-dc", path], { stdio: ["ignore", "pipe", "ignore"] });
  return child.stdout;
}

/**
 * The fast path of a COPY: the same rules as copyInto, but instead of writing into a mounted
 * root it lists the layer's entries, reading the parent image through a read-only `view` only
 * to learn what exists. Used when nothing in the parent is in the way (every target is new,
 * every parent directory a directory, no archive to unpack); anything else returns null and
 * the caller takes the mounted path. Skipping the mount and the diff walk is what makes a
 * COPY of 20,000 small files take seconds rather than tens of seconds.
 */
export function planCopy(
  view: string,
  sources: readonly CopySource[],
  dest: string,
  own: CopyOwnership,
  opts: CopyOptions = {},
): LayerEntry[] | null {
  const entries = new Map<string, LayerEntry>();
  const destRel = dest.replace(/^\/+/, "");
  const excluded = opts.exclude ?? (() => false);
  const ignored = opts.ignored ?? (() => false);
  /** Paths that are links to one file: the one that sorts first carries the data. */
  const linked = new Map<string, string[]>();
  let conflict = false;
  const viewStat = (rel: string) => lstatOrNull(join(view, rel));
  const resolveDir = (rel: string): string | null => {
    try {
      return resolveInRoot(view, rel, { followFinal: true });
    } catch {
      return null;
    }
  };
  /** Entries for `rel` and its missing or existing parents; returns its resolved path. */
  const ensureDir = (rel: string): string | null => {
    const resolved = resolveDir(rel);
    if (resolved === null) return null;
    let done = "";
    for (const part of resolved.split("/").filter(Boolean)) {
      done = done ? `${done}/${part}` : part;
      if (entries.has(done)) continue;
      const st = viewStat(done);
      if (st && !st.isDirectory()) return null;
      entries.set(
        done,
        st
          ? { type: "directory", path: done, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: 0 }
          : { type: "directory", path: done, mode: 0o755, uid: own.uid, gid: own.gid, mtime: 0 },
      );
    }
    return resolved;
  };
  const owner = (st: fs.Stats) => (own.preserve ? { uid: st.uid, gid: st.gid } : { uid: own.uid, gid: own.gid });
  const addFile = (path: string, rel: string, st: fs.Stats, inTree: boolean) => {
    if (viewStat(rel)) {
      conflict = true; // replacing what the image has: the mounted path knows the whiteout rules
      return;
    }
    // links are kept between files of one copied directory, as docker does, not between sources
    if (inTree && st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const group = linked.get(key) ?? [];
      group.push(rel);
      linked.set(key, group);
    }
    entries.set(rel, {
      type: "file",
      path: rel,
      size: st.size,
      source: { path },
      mode: own.chmod ?? st.mode & 0o7777,
      ...owner(st),
      mtime: 0,
    });
  };
  const walk = (from: string, to: string, rel: string, contextRel: string) => {
    for (const name of fs.readdirSync(from).sort()) {
      if (conflict) return;
      const childRel = rel ? `${rel}/${name}` : name;
      const childContextRel = contextRel ? `${contextRel}/${name}` : name;
      if (excluded(childRel) || ignored(childContextRel)) continue;
      const src = join(from, name);
      const dst = to ? `${to}/${name}` : name;
      const st = fs.lstatSync(src);
      if (st.isDirectory()) {
        const existing = viewStat(dst);
        if (existing && !existing.isDirectory()) {
          conflict = true;
          return;
        }
        entries.set(dst, { type: "directory", path: dst, mode: own.chmod ?? st.mode & 0o7777, ...owner(st), mtime: 0 });
        walk(src, dst, childRel, childContextRel);
      } else if (st.isSymbolicLink()) {
        if (viewStat(dst)) {
          conflict = true;
          return;
        }
        entries.set(dst, {
          type: "symlink",
          path: dst,
          target: fs.readlinkSync(src),
          mode: 0o777,
          ...owner(st),
          mtime: 0,
        });
      } else if (st.isFile()) addFile(src, dst, st, true);
    }
  };
  const destIsDir =
    dest.endsWith("/") ||
    opts.forceDir === true ||
    sources.length > 1 ||
    (lstatInRoot(view, destRel)?.isDirectory() ?? false);
  for (const src of sources) {
    if (excluded(basename(src.name))) continue;
    const st = fs.statSync(src.path);
    const parentRel = opts.parents && src.rel ? posix.dirname(src.rel) : ".";
    const base = parentRel === "." ? destRel : posix.join(destRel, parentRel);
    if (st.isDirectory()) {
      const target = ensureDir(opts.parents && src.rel ? posix.join(destRel, src.rel) : base);
      if (target === null) return null;
      walk(src.path, target, "", src.rel ?? "");
    } else if (opts.unpackArchives && src.unpack !== false && archiveKind(src.path)) {
      return null;
    } else {
      const rel = destIsDir || opts.parents ? posix.join(base, basename(src.name)) : destRel;
      const parent = ensureDir(posix.dirname(rel) === "." ? "" : posix.dirname(rel));
      if (parent === null) return null;
      addFile(src.path, parent ? `${parent}/${posix.basename(rel)}` : posix.basename(rel), st, false);
    }
    if (conflict) return null;
  }
  if (conflict) return null;
  // a hardlink must come after its target in the tar, which writeLayer sorts by path
  for (const group of linked.values()) {
    const [first, ...rest] = [...group].sort((a, b) => (a < b ? -1 : 1));
    for (const rel of rest)
      entries.set(rel, { type: "link", path: rel, target: first as string, mode: 0, uid: 0, gid: 0, mtime: 0 });
  }
  return [...entries.values()];
}

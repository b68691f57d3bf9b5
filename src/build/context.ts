import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join, relative } from "node:path";
import { dockerignoreFor, makeIgnoreMatcher } from "../dockerfile/dockerignore.js";
import { BerthError } from "../oci/errors.js";

/** The build context: a directory, with what .dockerignore leaves out filtered away. */
export interface BuildContext {
  readonly dir: string;
  /** Whether a context-relative path ("a/b") is left out by .dockerignore. */
  ignored(rel: string): boolean;
}

export function openContext(dir: string, dockerfilePath: string): BuildContext {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new BerthError("USAGE", `unable to prepare context: path "${dir}" not found`);
  }
  if (!st.isDirectory()) throw new BerthError("USAGE", `unable to prepare context: "${dir}" is not a directory`);
  const rel = relative(dir, dockerfilePath);
  const ignoreFile = dockerignoreFor(rel.startsWith("..") ? dockerfilePath : rel, (p) => fs.existsSync(join(dir, p)));
  const matcher = ignoreFile ? makeIgnoreMatcher(fs.readFileSync(join(dir, ignoreFile), "utf8")) : () => false;
  return { dir, ignored: (p) => p !== "" && matcher(p) };
}

/** One source file or directory of a COPY, found in the context. */
export interface Source {
  /** Path relative to the context root, "" for the root itself. */
  rel: string;
  /** Where it is on disk. */
  path: string;
  stat: fs.Stats;
}

/**
 * Finds a COPY/ADD source in the context: wildcards (`*`, `?`, `[...]`) per path component,
 * as Go's filepath.Match. Paths are confined to the context: `..` cannot climb out, and a
 * symlink on the way is followed inside the context, never outside it.
 */
export function findSources(ctx: BuildContext, pattern: string): Source[] {
  const parts = pattern.split("/").filter((p) => p !== "" && p !== ".");
  const clean: string[] = [];
  for (const p of parts) {
    if (p === "..") clean.pop();
    else clean.push(p);
  }
  let found: string[] = [""];
  for (const part of clean) {
    const next: string[] = [];
    const wild = /[*?[]/.test(part);
    for (const base of found) {
      const dir = resolveInContext(ctx, base);
      if (!dir) continue;
      if (!wild) {
        next.push(base ? `${base}/${part}` : part);
        continue;
      }
      let names: string[];
      try {
        names = fs.readdirSync(dir).sort();
      } catch {
        continue;
      }
      const re = globComponent(part);
      for (const n of names) if (re.test(n)) next.push(base ? `${base}/${n}` : n);
    }
    found = next;
  }
  const out: Source[] = [];
  for (const rel of found) {
    if (ctx.ignored(rel)) continue;
    const path = resolveInContext(ctx, rel);
    if (!path) continue;
    const stat = lstatOrNull(path);
    if (stat) out.push({ rel, path, stat });
  }
  return out;
}

/**
 * The host path of a context-relative path, following symlinks inside the context only (an
 * absolute target or one that climbs out is re-rooted at the context, as BuildKit scopes it).
 */
export function resolveInContext(ctx: BuildContext, rel: string): string | undefined {
  const pending = rel.split("/").filter((p) => p !== "" && p !== ".");
  const resolved: string[] = [];
  let links = 0;
  while (pending.length) {
    const part = pending.shift() as string;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const host = join(ctx.dir, ...resolved, part);
    const st = lstatOrNull(host);
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
      if (++links > 40) throw new BerthError("USAGE", `too many levels of symbolic links in the context at "${rel}"`);
      const target = fs.readlinkSync(host);
      if (target.startsWith("/")) resolved.length = 0;
      pending.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
      continue;
    }
    resolved.push(part);
  }
  return join(ctx.dir, ...resolved);
}

/**
 * Remembers file digests by their stat (device, inode, size, mtime and ctime in nanoseconds, mode), so a
 * warm build does not read a 500 MiB file again to learn that it did not change. A file
 * changed within the same nanosecond timestamp would be missed, as with any stat cache (git's
 * index, BuildKit's content hashes); its bytes still reach the layer correctly.
 */
export interface HashMemo {
  get(path: string, stat: string): string | undefined;
  set(path: string, stat: string, sha256: string): void;
}

/** `st`: the file's own stat, which the caller has already taken (a stat per file counts at 20,000 files). */
function fileDigest(path: string, st: fs.BigIntStats, memo: HashMemo | undefined): string {
  const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.mode}`;
  const known = memo?.get(path, key);
  if (known) return known;
  const hash = createHash("sha256");
  const fd = fs.openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  const digest = hash.digest("hex");
  memo?.set(path, key, digest);
  return digest;
}

/**
 * What the build read from the context, for size advice: bytes of files hashed, and per
 * directory source (by its path in the context) the bytes under it, so that measuring the
 * whole context need not walk those directories again (contextBytes).
 */
export interface ContextTally {
  bytes: number;
  dirs?: Map<string, number>;
}

/**
 * A digest of everything a COPY reads: each file's path, mode and bytes (directories walked
 * in sorted order), for the build cache. Mtimes are left out: a fresh checkout must hit the
 * cache of an identical one.
 */
export function hashSources(
  ctx: BuildContext,
  sources: readonly Source[],
  tally?: ContextTally,
  memo?: HashMemo,
): string {
  const hash = createHash("sha256");
  const visit = (rel: string, path: string, st: fs.BigIntStats) => {
    if (ctx.ignored(rel)) return;
    hash.update(`${rel}\0${st.mode}\0${st.uid}:${st.gid}\0`);
    if (st.isSymbolicLink()) hash.update(`link:${fs.readlinkSync(path)}\0`);
    else if (st.isFile()) {
      hash.update(fileDigest(path, st, memo));
      if (tally) tally.bytes += Number(st.size);
    } else if (st.isDirectory()) {
      for (const n of fs.readdirSync(path).sort()) {
        const p = join(path, n);
        const s = fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
        if (s) visit(rel ? `${rel}/${n}` : n, p, s);
      }
    }
    hash.update("\n");
  };
  for (const s of sources) {
    const st = fs.statSync(s.path, { bigint: true });
    const before = tally?.bytes ?? 0;
    visit(s.rel, s.path, st);
    if (tally?.dirs && st.isDirectory()) tally.dirs.set(s.rel, tally.bytes - before);
  }
  return hash.digest("hex");
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/** Go's filepath.Match for one path component. */
function globComponent(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\" && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) throw new BerthError("USAGE", `syntax error in pattern "${pattern}"`);
      re += `[${pattern
        .slice(i + 1, end)
        .replace(/^\^/, "^")
        .replace(/^!/, "^")}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/**
 * The bytes of the files .dockerignore lets into the context (what docker would send), for
 * size advice. Ignored directories are not walked, nor those whose bytes `known` gives (the
 * directories the build copied, counted as it hashed them); the walk stops counting after
 * `limit` entries.
 */
export function contextBytes(ctx: BuildContext, limit = 50_000, known?: ReadonlyMap<string, number>): number {
  let bytes = 0;
  let seen = 0;
  const walk = (rel: string, dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (++seen > limit) return;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (ctx.ignored(r)) continue;
      const p = join(dir, e.name);
      const counted = e.isDirectory() ? known?.get(r) : undefined;
      if (counted !== undefined) bytes += counted;
      else if (e.isDirectory()) walk(r, p);
      else if (e.isFile()) bytes += fs.statSync(p).size;
    }
  };
  walk("", ctx.dir);
  return bytes;
}

import * as fs from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { type Header, pack } from "tar-stream";
import { pushPaxHeader, sortedXattrs } from "../image/tar-xattrs.js";
import { BerthError } from "../oci/errors.js";
import { isLayerXattr, readXattrs, type XattrMap, xattrFingerprint } from "./xattrs.js";

/**
 * A container's changes as a layer tar, per the OCI image spec's changesets: added and changed
 * entries as themselves, deleted ones as `.wh.NAME`, replaced directories as
 * `.wh..wh..opq`. This is what a build's RUN step stores.
 *
 * The tar is reproducible: entries in a fixed order (depth first, names within a directory in
 * byte order, a directory before its contents, as docker walks an overlay2 upper directory),
 * no user or group names, mtimes clamped to `epoch` as SOURCE_DATE_EPOCH asks of BuildKit,
 * and whiteouts stamped with the epoch itself.
 *
 * Every entry carries its extended attributes (those isLayerXattr keeps) as SCHILY.xattr PAX
 * records, values byte for byte and names in byte order: read with one llistxattr per entry
 * through the addon (see xattrs.ts; without it, directories' only).
 */

export interface DiffOptions {
  /** Seconds since 1970: no mtime in the tar is later (SOURCE_DATE_EPOCH). */
  epoch?: number;
  /** The mode of whiteout entries: 0644 by default; docker's commit writes 0600. */
  whiteoutMode?: number;
}

/** One change, before it becomes a tar entry. */
interface Change {
  /** Path relative to the root, no leading or trailing slash. */
  rel: string;
  kind: "entry" | "whiteout" | "opaque";
  /** For "entry": where the file is now, and its stat. */
  path?: string;
  stat?: fs.Stats;
  xattrs?: XattrMap;
}

/** An overlayfs upper directory as a layer tar. */
export async function diffUpper(upper: string, opts: DiffOptions = {}): Promise<Readable> {
  const walked: Change[] = [];
  walkUpper(upper, "", walked);
  await addXattrs(upper, walked);
  // A directory overlayfs marked opaque replaced the one below: its marker entry follows it.
  const changes = walked.flatMap((c): Change[] =>
    c.xattrs?.["trusted.overlay.opaque"]?.equals(OPAQUE_YES) ? [c, { rel: c.rel, kind: "opaque" }] : [c],
  );
  return packChanges(changes, opts);
}

const OPAQUE_YES = Buffer.from("y");

function walkUpper(root: string, rel: string, out: Change[]): void {
  for (const name of sortedNames(join(root, rel))) {
    const child = rel ? `${rel}/${name}` : name;
    const path = join(root, child);
    const st = fs.lstatSync(path);
    if (isOverlayWhiteout(st)) {
      out.push({ rel: child, kind: "whiteout" });
      continue;
    }
    out.push({ rel: child, kind: "entry", path, stat: st });
    if (st.isDirectory()) walkUpper(root, child, out);
  }
}

/** Reads the attributes of the entries among `changes` (paths relative to `root`) into them. */
async function addXattrs(root: string, changes: Change[]): Promise<void> {
  const entries = changes.filter((c) => c.kind === "entry");
  const attrs = await readXattrs(
    root,
    entries.map((c) => ({ rel: c.rel, dir: (c.stat as fs.Stats).isDirectory() })),
  );
  if (attrs.size === 0) return;
  for (const c of entries) c.xattrs = attrs.get(c.rel);
}

/** overlayfs records a deletion as a character device numbered 0/0. */
export function isOverlayWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/** Names in a directory in byte order (what Go's sort gives docker), not UTF-16 order. */
function sortedNames(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .map((n) => Buffer.from(n))
    .sort(Buffer.compare)
    .map((b) => b.toString());
}

/**
 * A whole tree as a tar (`docker export`): every entry, in walk order (names in byte order, a
 * directory before its contents), with its own mtime (whole seconds), owner, mode and xattrs.
 */
export async function tarTree(root: string): Promise<Readable> {
  const changes: Change[] = [];
  const walk = (rel: string) => {
    for (const name of sortedNames(join(root, rel))) {
      const child = rel ? `${rel}/${name}` : name;
      const path = join(root, child);
      const st = fs.lstatSync(path);
      changes.push({ rel: child, kind: "entry", path, stat: st });
      if (st.isDirectory()) walk(child);
    }
  };
  walk("");
  await addXattrs(root, changes);
  return packChanges(changes, {});
}

// ---- the copy storage driver: changes against a record of the tree before the run

/**
 * What the tree looked like: one signature per path. The ctime would catch more, but it also
 * moves when only the link count does (deleting one name of a hard-linked file), so the
 * signature is what docker's naive diff compares: type and mode, owner, size, mtime (to the
 * nanosecond) and the inode, which a replaced file does not keep; and a fingerprint of the
 * extended attributes, since setting one moves only the ctime.
 */
export type Baseline = Record<string, string>;

function signature(path: string, st: fs.BigIntStats): string {
  return `${st.mode}:${st.uid}:${st.gid}:${st.size}:${st.mtimeNs}:${st.ino}:${st.rdev}:${xattrFingerprint(path)}`;
}

/** Records `root` so that changes made later can be found without overlayfs. */
export function recordBaseline(root: string): Baseline {
  const out: Baseline = {};
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(join(root, rel))) {
      const child = rel ? `${rel}/${name}` : name;
      const path = join(root, child);
      const st = fs.lstatSync(path, { bigint: true });
      out[child] = signature(path, st);
      if (st.isDirectory()) walk(child);
    }
  };
  walk("");
  return out;
}

/**
 * A plain directory's changes since `baseline` as a layer tar. Deletions are whiteouts of the
 * topmost deleted path; a directory deleted and made again shows as itself plus whiteouts for
 * what it lost (no xattr marks it opaque here).
 */
export async function diffBaseline(root: string, baseline: Baseline, opts: DiffOptions = {}): Promise<Readable> {
  const before = new Map<string, string[]>();
  for (const key of Object.keys(baseline)) {
    const slash = key.lastIndexOf("/");
    const dir = slash < 0 ? "" : key.slice(0, slash);
    const list = before.get(dir);
    if (list) list.push(key.slice(slash + 1));
    else before.set(dir, [key.slice(slash + 1)]);
  }
  const changes: Change[] = [];
  /** Adds the changes under `rel`; says whether there were any (so its parent is included). */
  const walk = (rel: string): boolean => {
    let any = false;
    const names = new Set(fs.readdirSync(join(root, rel)));
    for (const name of names) {
      const child = rel ? `${rel}/${name}` : name;
      const path = join(root, child);
      const st = fs.lstatSync(path);
      const changed = baseline[child] !== signature(path, fs.lstatSync(path, { bigint: true }));
      const inner = st.isDirectory() && walk(child);
      if (changed || inner) {
        changes.push({ rel: child, kind: "entry", path, stat: st });
        any = true;
      }
    }
    for (const name of before.get(rel) ?? []) {
      if (names.has(name)) continue;
      changes.push({ rel: rel ? `${rel}/${name}` : name, kind: "whiteout" });
      any = true;
    }
    return any;
  };
  walk("");
  changes.sort((a, b) => Buffer.compare(sortKey(a), sortKey(b)));
  await addXattrs(root, changes);
  return packChanges(changes, opts);
}

/** Orders as a walk would: by path components, a directory before what is inside it. */
function sortKey(c: Change): Buffer {
  const name = c.kind === "whiteout" ? whiteoutName(c.rel) : c.rel;
  return Buffer.from(name.split("/").join("\0"));
}

function whiteoutName(rel: string): string {
  const slash = rel.lastIndexOf("/");
  return `${rel.slice(0, slash + 1)}.wh.${rel.slice(slash + 1)}`;
}

// ---- the tar

/** Packs changes into a tar stream, in the order given. */
function packChanges(changes: readonly Change[], opts: DiffOptions): Readable {
  const p = pack();
  const clamp = (d: Date): Date =>
    opts.epoch !== undefined && d.getTime() > opts.epoch * 1000
      ? new Date(opts.epoch * 1000)
      : new Date(Math.floor(d.getTime() / 1000) * 1000);
  const stamp = opts.epoch !== undefined ? new Date(opts.epoch * 1000) : new Date(0);
  const links = new Map<string, string>();
  (async () => {
    for (const c of changes) {
      if (c.kind === "whiteout" || c.kind === "opaque") {
        const name = c.kind === "opaque" ? `${c.rel}/.wh..wh..opq` : whiteoutName(c.rel);
        // tar-stream cannot write mode 0 (it substitutes 0644), so say 0644 outright
        const mode = opts.whiteoutMode ?? 0o644;
        await add(p, { name, type: "file", mode, uid: 0, gid: 0, size: 0, mtime: stamp, uname: "", gname: "" });
        continue;
      }
      const st = c.stat as fs.Stats;
      const base: Header = {
        name: c.rel,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: clamp(st.mtime),
        uname: "",
        gname: "",
        size: 0,
        type: "file",
        linkname: "",
        devmajor: 0,
        devminor: 0,
      };
      let h: EntryHeader | undefined;
      let file: string | undefined;
      if (st.isDirectory()) {
        h = { ...base, name: `${c.rel}/`, type: "directory" };
      } else if (st.isSymbolicLink()) {
        h = { ...base, type: "symlink", linkname: fs.readlinkSync(c.path as string) };
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? links.get(key) : undefined;
        if (first !== undefined) {
          // docker writes a second name's attributes too: they are the same inode's
          h = { ...base, type: "link", linkname: first };
        } else {
          if (st.nlink > 1) links.set(key, c.rel);
          h = { ...base, size: st.size };
          file = c.path as string;
        }
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        h = {
          ...base,
          type: st.isCharacterDevice() ? "character-device" : "block-device",
          devmajor: major(st.rdev),
          devminor: minor(st.rdev),
        };
      } else if (st.isFIFO()) {
        h = { ...base, type: "fifo" };
      }
      // sockets are not file system content: docker leaves them out too
      if (!h) continue;
      const records = c.xattrs ? sortedXattrs(c.xattrs).filter(([name]) => isLayerXattr(name)) : [];
      // the previous entry is written whole (each is awaited): the header goes right after it
      if (records.length > 0) h = pushPaxHeader(p, h, records);
      if (file !== undefined) await addFile(p, h, file);
      else await add(p, h);
    }
    p.finalize();
  })().catch((err: unknown) => p.destroy(err as Error));
  return Readable.from(p as AsyncIterable<Buffer>);
}

type Pack = ReturnType<typeof pack>;
type EntryHeader = Partial<Header> & { name: string };

/** Adds an entry without content (an empty buffer: a "file" entry without one waits for writes). */
function add(p: Pack, h: EntryHeader): Promise<void> {
  return new Promise((resolve, reject) => {
    p.entry(h, EMPTY, (err) => (err ? reject(err) : resolve()));
  });
}

const EMPTY = Buffer.alloc(0);

/** Files up to this size are read in one call: a stream per small file costs ~20x more. */
const SMALL_FILE = 1 << 20;

async function addFile(p: Pack, h: EntryHeader, path: string): Promise<void> {
  if ((h.size ?? 0) <= SMALL_FILE) {
    const bytes = fs.readFileSync(path);
    if (bytes.length !== h.size) throw new BerthError("STORE", `${path} changed size while its layer was written`);
    await new Promise<void>((resolve, reject) => {
      p.entry(h, bytes, (err) => (err ? reject(err) : resolve()));
    });
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const sink = p.entry(h, (err) => (err ? reject(err) : resolve()));
    const src = fs.createReadStream(path, { highWaterMark: 1 << 20 });
    src.on("error", (err) => {
      sink.destroy(err);
      reject(err);
    });
    src.on("data", (chunk) => {
      if (!sink.write(chunk as Buffer)) {
        src.pause();
        sink.once("drain", () => src.resume());
      }
    });
    src.on("end", () => sink.end(undefined));
  });
}

/** Linux's dev_t split (glibc's gnu_dev_major and gnu_dev_minor). */
function major(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}

function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
}

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Header } from "tar-stream";
import { inflater } from "../image/codecs.js";
import { detectCompression, peek } from "../image/layer-ingest.js";
import { extractWithXattrs, xattrsOf } from "../image/tar-xattrs.js";
import { BerthError } from "../oci/errors.js";
import { cleanEntryPath, lstatOrNull, resolveInRoot } from "./scoped-path.js";
import { isLayerXattr, pathXattrs, XattrWriter } from "./xattrs.js";

/**
 * Applies one layer (a tar changeset, plain or gzip'd) to a directory, as the OCI image spec's
 * "Applying Changesets" says: entries are added or replace what is there, `.wh.NAME` removes
 * NAME of a lower layer, and `.wh..wh..opq` removes every lower-layer entry of its directory.
 * Whiteouts only ever touch lower layers: an entry this layer adds survives a whiteout of the
 * same layer, whatever order the tar has them in.
 *
 * Applied to an overlayfs mount (rootfs.ts does that to build a layer's snapshot), the kernel
 * records the deletions as overlay whiteouts and the recreated directories as opaque ones.
 *
 * Extended attributes (SCHILY.xattr PAX records) are set byte for byte, binary ones such as
 * security.capability included (see xattrs.ts), after the owner: chown clears capabilities.
 *
 * Names from the tar are never trusted: see scoped-path.ts. Link targets of hardlinks are
 * resolved the same way; symlink targets are stored verbatim and only mean anything inside
 * the container.
 */

export interface ApplyOptions {
  /** Set owners from the tar (default: when running as root; otherwise chown would fail). */
  chown?: boolean;
  /**
   * `setfattr` to write PAX SCHILY.xattr.* attributes with where berth's addon is not built
   * (with it, they are set through lsetxattr); default: found on PATH.
   */
  setfattr?: string | null;
  /**
   * Sees every entry (its cleaned path) before it is applied and may throw to stop the
   * apply: snapshots.ts uses it to unpack straight into a directory only while that gives
   * what an overlay mount would.
   */
  guard?: (h: Header, rel: string) => void;
}

export interface ApplyResult {
  /** Entries applied (whiteouts included). */
  entries: number;
  whiteouts: number;
  /** What could not be applied exactly, one line each (devices when not root, refused xattrs, ...). */
  notes: string[];
}

/** An entry's content as tar-stream gives it (a streamx stream). */
type Content = AsyncIterable<unknown> & { resume(): unknown };

const WHITEOUT = ".wh.";
/** Files up to this size are written in one call. */
const SMALL_FILE = 1 << 20;
const OPAQUE = ".wh..wh..opq";

export async function applyLayer(root: string, layer: Readable, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const head = await peek(layer);
  const compression = detectCompression(head.bytes);
  const applier = new Applier(root, opts);
  const parser = extractWithXattrs();
  const inflate = inflater(compression, "layer");
  const feed = inflate ? pipeline(head.stream, inflate, parser) : pipeline(head.stream, parser);
  const walk = (async () => {
    for await (const entry of parser) {
      await applier.apply(entry.header, entry);
    }
  })().catch((err: unknown) => {
    // Stop the feed too, so that it settles instead of waiting for a reader.
    parser.destroy(err as Error);
    throw err;
  });
  feed.catch(() => undefined); // its failure also ends the walk, which reports it
  try {
    await walk;
    await feed;
  } catch (err) {
    head.stream.destroy();
    if (err instanceof BerthError) throw err;
    throw new BerthError("INVALID_ARCHIVE", `applying layer: ${(err as Error).message}`, { cause: err });
  }
  applier.finish();
  return applier.result;
}

class Applier {
  readonly result: ApplyResult = { entries: 0, whiteouts: 0, notes: [] };
  private readonly chown: boolean;
  private readonly xattrWriter: XattrWriter;
  private readonly guard: ((h: Header, rel: string) => void) | undefined;
  /** Paths (resolved, relative to the root) this layer wrote: whiteouts leave them alone. */
  private readonly written = new Set<string>();
  /** Directories this layer wrote, with the mode and mtime to give them once all is written. */
  private readonly dirs: { path: string; mode: number; mtime: Date | undefined }[] = [];
  /** Parent directories already resolved in this layer; cleared whenever anything is removed. */
  private readonly parents = new Map<string, string>();
  private notedOwners = false;

  constructor(
    private readonly root: string,
    opts: ApplyOptions,
  ) {
    this.chown = opts.chown ?? process.geteuid?.() === 0;
    this.xattrWriter = new XattrWriter(opts.setfattr);
    this.guard = opts.guard;
  }

  async apply(h: Header, content: Content): Promise<void> {
    const rel = cleanEntryPath(h.name);
    this.guard?.(h, rel);
    this.result.entries++;
    const slash = rel.lastIndexOf("/");
    const base = rel.slice(slash + 1);
    const dirRel = slash < 0 ? "" : rel.slice(0, slash);
    if (rel === "") {
      // The root's own entry ("./"): its metadata belongs to the mount point, not the image.
      content.resume();
      return;
    }
    if (base.startsWith(WHITEOUT)) {
      content.resume();
      this.result.whiteouts++;
      if (base === OPAQUE) this.opaque(dirRel);
      else if (!base.startsWith(`${WHITEOUT}${WHITEOUT}`)) this.whiteout(dirRel, base.slice(WHITEOUT.length));
      // other .wh..wh.* names are AUFS bookkeeping (plnk, aufs): docker skips them too
      return;
    }
    switch (h.type) {
      case "file":
      case "contiguous-file":
        await this.file(dirRel, base, h, content);
        return;
      case "directory":
        this.directory(dirRel, base, h);
        break;
      case "symlink":
        this.symlink(dirRel, base, h);
        break;
      case "link":
        this.hardlink(dirRel, base, h);
        break;
      case "character-device":
      case "block-device":
      case "fifo":
        this.special(dirRel, base, h);
        break;
      default:
        this.result.notes.push(`skipped ${rel}: unsupported tar entry type ${String(h.type)}`);
    }
    content.resume();
  }

  /** Makes room for a new entry: resolves its parent inside the root and clears the name. */
  private prepare(dirRel: string, base: string, keepDir = false): { path: string; rel: string } {
    let parent = this.parents.get(dirRel);
    if (parent === undefined) {
      parent = resolveInRoot(this.root, dirRel, { followFinal: true, create: true });
      this.parents.set(dirRel, parent);
    }
    const rel = parent ? `${parent}/${base}` : base;
    const path = join(this.root, rel);
    const st = lstatOrNull(path);
    if (st && !(keepDir && st.isDirectory())) this.remove(path, st);
    this.written.add(rel);
    return { path, rel };
  }

  private remove(path: string, st: fs.Stats): void {
    if (st.isDirectory() || st.isSymbolicLink()) this.parents.clear();
    fs.rmSync(path, { recursive: true, force: true });
  }

  private async file(dirRel: string, base: string, h: Header, content: Content): Promise<void> {
    const { path } = this.prepare(dirRel, base);
    // O_EXCL|O_NOFOLLOW: the name was just cleared; never write through anything put there.
    const fd = fs.openSync(
      path,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      0o600,
    );
    if ((h.size ?? 0) <= SMALL_FILE) {
      // One write for a small file: a write stream per file costs several thread-pool round
      // trips and a 1 MiB buffer, which dominated unpacking layers of many small files.
      try {
        const chunks: Buffer[] = [];
        for await (const c of content) chunks.push(c as Buffer);
        const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        let off = 0;
        while (off < bytes.length) off += fs.writeSync(fd, bytes, off);
      } finally {
        fs.closeSync(fd);
      }
    } else {
      await pipeline(content, fs.createWriteStream(path, { fd, highWaterMark: 1 << 20 }));
    }
    this.metadata(path, h, true);
  }

  private directory(dirRel: string, base: string, h: Header): void {
    const { path, rel } = this.prepare(dirRel, base, true);
    if (!lstatOrNull(path)) fs.mkdirSync(path, { mode: 0o700 });
    this.owner(path, h);
    this.xattrs(path, h);
    // Mode and mtime last: a read-only directory must still take its children, and writing
    // children changes the directory's mtime.
    this.dirs.push({ path: rel, mode: mode(h), mtime: h.mtime });
  }

  private symlink(dirRel: string, base: string, h: Header): void {
    const { path } = this.prepare(dirRel, base);
    fs.symlinkSync(h.linkname ?? "", path);
    this.owner(path, h);
    this.xattrs(path, h);
    if (h.mtime) fs.lutimesSync(path, h.mtime, h.mtime);
  }

  private hardlink(dirRel: string, base: string, h: Header): void {
    const targetRel = resolveInRoot(this.root, cleanEntryPath(h.linkname ?? ""), { followFinal: false });
    const target = join(this.root, targetRel);
    const st = lstatOrNull(target);
    if (!st || st.isDirectory()) {
      throw new BerthError(
        "INVALID_ARCHIVE",
        `hardlink ${dirRel ? `${dirRel}/` : ""}${base} points at "${h.linkname}", which is ${st ? "a directory" : "not in the layer or below it"}`,
      );
    }
    const parent = resolveInRoot(this.root, dirRel, { followFinal: true, create: true });
    if ((parent ? `${parent}/${base}` : base) === targetRel) return;
    const { path } = this.prepare(dirRel, base);
    fs.linkSync(target, path);
    this.xattrs(path, h); // docker's archive repeats a file's capability on its other names
  }

  private special(dirRel: string, base: string, h: Header): void {
    const rel = dirRel ? `${dirRel}/${base}` : base;
    if (process.geteuid?.() !== 0) {
      this.result.notes.push(`skipped ${h.type} ${rel}: creating device nodes and FIFOs needs root`);
      return;
    }
    if (h.type === "character-device" && !h.devmajor && !h.devminor) {
      // A 0/0 character device is overlayfs's own whiteout: on an overlay mount it would
      // hide files instead of being one. Layers express deletions with .wh. names instead.
      this.result.notes.push(`skipped ${rel}: a 0/0 character device (an overlay whiteout) is not a file`);
      return;
    }
    const { path } = this.prepare(dirRel, base);
    const kind = h.type === "fifo" ? ["p"] : [h.type === "block-device" ? "b" : "c", `${h.devmajor}`, `${h.devminor}`];
    execFileSync("mknod", ["-m", mode(h).toString(8), "--", path, ...kind], { stdio: ["ignore", "ignore", "pipe"] });
    this.metadata(path, h, true);
  }

  private metadata(path: string, h: Header, setMode: boolean): void {
    this.owner(path, h);
    this.xattrs(path, h);
    // chmod after chown: chown clears setuid and setgid bits.
    if (setMode) fs.chmodSync(path, mode(h));
    if (h.mtime) fs.lutimesSync(path, h.mtime, h.mtime);
  }

  private owner(path: string, h: Header): void {
    if (this.chown) {
      fs.lchownSync(path, h.uid ?? 0, h.gid ?? 0);
    } else if (!this.notedOwners && ((h.uid ?? 0) !== process.geteuid?.() || (h.gid ?? 0) !== process.getegid?.())) {
      this.notedOwners = true;
      this.result.notes.push("owners not set: changing file owners needs root");
    }
  }

  private xattrs(path: string, h: Header): void {
    const attrs = xattrsOf(h);
    if (!attrs) return;
    const where = path.slice(this.root.length);
    for (const [name, value] of Object.entries(attrs)) {
      if (name.startsWith("trusted.overlay.")) {
        // overlayfs's own metadata (opaque, redirect, origin) must never come from an image:
        // it would change what the mount shows.
        this.result.notes.push(`ignored ${name} on ${where}: overlayfs metadata`);
        continue;
      }
      const refused = this.xattrWriter.set(path, name, value);
      if (refused) this.result.notes.push(`skipped xattr ${name} on ${where}: ${refused}`);
    }
  }

  /** `.wh.NAME`: removes NAME from the layers below, never what this layer wrote. */
  private whiteout(dirRel: string, name: string): void {
    if (name === "" || name === "." || name === "..") return;
    let parent: string;
    try {
      parent = resolveInRoot(this.root, dirRel, { followFinal: true });
    } catch {
      return; // a file where a directory would be: nothing below it to remove
    }
    const rel = parent ? `${parent}/${name}` : name;
    if (this.written.has(rel)) return;
    const path = join(this.root, rel);
    const st = lstatOrNull(path);
    if (st) this.remove(path, st);
  }

  /** `.wh..wh..opq`: the directory keeps only what this layer put in it. */
  private opaque(dirRel: string): void {
    let rel: string;
    try {
      rel = resolveInRoot(this.root, dirRel, { followFinal: true });
    } catch {
      return;
    }
    const path = join(this.root, rel);
    const st = lstatOrNull(path);
    if (!st?.isDirectory()) return;
    const prefix = rel ? `${rel}/` : "";
    const keeps = [...this.written].some((w) => w.startsWith(prefix) && w !== rel);
    if (!keeps && rel !== "") {
      // The usual order (the marker right after its directory): recreate the directory, which
      // on an overlay mount becomes one opaque directory rather than a whiteout per entry.
      // Its attributes go with it (without berth's addon they cannot be read here, and are lost).
      const attrs = pathXattrs(path);
      this.remove(path, st);
      fs.mkdirSync(path, { mode: st.mode & 0o7777 });
      fs.chmodSync(path, st.mode & 0o7777);
      if (this.chown) fs.lchownSync(path, st.uid, st.gid);
      for (const [name, value] of Object.entries(attrs ?? {})) {
        if (!isLayerXattr(name)) continue;
        const refused = this.xattrWriter.set(path, name, value);
        if (refused) this.result.notes.push(`skipped xattr ${name} on /${rel}: ${refused}`);
      }
      if (!this.written.has(rel)) fs.utimesSync(path, st.atime, st.mtime);
      return;
    }
    this.clearLower(rel);
  }

  private clearLower(rel: string): void {
    const dir = join(this.root, rel);
    for (const name of fs.readdirSync(dir)) {
      const child = rel ? `${rel}/${name}` : name;
      const path = join(dir, name);
      if (!this.written.has(child)) {
        const st = lstatOrNull(path);
        if (st) this.remove(path, st);
      } else if (lstatOrNull(path)?.isDirectory()) {
        this.clearLower(child);
      }
    }
  }

  /** Directory modes and mtimes, once nothing more will be written into them. */
  finish(): void {
    for (let i = this.dirs.length - 1; i >= 0; i--) {
      const d = this.dirs[i] as (typeof this.dirs)[number];
      const path = join(this.root, d.path);
      const st = lstatOrNull(path);
      if (!st?.isDirectory()) continue; // replaced or whited out later in the layer
      fs.chmodSync(path, d.mode);
      if (d.mtime) fs.utimesSync(path, d.mtime, d.mtime);
    }
  }
}

function mode(h: Header): number {
  return (h.mode ?? 0o644) & 0o7777;
}

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { type Header, type Pack, pack } from "tar-stream";
import { decodeXattrRecords, extractWithXattrs, paxHeader, pushPaxHeader, xattrsOf } from "../src/image/tar-xattrs.js";
import { applyLayer } from "../src/runtime/apply-layer.js";
import { diffBaseline, diffUpper, recordBaseline } from "../src/runtime/diff.js";
import { findSetfattr, readXattrs, XattrWriter, xattrCalls } from "../src/runtime/xattrs.js";
import { tempDir } from "./helpers.js";
import { streamOf } from "./runtime-tar.js";

/**
 * Extended attributes on disk (berth's addon, and the tar/setfattr fallbacks) and in layer tars
 * (SCHILY.xattr PAX records, byte for byte): written by diff.ts, read back by apply-layer.ts,
 * and what GNU tar makes of them. Real files on the test machine's file system, as root.
 */

const root = process.geteuid?.() === 0;
const needsRoot = root ? false : "needs root (security.capability, trusted.* and owners)";

/** setcap's bytes for cap_net_raw+ep: VFS_CAP_REVISION_2, effective, permitted bit 13. */
const CAP_NET_RAW = Buffer.from("0100000200200000000000000000000000000000", "hex");
/** Every byte value, NUL, "\n" and "=" among them: what UTF-8 decoding would mangle. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

function calls() {
  const c = xattrCalls();
  assert.ok(c, "berth's addon (native/mount) lacks the xattr calls: run `npm install` (scripts/setup.sh)");
  return c;
}

function set(path: string, name: string, value: Buffer): void {
  assert.equal(calls().lsetxattr(path, name, value, 0), 0, `lsetxattr ${name} on ${path}`);
}

function get(path: string, name: string): Buffer | number {
  return calls().lgetxattr(path, name);
}

/** Adds an entry and waits until it is written whole (as diff.ts does). */
function added(p: Pack, h: Partial<Header> & { name: string }, body?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    p.entry(h, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

async function bytesOf(src: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of src) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** Each entry of a tar: its name and its attributes as parsed byte for byte. */
async function entriesOf(tar: Buffer): Promise<{ name: string; type: string; xattrs?: Record<string, Buffer> }[]> {
  const parser = extractWithXattrs();
  const out: { name: string; type: string; xattrs?: Record<string, Buffer> }[] = [];
  const feed = Readable.from([tar]).pipe(parser);
  for await (const entry of feed) {
    out.push({ name: entry.header.name, type: String(entry.header.type), xattrs: xattrsOf(entry.header) });
    entry.resume();
  }
  return out;
}

test("the addon lists, reads and writes attributes byte for byte, never through a symlink", () => {
  const dir = tempDir("xattr-addon");
  const f = join(dir, "f");
  fs.writeFileSync(f, "x");
  fs.symlinkSync("f", join(dir, "link"));
  assert.deepEqual(calls().llistxattr(f), []);
  set(f, "user.bytes", ALL_BYTES);
  set(f, "user.empty", Buffer.alloc(0));
  set(f, "user.large", Buffer.alloc(3000, 7)); // past the addon's stack buffers
  assert.deepEqual((calls().llistxattr(f) as string[]).sort(), ["user.bytes", "user.empty", "user.large"]);
  assert.deepEqual(get(f, "user.bytes"), ALL_BYTES);
  assert.deepEqual(get(f, "user.empty"), Buffer.alloc(0));
  assert.deepEqual(get(f, "user.large"), Buffer.alloc(3000, 7));
  assert.equal(get(f, "user.none"), 61, "ENODATA");
  assert.deepEqual(calls().llistxattr(join(dir, "link")), [], "the link itself, not its target");
  assert.equal(calls().lsetxattr(join(dir, "link"), "user.x", Buffer.from("v"), 0), 1, "EPERM: no user.* on links");
  assert.equal(calls().llistxattr(join(dir, "missing")), 2, "ENOENT");
  assert.throws(() => calls().lsetxattr(f, "user.x", "text" as unknown as Buffer, 0), /bad arguments/);
});

test("PAX headers carry binary values; text ones come out as tar-stream wrote them", async () => {
  // The reference: tar-stream's own PAX writer, with text values.
  const headers: (Partial<Header> & { name: string })[] = [
    { name: `${"deep/".repeat(30)}dir/`, type: "directory", mode: 0o755, mtime: new Date(1e12) },
    { name: "dir0/", type: "directory", mode: 0, mtime: new Date(1e12) },
    { name: "link", type: "symlink", linkname: "target", mode: 0o777, uid: 1, gid: 2, mtime: new Date(1e12) },
    { name: "hard", type: "link", linkname: `${"t".repeat(150)}`, mode: 0o644, mtime: new Date(1e12) },
  ];
  const text: [string, Buffer][] = [
    ["user.a", Buffer.from("1")],
    ["user.b", Buffer.from("été and = and \n too")],
  ];
  const theirs = pack();
  const ours = pack();
  const written = Promise.all([bytesOf(theirs), bytesOf(ours)]);
  for (const h of headers) {
    theirs.entry({ ...h, pax: Object.fromEntries(text.map(([k, v]) => [`SCHILY.xattr.${k}`, v.toString()])) });
    await added(ours, pushPaxHeader(ours, h, text));
  }
  theirs.entry(
    { name: "file", size: 2, mtime: new Date(1e12), pax: { "SCHILY.xattr.user.a": "1" } },
    Buffer.from("hi"),
  );
  const x = pushPaxHeader(ours, { name: "file", size: 2, mtime: new Date(1e12) }, [["user.a", Buffer.from("1")]]);
  await added(ours, x, Buffer.from("hi"));
  theirs.finalize();
  ours.finalize();
  const [a, b] = await written;
  assert.ok(a.equals(b), "the same bytes as tar-stream for text values");

  // Binary values survive the trip, and the records' lengths count bytes, not characters.
  const bin = pack();
  const binBytes = bytesOf(bin);
  const records: [string, Buffer][] = [
    ["security.capability", CAP_NET_RAW],
    ["user.bytes", ALL_BYTES],
  ];
  await added(bin, pushPaxHeader(bin, { name: "f", size: 0, mtime: new Date(0) }, records));
  bin.finalize();
  const parsed = await entriesOf(await binBytes);
  assert.deepEqual(parsed, [
    { name: "f", type: "file", xattrs: { "security.capability": CAP_NET_RAW, "user.bytes": ALL_BYTES } },
  ]);
  const { bytes } = paxHeader({ name: "f", size: 0, mtime: new Date(0) }, records);
  assert.equal(bytes.length % 512, 0);
  assert.deepEqual(decodeXattrRecords(bytes.subarray(512)), {
    "security.capability": CAP_NET_RAW,
    "user.bytes": ALL_BYTES,
  });
  // A record as Go's archive/tar writes it, without a path record; malformed ones end the parse.
  assert.deepEqual(decodeXattrRecords(Buffer.from("28 SCHILY.xattr.user.k=v\u00e9\n\n7 junk")), {
    "user.k": Buffer.from("v\u00e9\n"),
  });
});

/** A directory standing for an overlay upper directory, with attributes of every kind. */
function makeUpper(): string {
  const upper = tempDir("xattr-upper");
  fs.mkdirSync(join(upper, "bin"));
  fs.writeFileSync(join(upper, "bin", "ping"), "#!/bin/true\n", { mode: 0o755 });
  set(join(upper, "bin", "ping"), "security.capability", CAP_NET_RAW);
  set(join(upper, "bin", "ping"), "trusted.overlay.origin", Buffer.from([0, 251, 1]));
  fs.linkSync(join(upper, "bin", "ping"), join(upper, "bin", "ping6"));
  fs.writeFileSync(join(upper, "f"), "data");
  set(join(upper, "f"), "user.z", Buffer.from("last"));
  set(join(upper, "f"), "user.bytes", ALL_BYTES);
  set(join(upper, "f"), "user.a", Buffer.from("first"));
  fs.symlinkSync("f", join(upper, "link"));
  set(join(upper, "link"), "trusted.note", Buffer.from("on the link"));
  fs.mkdirSync(join(upper, "opq"));
  set(join(upper, "opq"), "trusted.overlay.opaque", Buffer.from("y"));
  set(join(upper, "opq"), "user.dir", Buffer.from("yes"));
  fs.writeFileSync(join(upper, "opq", "new"), "");
  fs.writeFileSync(join(upper, "plain"), "");
  return upper;
}

test("a diff carries every entry's attributes, sorted, without overlayfs's own", { skip: needsRoot }, async () => {
  const upper = makeUpper();
  const tar = await bytesOf(await diffUpper(upper, { epoch: 1_700_000_000 }));
  const again = await bytesOf(await diffUpper(upper, { epoch: 1_700_000_000 }));
  assert.ok(tar.equals(again), "the same bytes twice");
  const entries = await entriesOf(tar);
  assert.deepEqual(entries, [
    { name: "bin/", type: "directory", xattrs: undefined },
    { name: "bin/ping", type: "file", xattrs: { "security.capability": CAP_NET_RAW } },
    { name: "bin/ping6", type: "link", xattrs: { "security.capability": CAP_NET_RAW } },
    {
      name: "f",
      type: "file",
      xattrs: { "user.a": Buffer.from("first"), "user.bytes": ALL_BYTES, "user.z": Buffer.from("last") },
    },
    { name: "link", type: "symlink", xattrs: { "trusted.note": Buffer.from("on the link") } },
    { name: "opq/", type: "directory", xattrs: { "user.dir": Buffer.from("yes") } },
    { name: "opq/.wh..wh..opq", type: "file", xattrs: undefined },
    { name: "opq/new", type: "file", xattrs: undefined },
    { name: "plain", type: "file", xattrs: undefined },
  ]);
  // The records of one entry in byte order, as Go's archive/tar writes them.
  const at = tar.indexOf("SCHILY.xattr.user.a=");
  assert.ok(at > 0 && at < tar.indexOf("SCHILY.xattr.user.bytes=") && at < tar.indexOf("SCHILY.xattr.user.z="));

  // GNU tar reads the layer and sets the same bytes.
  const out = tempDir("xattr-gnutar");
  const file = join(tempDir("xattr-layer"), "layer.tar");
  fs.writeFileSync(file, tar);
  execFileSync("tar", ["--xattrs", "--xattrs-include=*", "-C", out, "-xf", file]);
  assert.deepEqual(get(join(out, "f"), "user.bytes"), ALL_BYTES);
  assert.deepEqual(get(join(out, "bin", "ping"), "security.capability"), CAP_NET_RAW);
  assert.match(execFileSync("getcap", [join(out, "bin", "ping")]).toString(), /cap_net_raw[=+]ep/);
});

test("applying a layer sets binary attributes, capabilities after the owner", { skip: needsRoot }, async () => {
  const upper = makeUpper();
  fs.chownSync(join(upper, "bin", "ping"), 1000, 1000);
  set(join(upper, "bin", "ping"), "security.capability", CAP_NET_RAW); // chown cleared it
  const layer = await bytesOf(await diffUpper(upper));
  const target = tempDir("xattr-apply");
  const r = await applyLayer(target, streamOf(layer));
  assert.deepEqual(r.notes, []);
  assert.equal(fs.statSync(join(target, "bin", "ping")).uid, 1000);
  assert.deepEqual(get(join(target, "bin", "ping"), "security.capability"), CAP_NET_RAW);
  assert.deepEqual(get(join(target, "f"), "user.bytes"), ALL_BYTES);
  assert.deepEqual((calls().llistxattr(join(target, "f")) as string[]).sort(), ["user.a", "user.bytes", "user.z"]);
  assert.deepEqual(get(join(target, "link"), "trusted.note"), Buffer.from("on the link"));
  assert.deepEqual(get(join(target, "opq"), "user.dir"), Buffer.from("yes"));
  assert.equal(get(join(target, "opq"), "trusted.overlay.opaque"), 61, "never from a layer");
  assert.equal(get(join(target, "bin", "ping"), "trusted.overlay.origin"), 61, "left out of the layer");

  // What the kernel refuses is a note, as docker warns: user.* on a symlink.
  const hostile = pack();
  const hostileBytes = bytesOf(hostile);
  const h = { name: "l", type: "symlink" as const, linkname: "x", mtime: new Date(0) };
  await added(hostile, pushPaxHeader(hostile, h, [["user.n", Buffer.from("v")]]));
  hostile.finalize();
  const r2 = await applyLayer(tempDir("xattr-refused"), streamOf(await hostileBytes));
  assert.deepEqual(r2.notes, ["skipped xattr user.n on /l: EPERM"]);
});

test("without the addon: tar reads directories' attributes and setfattr writes binary ones", async () => {
  const setfattr = findSetfattr();
  assert.ok(setfattr, "setfattr is missing: run scripts/setup.sh (Debian's attr)");
  const dir = tempDir("xattr-fallback");
  fs.mkdirSync(join(dir, "d"));
  fs.writeFileSync(join(dir, "f"), "");
  const writer = new XattrWriter(setfattr, null);
  assert.equal(writer.set(join(dir, "d"), "user.bytes", ALL_BYTES), null);
  assert.equal(writer.set(join(dir, "f"), "user.f", Buffer.from("file")), null);
  fs.symlinkSync("f", join(dir, "l"));
  assert.match(writer.set(join(dir, "l"), "user.l", Buffer.from("v")) ?? "", /Operation not permitted/);
  assert.equal(
    new XattrWriter(null, null).set(join(dir, "f"), "user.g", Buffer.from("v")),
    "setfattr (attr) is missing",
  );
  const attrs = await readXattrs(
    dir,
    [
      { rel: "d", dir: true },
      { rel: "f", dir: false },
    ],
    null,
  );
  assert.deepEqual([...attrs.keys()], ["d"], "tar reads directories only");
  assert.deepEqual(attrs.get("d")?.["user.bytes"], ALL_BYTES);
  assert.deepEqual((await readXattrs(dir, [{ rel: "f", dir: false }]))?.get("f"), { "user.f": Buffer.from("file") });
});

test("the copy driver sees a change of attributes alone", async () => {
  const dir = tempDir("xattr-baseline");
  fs.writeFileSync(join(dir, "f"), "x");
  fs.writeFileSync(join(dir, "g"), "y");
  const baseline = recordBaseline(dir);
  set(join(dir, "f"), "user.new", ALL_BYTES);
  const entries = await entriesOf(await bytesOf(await diffBaseline(dir, baseline)));
  assert.deepEqual(entries, [{ name: "f", type: "file", xattrs: { "user.new": ALL_BYTES } }]);
});

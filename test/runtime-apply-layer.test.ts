import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { applyLayer } from "../src/runtime/apply-layer.js";
import { readXattrs } from "../src/runtime/xattrs.js";
import { tempDir } from "./helpers.js";
import { makeTar, streamOf, type TarEntry } from "./runtime-tar.js";

const isRoot = process.geteuid?.() === 0;

async function apply(root: string, entries: TarEntry[], gzip = false) {
  return applyLayer(root, streamOf(await makeTar(entries, { gzip })));
}

/** Every path under `dir` with its kind, sorted: what a layer left behind. */
function tree(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = fs.lstatSync(p);
    const rel = `${prefix}${name}`;
    if (st.isDirectory()) out.push(`${rel}/`, ...tree(p, `${rel}/`));
    else if (st.isSymbolicLink()) out.push(`${rel} -> ${fs.readlinkSync(p)}`);
    else out.push(rel);
  }
  return out;
}

test("applies files, directories, links, special files and their metadata", async () => {
  const root = tempDir("apply");
  const result = await apply(root, [
    { name: "./", type: "directory" },
    { name: "./usr/", type: "directory", mode: 0o755, mtime: new Date(1_000_000_000) },
    { name: "./usr/bin/", type: "directory", mode: 0o555 },
    { name: "./usr/bin/tool", content: "#!/bin/sh\n", mode: 0o4755, uid: 12, gid: 34, mtime: new Date(1_234_567_000) },
    { name: "./usr/bin/tool2", type: "link", linkname: "./usr/bin/tool" },
    { name: "./usr/bin/t", type: "symlink", linkname: "tool" },
    { name: "./tmp/", type: "directory", mode: 0o1777 },
    { name: "./deep/er/file", content: "parents made on the way" },
    { name: "./dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 },
    { name: "./dev/fifo", type: "fifo", mode: 0o600 },
    { name: "./sgid/", type: "directory", mode: 0o2775 },
  ]);
  const tool = fs.statSync(join(root, "usr/bin/tool"));
  assert.equal(tool.mode & 0o7777, 0o4755, "setuid survives chown");
  assert.equal(tool.mtimeMs, 1_234_567_000);
  assert.equal(fs.readFileSync(join(root, "usr/bin/tool"), "utf8"), "#!/bin/sh\n");
  assert.equal(fs.statSync(join(root, "usr/bin/tool2")).ino, tool.ino, "hardlink shares the inode");
  assert.equal(fs.readlinkSync(join(root, "usr/bin/t")), "tool");
  assert.equal(fs.statSync(join(root, "usr/bin")).mode & 0o7777, 0o555, "read-only dir still took its children");
  assert.equal(fs.statSync(join(root, "usr")).mtimeMs, 1_000_000_000, "dir mtime set after its children");
  assert.equal(fs.statSync(join(root, "tmp")).mode & 0o7777, 0o1777, "sticky bit");
  assert.equal(fs.statSync(join(root, "sgid")).mode & 0o7777, 0o2775, "setgid dir");
  assert.equal(fs.readFileSync(join(root, "deep/er/file"), "utf8"), "parents made on the way");
  if (isRoot) {
    assert.equal(tool.uid, 12);
    assert.equal(tool.gid, 34);
    const dev = fs.statSync(join(root, "dev/null"));
    assert.ok(dev.isCharacterDevice());
    assert.equal(dev.rdev, (1 << 8) | 3);
    assert.ok(fs.statSync(join(root, "dev/fifo")).isFIFO());
  } else {
    assert.ok(result.notes.some((n) => n.includes("needs root")));
  }
});

test("gzip'd layers are unpacked too", async () => {
  const root = tempDir("apply-gz");
  await apply(root, [{ name: "a/b.txt", content: "zipped" }], true);
  assert.equal(fs.readFileSync(join(root, "a/b.txt"), "utf8"), "zipped");
});

test("whiteouts delete from lower layers across two layers", async () => {
  const root = tempDir("apply-wh");
  await apply(root, [
    { name: "a/", type: "directory" },
    { name: "a/x", content: "x" },
    { name: "a/y", content: "y" },
    { name: "b/", type: "directory" },
    { name: "b/inner", content: "i" },
    { name: "keep", content: "k" },
  ]);
  const r = await apply(root, [
    { name: "a/.wh.x", content: "" },
    { name: ".wh.b", content: "" },
    { name: ".wh.never-existed", content: "" },
  ]);
  assert.equal(r.whiteouts, 3);
  assert.deepEqual(tree(root), ["a/", "a/y", "keep"]);
});

test("an opaque directory keeps only what its own layer put there, in any order", async () => {
  const root = tempDir("apply-opq");
  await apply(root, [
    { name: "d/", type: "directory", mode: 0o750 },
    { name: "d/one", content: "1" },
    { name: "d/sub/", type: "directory" },
    { name: "d/sub/lower", content: "l" },
    { name: "e/", type: "directory" },
    { name: "e/old", content: "o" },
  ]);
  await apply(root, [
    // the usual order: marker right after the directory
    { name: "d/", type: "directory", mode: 0o750 },
    { name: "d/.wh..wh..opq", content: "" },
    { name: "d/two", content: "2" },
    // a hostile order: the marker after entries of the same layer
    { name: "e/new", content: "n" },
    { name: "e/.wh..wh..opq", content: "" },
  ]);
  assert.deepEqual(tree(root), ["d/", "d/two", "e/", "e/new"]);
  assert.equal(fs.statSync(join(root, "d")).mode & 0o7777, 0o750);
});

test("a whiteout never removes what the same layer adds", async () => {
  const root = tempDir("apply-same");
  await apply(root, [{ name: "f", content: "lower" }]);
  await apply(root, [
    { name: "f", content: "upper" },
    { name: ".wh.f", content: "" },
    { name: ".wh.g", content: "" },
    { name: "g", content: "new g" },
  ]);
  assert.equal(fs.readFileSync(join(root, "f"), "utf8"), "upper");
  assert.equal(fs.readFileSync(join(root, "g"), "utf8"), "new g");
});

test("an entry replaces what is there: file over dir, dir over symlink, file over symlink", async () => {
  const root = tempDir("apply-replace");
  const outside = tempDir("apply-outside");
  await apply(root, [
    { name: "x/", type: "directory" },
    { name: "x/child", content: "c" },
    { name: "s", type: "symlink", linkname: outside },
    { name: "t", type: "symlink", linkname: join(outside, "target") },
  ]);
  await apply(root, [
    { name: "x", content: "now a file" },
    { name: "s/", type: "directory" },
    { name: "s/inside", content: "i" },
    { name: "t", content: "replaced, not written through" },
  ]);
  assert.equal(fs.readFileSync(join(root, "x"), "utf8"), "now a file");
  assert.ok(fs.lstatSync(join(root, "s")).isDirectory());
  assert.ok(fs.lstatSync(join(root, "t")).isFile());
  assert.deepEqual(fs.readdirSync(outside), [], "nothing written outside the root");
});

test("hostile tars: no entry can write outside the root", async () => {
  const base = tempDir("apply-hostile");
  const root = join(base, "root");
  const outside = join(base, "outside");
  fs.mkdirSync(root);
  fs.mkdirSync(outside);
  fs.writeFileSync(join(outside, "secret"), "s");

  // `..` climbing out is refused, and nothing is written
  await assert.rejects(apply(root, [{ name: "../outside/pwned", content: "x" }]), /escapes the root/);
  await assert.rejects(apply(root, [{ name: "a/../../outside/pwned", content: "x" }]), /escapes the root/);
  // hardlinks to files outside are refused
  await assert.rejects(apply(root, [{ name: "hl", type: "link", linkname: "../outside/secret" }]), /escapes the root/);
  await assert.rejects(
    apply(root, [{ name: "hl", type: "link", linkname: join(outside, "secret") }]),
    /not in the layer/,
    "an absolute link target means the root's path, which does not exist",
  );

  // absolute names are made relative to the root
  await apply(root, [{ name: "/abs/file", content: "a" }]);
  assert.equal(fs.readFileSync(join(root, "abs/file"), "utf8"), "a");

  // a symlink to an absolute host path, then an entry through it: lands inside the root
  await apply(root, [
    { name: "esc", type: "symlink", linkname: outside },
    { name: "esc/pwned", content: "x" },
    { name: "rel", type: "symlink", linkname: "../../../../../../../../outside" },
    { name: "rel/pwned2", content: "x" },
    { name: "rootlink", type: "symlink", linkname: "/" },
    { name: "rootlink/etc/passwd", content: "root:x:0:0::/root:/bin/sh\n" },
  ]);
  assert.equal(fs.readFileSync(join(root, outside, "pwned"), "utf8"), "x");
  assert.equal(fs.readFileSync(join(root, "outside/pwned2"), "utf8"), "x");
  assert.equal(fs.readFileSync(join(root, "etc/passwd"), "utf8"), "root:x:0:0::/root:/bin/sh\n");
  assert.deepEqual(fs.readdirSync(outside), ["secret"], "nothing written outside the root");

  // a whiteout through a symlink removes inside the root only
  await apply(root, [
    { name: "wl", type: "symlink", linkname: outside },
    { name: "wl/.wh.secret", content: "" },
  ]);
  assert.ok(fs.existsSync(join(outside, "secret")));

  // symlink loops end with an error, not a hang
  await assert.rejects(
    apply(root, [
      { name: "loop1", type: "symlink", linkname: "loop2" },
      { name: "loop2", type: "symlink", linkname: "loop1" },
      { name: "loop1/x", content: "x" },
    ]),
    /too many levels/,
  );
  assert.deepEqual(fs.readdirSync(outside), ["secret"]);
});

test("overlayfs metadata in a layer's xattrs is ignored", async () => {
  const root = tempDir("apply-xattr");
  const r = await applyLayer(
    root,
    streamOf(await makeTar([{ name: "d/", type: "directory", pax: { "SCHILY.xattr.trusted.overlay.opaque": "y" } }])),
    { setfattr: null },
  );
  assert.ok(r.notes.some((n) => n.includes("trusted.overlay.opaque")));
});

test("PAX xattrs are set on what the layer writes, byte for byte", async () => {
  const root = tempDir("apply-xattr-set");
  const r = await apply(root, [
    { name: "d/", type: "directory", pax: { "SCHILY.xattr.user.berth": "kept" } },
    // tar-stream writes this text as UTF-8: those bytes are the value
    { name: "f", content: "x", pax: { "SCHILY.xattr.user.text": "\u00e9t\u00e9" } },
  ]);
  assert.deepEqual(
    r.notes.filter((n) => n.includes("xattr")),
    [],
  );
  const attrs = await readXattrs(root, [
    { rel: "d", dir: true },
    { rel: "f", dir: false },
  ]);
  assert.equal(attrs.get("d")?.["user.berth"]?.toString(), "kept");
  // without berth's addon, only directories' attributes can be read back (through tar)
  if (attrs.has("f")) assert.deepEqual(attrs.get("f")?.["user.text"], Buffer.from("\u00e9t\u00e9"));
});

test("a truncated or non-tar layer fails cleanly", async () => {
  const root = tempDir("apply-bad");
  const tar = await makeTar([{ name: "big", content: "x".repeat(5000) }]);
  await assert.rejects(applyLayer(root, streamOf(tar.subarray(0, 1500))), /applying layer|Unexpected end/);
});

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { sha256 } from "../src/oci/digest.js";
import { isOverlayWhiteout } from "../src/runtime/diff.js";
import { overlaySupported } from "../src/runtime/mount.js";
import { chainIds, ensureSnapshots, type LayerRef, pruneSnapshots, snapshotRoot } from "../src/runtime/snapshots.js";
import { readXattrs } from "../src/runtime/xattrs.js";
import { resolveImage } from "../src/store/image-records.js";
import { LocalStore } from "../src/store/local-store.js";
import { removeImage } from "../src/verbs/rmi.js";
import { tempDir } from "./helpers.js";
import { registerLayeredImage } from "./runtime-images.js";
import { makeTar } from "./runtime-tar.js";

const skip = overlaySupported() ? false : "needs root and overlayfs";

async function twoLayerImage(store: LocalStore, tag: string): Promise<LayerRef[]> {
  const lower = await makeTar([
    { name: "d/", type: "directory" },
    { name: "d/a", content: "a" },
    { name: "d/b", content: "b" },
    { name: "o/", type: "directory" },
    { name: "o/old", content: "old" },
  ]);
  const upper = await makeTar([
    { name: "d/.wh.a", content: "" },
    { name: "o/", type: "directory" },
    { name: "o/.wh..wh..opq", content: "" },
    { name: "o/new", content: "new" },
  ]);
  await registerLayeredImage(store, [lower, upper], { Cmd: ["sh"] }, tag);
  const image = resolveImage(store, tag).image;
  const manifest = JSON.parse(store.readBlob(image.manifest).toString()) as { layers: { digest: string }[] };
  const config = JSON.parse(store.readBlob(image.id).toString()) as { rootfs: { diff_ids: string[] } };
  return config.rootfs.diff_ids.map((d, i) => ({ diffId: d, blob: manifest.layers[i]?.digest }) as LayerRef);
}

test("chain IDs follow the image spec", () => {
  const a = sha256("a");
  const b = sha256("b");
  assert.deepEqual(chainIds([a, b]), [a, sha256(`${a} ${b}`)]);
});

test("snapshots hold overlay whiteouts and opaque directories made by the kernel", { skip }, async () => {
  const store = LocalStore.open(tempDir("snap"));
  try {
    const layers = await twoLayerImage(store, "snap/two:1");
    const [, top] = await ensureSnapshots(store, layers);
    const upper = top as string;
    assert.ok(isOverlayWhiteout(fs.lstatSync(join(upper, "d/a"))), "d/a is a 0/0 character device");
    assert.equal(fs.existsSync(join(upper, "d/b")), false, "untouched lower files are not copied");
    const attrs = await readXattrs(upper, [{ rel: "o", dir: true }]);
    assert.equal(attrs.get("o")?.["trusted.overlay.opaque"]?.toString(), "y");
    assert.deepEqual(fs.readdirSync(join(upper, "o")), ["new"]);
  } finally {
    store.close();
  }
});

test("a layer that deletes nothing is unpacked without a mount, unless it reaches through a parent's paths", {
  skip,
}, async () => {
  const store = LocalStore.open(tempDir("snap"));
  try {
    const base = await makeTar([
      { name: "usr/", type: "directory", mode: 0o755 },
      { name: "usr/lib/", type: "directory", mode: 0o755 },
      { name: "lib", type: "symlink", linkname: "usr/lib" },
      { name: "home/", type: "directory", mode: 0o700, uid: 1000, gid: 1000 },
    ]);
    // app/ is listed, so the direct unpack gives what the mount would
    const plain = await makeTar([
      { name: "app/", type: "directory", mode: 0o755 },
      { name: "app/a", content: "a" },
    ]);
    // lib/x goes through the parent's symlink, and home/y into the parent's own directory
    // (its owner and mode): both need the parents mounted
    const through = await makeTar([
      { name: "lib/x", content: "x" },
      { name: "home/y", content: "y" },
    ]);
    await registerLayeredImage(store, [base, plain, through], { Cmd: ["sh"] }, "snap/direct:1");
    const image = resolveImage(store, "snap/direct:1").image;
    const manifest = JSON.parse(store.readBlob(image.manifest).toString()) as { layers: { digest: string }[] };
    const config = JSON.parse(store.readBlob(image.id).toString()) as { rootfs: { diff_ids: string[] } };
    const layers = config.rootfs.diff_ids.map((d, i) => ({ diffId: d, blob: manifest.layers[i]?.digest }) as LayerRef);
    const [, second, third] = await ensureSnapshots(store, layers);
    assert.deepEqual(fs.readdirSync(second as string).sort(), ["app"]);
    assert.equal(fs.readFileSync(join(second as string, "app/a"), "utf8"), "a");
    // through the mount: the file lands in usr/lib (the symlink followed), and home keeps its owner
    assert.equal(fs.readFileSync(join(third as string, "usr/lib/x"), "utf8"), "x");
    assert.equal(fs.lstatSync(join(third as string, "lib"), { throwIfNoEntry: false }), undefined);
    const home = fs.statSync(join(third as string, "home"));
    assert.equal(home.mode & 0o7777, 0o700);
    assert.equal(home.uid, 1000);
    assert.deepEqual(
      fs.readdirSync(snapshotRoot(store)).filter((n) => n.startsWith(".tmp-")),
      [],
      "the abandoned direct unpack left nothing",
    );
  } finally {
    store.close();
  }
});

test("a crashed unpack leaves nothing visible, and the next call cleans up", { skip }, async () => {
  const store = LocalStore.open(tempDir("snap-crash"));
  try {
    const layers = await twoLayerImage(store, "snap/crash:1");
    const root = snapshotRoot(store);
    fs.mkdirSync(root, { recursive: true });
    // a dead process's half-written snapshot
    const dead = spawnSync("true").pid as number;
    const stale = join(root, `.tmp-${dead}-abcdef`);
    fs.mkdirSync(join(stale, "fs"), { recursive: true });
    fs.writeFileSync(join(stale, "fs", "half"), "x");
    // two unpacks of the same layers at once: one wins each rename, both see whole snapshots
    const [a, b] = await Promise.all([ensureSnapshots(store, layers), ensureSnapshots(store, layers)]);
    assert.deepEqual(a, b);
    assert.equal(fs.existsSync(stale), false);
    assert.deepEqual(
      fs.readdirSync(root).filter((n) => n.startsWith(".tmp-")),
      [],
    );
    assert.deepEqual(fs.readdirSync(join(a[0] as string, "d")).sort(), ["a", "b"]);
  } finally {
    store.close();
  }
});

test("prune removes the snapshots of images that are gone", { skip }, async () => {
  const store = LocalStore.open(tempDir("snap-prune"));
  try {
    const layers = await twoLayerImage(store, "snap/prune:1");
    const dirs = await ensureSnapshots(store, layers);
    assert.equal(
      store.write(() => pruneSnapshots(store)),
      0,
    );
    removeImage(store, "snap/prune:1");
    assert.equal(
      store.write(() => pruneSnapshots(store)),
      2,
    );
    for (const d of dirs) assert.equal(fs.existsSync(d), false);
  } finally {
    store.close();
  }
});

import assert from "node:assert/strict";
import { createWriteStream, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../../test/helpers.js";
import { type LayerEntry, writeLayer } from "../image/layer-writer.js";
import { LocalStore } from "../store/local-store.js";
import { adviseOnSize, layerFiles, layerFindings, storedLayerFindings } from "./advice.js";

async function layer(entries: LayerEntry[]): Promise<string> {
  const path = join(tempDir("advice"), "layer.tar");
  await writeLayer(entries, createWriteStream(path));
  return path;
}

const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 0 };
const file = (path: string, size: number): LayerEntry => ({
  ...meta,
  type: "file",
  path,
  size,
  source: { bytes: Buffer.alloc(size) },
});

test("layerFiles reads paths and sizes from headers, long (PAX) names included", async () => {
  const long = `opt/${"d".repeat(150)}/${"f".repeat(120)}`;
  const path = await layer([{ ...meta, type: "directory", path: "opt" }, file(long, 700), file("a", 3)]);
  const files = layerFiles(path);
  assert.equal(files.get(long), 700);
  assert.equal(files.get("a"), 3);
  assert.equal(files.has("opt"), false, "directories are not files");
});

test("package caches, build tools and an oversized context are reported; a clean image gets none", async () => {
  const dirty = await layer([
    file("var/lib/apt/lists/deb.debian.org_dists_bookworm", 300_000),
    file("var/cache/apk/APKINDEX.tar.gz", 100_000),
    file("usr/bin/gcc-12", 10),
    file("app/server", 1000),
  ]);
  const advice = adviseOnSize([layerFindings(dirty)], { sent: 200_000_000, copied: 1000 });
  assert.deepEqual(advice.map((a) => a.kind).sort(), ["build-tools", "context", "package-cache", "package-cache"]);
  assert.match(advice.find((a) => a.message.startsWith("apt"))?.message ?? "", /300kB.*rm -rf \/var\/lib\/apt\/lists/);
  const clean = await layer([file("app/server", 1000)]);
  assert.deepEqual(adviseOnSize([layerFindings(clean)], { sent: 2000, copied: 1000 }), []);
});

test("a stored layer's findings are read once and remembered by digest", async () => {
  const path = await layer([file("var/lib/apt/lists/x", 100_000), file("usr/bin/make", 5)]);
  const store = LocalStore.open(join(tempDir("advice-store"), "root"));
  try {
    store.withLeaseSync((lease) => {
      // inside the lease: the blob belongs to no image, so the lease's end removes it
      const { digest } = lease.putBytes(readFileSync(path), {}, "layer");
      const first = storedLayerFindings(store, digest);
      assert.deepEqual(first, { caches: { "apt package lists": 100_000 }, tools: ["/usr/bin/make"] });
      // the blob is not read again: its findings come from the store even with the file gone
      rmSync(store.blobPath(digest));
      assert.deepEqual(storedLayerFindings(store, digest), first);
    });
  } finally {
    store.close();
  }
});

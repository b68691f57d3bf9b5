import assert from "node:assert/strict";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type LayerEntry, writeLayer } from "../image/layer-writer.js";
import { adviseOnSize, layerFiles } from "./advice.js";

async function layer(entries: LayerEntry[]): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), "berth-advice-")), "layer.tar");
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
  const advice = adviseOnSize([dirty], { sent: 200_000_000, copied: 1000 });
  assert.deepEqual(advice.map((a) => a.kind).sort(), ["build-tools", "context", "package-cache", "package-cache"]);
  assert.match(advice.find((a) => a.message.startsWith("apt"))?.message ?? "", /300kB.*rm -rf \/var\/lib\/apt\/lists/);
  const clean = await layer([file("app/server", 1000)]);
  assert.deepEqual(adviseOnSize([clean], { sent: 2000, copied: 1000 }), []);
});

#!/usr/bin/env node
// Writes a docker-archive tar (the `docker save` format) holding COUNT small images:
//
//   node bench/make-many.mjs COUNT OUT.tar [FIRST]
//
// All images share one tiny layer (one file); each has its own config (a LABEL n=<index>, its
// own created time, two history entries), so each has its own image ID. Image i (counting
// from FIRST, default 0) is tagged berthbench/many-<i div 10>:v<i mod 10>. The same index
// always gives the same image, so an archive of image 500 alone and one of images 0..999 hold
// the same image 500. `docker load` reads this archive in seconds, where 1,000 `docker import`
// calls take minutes; foundation.sh then has docker save the loaded images, and berth loads
// docker's own archive.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";

const [countArg, out, firstArg] = process.argv.slice(2);
const count = Number(countArg);
const first = Number(firstArg ?? 0);
if (!(count >= 1) || !out) {
  process.stderr.write("usage: make-many.mjs COUNT OUT.tar [FIRST]\n");
  process.exit(2);
}

/** One ustar entry: header plus content padded to 512 bytes. */
function entry(name, body, type = "0", mode = 0o644) {
  const h = Buffer.alloc(512);
  const field = (off, len, s) => h.write(s, off, len, "ascii");
  const octal = (off, len, n) => field(off, len, `${n.toString(8).padStart(len - 1, "0")}\0`);
  field(0, 100, name);
  octal(100, 8, mode);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, body.length);
  octal(136, 12, 1704067200); // 2024-01-01T00:00:00Z
  h.fill(" ", 148, 156);
  field(156, 1, type);
  field(257, 8, "ustar\x0000");
  let sum = 0;
  for (const b of h) sum += b;
  field(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([h, body, pad]);
}
const tar = (entries) => Buffer.concat([...entries, Buffer.alloc(1024)]);
const sha256 = (b) => createHash("sha256").update(b).digest("hex");

const layer = tar([
  entry("etc/", Buffer.alloc(0), "5", 0o755),
  entry("etc/berth-bench", Buffer.from("berth bench: many small images\n")),
]);
const diffID = `sha256:${sha256(layer)}`;
const layerPath = `${sha256(layer)}/layer.tar`;
const base = Date.parse("2024-01-01T00:00:00Z");

const files = [entry(`${sha256(layer)}/`, Buffer.alloc(0), "5", 0o755), entry(layerPath, layer)];
const manifest = [];
for (let i = first; i < first + count; i++) {
  const created = new Date(base + i * 60_000).toISOString().replace(".000Z", "Z");
  const config = {
    architecture: "amd64",
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: ["/bin/sh"],
      Labels: { n: String(i) },
    },
    created,
    history: [
      { created, created_by: "/bin/sh -c #(nop) ADD file:berth-bench in / " },
      { created, created_by: `/bin/sh -c #(nop)  LABEL n=${i}`, empty_layer: true },
    ],
    os: "linux",
    rootfs: { type: "layers", diff_ids: [diffID] },
  };
  const body = Buffer.from(JSON.stringify(config));
  const name = `${sha256(body)}.json`;
  files.push(entry(name, body));
  manifest.push({
    Config: name,
    RepoTags: [`berthbench/many-${Math.floor(i / 10)}:v${i % 10}`],
    Layers: [layerPath],
  });
}
files.push(entry("manifest.json", Buffer.from(JSON.stringify(manifest))));
writeFileSync(out, tar(files));

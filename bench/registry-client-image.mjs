// Makes the registry benchmark's image: an OCI layout directory holding one image whose only
// layer is an uncompressed tar of one file: random bytes (nothing to gain from compression), or
// with CONTENT "words" text-ish lines of random words from a fixed vocabulary (compresses to
// about half with gzip, as text does), so push's compression is measured both ways.
// Usage: node bench/registry-client-image.mjs DIR MIB NAME [random|words]
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";

const [dir, mibText, name, content = "random"] = process.argv.slice(2);
const mib = Number(mibText);
fs.mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });

function header(fileName, size) {
  const h = Buffer.alloc(512);
  h.write(fileName, 0);
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write("00000000000\0", 136);
  h.write("        ", 148);
  h.write("0", 156);
  h.write("ustar\0", 257);
  h.write("00", 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

// a seeded generator: the same words every run, so every tool compresses the same text
let seed = 0x2545f491;
const next = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
};
const vocabulary = Array.from({ length: 8192 }, () =>
  Array.from({ length: 2 + (next() % 9) }, () => String.fromCharCode(97 + (next() % 26))).join(""),
);
function wordsChunk(n) {
  const parts = [];
  let len = 0;
  while (len < n) {
    const line = Array.from({ length: 4 + (next() % 12) }, () => vocabulary[next() % vocabulary.length]).join(" ");
    parts.push(line);
    len += line.length + 1;
  }
  return Buffer.from(`${parts.join("\n")}\n`).subarray(0, n);
}

const size = mib * 1024 * 1024;
const tmp = join(dir, "layer.tmp");
const fd = fs.openSync(tmp, "w");
const hash = createHash("sha256");
const write = (b) => {
  hash.update(b);
  fs.writeSync(fd, b);
};
write(header("payload.bin", size));
const chunk = content === "words" ? wordsChunk : randomBytes;
for (let left = size; left > 0; left -= 1 << 20) write(chunk(Math.min(left, 1 << 20)));
write(Buffer.alloc(1024));
fs.closeSync(fd);
const layerDigest = `sha256:${hash.digest("hex")}`;
const layerSize = fs.statSync(tmp).size;
fs.renameSync(tmp, join(dir, "blobs", "sha256", layerDigest.slice(7)));

function blob(obj) {
  const bytes = Buffer.from(JSON.stringify(obj));
  const d = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  fs.writeFileSync(join(dir, "blobs", "sha256", d.slice(7)), bytes);
  return { digest: d, size: bytes.length };
}
const config = blob({
  architecture: "amd64",
  os: "linux",
  config: { Cmd: ["/bin/sh"] },
  rootfs: { type: "layers", diff_ids: [layerDigest] },
});
const manifest = blob({
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
  layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layerSize }],
});
fs.writeFileSync(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
fs.writeFileSync(
  join(dir, "index.json"),
  JSON.stringify({
    schemaVersion: 2,
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        ...manifest,
        annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": "bench" },
      },
    ],
  }),
);
console.log(layerDigest, layerSize);

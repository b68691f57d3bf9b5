import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { berth, busyboxRootfsTar, must, snapshotStore, tempDir } from "./helpers.js";

/** Layers compressed with zstd (what skopeo, BuildKit and containerd write on request) are read like gzip ones. */
let dir: string;
let root: string;

function ok(r: { code: number; stdout: string; stderr: string }): string {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

before(() => {
  dir = tempDir("zstd");
  root = join(dir, "store");
  ok(berth(root, ["import", busyboxRootfsTar(join(dir, "base")), "zst/base:1"]));
  ok(berth(root, ["save", "-o", join(dir, "base.tar"), "zst/base:1"]));
  must("skopeo", [
    "copy",
    "-q",
    "--dest-compress",
    "--dest-compress-format",
    "zstd",
    `docker-archive:${join(dir, "base.tar")}`,
    `oci-archive:${join(dir, "zstd.tar")}:zst/zstd:1`,
  ]);
});

test("an OCI archive with zstd layers loads with the same diffIDs and size as the original", () => {
  const other = join(dir, "other");
  assert.match(ok(berth(other, ["load", "-i", join(dir, "zstd.tar")])), /Loaded image: zst\/zstd:1/);
  const layers = (store: string, ref: string) =>
    ok(berth(store, ["inspect", "-f", "{{json .RootFS.Layers}} {{.Size}}", ref]));
  assert.equal(layers(other, "zst/zstd:1"), layers(root, "zst/base:1"));
  // the layer blob is kept as it came: zstd bytes under their own digest
  const blobs = fs.readdirSync(join(other, "blobs", "sha256"));
  const zstdBlobs = blobs.filter((b) => {
    const head = fs.readFileSync(join(other, "blobs", "sha256", b)).subarray(0, 4);
    return head.equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  });
  assert.equal(zstdBlobs.length, 1);
});

test("a zstd layer whose data is not zstd is refused and nothing is stored", () => {
  // an OCI layout whose only layer starts with zstd's magic and then is garbage
  const layout = join(dir, "bad");
  const blobsDir = join(layout, "blobs", "sha256");
  fs.mkdirSync(blobsDir, { recursive: true });
  const put = (bytes: Buffer) => {
    const hex = createHash("sha256").update(bytes).digest("hex");
    fs.writeFileSync(join(blobsDir, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const layer = put(Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(512, 7)]));
  const config = put(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: [`sha256:${"0".repeat(64)}`] },
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", ...layer }],
      }),
    ),
  );
  fs.writeFileSync(join(layout, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  fs.writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          annotations: { "org.opencontainers.image.ref.name": "zst/bad:1" },
        },
      ],
    }),
  );
  must("tar", ["-C", layout, "-cf", join(dir, "bad.tar"), "."]);
  const before = snapshotStore(root);
  const r = berth(root, ["load", "-i", join(dir, "bad.tar")]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /bad zstd data/);
  assert.equal(snapshotStore(root), before);
});

test("an image with zstd layers runs, and import takes a zstd-compressed root file system", () => {
  const other = join(dir, "runner");
  ok(berth(other, ["load", "-i", join(dir, "zstd.tar")]));
  assert.equal(ok(berth(other, ["run", "--rm", "zst/zstd:1", "echo", "from-zstd"])), "from-zstd\n");
  const plain = busyboxRootfsTar(join(dir, "imp"));
  must("zstd", ["-q", "-f", plain, "-o", `${plain}.zst`]);
  ok(berth(other, ["import", `${plain}.zst`, "zst/imported:1"]));
  assert.equal(ok(berth(other, ["run", "--rm", "zst/imported:1", "echo", "imported"])), "imported\n");
});

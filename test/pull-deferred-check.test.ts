import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, type TestContext, test } from "node:test";
import { gzipSync } from "node:zlib";
import { prepareRootfs } from "../src/runtime/rootfs.js";
import { resolveImage } from "../src/store/image-records.js";
import { LocalStore } from "../src/store/local-store.js";
import { berth, busyboxRootfsTar, corruptBlobs, snapshotStore, tempDir } from "./helpers.js";
import { berthAsync, Distribution, ok } from "./registry-client-harness.js";

const openStore = (root: string) => LocalStore.open(root);

/**
 * A pull checks a compressed layer against its digest only; its diffID (and docker's size of
 * it) is checked the first time the layer is unpacked or measured (store/pending-layers.ts).
 * These tests push images straight into a Distribution registry over HTTP, so that one can
 * carry a config whose diffID is false (berth load and berth push would never make one).
 */
const Sqlite = createRequire(import.meta.url)("better-sqlite3") as typeof import("better-sqlite3");
let work: string;
let reg: Distribution;

before(async () => {
  work = tempDir("pull-deferred");
  reg = await Distribution.start(join(work, "registry"));
});
after(async () => {
  await reg.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function putBlob(repo: string, bytes: Buffer): Promise<string> {
  const digest = sha(bytes);
  const start = await fetch(`http://127.0.0.1:${reg.port}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  assert.equal(start.status, 202);
  const location = new URL(start.headers.get("location") as string, `http://127.0.0.1:${reg.port}`);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    body: bytes,
    headers: { "content-type": "application/octet-stream" },
  });
  assert.equal(put.status, 201, await put.text());
  return digest;
}

/** Pushes a one-layer image (the busybox rootfs, gzip'd) whose config says `diffId` (default: the true one). */
async function pushImage(repo: string, opts: { falseDiffId?: boolean } = {}): Promise<string> {
  const tar = fs.readFileSync(busyboxRootfsTar(join(work, repo.replace(/\//g, "_"))));
  const layer = gzipSync(tar);
  const diffId = opts.falseDiffId ? sha(Buffer.from("not this layer")) : sha(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: { Cmd: ["/bin/busybox", "echo", "hello from a pulled layer"] },
      rootfs: { type: "layers", diff_ids: [diffId] },
    }),
  );
  const layerDigest = await putBlob(repo, layer);
  const configDigest = await putBlob(repo, config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: layerDigest, size: layer.length }],
  });
  const res = await fetch(`http://127.0.0.1:${reg.port}/v2/${repo}/manifests/1`, {
    method: "PUT",
    body: manifest,
    headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
  });
  assert.equal(res.status, 201, await res.text());
  return `127.0.0.1:${reg.port}/${repo}:1`;
}

function pendingRows(root: string): number {
  const db = new Sqlite(join(root, "berth.db"), { readonly: true });
  try {
    return db.prepare("SELECT COUNT(*) FROM pending_layers").pluck().get() as number;
  } finally {
    db.close();
  }
}

function snapshotDirs(root: string): string[] {
  return fs
    .readdirSync(join(root, "snapshots"), { withFileTypes: false, encoding: "utf8" })
    .filter((n) => !n.startsWith("init-"));
}

test("a pulled gzip'd layer is checked when first run: one unpack checks it, and its size is docker's", async (t: TestContext) => {
  const image = await pushImage("deferred/good");
  const root = join(work, "good");
  ok(berth(root, ["pull", "-q", image]), "pull");
  assert.equal(pendingRows(root), 1, "the pull left the diffID to check");

  // the reference: the same image checked eagerly, by a load of a berth save of another store's copy
  const out = ok(berth(root, ["run", "--rm", image]), "run");
  assert.equal(out.trim(), "hello from a pulled layer");
  assert.equal(pendingRows(root), 0, "the unpack checked it");
  const size = ok(berth(root, ["image", "inspect", "--format", "{{.Size}}", image]), "inspect").trim();

  // a second store measures it through `images` instead (no unpack)
  const other = join(work, "good-images");
  ok(berth(other, ["pull", "-q", image]), "pull into the second store");
  const listed = berth(other, ["images", "--format", "{{.Size}}"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stderr, "");
  assert.equal(pendingRows(other), 0, "images measured it");
  assert.equal(ok(berth(other, ["image", "inspect", "--format", "{{.Size}}", image]), "inspect").trim(), size);
  // docker's rule over the busybox rootfs: file bytes plus symlink target lengths, > 1 MB
  assert.ok(Number(size) > 1_000_000, `size ${size}`);
  t.diagnostic(`size ${size}`);

  // zlib instead of igzip (a machine without isal) measures the same
  const third = join(work, "good-zlib");
  ok(berth(third, ["pull", "-q", image]), "pull into the third store");
  const zlib = berth(third, ["images", "--format", "{{.Size}}"], { env: { BERTH_GUNZIP: "zlib" } });
  assert.equal(zlib.code, 0, zlib.stderr);
  assert.equal(pendingRows(third), 0);
  assert.equal(ok(berth(third, ["image", "inspect", "--format", "{{.Size}}", image]), "inspect").trim(), size);
});

test("the copy storage driver checks a pulled layer as it applies it, and refuses a false one", async () => {
  const good = await pushImage("deferred/copy-good");
  const bad = await pushImage("deferred/copy-false", { falseDiffId: true });
  const root = join(work, "copy-driver");
  ok(berth(root, ["pull", "-q", good]), "pull");
  ok(berth(root, ["pull", "-q", bad]), "pull");
  assert.equal(pendingRows(root), 2);
  const store = openStore(root);
  try {
    const open = (name: string) => {
      const r = resolveImage(store, name).image;
      return { manifest: store.readManifest(r.manifest), config: store.readConfig(r.id) };
    };
    const fsGood = await prepareRootfs(store, open(good), join(root, "c-good"), "copy");
    assert.ok(fs.existsSync(join(fsGood.path, "bin", "busybox")), "the layer is applied");
    await assert.rejects(
      prepareRootfs(store, open(bad), join(root, "c-bad"), "copy"),
      /unpacks to sha256:[0-9a-f]{64}, but its image config says/,
    );
    assert.equal(fs.existsSync(join(root, "c-bad", "baseline.json")), false, "not recorded as prepared");
  } finally {
    store.close();
  }
  assert.equal(pendingRows(root), 1, "the true layer is recorded as checked, the false one is not");
});

test("processes that check the same pulled layer at once all succeed, and record it once", async () => {
  const image = await pushImage("deferred/concurrent");
  const root = join(work, "concurrent");
  ok(berth(root, ["pull", "-q", image]), "pull");
  assert.equal(pendingRows(root), 1);
  // four at once: two list (measure), two run (unpack and check)
  const runs = await Promise.all([
    berthAsync(root, ["images", "--format", "{{.Size}}"]),
    berthAsync(root, ["run", "--rm", image]),
    berthAsync(root, ["images", "--format", "{{.Size}}"]),
    berthAsync(root, ["run", "--rm", image]),
  ]);
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  assert.equal(runs[1]?.stdout.trim(), "hello from a pulled layer");
  assert.equal(runs[3]?.stdout.trim(), "hello from a pulled layer");
  assert.equal(pendingRows(root), 0);
  // both listings measured the layer themselves (or found it measured): the same docker size
  assert.match(runs[0]?.stdout.trim() ?? "", /^\d+(\.\d+)?MB$/);
  assert.equal(runs[2]?.stdout.trim(), runs[0]?.stdout.trim());
  assert.equal(ok(berth(root, ["images", "--format", "{{.Size}}"]), "images").trim(), runs[0]?.stdout.trim());
  assert.deepEqual(corruptBlobs(root), []);
});

test("a pulled layer that is not what its config says: pull stores it; run, inspect and save refuse it, nothing unpacked", async () => {
  const image = await pushImage("deferred/false", { falseDiffId: true });
  const root = join(work, "false");
  ok(berth(root, ["pull", "-q", image]), "pull (the digest is right; the diffID is checked at use)");
  assert.equal(pendingRows(root), 1);
  const before = snapshotStore(root);

  const run = berth(root, ["run", "--rm", image]);
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /unpacks to sha256:[0-9a-f]{64}, but its image config says sha256:[0-9a-f]{64}/);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  assert.deepEqual(snapshotDirs(root), [], "no snapshot of the false layer");

  const inspect = berth(root, ["image", "inspect", image]);
  assert.notEqual(inspect.code, 0);
  assert.match(inspect.stderr, /image config says/);

  const save = berth(root, ["save", "-o", join(work, "false.tar"), image]);
  assert.notEqual(save.code, 0);
  assert.match(save.stderr, /image config says/);

  const listed = berth(root, ["images"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stderr, /^WARNING: image [0-9a-f]{12}: layer sha256:.* image config says/);
  assert.match(listed.stdout, /deferred\/false/);

  assert.equal(pendingRows(root), 1, "still unchecked: every use refuses it again");
  assert.equal(snapshotStore(root), before, "the store is as the pull left it");
  // and it can be removed like any image
  // docker's rmi of the last tag takes the pull's digest reference with it, and deletes the image
  const rmi = ok(berth(root, ["rmi", image]), "rmi");
  assert.match(
    rmi,
    /^Untagged: .*deferred\/false:1\nUntagged: .*deferred\/false@sha256:[0-9a-f]{64}\nDeleted: sha256:/,
  );
  assert.equal(pendingRows(root), 0);
});

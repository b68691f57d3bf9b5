import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { gunzipSync } from "node:zlib";
import Database from "better-sqlite3";
import {
  berth,
  berthSpawn,
  busyboxRootfsTar,
  corruptBlobs,
  DOCKER,
  ensureDocker,
  must,
  sh,
  tempDir,
} from "./helpers.js";
import { Distribution, ok, randomImageArchive, tarOf } from "./registry-client-harness.js";

/**
 * Push compresses plain tar layers (gzip by default, zstd on request) and keeps the compressed
 * copy in the store, so a second push neither compresses again nor changes the manifest digest.
 */
let reg: Distribution;
let work: string;
let root: string;

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
}
interface RegistryManifest {
  mediaType?: string;
  config: Desc;
  layers: Desc[];
}

async function registryGet(path: string, accept?: string): Promise<{ digest: string | null; body: Buffer }> {
  const res = await fetch(`http://${reg.host}/v2/${path}`, {
    headers: accept ? { accept } : {},
  });
  assert.equal(res.status, 200, `GET ${path}`);
  return { digest: res.headers.get("docker-content-digest"), body: Buffer.from(await res.arrayBuffer()) };
}

const ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

function compressions(storeRoot: string): { diff_id: string; compression: string; digest: string }[] {
  const db = new Database(join(storeRoot, "berth.db"), { readonly: true });
  try {
    return db.prepare("SELECT diff_id, compression, digest FROM layer_compressions ORDER BY 1, 2").all() as {
      diff_id: string;
      compression: string;
      digest: string;
    }[];
  } finally {
    db.close();
  }
}

function blobFiles(storeRoot: string): string[] {
  return fs.readdirSync(join(storeRoot, "blobs", "sha256")).sort();
}

before(async () => {
  ensureDocker();
  work = tempDir("rc-compression");
  reg = await Distribution.start(join(work, "registry"));
  root = join(work, "root");
  const tar = busyboxRootfsTar(join(work, "bb"));
  ok(berth(root, ["import", "-c", 'CMD ["cat", "/etc/hello"]', tar, `${reg.host}/cz:1`]), "import");
});
after(async () => {
  await reg.stop();
  sh(DOCKER, ["rmi", "-f", `${reg.host}/cz:1`]);
  fs.rmSync(work, { recursive: true, force: true });
});

test("push gzips a plain layer: the registry's layers decompress to the config's diffIDs, and docker runs it", async () => {
  const out = ok(berth(root, ["push", `${reg.host}/cz:1`]), "push");
  const digest = /^1: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(out)?.[1];
  assert.ok(digest, out);
  const m = await registryGet("cz/manifests/1", ACCEPT);
  assert.equal(m.digest, digest);
  const manifest = JSON.parse(m.body.toString("utf8")) as RegistryManifest;
  const config = JSON.parse((await registryGet(`cz/blobs/${manifest.config.digest}`)).body.toString("utf8")) as {
    rootfs: { diff_ids: string[] };
  };
  assert.equal(manifest.layers.length, config.rootfs.diff_ids.length);
  for (const [i, layer] of manifest.layers.entries()) {
    assert.equal(layer.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
    const blob = (await registryGet(`cz/blobs/${layer.digest}`)).body;
    assert.equal(blob.length, layer.size);
    const plain = gunzipSync(blob);
    assert.equal(`sha256:${createHash("sha256").update(plain).digest("hex")}`, config.rootfs.diff_ids[i]);
  }
  // the image ID (config digest) is the stored one
  const id = JSON.parse(ok(berth(root, ["inspect", `${reg.host}/cz:1`]), "inspect")) as { Id: string }[];
  assert.equal(manifest.config.digest, id[0]?.Id);

  const inspected = JSON.parse(
    must("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/cz:1`]),
  ) as RegistryManifest;
  assert.deepEqual(
    inspected.layers.map((l) => l.mediaType),
    manifest.layers.map(() => "application/vnd.oci.image.layer.v1.tar+gzip"),
  );
  must(DOCKER, ["pull", "-q", `${reg.host}/cz:1`]);
  assert.equal(must(DOCKER, ["run", "--rm", `${reg.host}/cz:1`]), "hello from berth\n");

  // the compressed copy is kept in the store and recorded against the layer's diffID
  const cached = compressions(root);
  assert.equal(cached.length, manifest.layers.length);
  assert.deepEqual(
    cached.map((c) => c.digest),
    manifest.layers.map((l) => l.digest),
  );
  for (const c of cached) assert.ok(fs.existsSync(join(root, "blobs", "sha256", c.digest.slice(7))));
});

test("a second push, to the same and to another repository, compresses nothing and sends the same manifest", async () => {
  const before = blobFiles(root);
  const cachedBefore = compressions(root);
  const first = (await registryGet("cz/manifests/1", ACCEPT)).digest;
  const again = ok(berth(root, ["push", `${reg.host}/cz:1`]), "re-push");
  assert.ok(again.includes(`digest: ${first} `), again);
  assert.match(again, /: Layer already exists$/m);
  ok(berth(root, ["tag", `${reg.host}/cz:1`, `${reg.host}/other:1`]), "tag");
  const other = ok(berth(root, ["push", `${reg.host}/other:1`]), "push elsewhere");
  assert.ok(other.includes(`digest: ${first} `), other);
  assert.match(other, /Mounted from cz|Layer already exists/);
  // no new blob written, no new compression recorded
  assert.deepEqual(blobFiles(root), before);
  assert.deepEqual(compressions(root), cachedBefore);
});

test("a compressed copy cut short in the store (a disk that filled up) is made again, whole, with the same digest", async () => {
  const [cached] = compressions(root);
  assert.ok(cached, "a compressed copy from the first push");
  const file = join(root, "blobs", "sha256", cached.digest.slice(7));
  const whole = fs.statSync(file).size;
  fs.truncateSync(file, Math.floor(whole / 2));
  ok(berth(root, ["tag", `${reg.host}/cz:1`, `${reg.host}/cut:1`]), "tag");
  const out = ok(berth(root, ["push", `${reg.host}/cut:1`]), "push over a cut copy");
  const first = (await registryGet("cz/manifests/1", ACCEPT)).digest;
  assert.ok(out.includes(`digest: ${first} `), out);
  assert.equal(fs.statSync(file).size, whole);
  assert.equal(`sha256:${createHash("sha256").update(fs.readFileSync(file)).digest("hex")}`, cached.digest);
});

test("--compression zstd pushes zstd layers; berth pulls it into a fresh store with the same image ID and runs it", async () => {
  ok(berth(root, ["tag", `${reg.host}/cz:1`, `${reg.host}/cz:zstd`]), "tag");
  const out = ok(berth(root, ["push", "--compression", "zstd", `${reg.host}/cz:zstd`]), "push zstd");
  const digest = /^zstd: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(out)?.[1];
  assert.ok(digest, out);
  const manifest = JSON.parse(
    (await registryGet("cz/manifests/zstd", ACCEPT)).body.toString("utf8"),
  ) as RegistryManifest;
  assert.equal(manifest.mediaType, "application/vnd.oci.image.manifest.v1+json");
  for (const l of manifest.layers) assert.equal(l.mediaType, "application/vnd.oci.image.layer.v1.tar+zstd");
  const raw = JSON.parse(
    must("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/cz:zstd`]),
  ) as RegistryManifest;
  assert.deepEqual(raw.layers, manifest.layers);
  assert.deepEqual(
    compressions(root).map((c) => c.compression),
    manifest.layers.flatMap(() => ["gzip", "zstd"]),
  );

  const fresh = join(work, "fresh");
  ok(berth(fresh, ["pull", `${reg.host}/cz:zstd`]), "pull zstd");
  const id = (r: string) =>
    (JSON.parse(ok(berth(r, ["inspect", `${reg.host}/cz:zstd`]), "inspect")) as { Id: string }[])[0]?.Id;
  assert.equal(id(fresh), id(root));
  assert.equal(ok(berth(fresh, ["run", "--rm", `${reg.host}/cz:zstd`]), "run"), "hello from berth\n");
  // a second zstd push compresses nothing either
  const files = blobFiles(root);
  assert.ok(ok(berth(root, ["push", "--compression", "zstd", `${reg.host}/cz:zstd`]), "re-push").includes(digest));
  assert.deepEqual(blobFiles(root), files);
});

test("--compression none keeps the stored manifest; a bad value is one line", async () => {
  ok(berth(root, ["tag", `${reg.host}/cz:1`, `${reg.host}/cz:plain`]), "tag");
  const out = ok(berth(root, ["push", "--compression", "none", `${reg.host}/cz:plain`]), "push none");
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(out)?.[1];
  const stored = JSON.parse(ok(berth(root, ["inspect", `${reg.host}/cz:plain`]), "inspect")) as {
    Id: string;
  }[];
  const index = JSON.parse(fs.readFileSync(join(root, "index.json"), "utf8")) as { manifests: Desc[] };
  assert.ok(
    index.manifests.some((m) => m.digest === digest),
    "the pushed manifest is the stored one",
  );
  const manifest = JSON.parse(
    (await registryGet("cz/manifests/plain", ACCEPT)).body.toString("utf8"),
  ) as RegistryManifest;
  assert.equal(manifest.config.digest, stored[0]?.Id);
  for (const l of manifest.layers) assert.equal(l.mediaType, "application/vnd.oci.image.layer.v1.tar");

  const bad = berth(root, ["push", "--compression", "lz4", `${reg.host}/cz:plain`]);
  assert.notEqual(bad.code, 0);
  assert.equal(bad.stdout, "");
  assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  assert.match(bad.stderr, /invalid --compression "lz4": use gzip, zstd or none/);
});

test("removing the image and pruning drops its compressed copies with it", () => {
  const cached = compressions(root).map((c) => c.digest);
  assert.ok(cached.length >= 2);
  for (const t of ["1", "zstd", "plain"]) ok(berth(root, ["rmi", `${reg.host}/cz:${t}`]), `rmi ${t}`);
  // still held by other:1: the copies stay
  for (const d of cached) assert.ok(fs.existsSync(join(root, "blobs", "sha256", d.slice(7))), d);
  ok(berth(root, ["rmi", `${reg.host}/other:1`]), "rmi other");
  ok(berth(root, ["image", "prune", "-a", "-f"]), "prune");
  for (const d of cached) assert.ok(!fs.existsSync(join(root, "blobs", "sha256", d.slice(7))), d);
  assert.deepEqual(compressions(root), []);
});

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** An OCI layout tar whose one image has a Docker v2s2 manifest with a plain (diff.tar) layer. */
async function dockerManifestArchive(dir: string, name: string): Promise<{ path: string; diffId: string }> {
  const layout = join(dir, "docker-layout");
  fs.mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  const put = (b: Buffer) => {
    const d = sha(b);
    fs.writeFileSync(join(layout, "blobs", "sha256", d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const layer = await tarOf({ "words.txt": Buffer.from("a few words, and again a few words\n".repeat(4096)) });
  const config = put(
    Buffer.from(
      JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha(layer)] } }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        config: { mediaType: "application/vnd.docker.container.image.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar", ...put(layer) }],
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
          mediaType: "application/vnd.docker.distribution.manifest.v2+json",
          ...manifest,
          annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": "1" },
        },
      ],
    }),
  );
  const path = join(dir, "docker-layout.tar");
  must("tar", ["-C", layout, "-cf", path, "."]);
  return { path, diffId: sha(layer) };
}

test("a Docker v2s2 manifest gets diff.tar.gzip layers; with zstd it is pushed as an OCI manifest, same config", async () => {
  const r = join(work, "docker-root");
  const { path, diffId } = await dockerManifestArchive(work, `${reg.host}/dk:1`);
  ok(berth(r, ["load", "-i", path]), "load");
  ok(berth(r, ["push", `${reg.host}/dk:1`]), "push");
  const gz = JSON.parse((await registryGet("dk/manifests/1", ACCEPT)).body.toString("utf8")) as RegistryManifest;
  assert.equal(gz.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
  assert.equal(gz.layers[0]?.mediaType, "application/vnd.docker.image.rootfs.diff.tar.gzip");
  const blob = (await registryGet(`dk/blobs/${gz.layers[0]?.digest}`)).body;
  assert.equal(sha(gunzipSync(blob)), diffId);
  assert.ok(blob.length < 4096, `${blob.length} bytes: words compress`);

  ok(berth(r, ["tag", `${reg.host}/dk:1`, `${reg.host}/dk:zstd`]), "tag");
  ok(berth(r, ["push", "--compression", "zstd", `${reg.host}/dk:zstd`]), "push zstd");
  const zs = JSON.parse((await registryGet("dk/manifests/zstd", ACCEPT)).body.toString("utf8")) as RegistryManifest;
  assert.equal(zs.mediaType, "application/vnd.oci.image.manifest.v1+json");
  assert.equal(zs.config.mediaType, "application/vnd.oci.image.config.v1+json");
  assert.equal(zs.config.digest, gz.config.digest);
  assert.equal(zs.layers[0]?.mediaType, "application/vnd.oci.image.layer.v1.tar+zstd");
  const zblob = (await registryGet(`dk/blobs/${zs.layers[0]?.digest}`)).body;
  assert.equal(sha(spawnSync("zstd", ["-d", "-c"], { input: zblob, maxBuffer: 1 << 26 }).stdout), diffId);
});

test("a gzip'd layer goes as stored with --compression zstd, and as zstd with --force-compression", async () => {
  const r = join(work, "gz-root");
  const image = `${reg.host}/gz:1`;
  ok(
    berth(r, [
      "load",
      "-i",
      await randomImageArchive(work, { name: image, layers: 1, layerBytes: 64 << 10, gzip: true }),
    ]),
    "load",
  );
  const stored = (JSON.parse(fs.readFileSync(join(r, "index.json"), "utf8")) as { manifests: Desc[] }).manifests[0];
  const kept = ok(berth(r, ["push", "--compression", "zstd", image]), "push");
  assert.ok(kept.includes(`digest: ${stored?.digest} `), `${kept}: the stored manifest, unchanged`);
  const forced = ok(berth(r, ["push", "--compression", "zstd", "--force-compression", image]), "push forced");
  assert.ok(!forced.includes(stored?.digest ?? "-"), forced);
  const m = JSON.parse((await registryGet("gz/manifests/1", ACCEPT)).body.toString("utf8")) as RegistryManifest;
  assert.equal(m.layers[0]?.mediaType, "application/vnd.oci.image.layer.v1.tar+zstd");
  const fresh = join(work, "gz-fresh");
  ok(berth(fresh, ["pull", image]), "pull the recompressed image");
  const id = (root: string) => (JSON.parse(ok(berth(root, ["inspect", image]), "inspect")) as { Id: string }[])[0]?.Id;
  assert.equal(id(fresh), id(r));
});

test("berth killed (-9) while compressing a push: no blob, no record; prune sweeps the temp file and a rerun pushes", async () => {
  const r = join(work, "kill-root");
  const image = `${reg.host}/killed:1`;
  // 96 MiB of hex text: compressible, and seconds of gzip, so the kill lands mid-layer
  const tar = join(work, "hex.tar");
  fs.writeFileSync(tar, await tarOf({ "hex.txt": Buffer.from(randomBytes(48 << 20).toString("hex")) }));
  ok(berth(r, ["import", tar, image]), "import");
  const blobsBefore = blobFiles(r);
  const child = berthSpawn(r, ["push", image]);
  const closed = new Promise((resolve) => child.on("close", resolve));
  const tmp = join(r, "tmp");
  const started = Date.now();
  // kill once a compressed temp file has grown past 4 MiB
  for (;;) {
    const big = fs.readdirSync(tmp).some((n) => {
      try {
        return fs.statSync(join(tmp, n)).size > 4 << 20;
      } catch {
        return false;
      }
    });
    if (big) break;
    assert.ok(Date.now() - started < 60_000, "the push never wrote its compressed copy");
    await sleep(20);
  }
  child.kill("SIGKILL");
  await closed;
  assert.deepEqual(corruptBlobs(r), []);
  assert.deepEqual(blobFiles(r), blobsBefore, "nothing half-written became a blob");
  assert.deepEqual(compressions(r), []);
  ok(berth(r, ["image", "prune", "-f"]), "prune");
  assert.deepEqual(fs.readdirSync(tmp), [], "the dead push's temp file is swept");

  const out = ok(berth(r, ["push", image]), "rerun");
  assert.match(out, /: Pushed$/m);
  const m = JSON.parse((await registryGet("killed/manifests/1", ACCEPT)).body.toString("utf8")) as RegistryManifest;
  assert.equal(m.layers[0]?.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");
  assert.deepEqual(
    compressions(r).map((c) => c.digest),
    [m.layers[0]?.digest],
  );
  assert.deepEqual(corruptBlobs(r), []);
});

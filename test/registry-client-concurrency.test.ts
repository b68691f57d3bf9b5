import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { berth, corruptBlobs, tempDir } from "./helpers.js";
import {
  berthAsync,
  Distribution,
  ok,
  proxiedDistribution,
  randomImageArchive,
  registryGet,
} from "./registry-client-harness.js";

/**
 * Several berth processes pushing or pulling one image at once, on one store and one registry:
 * a CI runner's parallel jobs. Each must end whole, and the store must hold each blob once,
 * whole, with nothing left in tmp/. The large layer takes the paths a large layer takes alone
 * (the lent PATCH on push, the direct GET on pull), so their claims on shared files are what
 * is exercised.
 */
const MiB = 1 << 20;
let reg: Distribution;
let work: string;
let source: string;
let image: string;
let imageId: string;

before(async () => {
  work = tempDir("rc-concurrency");
  reg = await Distribution.start(join(work, "registry"));
  source = join(work, "source");
  image = `${reg.host}/together/big:1`;
  // plain layers, so each push compresses them: 40 MiB (above the size that goes the direct
  // ways) and 1 MiB
  const archive = await randomImageArchive(work, { name: image, layers: 1, layerBytes: 40 * MiB });
  ok(berth(source, ["load", "-i", archive]), "load");
  const small = await randomImageArchive(work, { name: `${reg.host}/together/small:1`, layers: 1, layerBytes: MiB });
  ok(berth(source, ["load", "-i", small]), "load small");
  imageId = idOf(source, image);
});
after(async () => {
  await reg.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
interface RegistryManifest {
  config: { digest: string };
  layers: { digest: string; size: number }[];
}

function idOf(root: string, ref: string): string {
  const [inspected] = JSON.parse(ok(berth(root, ["inspect", ref]), "inspect")) as { Id: string }[];
  assert.ok(inspected);
  return inspected.Id;
}

function compressions(root: string): { diff_id: string; digest: string }[] {
  const db = new Database(join(root, "berth.db"), { readonly: true });
  try {
    return db.prepare("SELECT diff_id, digest FROM layer_compressions ORDER BY 1").all() as {
      diff_id: string;
      digest: string;
    }[];
  } finally {
    db.close();
  }
}

/**
 * The store holds the pulled image's manifest, config and layers, each whole, and no other
 * blob (a blob's name is its digest, so a second copy could only be a leftover in tmp/).
 */
async function assertHoldsOnly(root: string, manifestDigest: string | undefined): Promise<void> {
  assert.ok(manifestDigest);
  const manifest = JSON.parse(
    (await registryGet(reg.port, `/v2/together/big/manifests/${manifestDigest}`, OCI_MANIFEST)).toString(),
  ) as RegistryManifest;
  const want = [manifestDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
  assert.deepEqual(fs.readdirSync(join(root, "blobs", "sha256")).sort(), want.map((d) => d.slice(7)).sort());
  assert.deepEqual(corruptBlobs(root), []);
}

function leftovers(root: string): string[] {
  const tmp = join(root, "tmp");
  return fs.existsSync(tmp) ? fs.readdirSync(tmp) : [];
}

test("three pushes of one image at once from one store: each lands it, one compressed copy is kept", async () => {
  const runs = await Promise.all([1, 2, 3].map(() => berthAsync(source, ["push", image])));
  const digests = runs.map((r) => {
    const out = ok(r, "push");
    const digest = /^1: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(out)?.[1];
    assert.ok(digest, out);
    return digest;
  });
  // the same compressor on the same bytes: every push names the same manifest
  assert.equal(new Set(digests).size, 1, digests.join(" "));

  const manifest = JSON.parse(
    (await registryGet(reg.port, "/v2/together/big/manifests/1", OCI_MANIFEST)).toString(),
  ) as RegistryManifest;
  assert.equal(manifest.config.digest, imageId);
  for (const layer of manifest.layers) {
    const blob = await registryGet(reg.port, `/v2/together/big/blobs/${layer.digest}`);
    assert.equal(blob.length, layer.size);
    assert.equal(`sha256:${createHash("sha256").update(blob).digest("hex")}`, layer.digest);
  }

  // one copy recorded per layer, the one the registry holds, whole in the store
  assert.deepEqual(
    compressions(source).map((c) => c.digest),
    manifest.layers.map((l) => l.digest),
  );
  for (const l of manifest.layers) assert.ok(fs.existsSync(join(source, "blobs", "sha256", l.digest.slice(7))));
  assert.deepEqual(corruptBlobs(source), []);
  assert.deepEqual(leftovers(source), []);

  // and the next push finds everything there
  const again = ok(await berthAsync(source, ["push", image]), "push again");
  assert.match(again, /: Layer already exists$/m);
  assert.doesNotMatch(again, /Pushed$/m);
});

test("three pulls of one image at once into one new store: each ends with it, every blob stored once and whole", async () => {
  const root = join(work, "pulled");
  // no store yet: the three also race to make it
  const runs = await Promise.all([1, 2, 3].map(() => berthAsync(root, ["pull", image])));
  const digests = new Set(runs.map((r) => /^Digest: (sha256:[0-9a-f]{64})$/m.exec(ok(r, "pull"))?.[1]));
  assert.equal(digests.size, 1);
  assert.equal(idOf(root, image), imageId);
  assert.deepEqual(corruptBlobs(root), []);
  assert.deepEqual(leftovers(root), []);
  const listed = ok(berth(root, ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]), "images");
  assert.equal(listed.trim(), `${reg.host}/together/big:1 ${imageId.slice(7, 19)}`);
  await assertHoldsOnly(root, [...digests][0]);
});

test("prunes run over and over while a pull runs: none takes a blob the pull has stored", async () => {
  const root = join(work, "pruned");
  ok(berth(root, ["images"]), "make the store");
  let pulling = true;
  let prunes = 0;
  const pruning = (async () => {
    while (pulling) {
      ok(await berthAsync(root, ["image", "prune", "-f"]), "prune");
      if (pulling) prunes++; // one that ended while the pull still ran
    }
  })();
  const pulled = await berthAsync(root, ["pull", image]).finally(() => {
    pulling = false;
  });
  await pruning;
  const digest = /^Digest: (sha256:[0-9a-f]{64})$/m.exec(ok(pulled, "pull"))?.[1];
  assert.ok(prunes >= 1, `${prunes} prunes ran during the pull`);
  await assertHoldsOnly(root, digest);
  assert.equal(idOf(root, image), imageId);
  // and a prune after it leaves the image alone too
  ok(berth(root, ["image", "prune", "-f"]), "prune after");
  assert.equal(idOf(root, image), imageId);
});

for (const compression of ["none", "gzip"]) {
  test(`the image removed while its push (${compression}) runs: the push still sends all of it, and the blobs go when it ends`, async (t) => {
    const dir = join(work, `removed-${compression}`);
    const { proxy } = await proxiedDistribution(t, dir);
    const root = join(dir, "root");
    const name = `${proxy.host}/together/removed:1`;
    ok(berth(root, ["load", "-i", await randomImageArchive(dir, { name, layers: 3, layerBytes: 4 * MiB })]), "load");
    const id = idOf(root, name);
    // one blob at a time: each layer's file is opened when its turn comes; the image goes as
    // soon as the registry has taken the first blob
    let removed: string | undefined;
    proxy.hooks.onProgress = (e, phase) => {
      if (removed === undefined && phase === "response-end" && e.method === "PUT" && e.status === 201) {
        removed = ok(berth(root, ["rmi", name]), "rmi");
      }
    };
    const env = { BERTH_MAX_CONCURRENT_UPLOADS: "1" };
    const out = ok(await berthAsync(root, ["push", "--compression", compression, name], { env }), "push");
    assert.match(removed ?? "", /^Deleted: /m, "rmi ran during the push and deleted the image");
    assert.match(out, /^1: digest: sha256:[0-9a-f]{64} size: \d+$/m);
    // nothing names them now: the push's lease kept them (and any compressed copy) while it ran
    assert.deepEqual(fs.readdirSync(join(root, "blobs", "sha256")), []);
    assert.deepEqual(compressions(root), []);
    assert.deepEqual(leftovers(root), []);
    const back = join(dir, "back");
    ok(await berthAsync(back, ["pull", name]), "pull back");
    assert.equal(idOf(back, name), id);
  });
}

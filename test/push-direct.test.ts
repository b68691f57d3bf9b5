import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { before, type TestContext, test } from "node:test";
import * as zlib from "node:zlib";
import { berth, tempDir } from "./helpers.js";
import {
  assertPushDenied,
  berthAsync,
  denyPatches,
  htpasswdFile,
  LENT_PATCH,
  ok,
  type ProxyHooks,
  proxiedDistribution,
  randomImageArchive,
  registryGet,
  tlsDistribution,
} from "./registry-client-harness.js";

/**
 * The first push of a large plain layer gzips it from the store's file into the hash worker's
 * shared ring, and writes its PATCH from there (registry-client/direct-upload.ts): one chunked
 * request that says `Connection: close`, which is how the counting proxy tells it from
 * undici's. A broken or refused PATCH is sent again through undici.
 */
const MiB = 1 << 20;
const LAYER = 40 * MiB; // above the 32 MiB from which a layer goes this way
let work: string;

before(() => {
  work = tempDir("push-direct");
});

async function setup(t: TestContext, name: string, hooks: ProxyHooks = {}) {
  const dir = join(work, name);
  const { reg, proxy } = await proxiedDistribution(t, dir);
  proxy.hooks = hooks;
  const image = `${proxy.host}/direct/${name}:1`;
  const root = join(dir, "root");
  ok(berth(root, ["load", "-i", await randomImageArchive(dir, { name: image, layers: 1, layerBytes: LAYER })]), "load");
  return { dir, reg, proxy, image, root };
}

/**
 * What the registry holds under the pushed tag is a gzip'd layer whose bytes hash to its
 * digest and inflate to the config's diffID, and the store kept the same bytes as its copy.
 */
async function assertRegistryLayer(port: number, repo: string, root: string): Promise<void> {
  const accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
  const manifest = JSON.parse((await registryGet(port, `/v2/${repo}/manifests/1`, accept)).toString()) as {
    config: { digest: string };
    layers: { digest: string; size: number; mediaType: string }[];
  };
  const config = JSON.parse((await registryGet(port, `/v2/${repo}/blobs/${manifest.config.digest}`)).toString()) as {
    rootfs: { diff_ids: string[] };
  };
  const layer = manifest.layers[0];
  assert.ok(layer);
  assert.match(layer.mediaType, /gzip/);
  const blob = await registryGet(port, `/v2/${repo}/blobs/${layer.digest}`);
  assert.equal(blob.length, layer.size);
  assert.equal(`sha256:${createHash("sha256").update(blob).digest("hex")}`, layer.digest);
  const tar = zlib.gunzipSync(blob);
  assert.equal(`sha256:${createHash("sha256").update(tar).digest("hex")}`, config.rootfs.diff_ids[0]);
  const copy = join(root, "blobs", "sha256", layer.digest.slice("sha256:".length));
  assert.ok(fs.readFileSync(copy).equals(blob), "the store's compressed copy is the pushed blob");
}

test(
  "a large plain layer's first push is one chunked PATCH from shared memory; the registry's layer inflates to its diffID",
  LENT_PATCH,
  async (t) => {
    let interim = 0;
    const { reg, proxy, image, root } = await setup(t, "plain", {
      // an interim 100 Continue before the registry's own answer is passed over
      onRequest: (req, res) => {
        if (req.method === "PATCH" && req.headers.connection === "close") {
          res.writeContinue();
          interim++;
        }
        return false;
      },
    });
    const out = ok(await berthAsync(root, ["push", image]), "push");
    assert.match(out, /digest: sha256:[0-9a-f]{64}/);
    assert.equal(interim, 1);
    // the config and the layer start together, and share one ping
    assert.equal(proxy.log.filter((e) => e.method === "GET" && e.url === "/v2/").length, 1, JSON.stringify(proxy.log));
    const patches = proxy.log.filter((e) => e.method === "PATCH");
    assert.deepEqual(
      patches.map((e) => [e.status, e.connection]),
      [[202, "close"]],
      JSON.stringify(proxy.log),
    );
    // random bytes are stored, not compressed: the body is the layer and a little framing
    assert.ok((patches[0]?.sent ?? 0) > LAYER, `${patches[0]?.sent} bytes sent`);
    await assertRegistryLayer(reg.port, "direct/plain", root);
    // the copy is reused: a push to another repository compresses and uploads nothing again
    const other = image.replace("/direct/plain:", "/direct/other:");
    ok(berth(root, ["tag", image, other]), "tag");
    proxy.log.length = 0;
    ok(await berthAsync(root, ["push", other]), "second push");
    assert.equal(proxy.log.filter((e) => e.method === "PATCH").length, 0, JSON.stringify(proxy.log));
  },
);

test(
  "over TLS from a test CA with Basic auth, the lent PATCH carries the credentials and the push lands",
  LENT_PATCH,
  async (t) => {
    const dir = join(work, "tls");
    const { reg, certsD, trust } = await tlsDistribution(t, dir, {
      htpasswd: htpasswdFile(dir, "bob", "bob-pass-123"),
    });
    trust();
    const env = { BERTH_CERTS_D: certsD, DOCKER_CONFIG: join(dir, "docker-config") };
    const image = `${reg.host}/direct/tls:1`;
    const root = join(dir, "root");
    ok(
      berth(root, ["load", "-i", await randomImageArchive(dir, { name: image, layers: 1, layerBytes: LAYER })]),
      "load",
    );
    ok(
      await berthAsync(root, ["login", "-u", "bob", "--password-stdin", reg.host], { env, input: "bob-pass-123\n" }),
      "login",
    );
    ok(await berthAsync(root, ["push", image], { env }), "push over TLS");
    const pullRoot = join(dir, "pull-root");
    ok(await berthAsync(pullRoot, ["pull", image], { env }), "pull");
    // one PATCH: a lent one that failed would have been sent again (the access log, written by now)
    const patches = reg.requests().filter((r) => r.startsWith("PATCH "));
    assert.equal(patches.length, 1, reg.requests().join("\n"));
    const id = (r: string) => ok(berth(r, ["inspect", "--format", "{{.Id}}", image]), "inspect").trim();
    assert.equal(id(pullRoot), id(root));
    const listed = berth(pullRoot, ["images"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(listed.stderr, "", "the pulled layer inflates to its diffID");
  },
);

test(
  "the lent PATCH's connection cut halfway: the push starts over through undici and lands whole",
  LENT_PATCH,
  async (t) => {
    let cut = 0;
    const { reg, proxy, image, root } = await setup(t, "cut", {
      onRequest: (req) => {
        if (req.method !== "PATCH" || req.headers.connection !== "close") return false;
        let got = 0;
        req.on("data", (c: Buffer) => {
          got += c.length;
          if (got > 8 * MiB && req.socket.writable) {
            cut++;
            req.socket.destroy();
          }
        });
        return true; // never forwarded
      },
    });
    const out = ok(await berthAsync(root, ["push", image]), "push through a cut");
    assert.match(out, /digest: sha256:/);
    assert.equal(cut, 1, "one lent PATCH, cut once");
    const patches = proxy.log.filter((e) => e.method === "PATCH");
    assert.deepEqual(
      patches.map((e) => [e.status, e.connection === "close"]),
      [[202, false]],
      JSON.stringify(proxy.log),
    );
    await assertRegistryLayer(reg.port, "direct/cut", root);
  },
);

test(
  "a lent PATCH answered 401 before its end is sent again through undici, which may get a new token",
  LENT_PATCH,
  async (t) => {
    let refused = 0;
    const { reg, image, root } = await setup(t, "refused", {
      onRequest: (req, res) => {
        if (req.method !== "PATCH" || req.headers.connection !== "close") return false;
        refused++;
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
        req.socket.on("error", () => undefined);
        return true;
      },
    });
    ok(await berthAsync(root, ["push", image]), "push after a 401");
    assert.equal(refused, 1);
    await assertRegistryLayer(reg.port, "direct/refused", root);
  },
);

test("a PATCH denied every time is one line naming DENIED, and the store is as it was", async (t) => {
  const { image, root } = await setup(t, "denied", denyPatches);
  await assertPushDenied(root, image);
  assert.deepEqual(fs.readdirSync(join(root, "tmp")), []);
});

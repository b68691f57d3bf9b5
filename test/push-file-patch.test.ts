import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { before, type TestContext, test } from "node:test";
import { berth, tempDir } from "./helpers.js";
import {
  assertPushDenied,
  berthAsync,
  denyPatches,
  htpasswdFile,
  ok,
  type ProxyHooks,
  proxiedDistribution,
  randomImageArchive,
  registryGet,
  tlsDistribution,
} from "./registry-client-harness.js";

/**
 * A stored blob larger than the upload chunk goes up in PATCH chunks sent from its file
 * (registry-client/direct-upload.ts): through sendfile(2) on plain HTTP, read into a few reused
 * buffers over TLS. Each such PATCH is a request of its own that says `Connection: close`,
 * which is how the counting proxy tells it from undici's. The layers here are stored gzip'd, so
 * a push sends them as they are, and a chunk of 8 MiB makes a 20 MiB layer three PATCHes.
 */
const MiB = 1 << 20;
const LAYER = 20 * MiB;
const CHUNKS = { BERTH_UPLOAD_CHUNK_SIZE: String(8 * MiB) };
let work: string;

before(() => {
  work = tempDir("push-file-patch");
});

async function setup(t: TestContext, name: string, hooks: ProxyHooks = {}) {
  const dir = join(work, name);
  const { reg, proxy } = await proxiedDistribution(t, dir);
  proxy.hooks = hooks;
  const image = `${proxy.host}/file/${name}:1`;
  const root = join(dir, "root");
  const archive = await randomImageArchive(dir, { name: image, layers: 1, layerBytes: LAYER, gzip: true });
  ok(berth(root, ["load", "-i", archive]), "load");
  return { dir, reg, proxy, image, root, layer: storedLayer(root) };
}

/** The image's one layer as the store holds it (its largest blob): digest, size and file. */
function storedLayer(root: string): { digest: string; size: number; file: string } {
  const dir = join(root, "blobs", "sha256");
  const [largest] = fs
    .readdirSync(dir)
    .map((name) => ({ name, size: fs.statSync(join(dir, name)).size }))
    .sort((a, b) => b.size - a.size);
  assert.ok(largest);
  return { digest: `sha256:${largest.name}`, size: largest.size, file: join(dir, largest.name) };
}

async function assertLanded(port: number, repo: string, layer: { digest: string; file: string }): Promise<void> {
  const blob = await registryGet(port, `/v2/${repo}/blobs/${layer.digest}`);
  assert.equal(`sha256:${createHash("sha256").update(blob).digest("hex")}`, layer.digest);
  assert.ok(blob.equals(fs.readFileSync(layer.file)), "the registry holds the store's bytes");
}

test("a stored blob above the chunk size goes in PATCHes sent from its file, each on its own connection", async (t) => {
  const { reg, proxy, image, root, layer } = await setup(t, "plain");
  assert.ok(layer.size > 2 * 8 * MiB, `a layer of ${layer.size} bytes`);
  const out = ok(await berthAsync(root, ["push", image], { env: CHUNKS }), "push");
  assert.match(out, /digest: sha256:[0-9a-f]{64}/);
  const patches = proxy.log.filter((e) => e.method === "PATCH");
  assert.deepEqual(
    patches.map((e) => [e.status, e.connection, e.sent]),
    [
      [202, "close", 8 * MiB],
      [202, "close", 8 * MiB],
      [202, "close", layer.size - 16 * MiB],
    ],
    JSON.stringify(proxy.log),
  );
  await assertLanded(reg.port, "file/plain", layer);
  // and it is an image docker's peers take: berth pulls it back whole
  const pulled = join(work, "plain", "pulled");
  ok(await berthAsync(pulled, ["pull", image]), "pull");
  const id = (r: string) => ok(berth(r, ["inspect", "--format", "{{.Id}}", image]), "inspect").trim();
  assert.equal(id(pulled), id(root));
});

test("over TLS with Basic auth, the PATCHes from the file carry the credentials and the blob lands", async (t) => {
  const dir = join(work, "tls");
  const { reg, certsD, trust } = await tlsDistribution(t, dir, { htpasswd: htpasswdFile(dir, "eve", "eve-pass-123") });
  trust();
  const env = { ...CHUNKS, BERTH_CERTS_D: certsD, DOCKER_CONFIG: join(dir, "docker-config") };
  const image = `${reg.host}/file/tls:1`;
  const root = join(dir, "root");
  const archive = await randomImageArchive(dir, { name: image, layers: 1, layerBytes: LAYER, gzip: true });
  ok(berth(root, ["load", "-i", archive]), "load");
  ok(
    await berthAsync(root, ["login", "-u", "eve", "--password-stdin", reg.host], { env, input: "eve-pass-123\n" }),
    "login",
  );
  ok(await berthAsync(root, ["push", image], { env }), "push over TLS");
  const patches = reg.requests().filter((r) => r.startsWith("PATCH "));
  assert.equal(patches.length, 3, reg.requests().join("\n"));
  const pulled = join(dir, "pulled");
  ok(await berthAsync(pulled, ["pull", image], { env }), "pull");
  const id = (r: string) => ok(berth(r, ["inspect", "--format", "{{.Id}}", image]), "inspect").trim();
  assert.equal(id(pulled), id(root));
});

test("a PATCH from the file cut halfway: the registry is asked what it holds and the rest follows", async (t) => {
  let cut = 0;
  const { reg, proxy, image, root, layer } = await setup(t, "cut", {
    onRequest: (req, _res, _n) => {
      // the second chunk's PATCH, once: cut after 2 MiB, never forwarded
      if (req.method !== "PATCH" || req.headers["content-range"] !== `${8 * MiB}-${16 * MiB - 1}` || cut > 0)
        return false;
      let got = 0;
      req.on("data", (c: Buffer) => {
        got += c.length;
        if (got > 2 * MiB && req.socket.writable) {
          cut++;
          req.socket.destroy();
        }
      });
      return true;
    },
  });
  ok(await berthAsync(root, ["push", image], { env: CHUNKS }), "push through a cut");
  assert.equal(cut, 1);
  // after the cut: the upload's status, then the second chunk again and the third
  const patches = proxy.log.filter((e) => e.method === "PATCH").map((e) => e.status);
  assert.deepEqual(patches, [202, 202, 202], JSON.stringify(proxy.log));
  assert.ok(
    proxy.log.some((e) => e.method === "GET" && e.url.includes("/blobs/uploads/")),
    "the registry was asked how much it holds",
  );
  await assertLanded(reg.port, "file/cut", layer);
});

test("a PATCH from the file answered 401 is sent again through undici, which may get a new token", async (t) => {
  let refused = 0;
  const { reg, proxy, image, root, layer } = await setup(t, "refused", {
    onRequest: (req, res) => {
      if (req.method !== "PATCH" || req.headers.connection !== "close" || refused > 0) return false;
      refused++;
      // answered once the body is in: a refusal before it can reach berth as a reset instead
      // (the registry closing with unread bytes), which the cut test covers
      req.resume();
      req.on("end", () => {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
      });
      return true;
    },
  });
  ok(await berthAsync(root, ["push", image], { env: CHUNKS }), "push after a 401");
  assert.equal(refused, 1);
  // the refused chunk went through undici (keep-alive), the others from the file
  const patches = proxy.log.filter((e) => e.method === "PATCH").map((e) => [e.status, e.connection === "close"]);
  assert.deepEqual(
    patches,
    [
      [202, false],
      [202, true],
      [202, true],
    ],
    JSON.stringify(proxy.log),
  );
  await assertLanded(reg.port, "file/refused", layer);
});

test("PATCHes from the file denied every time are one line naming DENIED, and the store is as it was", async (t) => {
  const { image, root } = await setup(t, "denied", denyPatches);
  await assertPushDenied(root, image, CHUNKS);
});

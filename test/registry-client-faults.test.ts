import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, type TestContext, test } from "node:test";
import { berth, corruptBlobs, snapshotStore, tempDir } from "./helpers.js";
import {
  berthAsync,
  ok,
  type ProxyEntry,
  proxiedDistribution,
  randomImageArchive,
  registryGet,
} from "./registry-client-harness.js";

/**
 * Faults: the registry killed (-9) in the middle of a push or a pull and started again on
 * the same storage (the rerun sends only what is missing), a corrupted blob (refused, nothing
 * stored), 5xx/429 answers (retried, Retry-After honoured) and 4xx answers (not retried).
 * A counting proxy between berth and Distribution tells what went over the wire.
 */
const MiB = 1 << 20;
let work: string;

before(() => {
  work = tempDir("rc-faults");
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** Quick failure when the registry is gone, so the test need not wait through the default backoff. */
const FAST = { BERTH_REGISTRY_ATTEMPTS: "2", BERTH_REGISTRY_BACKOFF_MS: "20" };

const isUpload = (e: ProxyEntry) => (e.method === "PATCH" || e.method === "PUT") && e.url.includes("/blobs/uploads/");

async function setup(t: TestContext, name: string, layers: number, layerBytes: number, gzip = false) {
  const dir = join(work, name);
  const { reg, proxy } = await proxiedDistribution(t, dir);
  const image = `${proxy.host}/faults/${name}:1`;
  const root = join(dir, "root");
  ok(berth(root, ["load", "-i", await randomImageArchive(dir, { name: image, layers, layerBytes, gzip })]), "load");
  return { dir, reg, proxy, image, root };
}

test("registry killed between two chunks of a push: the rerun resumes that upload where it stopped", async (t) => {
  const { reg, proxy, image, root } = await setup(t, "push-chunk", 3, 8 * MiB);
  // one blob at a time, 2 MiB chunks: each layer (8 MiB and a tar header) takes 5 PATCHes; kill
  // the registry as it accepts the 7th (layer 2, half way), before berth hears the answer
  const env = { ...FAST, BERTH_MAX_CONCURRENT_UPLOADS: "1", BERTH_UPLOAD_CHUNK_SIZE: String(2 * MiB) };
  let patches = 0;
  proxy.hooks.onProgress = (e, phase) => {
    if (phase === "response-end" && e.method === "PATCH" && e.status === 202 && ++patches === 7) void reg.kill();
  };
  // as stored: chunk-level resumption is for blobs that exist before the push (already
  // compressed layers, and copies an earlier push made); a layer compressed on the way is one
  // streamed upload, whose rerun starts that layer over (the next test shows whole ones are kept)
  const first = await berthAsync(root, ["push", "--compression", "none", image], { env });
  assert.notEqual(first.code, 0, first.stdout);
  assert.equal(first.stderr.trimEnd().split("\n").length, 1, first.stderr);
  assert.match(first.stderr, /^Error: pushing 127\.0\.0\.1:\d+\/faults\/push-chunk:1: .*(refused|reach)/);
  const sentBefore = proxy.log.filter(isUpload).reduce((s, e) => s + e.sent, 0);
  assert.ok(sentBefore >= 12 * MiB, `sent ${sentBefore}: ${JSON.stringify(proxy.log)} ${first.stderr}`);

  proxy.hooks.onProgress = undefined;
  proxy.log.length = 0;
  await reg.restart();
  const rerun = ok(await berthAsync(root, ["push", "--compression", "none", image], { env }), "rerun");
  const sentAgain = proxy.log.filter(isUpload).reduce((s, e) => s + e.sent, 0);
  // 24 MiB in all; 12 MiB were accepted before the kill: the rerun sends the rest (and the small config)
  assert.ok(sentAgain <= 12 * MiB + 4096, `rerun sent ${sentAgain} bytes`);
  assert.ok(sentAgain >= 12 * MiB, `rerun sent ${sentAgain} bytes`);
  assert.match(rerun, /: Layer already exists$/m);
  const resumed = proxy.log.find((e) => e.method === "GET" && e.url.includes("/blobs/uploads/"));
  assert.ok(resumed, "the rerun asked the registry how much of the upload it held");

  const check = ok(await berthAsync(join(reg.dir, "check"), ["pull", image]), "pull back");
  assert.match(check, /Status: Downloaded newer image/);
});

test("a connection reset during a chunk: the push asks the registry where it stands and goes on", async (t) => {
  const { proxy, image, root } = await setup(t, "push-reset", 1, 8 * MiB);
  const env = { BERTH_UPLOAD_CHUNK_SIZE: String(2 * MiB), BERTH_REGISTRY_BACKOFF_MS: "20" };
  let patches = 0;
  proxy.hooks.onRequest = (req) => {
    if (req.method === "PATCH" && ++patches === 3) {
      req.socket.destroy(); // the third chunk never reaches the registry
      return true;
    }
    return false;
  };
  // as stored: see above (a stream being compressed cannot be asked for again from an offset)
  const out = ok(await berthAsync(root, ["push", "--compression", "none", image], { env }), "push through a reset");
  assert.match(out, /: Pushed$/m);
  const asked = proxy.log.filter((e) => e.method === "GET" && e.url.includes("/blobs/uploads/"));
  assert.equal(asked.length, 1, "one status request after the reset");
  const sent = proxy.log.filter(isUpload).reduce((s, e) => s + e.sent, 0);
  // 8 MiB and a tar header went once: nothing before the cut chunk was sent twice
  assert.ok(sent <= 8 * MiB + 4096, `sent ${sent}`);
  ok(await berthAsync(`${root}-check`, ["pull", image]), "pull back");
});

test("registry killed in the middle of a push chunk: complete blobs are not sent again", async (t) => {
  const { reg, proxy, image, root } = await setup(t, "push-mid", 3, 8 * MiB);
  const env = { ...FAST, BERTH_MAX_CONCURRENT_UPLOADS: "1", BERTH_UPLOAD_CHUNK_SIZE: String(4 * MiB) };
  // 13 MiB: the first layer (8 MiB) is whole, the second is half way through its second chunk
  let killed = false;
  proxy.hooks.onProgress = (e, phase) => {
    if (killed || phase !== "request-data" || !isUpload(e)) return;
    if (proxy.log.filter(isUpload).reduce((s, x) => s + x.sent, 0) >= 13 * MiB) {
      killed = true;
      void reg.kill();
    }
  };
  const first = await berthAsync(root, ["push", image], { env });
  assert.notEqual(first.code, 0, first.stdout);
  proxy.hooks.onProgress = undefined;
  proxy.log.length = 0;
  await reg.restart();
  const rerun = ok(await berthAsync(root, ["push", image], { env }), "rerun");
  const sentAgain = proxy.log.filter(isUpload).reduce((s, e) => s + e.sent, 0);
  // the first layer was whole before the kill; Distribution drops a chunk cut short (it
  // refuses to resume at an offset other than its own record), so at most two layers go again.
  // They go gzip'd (push's default), random bytes grow by gzip's block framing (~0.03%); the
  // first one's compressed copy, kept in the store when its upload ended, is found and not sent.
  assert.ok(sentAgain <= 16 * MiB + 16 * 1024, `rerun sent ${sentAgain} bytes`);
  assert.match(rerun, /: Layer already exists$/m);
  ok(await berthAsync(join(reg.dir, "check"), ["pull", image]), "pull back");
});

test("registry killed in the middle of a pull: the rerun continues the layer with a Range request", async (t) => {
  const { dir, reg, proxy, image, root } = await setup(t, "pull", 1, 48 * MiB, true);
  ok(await berthAsync(root, ["push", image]), "push");
  const layerSize = proxy.log.filter(isUpload).reduce((s, e) => s + e.sent, 0);
  proxy.log.length = 0;
  const pullRoot = join(dir, "pull-root");
  const isBlob = (e: ProxyEntry) => e.method === "GET" && /\/blobs\/sha256:/.test(e.url);
  let killed = false;
  proxy.hooks.onProgress = (e, phase) => {
    if (!killed && phase === "response-data" && isBlob(e) && e.received >= 20 * MiB) {
      killed = true;
      void reg.kill();
    }
  };
  const first = await berthAsync(pullRoot, ["pull", image], { env: FAST });
  assert.notEqual(first.code, 0, first.stdout);
  assert.equal(first.stderr.trimEnd().split("\n").length, 1, first.stderr);
  const partials = fs.readdirSync(join(pullRoot, "tmp")).filter((n) => n.startsWith("partial-"));
  assert.equal(partials.length, 1, "the partial download is kept");
  assert.deepEqual(corruptBlobs(pullRoot), []);

  proxy.hooks.onProgress = undefined;
  proxy.log.length = 0;
  await reg.restart();
  ok(await berthAsync(pullRoot, ["pull", image]), "rerun");
  const ranged = proxy.log.filter((e) => isBlob(e) && e.received > 1000);
  assert.equal(ranged.length, 1);
  assert.match(ranged[0]?.range ?? "", /^bytes=\d+-$/);
  // a large gzip'd layer: read the direct way (direct-get.ts), its worker hashing the kept part first
  assert.equal(ranged[0]?.connection, "close");
  const again = proxy.bytesReceived(isBlob);
  assert.ok(again <= layerSize - 16 * MiB, `rerun downloaded ${again} of ${layerSize} bytes`);
  assert.deepEqual(corruptBlobs(pullRoot), []);
  assert.deepEqual(
    fs.readdirSync(join(pullRoot, "tmp")).filter((n) => n.startsWith("partial-")),
    [],
  );
  const pushedId = JSON.parse(ok(berth(root, ["inspect", "--format", "{{json .Id}}", image]), "inspect")) as string;
  const pulledId = JSON.parse(ok(berth(pullRoot, ["inspect", "--format", "{{json .Id}}", image]), "inspect")) as string;
  assert.equal(pulledId, pushedId);
});

test("berth killed (-9) in the middle of a pull: the next pull takes over its partial layer", async (t) => {
  const { dir, proxy, image, root } = await setup(t, "pull-kill", 1, 48 * MiB);
  ok(await berthAsync(root, ["push", image]), "push");
  proxy.log.length = 0;
  const pullRoot = join(dir, "pull-root");
  const isBlob = (e: ProxyEntry) => e.method === "GET" && /\/blobs\/sha256:/.test(e.url);
  let child: ChildProcess | undefined;
  proxy.hooks.onProgress = (e, phase) => {
    if (child && phase === "response-data" && isBlob(e) && e.received >= 20 * MiB) {
      child.kill("SIGKILL");
      child = undefined;
    }
  };
  const first = await berthAsync(pullRoot, ["pull", image], {
    onSpawn: (c) => {
      child = c;
    },
  });
  assert.equal(first.signal, "SIGKILL");
  proxy.hooks.onProgress = undefined;
  proxy.log.length = 0;
  ok(await berthAsync(pullRoot, ["pull", image]), "rerun");
  const fetched = proxy.log.filter((e) => isBlob(e) && e.received > 1000);
  assert.equal(fetched.length, 1);
  assert.match(fetched[0]?.range ?? "", /^bytes=\d+-$/, "the rerun continued with Range");
  assert.ok(proxy.bytesReceived(isBlob) <= 48 * MiB - 8 * MiB, `downloaded ${proxy.bytesReceived(isBlob)} again`);
  assert.deepEqual(corruptBlobs(pullRoot), []);
  assert.deepEqual(
    fs.readdirSync(join(pullRoot, "tmp")).filter((n) => n.includes("partial")),
    [],
  );
});

for (const gzip of [false, true]) {
  test(`a corrupted ${gzip ? "gzip'd" : "plain"} layer from the registry is refused and nothing is stored`, async (t) => {
    const { dir, proxy, image, root } = await setup(t, `corrupt-${gzip ? "gz" : "tar"}`, 2, 256 * 1024, gzip);
    ok(await berthAsync(root, ["push", image]), "push");
    const pullRoot = join(dir, "pull-root");
    // the store already holds something: it must be exactly as it was afterwards
    ok(
      berth(pullRoot, ["load", "-i", await randomImageArchive(dir, { name: "other:1", layers: 1, layerBytes: 1000 })]),
      "load",
    );
    const before = snapshotStore(pullRoot);
    proxy.hooks.transformBody = (req, chunk, offset) => {
      if (!/\/blobs\/sha256:/.test(req.url ?? "") || offset > 5000 || offset + chunk.length <= 5000) return chunk;
      const out = Buffer.from(chunk);
      out[5000 - offset] = (out[5000 - offset] as number) ^ 0x01;
      return out;
    };
    const r = await berthAsync(pullRoot, ["pull", image]);
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0] ?? "",
      new RegExp(`^Error: pulling ${image.replace(/[.]/g, "\\.")}: .*(DIGEST_MISMATCH|digest|gzip)`),
    );
    assert.equal(snapshotStore(pullRoot), before);
    assert.deepEqual(
      fs.readdirSync(join(pullRoot, "tmp")).filter((n) => n.includes("partial")),
      [],
    );
  });
}

test("5xx and 429 are retried (Retry-After honoured, a layer's row says so); a 404 is not", async (t) => {
  const { dir, reg, proxy, image, root } = await setup(t, "retry", 1, 1000);
  ok(await berthAsync(root, ["push", image]), "push");
  proxy.log.length = 0;
  let failing = 2;
  proxy.hooks.onRequest = (req, res) => {
    if (failing > 0 && req.method === "GET" && req.url?.includes("/manifests/")) {
      failing--;
      proxy.log.push({ method: "GET", url: req.url, status: failing ? 503 : 429, sent: 0, received: 0 });
      res.writeHead(failing ? 503 : 429, { "retry-after": "1" });
      res.end();
      return true;
    }
    return false;
  };
  const started = Date.now();
  ok(await berthAsync(join(dir, "pull-root"), ["pull", image]), "pull through 503 and 429");
  assert.ok(Date.now() - started >= 2000, "waited as Retry-After asked");
  assert.equal(proxy.log.filter((e) => e.method === "GET" && e.url.includes("/manifests/")).length, 3);

  // a layer's GET answered 503 once: its row says so, as docker's does, and the pull goes on
  const manifest = JSON.parse(
    (
      await registryGet(reg.port, "/v2/faults/retry/manifests/1", "application/vnd.oci.image.manifest.v1+json")
    ).toString(),
  ) as { layers: { digest: string }[] };
  const layer = manifest.layers[0]?.digest ?? "";
  let layerFailures = 1;
  proxy.hooks.onRequest = (req, res) => {
    if (layerFailures > 0 && req.method === "GET" && req.url?.endsWith(`/blobs/${layer}`)) {
      layerFailures--;
      res.writeHead(503, { "retry-after": "1" });
      res.end();
      return true;
    }
    return false;
  };
  const again = ok(await berthAsync(join(dir, "pull-again"), ["pull", image]), "pull through a layer's 503");
  assert.match(again, new RegExp(`^${layer.slice(7, 19)}: Retrying in 1 second$`, "m"));
  assert.match(again, /^Status: Downloaded newer image/m);

  proxy.hooks.onRequest = undefined;
  proxy.log.length = 0;
  const missing = await berthAsync(join(dir, "pull-root"), ["pull", `${proxy.host}/faults/retry:nope`]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /MANIFEST_UNKNOWN/);
  assert.equal(proxy.log.filter((e) => e.url.includes("/manifests/")).length, 1, "a 404 is asked once");
});

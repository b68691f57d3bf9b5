import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import { join } from "node:path";
import { before, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { berth, corruptBlobs, snapshotStore, tempDir } from "./helpers.js";
import {
  berthAsync,
  ok,
  type ProxyEntry,
  proxiedDistribution,
  randomImageArchive,
  tlsDistribution,
} from "./registry-client-harness.js";

/**
 * A pull reads a large compressed layer straight from the socket into shared memory, where a
 * worker hashes it and writes it (registry-client/direct-get.ts). It takes only a plain 200 or
 * 206 body; a redirect, a chunked body or an error is declined before a byte is kept and read
 * through undici instead. A counting proxy tells which path a GET took: the direct one asks
 * with `Connection: close`.
 */
const MiB = 1 << 20;
const LAYER = 40 * MiB; // above the 32 MiB from which a layer goes the direct way
let work: string;

before(() => {
  work = tempDir("pull-direct");
});

const isLayerGet = (e: ProxyEntry) => e.method === "GET" && /\/blobs\/sha256:/.test(e.url) && e.received > MiB;

async function setup(t: TestContext, name: string) {
  const dir = join(work, name);
  const { reg, proxy } = await proxiedDistribution(t, dir);
  const image = `${proxy.host}/direct/${name}:1`;
  const root = join(dir, "root");
  const archive = await randomImageArchive(dir, { name: image, layers: 1, layerBytes: LAYER, gzip: true });
  ok(berth(root, ["load", "-i", archive]), "load");
  ok(await berthAsync(root, ["push", image]), "push");
  proxy.log.length = 0;
  return { dir, reg, proxy, image, root, pullRoot: join(dir, "pull-root") };
}

function imageId(root: string, image: string): string {
  return JSON.parse(ok(berth(root, ["inspect", "--format", "{{json .Id}}", image]), "inspect")) as string;
}

/** The pulled store holds the layer whole: its file hashes to its name, and `images` measures it without a warning. */
function assertPulledWhole(root: string, pullRoot: string, image: string): void {
  assert.equal(imageId(pullRoot, image), imageId(root, image));
  assert.deepEqual(corruptBlobs(pullRoot), []);
  const listed = berth(pullRoot, ["images"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal(listed.stderr, "");
  assert.deepEqual(
    fs.readdirSync(join(pullRoot, "tmp")).filter((n) => n.includes("partial")),
    [],
  );
}

test("a large gzip'd layer is read straight from the socket: one GET, and the store holds it whole", async (t) => {
  const { proxy, image, root, pullRoot } = await setup(t, "plain");
  ok(await berthAsync(pullRoot, ["pull", image]), "pull");
  const gets = proxy.log.filter(isLayerGet);
  assert.equal(gets.length, 1, JSON.stringify(proxy.log));
  assert.equal(gets[0]?.connection, "close", "the layer went the direct way");
  assert.equal(gets[0]?.status, 200);
  assertPulledWhole(root, pullRoot, image);
  // the small config went through undici (kept-alive), as every request but large layers does
  const config = proxy.log.find((e) => e.method === "GET" && /\/blobs\//.test(e.url) && e.received < MiB);
  assert.ok(config, JSON.stringify(proxy.log));
  assert.notEqual(config.connection, "close");
});

test("a blob GET answered with a redirect: the direct GET declines it and undici follows it", async (t) => {
  const { proxy, image, root, pullRoot } = await setup(t, "redirect");
  proxy.hooks.onRequest = (req, res) => {
    if (req.method !== "GET" || !/\/blobs\/sha256:/.test(req.url ?? "") || req.url?.includes("?")) return false;
    proxy.log.push({
      method: "GET",
      url: req.url ?? "",
      status: 307,
      sent: 0,
      received: 0,
      ...(req.headers.connection ? { connection: req.headers.connection } : {}),
    });
    res.writeHead(307, { location: `${req.url}?from=storage`, "content-length": "0" });
    res.end();
    return true;
  };
  ok(await berthAsync(pullRoot, ["pull", image]), "pull through a redirect");
  const layerDigest = proxy.log.find(isLayerGet)?.url.replace(/\?.*$/, "");
  assert.ok(layerDigest, JSON.stringify(proxy.log));
  const forLayer = proxy.log.filter((e) => e.url.startsWith(layerDigest));
  assert.deepEqual(
    forLayer.map((e) => [e.status, e.connection === "close" ? "direct" : "undici"]),
    [
      [307, "direct"], // declined, nothing kept
      [307, "undici"], // asked again, and the redirect followed
      [200, "undici"],
    ],
  );
  assertPulledWhole(root, pullRoot, image);
});

test("a layer sent with chunked transfer coding is declined by the direct GET and read through undici", async (t) => {
  const { reg, proxy, image, root, pullRoot } = await setup(t, "chunked");
  proxy.hooks.onRequest = (req, res) => {
    if (req.method !== "GET" || !/\/blobs\/sha256:/.test(req.url ?? "")) return false;
    const entry: ProxyEntry = { method: "GET", url: req.url ?? "", status: 0, sent: 0, received: 0 };
    if (req.headers.connection) entry.connection = req.headers.connection;
    proxy.log.push(entry);
    http.get({ host: "127.0.0.1", port: reg.port, path: req.url, headers: req.headers }, (up) => {
      entry.status = up.statusCode ?? 0;
      const { "content-length": _dropped, ...headers } = up.headers;
      res.writeHead(up.statusCode ?? 502, { ...headers, "transfer-encoding": "chunked" });
      up.on("data", (c: Buffer) => {
        entry.received += c.length;
      });
      up.pipe(res);
    });
    return true;
  };
  ok(await berthAsync(pullRoot, ["pull", image]), "pull of a chunked body");
  const layerUrl = proxy.log.find(isLayerGet)?.url;
  const gets = proxy.log.filter((e) => e.url === layerUrl);
  assert.deepEqual(
    gets.map((e) => (e.connection === "close" ? "direct" : "undici")),
    ["direct", "undici"],
    "the direct GET saw the head only, then undici read the body",
  );
  assertPulledWhole(root, pullRoot, image);
});

test("a corrupted large layer read the direct way is refused, and the store is as it was", async (t) => {
  const { proxy, image, pullRoot, dir } = await setup(t, "corrupt");
  ok(
    berth(pullRoot, ["load", "-i", await randomImageArchive(dir, { name: "other:1", layers: 1, layerBytes: 1000 })]),
    "load",
  );
  const before = snapshotStore(pullRoot);
  const at = 30 * MiB;
  proxy.hooks.transformBody = (req, chunk, offset) => {
    if (!/\/blobs\/sha256:/.test(req.url ?? "") || offset > at || offset + chunk.length <= at) return chunk;
    const out = Buffer.from(chunk);
    out[at - offset] = (out[at - offset] as number) ^ 0x01;
    return out;
  };
  const r = await berthAsync(pullRoot, ["pull", image]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^Error: pulling .*: .*content has digest sha256:[0-9a-f]{64}, expected sha256:/);
  assert.equal(proxy.log.filter(isLayerGet)[0]?.connection, "close", "the layer went the direct way");
  assert.equal(snapshotStore(pullRoot), before);
  assert.deepEqual(
    fs.readdirSync(join(pullRoot, "tmp")).filter((n) => n.includes("partial")),
    [],
  );
});

test("over TLS from a test CA the large layer is fetched once and stored whole", async (t) => {
  const dir = join(work, "tls");
  const { reg, certsD, trust } = await tlsDistribution(t, dir);
  trust();
  const env = { BERTH_CERTS_D: certsD };
  const image = `${reg.host}/direct/tls:1`;
  const root = join(dir, "root");
  const archive = await randomImageArchive(dir, { name: image, layers: 1, layerBytes: LAYER, gzip: true });
  ok(berth(root, ["load", "-i", archive]), "load");
  ok(await berthAsync(root, ["push", image], { env }), "push over TLS");
  const pullRoot = join(dir, "pull-root");
  const before = reg.requests().length;
  ok(await berthAsync(pullRoot, ["pull", image], { env }), "pull over TLS");
  // Distribution writes its access log a moment after answering: wait for both lines, then a little more
  const blobGets = () =>
    reg
      .requests()
      .slice(before)
      .filter((r) => r.startsWith("GET ") && r.includes("/blobs/"));
  for (let i = 0; i < 50 && blobGets().length < 2; i++) await sleep(100);
  await sleep(300);
  // the config and the layer, each once: a declined direct GET would have asked for the layer twice
  assert.equal(blobGets().length, 2, blobGets().join("\n"));
  assertPulledWhole(root, pullRoot, image);
  // the bytes on disk are the registry's
  const layer = fs
    .readdirSync(join(pullRoot, "blobs", "sha256"))
    .map((n) => join(pullRoot, "blobs", "sha256", n))
    .find((p) => fs.statSync(p).size > MiB) as string;
  assert.equal(createHash("sha256").update(fs.readFileSync(layer)).digest("hex"), layer.split("/").pop());
});

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Agent, request } from "undici";
import { BERTH, tempDir } from "./helpers.js";
import {
  corruptRegistryBlobs,
  countRegistryBlobs,
  sha256,
  startServer,
  type TestImage,
  testImage,
} from "./server-harness.js";

/**
 * 50 concurrent clients push and pull distinct and shared images against one `berth serve` for
 * a bounded time, with GC running beside them; at the end every manifest pushed is pulled and
 * every blob re-hashed, on the wire and on disk.
 */
const CLIENTS = 50;
const DURATION_MS = 8_000;

test("50 concurrent clients pushing and pulling lose nothing", { timeout: 180_000 }, async () => {
  const root = tempDir("server-load");
  const srv = await startServer(root, ["--no-access-log"]);
  const agent = new Agent({ connections: CLIENTS * 2, pipelining: 1 });
  const http = async (method: string, path: string, headers: Record<string, string> = {}, body?: Buffer) => {
    const r = await request(`${srv.base}${path}`, { method: method as "GET", headers, body, dispatcher: agent });
    return { status: r.statusCode, headers: r.headers, body: Buffer.from(await r.body.arrayBuffer()) };
  };
  const shared = Array.from({ length: 3 }, (_, i) => testImage([50_000 + i, 300_000]));
  const pushed: { repo: string; tag: string; image: TestImage }[] = [];
  const failures: string[] = [];
  let requests = 0;

  /** Push the way docker does: HEAD each blob, upload the missing ones (chunked or whole), then the manifest. */
  async function push(repo: string, tag: string, image: TestImage, chunked: boolean) {
    for (const blob of [image.config, ...image.layers]) {
      const d = sha256(blob);
      requests++;
      if ((await http("HEAD", `/v2/${repo}/blobs/${d}`)).status === 200) continue;
      requests += 2;
      const start = await http("POST", `/v2/${repo}/blobs/uploads/`);
      if (start.status !== 202) throw new Error(`POST ${repo}: ${start.status}`);
      const loc = String(start.headers.location);
      let close: Buffer | undefined = blob;
      if (chunked && blob.length > 1000) {
        const half = Math.floor(blob.length / 2);
        requests++;
        const p = await http("PATCH", loc, { "content-range": `0-${half - 1}` }, blob.subarray(0, half));
        if (p.status !== 202) throw new Error(`PATCH ${repo}: ${p.status}`);
        close = blob.subarray(half);
      }
      const put = await http("PUT", `${loc}?digest=${d}`, {}, close);
      if (put.status !== 201) throw new Error(`PUT blob ${repo}: ${put.status} ${put.body}`);
    }
    requests++;
    const m = await http(
      "PUT",
      `/v2/${repo}/manifests/${tag}`,
      { "content-type": "application/vnd.oci.image.manifest.v1+json" },
      image.manifest,
    );
    if (m.status !== 201) throw new Error(`PUT manifest ${repo}:${tag}: ${m.status} ${m.body}`);
    pushed.push({ repo, tag, image });
  }

  async function pull(repo: string, ref: string, image: TestImage) {
    requests++;
    const m = await http("GET", `/v2/${repo}/manifests/${ref}`);
    if (m.status !== 200 || sha256(m.body) !== image.digest) throw new Error(`manifest ${repo}:${ref}: ${m.status}`);
    for (const blob of [image.config, ...image.layers]) {
      requests++;
      const b = await http("GET", `/v2/${repo}/blobs/${sha256(blob)}`);
      if (b.status !== 200 || !b.body.equals(blob)) throw new Error(`blob of ${repo}:${ref}: ${b.status}`);
    }
  }

  async function client(n: number) {
    const deadline = Date.now() + DURATION_MS;
    for (let i = 0; Date.now() < deadline; i++) {
      try {
        if (n % 2 === 0) {
          // distinct images: each client its own repository and content
          const image = testImage([1000 + n, 20_000 + randomBytes(2).readUInt16BE(0)]);
          await push(`load/own${n}`, `t${i}`, image, i % 2 === 1);
          await pull(`load/own${n}`, `t${i}`, image);
        } else {
          // shared images: the same blobs pushed to a few repositories by many clients at once
          const image = shared[(n + i) % shared.length] as TestImage;
          const repo = `load/shared${(n + i) % 4}`;
          await push(repo, `c${n}-${i}`, image, i % 2 === 0);
          await pull(repo, image.digest, image);
        }
      } catch (err) {
        failures.push(`client ${n}: ${(err as Error).message}`);
      }
    }
  }

  // GC with its default grace runs beside the load: it must take nothing that is in use
  const gcRuns: Promise<string>[] = [];
  const gcTimer = setInterval(() => {
    gcRuns.push(
      new Promise((resolve) => {
        const p = spawn(process.execPath, [BERTH, "registry", "--root", root, "gc"]);
        let out = "";
        p.stdout.on("data", (d: Buffer) => {
          out += d.toString();
        });
        p.on("exit", (code) => resolve(`${code}:${out}`));
      }),
    );
  }, 2500);
  const started = Date.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => client(n)));
  clearInterval(gcTimer);
  const seconds = (Date.now() - started) / 1000;
  for (const r of await Promise.all(gcRuns)) assert.equal(r, "0:", "gc beside the load removed nothing");

  assert.deepEqual(failures, []);
  assert.ok(pushed.length > CLIENTS, `only ${pushed.length} pushes`);
  // everything pushed is still there, byte for byte
  for (const { repo, tag, image } of pushed) await pull(repo, tag, image);
  assert.deepEqual(corruptRegistryBlobs(root), []);
  const distinct = new Set(pushed.flatMap((p) => [p.image.config, ...p.image.layers].map((b) => sha256(b))));
  assert.equal(countRegistryBlobs(root), distinct.size, "one file per distinct blob (deduplicated)");
  process.stderr.write(
    `load: ${pushed.length} pushes, ${requests} requests in ${seconds.toFixed(1)} s (${Math.round(requests / seconds)} req/s)\n`,
  );
  await agent.close();
  assert.equal(await srv.stop(), 0);
});

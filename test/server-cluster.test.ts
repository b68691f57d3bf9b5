import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { BERTH, tempDir } from "./helpers.js";
import { call, corruptRegistryBlobs, putBlob, sha256, startServer } from "./server-harness.js";

/** Several server processes on one root: `berth serve --workers N`, and the session lock they rely on. */

/** A body sent in pieces, slowly, so another request can race with it. */
async function* slowly(bytes: Buffer, piece: number, pauseMs: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += piece) {
    yield bytes.subarray(i, i + piece);
    await sleep(pauseMs);
  }
}

function streamPatch(url: string, bytes: Buffer): Promise<number> {
  return request(url, { method: "PATCH", body: Readable.from(slowly(bytes, 64 * 1024, 25)) }).then(
    async (r) => {
      await r.body.dump();
      return r.statusCode;
    },
    () => -1,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; !ok(); ) {
    assert.ok(Date.now() < deadline, what);
    await sleep(50);
  }
}

test("two server processes on one root take turns on an upload session, and a dead one's lock is taken over", async () => {
  const root = tempDir("server-cluster-race");
  const a = await startServer(root, ["--workers", "1"]);
  const b = await startServer(root, ["--workers", "1"]);
  try {
    const first = randomBytes(1_500_000);
    const loc = (await call("POST", `${a.base}/v2/race/me/blobs/uploads/`)).headers.location as string;
    const slow = streamPatch(`${a.base}${loc}`, first);
    await sleep(300);
    // a streamed PATCH (appended at the end, wherever that is) through the other process while
    // the first still streams: without the lock both would write from the same offset; with it,
    // it waits and its bytes follow the first's
    const extra = randomBytes(100_000);
    const racing = await call("PATCH", `${b.base}${loc}`, { body: extra });
    assert.equal(await slow, 202);
    assert.equal(racing.status, 202, racing.body.toString());
    assert.equal(racing.headers.range, `0-${first.length + extra.length - 1}`);
    // a chunk for offset 0 now is out of order: 416, nothing written
    const late = await call("PATCH", `${a.base}${loc}`, {
      headers: { "content-range": "0-9" },
      body: extra.subarray(0, 10),
    });
    assert.equal(late.status, 416);

    // kill -9 of the process writing a session: the other takes the lock over and resumes it
    const second = randomBytes(2_000_000);
    const cut = streamPatch(`${a.base}${loc}`, second);
    await sleep(300);
    await a.kill();
    assert.equal(await cut, -1);
    const status = await call("GET", `${b.base}${loc}`);
    assert.equal(status.status, 204);
    const have = Number(/^0-(\d+)$/.exec(status.headers.range ?? "")?.[1]) + 1;
    assert.ok(have >= first.length + extra.length, `kept ${have}`);
    const whole = Buffer.concat([first, extra, second]);
    const put = await call("PUT", `${b.base}${loc}?digest=${sha256(whole)}`, {
      headers: { "content-range": `${have}-${whole.length - 1}` },
      body: whole.subarray(have),
    });
    assert.equal(put.status, 201, put.body.toString());
    assert.deepEqual((await call("GET", `${b.base}/v2/race/me/blobs/${sha256(whole)}`)).body, whole);
    assert.deepEqual(corruptRegistryBlobs(root), []);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test("--workers 2: both serve one port; SIGTERM stops every worker; kill -9 of the primary ends the workers", async () => {
  const root = tempDir("server-cluster");
  const pidsOf = (out: string) =>
    (/workers, pids ([\d ]+)/.exec(out)?.[1] ?? "").split(" ").filter(Boolean).map(Number);
  let srv = await startServer(root, ["--workers", "2"]);
  // a worker may answer the health check before the primary has said who they are
  await until("the primary names its workers", () => pidsOf(srv.output()).length === 2);
  let pids = pidsOf(srv.output());
  // pushes and pulls across connections (round-robin over the workers) see one registry
  const blobs = Array.from({ length: 6 }, (_, i) => randomBytes(300_000 + i));
  const digests = await Promise.all(blobs.map((b) => putBlob(srv.base, "cluster/me", b)));
  for (const [i, d] of digests.entries()) {
    assert.deepEqual((await call("GET", `${srv.base}/v2/cluster/me/blobs/${d}`)).body, blobs[i]);
  }
  assert.equal(await srv.stop(), 0);
  assert.match(srv.output(), /SIGTERM: finishing requests in flight[\s\S]*stopped/);
  for (const pid of pids) assert.ok(!alive(pid), `worker ${pid} stopped with the primary`);

  srv = await startServer(root, ["--workers", "2"]);
  await until("the primary names its workers", () => pidsOf(srv.output()).length === 2);
  pids = pidsOf(srv.output());
  await srv.kill();
  await until(`workers ${pids} exit when the primary is killed`, () => pids.every((p) => !alive(p)));
  // and the port is free again: a new server starts on it and has everything
  const again = await startServer(root, ["--workers", "2"], Number(srv.host.split(":")[1]));
  try {
    assert.deepEqual((await call("GET", `${again.base}/v2/cluster/me/blobs/${digests[0]}`)).body, blobs[0]);
  } finally {
    await again.stop();
  }
  const bad = spawnSync(process.execPath, [BERTH, "serve", "--workers", "0", "--root", root]);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr.toString(), /invalid --workers "0"/);
});

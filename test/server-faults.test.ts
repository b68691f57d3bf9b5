import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { startRegistry } from "../src/index.js";
import { BERTH, tempDir } from "./helpers.js";
import { call, corruptRegistryBlobs, pushImage, putBlob, sha256, startServer, testImage } from "./server-harness.js";

/** GC, restarts, crashes and graceful shutdown of `berth serve`. */

function gc(root: string, args: readonly string[]) {
  const r = spawnSync(process.execPath, [BERTH, "registry", "--root", root, "gc", ...args]);
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout.toString().split("\n").filter(Boolean).sort();
}

test("gc removes unreferenced blobs (dry run first), keeps shared and young ones, and abandoned uploads", async () => {
  const root = tempDir("server-gc");
  const srv = await startServer(root);
  try {
    const base = srv.base;
    const a = testImage([3000, 4000]);
    const b = { ...testImage([10]) };
    const shared = a.layers[0] as Buffer;
    // b shares a's first layer
    const bManifest = Buffer.from(
      JSON.stringify({
        ...JSON.parse(b.manifest.toString()),
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(shared), size: shared.length }],
      }),
    );
    assert.equal((await pushImage(base, "gc/a", "1", a)).status, 201);
    await putBlob(base, "gc/b", b.config);
    await putBlob(base, "gc/b", shared);
    const put = await call("PUT", `${base}/v2/gc/b/manifests/1`, {
      headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
      body: bManifest,
    });
    assert.equal(put.status, 201);
    const stray = await putBlob(base, "gc/a", randomBytes(100));
    const abandoned = (await call("POST", `${base}/v2/gc/a/blobs/uploads/`)).headers.location as string;

    // within the grace period nothing goes: a push in flight uploads blobs before its manifest
    assert.deepEqual(gc(root, ["--dry-run"]), []);
    assert.deepEqual(gc(root, ["--dry-run", "--grace", "0s"]), [stray]);
    assert.equal(await call("DELETE", `${base}/v2/gc/a/manifests/${a.digest}`).then((r) => r.status), 202);
    const expected = [stray, sha256(a.config), sha256(a.layers[1] as Buffer)].sort();
    assert.deepEqual(gc(root, ["--dry-run", "--grace", "0s"]), expected);
    // the dry run removed nothing
    assert.equal((await call("GET", `${base}/v2/gc/a/blobs/${stray}`)).status, 200);
    assert.deepEqual(gc(root, ["--grace", "0s", "--upload-grace", "0s"]), expected);
    for (const d of expected) assert.equal((await call("GET", `${base}/v2/gc/a/blobs/${d}`)).status, 404, d);
    // the shared layer stays, in both repositories, and b still pulls whole
    for (const repo of ["gc/a", "gc/b"]) {
      const r = await call("GET", `${base}/v2/${repo}/blobs/${sha256(shared)}`);
      assert.deepEqual(r.body, shared, repo);
    }
    assert.equal((await call("GET", `${base}${abandoned}`)).status, 404);
    assert.deepEqual(gc(root, ["--grace", "0s"]), []);
    // a blob GC took can be pushed again, and then a manifest naming it is accepted
    assert.equal((await pushImage(base, "gc/a", "2", a)).status, 201);
    assert.deepEqual((await call("GET", `${base}/v2/gc/a/blobs/${sha256(a.layers[1] as Buffer)}`)).body, a.layers[1]);
    // a manifest naming a collected blob that was not pushed again is refused, not stored broken
    await call("DELETE", `${base}/v2/gc/a/manifests/${a.digest}`);
    gc(root, ["--grace", "0s"]);
    const again = await call("PUT", `${base}/v2/gc/a/manifests/3`, {
      headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
      body: a.manifest,
    });
    assert.deepEqual(again.codes(), ["MANIFEST_BLOB_UNKNOWN"]);
    assert.deepEqual(corruptRegistryBlobs(root), []);
  } finally {
    await srv.stop();
  }
});

test("kill -9 of gc between its two steps leaves an orphan file, never a row without its file; the next gc sweeps it", async () => {
  const root = tempDir("server-gc-crash");
  const srv = await startServer(root);
  try {
    // above the in-memory cache's size, so HEAD and GET are answered from the row and the file
    const big = randomBytes(2_000_000);
    const digest = await putBlob(srv.base, "gc/crash", big);
    const file = join(root, "blobs", "sha256", digest.slice(7, 9), digest.slice(7));
    const paused = join(root, "gc-paused");
    const proc = spawn(process.execPath, [BERTH, "registry", "--root", root, "gc", "--grace", "0s"], {
      env: { ...process.env, BERTH_TEST_GC_PAUSE: paused },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    for (const deadline = Date.now() + 20_000; !fs.existsSync(paused); ) {
      assert.ok(Date.now() < deadline && proc.exitCode === null, "gc did not reach its pause");
      await sleep(20);
    }
    proc.kill("SIGKILL");
    await exited;
    // the rows are gone (committed), the file is still there: the blob is unknown, not broken
    assert.ok(fs.existsSync(file));
    assert.equal((await call("HEAD", `${srv.base}/v2/gc/crash/blobs/${digest}`)).status, 404);
    assert.equal((await call("GET", `${srv.base}/v2/gc/crash/blobs/${digest}`)).status, 404);
    // the orphan goes with the next run (its file is older than the grace)
    assert.deepEqual(gc(root, ["--grace", "0s"]), [digest]);
    assert.ok(!fs.existsSync(file));
    // and the same bytes can be pushed again and served whole
    await putBlob(srv.base, "gc/crash", big);
    assert.deepEqual((await call("GET", `${srv.base}/v2/gc/crash/blobs/${digest}`)).body, big);
  } finally {
    await srv.stop();
  }
});

test("an upload survives a restart and resumes where it stopped", async () => {
  const root = tempDir("server-resume");
  let srv = await startServer(root);
  const bytes = randomBytes(3_000_000);
  const loc = (await call("POST", `${srv.base}/v2/resume/me/blobs/uploads/`)).headers.location as string;
  await call("PATCH", `${srv.base}${loc}`, {
    headers: { "content-range": "0-999999" },
    body: bytes.subarray(0, 1_000_000),
  });
  assert.equal(await srv.stop(), 0);
  srv = await startServer(root);
  try {
    const status = await call("GET", `${srv.base}${loc}`);
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, "0-999999");
    const p = await call("PATCH", `${srv.base}${loc}`, {
      headers: { "content-range": `1000000-${bytes.length - 1}` },
      body: bytes.subarray(1_000_000),
    });
    assert.equal(p.status, 202);
    const put = await call("PUT", `${srv.base}${loc}?digest=${sha256(bytes)}`);
    assert.equal(put.status, 201);
    assert.deepEqual((await call("GET", `${srv.base}/v2/resume/me/blobs/${sha256(bytes)}`)).body, bytes);
  } finally {
    await srv.stop();
  }
});

/** A body that sends `bytes` in pieces, slowly, so a server can be killed in the middle. */
async function* slowly(bytes: Buffer, piece: number, pauseMs: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += piece) {
    yield bytes.subarray(i, i + piece);
    await sleep(pauseMs);
  }
}

test("kill -9 during pushes: no partial blob is ever served, interrupted uploads resume after restart", async () => {
  const root = tempDir("server-kill");
  let srv = await startServer(root);
  const port = Number(srv.host.split(":")[1]);
  const blobs = Array.from({ length: 6 }, (_, i) => randomBytes(2_000_000 + i * 100_000));
  const sessions: string[] = [];
  for (let i = 0; i < blobs.length; i++) {
    sessions.push((await call("POST", `${srv.base}/v2/kill/r${i % 2}/blobs/uploads/`)).headers.location as string);
  }
  // half the uploads stream (no Content-Range), half close with PUT: all are cut by the kill
  const inFlight = blobs.map((bytes, i) => {
    const url = `${srv.base}${sessions[i]}${i % 2 ? `?digest=${sha256(bytes)}` : ""}`;
    return request(url, { method: i % 2 ? "PUT" : "PATCH", body: Readable.from(slowly(bytes, 64 * 1024, 20)) }).then(
      async (r) => {
        await r.body.dump();
        return r.statusCode;
      },
      () => -1,
    );
  });
  await sleep(400);
  await srv.kill();
  const statuses = await Promise.all(inFlight);
  assert.ok(
    statuses.every((s) => s === -1),
    `all cut by the kill: ${statuses}`,
  );
  assert.deepEqual(corruptRegistryBlobs(root), []);
  srv = await startServer(root, [], port);
  try {
    for (let i = 0; i < blobs.length; i++) {
      const bytes = blobs[i] as Buffer;
      const repo = `kill/r${i % 2}`;
      // nothing unverified is served
      assert.equal((await call("HEAD", `${srv.base}/v2/${repo}/blobs/${sha256(bytes)}`)).status, 404);
      const status = await call("GET", `${srv.base}${sessions[i]}`);
      assert.equal(status.status, 204, `session ${i} survives`);
      // "0-0" is how Distribution (and so berth) says "empty"; a kept prefix of one byte is not sent in 64 KiB pieces
      const end = Number(/^0-(\d+)$/.exec(status.headers.range ?? "")?.[1]);
      const have = end === 0 ? 0 : end + 1;
      // what the server kept is a prefix of what was sent
      const rest = bytes.subarray(have);
      const put = await call("PUT", `${srv.base}${sessions[i]}?digest=${sha256(bytes)}`, {
        headers: { "content-range": `${have}-${bytes.length - 1}` },
        body: rest,
      });
      assert.equal(put.status, 201, `resumed upload ${i} from ${have}: ${put.body}`);
      assert.deepEqual((await call("GET", `${srv.base}/v2/${repo}/blobs/${sha256(bytes)}`)).body, bytes);
    }
    assert.deepEqual(corruptRegistryBlobs(root), []);
  } finally {
    await srv.stop();
  }
});

test("SIGTERM lets a request in flight finish, refuses new connections, exits 0", async () => {
  const root = tempDir("server-term");
  const srv = await startServer(root, ["--shutdown-timeout", "20s"]);
  const bytes = randomBytes(1_000_000);
  const loc = (await call("POST", `${srv.base}/v2/term/me/blobs/uploads/`)).headers.location as string;
  const upload = request(`${srv.base}${loc}?digest=${sha256(bytes)}`, {
    method: "PUT",
    body: Readable.from(slowly(bytes, 100_000, 100)),
  }).then(async (r) => {
    await r.body.dump();
    return r.statusCode;
  });
  await sleep(300);
  const exited = srv.stop();
  await sleep(200);
  await assert.rejects(request(`${srv.base}/v2/`));
  assert.equal(await upload, 201);
  assert.equal(await exited, 0);
  assert.match(srv.output(), /SIGTERM: finishing requests in flight/);
  const again = await startServer(root);
  try {
    assert.deepEqual((await call("GET", `${again.base}/v2/term/me/blobs/${sha256(bytes)}`)).body, bytes);
  } finally {
    await again.stop();
  }
});

test("the library starts a registry in process (port 0) and stops it", async () => {
  const logged: string[] = [];
  const reg = await startRegistry({
    root: tempDir("server-lib"),
    host: "127.0.0.1",
    port: 0,
    log: (e) => logged.push(`${e.method} ${e.path} ${e.status}`),
  });
  const d = await putBlob(reg.url, "lib/repo", "in process");
  assert.equal((await call("GET", `${reg.url}/v2/lib/repo/blobs/${d}`)).body.toString(), "in process");
  await reg.close();
  await assert.rejects(request(`${reg.url}/v2/`));
  assert.ok(logged.includes(`GET /v2/lib/repo/blobs/${d} 200`), logged.join("\n"));
});

test("an open registry on a non-loopback address warns; a bad --addr is a usage error", async () => {
  const proc = spawn(process.execPath, [BERTH, "serve", "--addr", "0.0.0.0:0", "--root", tempDir("server-warn")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  proc.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<string>((resolve) => proc.once("exit", (code, signal) => resolve(`${code} ${signal}`)));
  for (const deadline = Date.now() + 20_000; !err.includes("listening on"); ) {
    assert.ok(Date.now() < deadline, err);
    await sleep(50);
  }
  assert.match(err, /WARNING: an open registry on 0\.0\.0\.0:0: anyone who can reach it can push, pull and delete/);
  proc.kill("SIGTERM");
  // (once, under CI's load, it ended by a signal: the exit's signal and stderr say which)
  assert.equal(await exited, "0 null", err);
  const bad = spawnSync(process.execPath, [BERTH, "serve", "--addr", "nonsense"]);
  assert.equal(bad.status, 125);
  assert.match(bad.stderr.toString(), /invalid --addr "nonsense"/);
});

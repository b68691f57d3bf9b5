import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { tempDir } from "./helpers.js";
import { call, putBlob, startServer } from "./server-harness.js";

/** Large blob GETs through sendfile(2) (native/sendfile): whole, in ranges, cut by the client. */

const built = (() => {
  try {
    createRequire(import.meta.url)("berth-sendfile/build/Release/berth_sendfile.node");
    return true;
  } catch {
    return false;
  }
})();

// without the addon (no compiler at install) the same requests are streamed: server-api covers that path
const skip = built ? false : "the sendfile addon is not built";

test("large blobs by sendfile: whole, ranges, HEAD, logged sizes, and clients that leave mid-way", {
  skip,
}, async () => {
  const root = tempDir("server-sendfile");
  const log = join(root, "..", `sendfile-${process.pid}.log`);
  const srv = await startServer(root, ["--log-file", log]);
  try {
    // above the in-memory cache's 256 KiB: served from the file
    const bytes = randomBytes(5_000_000);
    const digest = await putBlob(srv.base, "send/file", bytes);
    const url = `${srv.base}/v2/send/file/blobs/${digest}`;
    for (let i = 0; i < 3; i++) assert.deepEqual((await call("GET", url)).body, bytes);
    for (const [range, start, end] of [
      ["bytes=0-0", 0, 0],
      ["bytes=1000-2999999", 1000, 2_999_999],
      ["bytes=4999990-", 4_999_990, 4_999_999],
      ["bytes=-10", 4_999_990, 4_999_999],
    ] as const) {
      const r = await call("GET", url, { headers: { range } });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers["content-range"], `bytes ${start}-${end}/${bytes.length}`);
      assert.deepEqual(r.body, bytes.subarray(start, end + 1), range);
    }
    const head = await call("HEAD", url);
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], String(bytes.length));
    assert.equal(head.body.length, 0);
    // clients that leave after a few bytes: the server goes on serving
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const req = http.get(url, (res) => {
          res.once("data", () => {
            req.destroy();
            resolve();
          });
        });
        req.on("error", () => resolve());
      });
    }
    // keep-alive: one connection, several answers in a row, each whole
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 3; i++) {
      const got = await new Promise<Buffer>((resolve, reject) => {
        http
          .get(url, { agent }, (res) => {
            const parts: Buffer[] = [];
            res.on("data", (d: Buffer) => parts.push(d));
            res.on("end", () => resolve(Buffer.concat(parts)));
          })
          .on("error", reject);
      });
      assert.deepEqual(got, bytes);
    }
    agent.destroy();
    assert.deepEqual((await call("GET", url)).body, bytes);
    // the request log counts the bytes sendfile sent (past node's own count)
    await sleep(300);
    const whole = fs
      .readFileSync(log, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { method: string; status: number; bytes: number; path: string })
      .filter((e) => e.method === "GET" && e.status === 200 && e.path.endsWith(digest) && !("error" in e));
    assert.ok(whole.length >= 4, `${whole.length} logged`);
    for (const e of whole) assert.ok(e.bytes > bytes.length, `logged ${e.bytes}`);
  } finally {
    await srv.stop();
  }
});

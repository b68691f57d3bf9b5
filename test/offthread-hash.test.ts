import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { OffThreadHash } from "../src/image/offthread-hash.js";
import { tempDir } from "./helpers.js";

/** The worker's digest must be node's own, whatever the chunking, including many more bytes than its ring holds. */
test("a hash on a worker thread gives node's digest for any chunking, beyond the ring's 16 MiB", async () => {
  const data = randomBytes(40 << 20);
  for (const algorithm of ["sha256", "sha512"] as const) {
    for (const piece of [1, 4093, 65_536, 1 << 20, 3 << 20]) {
      const input = piece === 1 ? data.subarray(0, 5000) : data; // byte by byte only for a little
      const hash = new OffThreadHash(algorithm);
      for (let i = 0; i < input.length; i += piece) await hash.update(input.subarray(i, i + piece));
      const want = createHash(algorithm).update(input).digest("hex");
      assert.equal(await hash.digest(), want, `${algorithm} in pieces of ${piece}`);
    }
  }
  const empty = new OffThreadHash("sha256");
  assert.equal(await empty.digest(), createHash("sha256").digest("hex"));
});

for (const producerWrites of [false, true]) {
  test(`with a file, the worker hashes the bytes already there, then ${producerWrites ? "this thread" : "the worker"} appends what it is given, by copy or in place`, async () => {
    const dir = tempDir("offthread-file");
    const data = randomBytes(21 << 20);
    const path = join(dir, "partial");
    const have = 5_000_123;
    fs.writeFileSync(path, data.subarray(0, have));
    const hash = new OffThreadHash("sha256", { path, have, producerWrites });
    let at = have;
    // half the rest written in place, as a socket reading into the ring does, half copied in
    while (at < have + 8_000_000) {
      const region = hash.region(Math.min(300_000, data.length - at));
      const n = data.copy(region, 0, at, at + region.length);
      at += n;
      await hash.filled(n);
    }
    await hash.update(data.subarray(at));
    const { hex, written } = await hash.finish();
    assert.equal(hex, createHash("sha256").update(data).digest("hex"));
    assert.equal(written, data.length);
    assert.ok(fs.readFileSync(path).equals(data));
  });
}

test("a file the worker cannot open is one STORE error, not a hang", async () => {
  const hash = new OffThreadHash("sha256", { path: "/nonexistent/dir/partial", have: 0 });
  await assert.rejects(
    (async () => {
      for (let i = 0; i < 40; i++) await hash.update(Buffer.alloc(1 << 20));
      await hash.finish();
    })(),
    (err: Error & { code?: string }) => err.code === "STORE" && /nonexistent/.test(err.message),
  );
});

test("a slot lent to a consumer is not filled again until it is given back, and the consumer sees every byte in order", async () => {
  const dir = tempDir("offthread-lend");
  const data = randomBytes(40 << 20);
  const path = join(dir, "copy");
  fs.writeFileSync(path, "");
  const seen: Buffer[] = [];
  const held: (() => void)[] = [];
  let maxHeld = 0;
  const giveBackFirst = (n: number) => {
    for (const g of held.splice(0, n)) g();
  };
  const hash = new OffThreadHash("sha256", { path, have: 0 }, (bytes, giveBack) => {
    // keep a copy now: the slot must not change while it is held, checked when it is given back
    const copy = Buffer.from(bytes);
    seen.push(copy);
    held.push(() => {
      assert.ok(bytes.equals(copy), "a lent slot changed before it was given back");
      giveBack();
    });
    maxHeld = Math.max(maxHeld, held.length);
    // give back late and in bursts, as a slow socket would
    if (held.length >= 12) setTimeout(() => giveBackFirst(8), 5);
  });
  const drain = setInterval(() => giveBackFirst(1), 20);
  try {
    for (let i = 0; i < data.length; i += 300_001) await hash.update(data.subarray(i, i + 300_001));
    const { hex, written } = await hash.finish();
    assert.equal(hex, createHash("sha256").update(data).digest("hex"));
    assert.equal(written, data.length);
  } finally {
    clearInterval(drain);
  }
  giveBackFirst(held.length);
  assert.ok(Buffer.concat(seen).equals(data), "the consumer saw the bytes in order");
  assert.ok(fs.readFileSync(path).equals(data));
  assert.ok(maxHeld <= 16, `at most the ring's 16 slots are lent (${maxHeld})`);
});

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import { OffThreadHash } from "../src/image/offthread-hash.js";

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

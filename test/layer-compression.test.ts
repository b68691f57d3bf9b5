import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { igzip } from "../src/image/codecs.js";
import { GZIP_LEVEL, gzipFileInto, parallelGzip } from "../src/image/layer-compression.js";
import { tempDir } from "./helpers.js";

/** Push's gzip: parallel members, each stored when its start does not compress; igzip's when installed. */
async function gz(input: Buffer, piece = 1 << 20, program: string | null | undefined = undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const pieces = (function* () {
    for (let i = 0; i < input.length; i += piece) yield input.subarray(i, i + piece);
  })();
  for await (const c of Readable.from(pieces).pipe(parallelGzip(GZIP_LEVEL, 2, program))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const text = Buffer.from(
  Array.from({ length: 300_000 }, (_, i) => `line ${i} of some words ${(i * 7919) % 10007}`).join("\n"),
);

test("any gzip reader reads the members back as the input: text, random, empty; through igzip and zlib", async () => {
  const program = igzip();
  assert.ok(program, "igzip is installed (scripts/setup.sh installs isal)");
  const big = Buffer.concat(Array.from({ length: 10 }, () => text)); // several 32 MiB igzip members
  for (const compressor of [program, null]) {
    for (const input of [text, big, randomBytes(9 << 20), Buffer.alloc(0), Buffer.from("x")]) {
      const out = await gz(input, 1 << 20, compressor);
      assert.ok(gunzipSync(out).equals(input), `${input.length} bytes through ${compressor ?? "zlib"}`);
    }
  }
});

test("the same bytes give the same output, however they arrive (a re-push gets the same digest)", async () => {
  const big = Buffer.concat([text, text, text, text]); // several members
  const a = await gz(big);
  // an inflated or piped source arrives in chunks of any size: the members must not follow them
  for (const piece of [333_333, 16_384, 5 << 20]) assert.ok((await gz(big, piece)).equals(a), `pieces of ${piece}`);
  assert.ok(a.length < big.length / 2, `${a.length} of ${big.length}: text compresses at level 6`);
});

test("random bytes are stored, not compressed in vain: the output is barely larger", async () => {
  const input = randomBytes(12 << 20);
  const out = await gz(input);
  assert.ok(out.length < input.length * 1.001, `${out.length} for ${input.length}`);
});

test("stored members (berth's own framing) read back by zlib and gzip(1), the same however the input arrives", async () => {
  // random, then text, then random: stored, compressed and stored members in one file; sizes
  // around deflate's 65,535-byte stored block
  const mixed = Buffer.concat([randomBytes(33 << 20), text, randomBytes(65_535 * 3 + 1)]);
  for (const input of [mixed, randomBytes(65_535), randomBytes(65_536), randomBytes(1)]) {
    const out = await gz(input);
    assert.ok(gunzipSync(out).equals(input), `zlib reads ${input.length} bytes back`);
    const byGzip = execFileSync("gzip", ["-dc"], { input: out, maxBuffer: 1 << 30 });
    assert.ok(byGzip.equals(input), `gzip -dc reads ${input.length} bytes back`);
    for (const piece of [65_535, 100_003]) assert.ok((await gz(input, piece)).equals(out), `pieces of ${piece}`);
  }
});

test("gzipFileInto makes parallelGzip's bytes from the file, through igzip and zlib, whatever the sink's slot sizes", async () => {
  const dir = tempDir("gzip-file-into");
  // stored, compressed and stored members, and a tail smaller than the probe's sample
  const input = Buffer.concat([randomBytes(33 << 20), text, text, randomBytes(65_535 * 3 + 1), text.subarray(0, 1000)]);
  const path = join(dir, "layer.tar");
  fs.writeFileSync(path, input);
  for (const program of [igzip(), null]) {
    const want = await gz(input, 1 << 20, program);
    for (const slot of [1 << 20, 65_536 + 7]) {
      const got: Buffer[] = [];
      let current = Buffer.alloc(slot);
      let used = 0;
      const flush = () => {
        got.push(Buffer.from(current.subarray(0, used)));
        current = Buffer.alloc(slot);
        used = 0;
      };
      let read = 0;
      await gzipFileInto(
        path,
        input.length,
        {
          update: async (bytes) => {
            for (let at = 0; at < bytes.length; ) {
              const n = Math.min(bytes.length - at, slot - used);
              current.set(bytes.subarray(at, at + n), used);
              used += n;
              at += n;
              if (used === slot) flush();
            }
          },
          region: (max) => current.subarray(used, Math.min(slot, used + max)),
          filled: (n) => {
            used += n;
            if (used === slot) flush();
            return undefined;
          },
        },
        (n) => {
          read += n;
        },
        2,
        program,
      );
      flush();
      assert.equal(read, input.length);
      const out = Buffer.concat(got);
      assert.equal(out.length, want.length, `${program ?? "zlib"}, slots of ${slot}`);
      assert.ok(out.equals(want), `${program ?? "zlib"}, slots of ${slot}: the same bytes`);
    }
  }
});

test("gzipFileInto counts a compressible member's input as its pieces go, not in one step at its end", async () => {
  const dir = tempDir("gzip-file-into-progress");
  const input = Buffer.concat(Array.from({ length: 5 }, () => text)); // ~45 MB of text: two members
  const path = join(dir, "layer.tar");
  fs.writeFileSync(path, input);
  for (const program of [igzip(), null]) {
    let out = 0;
    const steps: { n: number; out: number }[] = [];
    await gzipFileInto(
      path,
      input.length,
      {
        update: async (bytes) => {
          out += bytes.length;
        },
        region: () => Buffer.alloc(0),
        filled: () => undefined,
      },
      (n) => steps.push({ n, out }),
      2,
      program,
    );
    assert.equal(
      steps.reduce((sum, s) => sum + s.n, 0),
      input.length,
      "every input byte counted once",
    );
    assert.ok(
      steps.every((s) => s.n > 0),
      "no empty steps",
    );
    // a member's bytes were counted while its output was still going out: more steps than members
    assert.ok(steps.length >= 8, `${program ?? "zlib"}: ${steps.length} steps for two members`);
    assert.ok(
      steps.some((s) => s.out < out / 2),
      "some input counted before half the output was written",
    );
  }
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { digestHex, parseDigest, sha256, shortId } from "./digest.js";
import { BerthError } from "./errors.js";

test("sha256 of known bytes", () => {
  assert.equal(sha256(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(shortId(sha256("")), "e3b0c44298fc");
  assert.equal(digestHex(sha256("")).length, 64);
});

test("parseDigest accepts sha256 and sha512 and rejects the rest", () => {
  assert.equal(parseDigest(`sha512:${"0".repeat(128)}`), `sha512:${"0".repeat(128)}`);
  for (const bad of [
    "",
    "sha256",
    `sha256:${"A".repeat(64)}`,
    `sha256:${"0".repeat(63)}`,
    `md5:${"0".repeat(32)}`,
    `sha512:${"0".repeat(64)}`,
  ]) {
    assert.throws(
      () => parseDigest(bad),
      (e: unknown) => e instanceof BerthError && e.code === "INVALID_DIGEST",
      bad,
    );
  }
});

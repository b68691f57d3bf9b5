import assert from "node:assert/strict";
import { test } from "node:test";
import { parseContentRange, resolveRange, uploadRange } from "./range.js";

test("Range: one range resolved against the size; unsatisfiable ones; others ignored", () => {
  assert.deepEqual(resolveRange(undefined, 10), { kind: "full" });
  assert.deepEqual(resolveRange("bytes=0-0", 10), { kind: "partial", start: 0, end: 0 });
  assert.deepEqual(resolveRange("bytes=2-", 10), { kind: "partial", start: 2, end: 9 });
  assert.deepEqual(resolveRange("bytes=-3", 10), { kind: "partial", start: 7, end: 9 });
  assert.deepEqual(resolveRange("bytes=-30", 10), { kind: "partial", start: 0, end: 9 });
  assert.deepEqual(resolveRange("bytes=5-100", 10), { kind: "partial", start: 5, end: 9 });
  for (const h of ["bytes=10-", "bytes=5-4", "bytes=-0", "bytes=20-30"]) {
    assert.deepEqual(resolveRange(h, 10), { kind: "unsatisfiable" }, h);
  }
  assert.deepEqual(resolveRange("bytes=0-", 0), { kind: "unsatisfiable" });
  for (const h of ["bytes=0-1,3-4", "items=0-1", "bytes=-", "nonsense"]) {
    assert.deepEqual(resolveRange(h, 10), { kind: "full" }, h);
  }
});

test("Content-Range of upload chunks, and the status Range", () => {
  assert.deepEqual(parseContentRange("0-99"), { start: 0, end: 99 });
  assert.deepEqual(parseContentRange("bytes 100-199/1000"), { start: 100, end: 199 });
  assert.deepEqual(parseContentRange("bytes 100-199/*"), { start: 100, end: 199 });
  for (const h of ["", "5-4", "-5", "a-b", "0-99999999999999999999"]) assert.equal(parseContentRange(h), undefined, h);
  assert.equal(uploadRange(0), "0-0");
  assert.equal(uploadRange(1), "0-0");
  assert.equal(uploadRange(100), "0-99");
});

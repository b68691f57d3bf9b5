import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { tempDir } from "../../test/helpers.js";
import { sha256 } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { LocalStore } from "./local-store.js";

function freshStore(): LocalStore {
  return LocalStore.open(tempDir("store"));
}

test("the root is an OCI image layout from the start", () => {
  const store = freshStore();
  assert.deepEqual(JSON.parse(fs.readFileSync(join(store.root, "oci-layout"), "utf8")), {
    imageLayoutVersion: "1.0.0",
  });
  assert.deepEqual(JSON.parse(fs.readFileSync(join(store.root, "index.json"), "utf8")).manifests, []);
  store.close();
});

test("ingest verifies digest and size; a mismatch leaves nothing behind", async () => {
  const store = freshStore();
  const bytes = Buffer.from("hello world");
  await store.withLease(async (lease) => {
    const ok = await lease.ingest(Readable.from([bytes]), { digest: sha256(bytes), size: bytes.length }, "blob");
    assert.equal(ok.digest, sha256(bytes));
    await assert.rejects(
      lease.ingest(Readable.from([Buffer.from("other")]), { digest: sha256("nope") }, "blob x"),
      (e: unknown) => e instanceof BerthError && e.code === "DIGEST_MISMATCH" && /blob x/.test(e.message),
    );
    await assert.rejects(
      lease.ingest(Readable.from([Buffer.from("too long")]), { size: 3 }, "blob y"),
      (e: unknown) => e instanceof BerthError && e.code === "SIZE_MISMATCH",
    );
    await assert.rejects(
      lease.ingest(Readable.from([Buffer.from("ab")]), { size: 3 }, "blob z"),
      (e: unknown) => e instanceof BerthError && e.code === "SIZE_MISMATCH",
    );
    assert.equal(store.hasBlob(sha256("other")), false);
  });
  assert.deepEqual(fs.readdirSync(join(store.root, "tmp")), [], "no temp files left");
  // nothing referenced the blob when the lease ended, so it went with it
  assert.equal(store.hasBlob(sha256(bytes)), false);
  store.close();
});

test("a lease protects its blobs from a sweep by another process until it ends", async () => {
  const store = freshStore();
  const other = LocalStore.open(store.root);
  const bytes = Buffer.from("protected");
  await store.withLease(async (lease) => {
    lease.putBytes(bytes);
    other.write(() => {
      const orphans = other.listBlobs().filter((d) => !other.referencedBlobs().has(d));
      other.deleteUnreferenced(orphans);
    });
    assert.equal(store.hasBlob(sha256(bytes)), true, "blob survives while leased");
  });
  assert.equal(store.hasBlob(sha256(bytes)), false, "and goes once the lease ends unreferenced");
  other.close();
  store.close();
});

test("readBlob refuses a blob whose bytes no longer match its name", async () => {
  const store = freshStore();
  const bytes = Buffer.from("{}");
  const digest = sha256(bytes);
  fs.writeFileSync(store.blobPath(digest), "{ }");
  assert.throws(
    () => store.readBlob(digest),
    (e: unknown) => e instanceof BerthError && e.code === "DIGEST_MISMATCH",
  );
  store.close();
});

test("leases and temp files of dead processes are swept", () => {
  const store = freshStore();
  store.db.prepare("INSERT INTO leases(pid, started_ms) VALUES (?, ?)").run(2 ** 22 + 12345, 0);
  fs.writeFileSync(join(store.root, "tmp", `${2 ** 22 + 12345}-deadbeef`), "partial");
  const swept = store.write(() => store.sweepDead());
  assert.equal(swept.leases, 1);
  assert.equal(swept.tmpFiles, 1);
  store.close();
});

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { tempDir } from "../../test/helpers.js";
import type { Digest } from "../oci/digest.js";
import type { BlobStorage } from "./blob-storage.js";
import { FsBlobStorage } from "./fs-blob-storage.js";
import type { NewManifest, RegistryMetadata } from "./metadata.js";
import { SqliteMetadata } from "./sqlite-metadata.js";

/**
 * The contracts of the registry's two storage interfaces, written once and run against every
 * implementation (the filesystem and SQLite today; S3 and PostgreSQL must pass the same).
 */
const sha = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}` as Digest;
const temp = () => tempDir("contract");
async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}
async function text(s: NodeJS.ReadableStream | undefined): Promise<string> {
  let out = "";
  for await (const c of s ?? []) out += String(c);
  return out;
}

function blobStorageContract(name: string, make: () => BlobStorage) {
  test(`${name}: uploads append, truncate, read back, and commit as deduplicated blobs`, async () => {
    const s = make();
    assert.equal(await s.uploadSize("00000000-0000-0000-0000-000000000000"), undefined);
    await s.createUpload("u1");
    assert.equal(await s.uploadSize("u1"), 0);
    const seen: string[] = [];
    assert.equal(await s.append("u1", 0, chunks("hello ", "wor"), (c) => seen.push(String(c))), 9);
    assert.deepEqual(seen, ["hello ", "wor"]);
    assert.equal(await s.append("u1", 9, chunks("ld!!"), () => {}), 4);
    await s.truncateUpload("u1", 11);
    assert.equal(await text(s.readUpload("u1")), "hello world");
    const d = sha("hello world");
    assert.equal(await s.stat(d), undefined);
    s.commitUploadSync("u1", d);
    assert.equal(await s.uploadSize("u1"), undefined);
    assert.equal(await s.stat(d), 11);
    assert.equal((await s.readAll(d))?.toString(), "hello world");
    assert.equal(await text(await s.read(d, { start: 6, end: 10 })), "world");
    // the same content again: the blob stays, the upload goes
    await s.createUpload("u2");
    await s.append("u2", 0, chunks("hello world"), () => {});
    s.commitUploadSync("u2", d);
    await s.deleteUpload("u2");
    assert.equal(await s.uploadSize("u2"), undefined);
    assert.equal(await s.stat(d), 11);
    const listed: string[] = [];
    for await (const b of s.listBlobs()) listed.push(b.digest);
    assert.deepEqual(listed, [d]);
    await s.createUpload("u3");
    const ups: string[] = [];
    for await (const u of s.listUploads()) ups.push(u.id);
    assert.deepEqual(ups, ["u3"]);
    await s.deleteUpload("u3");
    s.deleteSync(d);
    assert.equal(await s.stat(d), undefined);
    assert.equal(await s.read(d), undefined);
    assert.equal(await s.readAll(d), undefined);
  });
}

function manifestOf(content: string, blobs: Digest[], extra: Partial<NewManifest> = {}): NewManifest {
  return {
    digest: sha(content),
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    content: Buffer.from(content),
    subject: undefined,
    artifactType: undefined,
    annotations: undefined,
    blobs,
    manifests: [],
    ...extra,
  };
}

function metadataContract(name: string, make: () => RegistryMetadata) {
  test(`${name}: repositories, links, mounts, manifests, tags, referrers`, async () => {
    const m = make();
    const a = sha("a");
    assert.deepEqual(await m.linkUploadedBlob("r/one", a, 1, () => {}), { repositoryCreated: true });
    assert.deepEqual(await m.linkUploadedBlob("r/one", a, 1, () => {}), { repositoryCreated: false });
    assert.equal(await m.blobSize("r/one", a), 1);
    assert.equal(await m.blobSize("r/two", a), undefined);
    // a failing `place` records nothing
    await assert.rejects(
      m.linkUploadedBlob("r/three", sha("x"), 1, () => {
        throw new Error("disk full");
      }),
    );
    assert.equal(await m.repositoryExists("r/three"), false);
    assert.deepEqual(await m.mountBlob("r/none", "r/two", a), { linked: false, repositoryCreated: false });
    assert.deepEqual(await m.mountBlob("r/one", "r/two", a), { linked: true, repositoryCreated: true });
    const missing = manifestOf("m1", [a, sha("b")]);
    const refused = await m.putManifest("r/new", missing, "t");
    assert.deepEqual(refused.missing, [a, sha("b")]);
    assert.equal(await m.repositoryExists("r/new"), false);
    const m1 = manifestOf("m1", [a]);
    assert.deepEqual((await m.putManifest("r/one", m1, "v1")).missing, []);
    await m.putManifest("r/one", m1, "v2");
    assert.equal((await m.getManifest("r/one", { tag: "v1" }))?.digest, m1.digest);
    assert.equal((await m.getManifest("r/one", { digest: m1.digest }))?.content.toString(), "m1");
    assert.deepEqual(await m.listTags("r/one", undefined, 10), ["v1", "v2"]);
    assert.deepEqual(await m.listTags("r/one", "v1", 10), ["v2"]);
    assert.deepEqual(await m.listTags("r/one", undefined, 1), ["v1"]);
    assert.equal(await m.listTags("r/nope", undefined, 10), undefined);
    assert.deepEqual(await m.listRepositories(undefined, 10), ["r/one", "r/two"]);
    assert.deepEqual(await m.listRepositories("r/one", 10), ["r/two"]);
    const ref = manifestOf("ref", [a], { subject: m1.digest, artifactType: "x/sig", annotations: { k: "v" } });
    await m.putManifest("r/one", ref, undefined);
    const all = { after: undefined, limit: 10 };
    assert.deepEqual(await m.referrers("r/one", m1.digest, undefined, all), [
      { mediaType: ref.mediaType, digest: ref.digest, size: 3, artifactType: "x/sig", annotations: { k: "v" } },
    ]);
    assert.deepEqual(await m.referrers("r/one", m1.digest, "x/other", all), []);
    assert.deepEqual(await m.referrers("r/one", m1.digest, undefined, { after: ref.digest, limit: 10 }), []);
    assert.deepEqual(await m.referrers("r/one", m1.digest, undefined, { after: undefined, limit: 0 }), []);
    assert.equal(await m.deleteTag("r/one", "v1"), true);
    assert.equal(await m.deleteTag("r/one", "v1"), false);
    assert.equal(await m.deleteManifest("r/one", m1.digest), true);
    assert.equal(await m.getManifest("r/one", { tag: "v2" }), undefined);
    assert.equal(await m.unlinkBlob("r/two", a), true);
    assert.equal(await m.unlinkBlob("r/two", a), false);
    await m.close();
  });

  test(`${name}: GC candidates honour references and the grace cutoff, and are re-checked on removal`, async () => {
    const m = make();
    const used = sha("used");
    const loose = sha("loose");
    await m.linkUploadedBlob("g/r", used, 4, () => {});
    await m.linkUploadedBlob("g/r", loose, 5, () => {});
    await m.putManifest("g/r", manifestOf("gm", [used]), "t");
    // everything younger than the cutoff stays
    assert.deepEqual(await m.garbageBlobs(Date.now() - 60_000), []);
    const later = Date.now() + 1000;
    assert.deepEqual(await m.garbageBlobs(later), [loose]);
    // a manifest naming it between listing and removal keeps it
    await m.putManifest("g/r", manifestOf("gm2", [loose]), "u");
    assert.deepEqual(await m.removeGarbageBlobs([loose], later), []);
    await m.deleteManifest("g/r", sha("gm2"));
    assert.deepEqual(await m.removeGarbageBlobs([loose], later), [loose]);
    assert.equal(await m.blobSize("g/r", loose), undefined);
    assert.equal(await m.blobKnown(loose), false);
    // the bytes go in a second step, only while no row knows the blob
    const removed: Digest[] = [];
    assert.equal(await m.removeIfOrphan(loose, () => removed.push(loose)), true);
    assert.deepEqual(removed, [loose]);
    assert.equal(await m.removeIfOrphan(used, () => assert.fail("known blob removed")), false);
    // uploads
    await m.createUpload({ id: "up", repository: "g/r", algorithm: "sha512", createdAt: 1 });
    assert.equal((await m.getUpload("up"))?.algorithm, "sha512");
    assert.deepEqual(await m.staleUploads(Date.now() + 1000), ["up"]);
    await m.deleteUpload("up");
    assert.equal(await m.getUpload("up"), undefined);
    await m.close();
  });
}

blobStorageContract("FsBlobStorage", () => new FsBlobStorage(temp()));
metadataContract("SqliteMetadata", () => SqliteMetadata.open(temp()));

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { tempDir } from "./helpers.js";
import {
  call,
  type OpenServer,
  pushImage,
  putBlob,
  rawCall,
  sha256,
  sha512,
  startServer,
  testImage,
} from "./server-harness.js";

/** The distribution-spec v1.1 API of `berth serve` in open mode, endpoint by endpoint (spec end-1 … end-13). */
let srv: OpenServer;
let base: string;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

before(async () => {
  srv = await startServer(tempDir("server-api"));
  base = srv.base;
});
after(async () => {
  assert.equal(await srv.stop(), 0);
});

describe("base, health, routing", () => {
  test("GET /v2/ is 200 with the API version header (end-1)", async () => {
    const r = await call("GET", `${base}/v2/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers["docker-distribution-api-version"], "registry/2.0");
    assert.deepEqual(r.json(), {});
  });
  test("health endpoint", async () => {
    const r = await call("GET", `${base}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { status: "ok" });
  });
  test("unknown paths are 404 and wrong methods 405 UNSUPPORTED", async () => {
    assert.equal((await call("GET", `${base}/nothing`)).status, 404);
    const r = await call("POST", `${base}/v2/a/tags/list`);
    assert.equal(r.status, 405);
    assert.deepEqual(r.codes(), ["UNSUPPORTED"]);
  });
});

describe("repository names", () => {
  for (const [why, name] of [
    ["uppercase", "Alpine"],
    ["a .. component", "a/../b"],
    ["double dots inside a component", "a..b"],
    ["an empty component", "a//b"],
    ["a leading separator", "-a"],
    ["over 255 characters", `${"a".repeat(200)}/${"b".repeat(60)}`],
  ] as const) {
    test(`${why} is NAME_INVALID for every endpoint`, async () => {
      for (const [method, path] of [
        ["GET", `/v2/${name}/tags/list`],
        ["GET", `/v2/${name}/manifests/latest`],
        ["PUT", `/v2/${name}/manifests/latest`],
        ["HEAD", `/v2/${name}/blobs/${sha256("x")}`],
        ["POST", `/v2/${name}/blobs/uploads/`],
      ] as const) {
        const r = await rawCall(base, method, path);
        assert.equal(r.status, 400, `${method} ${path}`);
        if (method !== "HEAD") assert.match(r.body, /"code":"NAME_INVALID"/);
      }
    });
  }
  test("a name of 255 characters with many components is accepted", async () => {
    const name = Array.from({ length: 51 }, () => "abcd")
      .join("/")
      .slice(0, 255)
      .replace(/\/$/, "x");
    assert.equal(name.length <= 255, true);
    await putBlob(base, name, "long name");
    const r = await call("HEAD", `${base}/v2/${name}/blobs/${sha256("long name")}`);
    assert.equal(r.status, 200);
  });
});

describe("blobs: pull (end-2) with Range", () => {
  const small = randomBytes(5000);
  const large = randomBytes(600_000); // past the in-memory cache: the streamed path
  before(async () => {
    await putBlob(base, "pull/blobs", small);
    await putBlob(base, "pull/blobs", large);
  });
  for (const [label, bytes] of [
    ["small", small],
    ["large", large],
  ] as const) {
    test(`${label}: GET and HEAD answer the bytes, digest and length`, async () => {
      const d = sha256(bytes);
      const r = await call("GET", `${base}/v2/pull/blobs/blobs/${d}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, bytes);
      assert.equal(r.headers["docker-content-digest"], d);
      assert.equal(r.headers["content-length"], String(bytes.length));
      assert.equal(r.headers["accept-ranges"], "bytes");
      const h = await call("HEAD", `${base}/v2/pull/blobs/blobs/${d}`);
      assert.equal(h.status, 200);
      assert.equal(h.headers["content-length"], String(bytes.length));
      assert.equal(h.headers["docker-content-digest"], d);
      assert.equal(h.body.length, 0);
    });
    test(`${label}: Range requests give 206, unsatisfiable ones 416`, async () => {
      const url = `${base}/v2/pull/blobs/blobs/${sha256(bytes)}`;
      const n = bytes.length;
      const cases: [string, number, number][] = [
        ["bytes=0-9", 0, 9],
        ["bytes=100-", 100, n - 1],
        ["bytes=-7", n - 7, n - 1],
        [`bytes=${n - 1}-${n + 100}`, n - 1, n - 1],
      ];
      for (const [range, start, end] of cases) {
        const r = await call("GET", url, { headers: { range } });
        assert.equal(r.status, 206, range);
        assert.equal(r.headers["content-range"], `bytes ${start}-${end}/${n}`);
        assert.deepEqual(r.body, bytes.subarray(start, end + 1));
      }
      for (const range of [`bytes=${n}-`, "bytes=-0", `bytes=${n + 5}-${n + 9}`]) {
        const r = await call("GET", url, { headers: { range } });
        assert.equal(r.status, 416, range);
        assert.equal(r.headers["content-range"], `bytes */${n}`);
      }
      // several ranges or another unit: the whole blob (allowed by RFC 9110)
      const whole = await call("GET", url, { headers: { range: "bytes=0-1,5-6" } });
      assert.equal(whole.status, 200);
      assert.equal(whole.body.length, n);
    });
  }
  test("unknown blob 404 BLOB_UNKNOWN, unknown repository NAME_UNKNOWN, bad digest DIGEST_INVALID", async () => {
    const missing = await call("GET", `${base}/v2/pull/blobs/blobs/${sha256("nope")}`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.codes(), ["BLOB_UNKNOWN"]);
    assert.equal((await call("HEAD", `${base}/v2/pull/blobs/blobs/${sha256("nope")}`)).status, 404);
    const repo = await call("GET", `${base}/v2/no/such/blobs/${sha256(small)}`);
    assert.equal(repo.status, 404);
    assert.deepEqual(repo.codes(), ["NAME_UNKNOWN"]);
    for (const bad of ["sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", `sha256:${"A".repeat(64)}`]) {
      const r = await call("GET", `${base}/v2/pull/blobs/blobs/${bad}`);
      assert.equal(r.status, 400, bad);
      assert.deepEqual(r.codes(), ["DIGEST_INVALID"]);
    }
  });
  test("a blob pushed to one repository is not served by another", async () => {
    await putBlob(base, "other/repo", "something else");
    const r = await call("GET", `${base}/v2/other/repo/blobs/${sha256(small)}`);
    assert.equal(r.status, 404);
    assert.deepEqual(r.codes(), ["BLOB_UNKNOWN"]);
  });
});

describe("blob uploads (end-4a, end-4b, end-5, end-6, end-13)", () => {
  const repo = "push/blobs";
  const post = () => call("POST", `${base}/v2/${repo}/blobs/uploads/`, { headers: { "content-length": "0" } });

  test("single POST with ?digest= is 201 with Location and Docker-Content-Digest", async () => {
    const bytes = randomBytes(3000);
    const d = sha256(bytes);
    const r = await call("POST", `${base}/v2/${repo}/blobs/uploads/?digest=${d}`, { body: bytes });
    assert.equal(r.status, 201);
    assert.equal(r.headers.location, `/v2/${repo}/blobs/${d}`);
    assert.equal(r.headers["docker-content-digest"], d);
    assert.deepEqual((await call("GET", `${base}${r.headers.location}`)).body, bytes);
  });

  test("POST opens a session (202, Location, UUID, Range); PUT with the body closes it (201)", async () => {
    const r = await post();
    assert.equal(r.status, 202);
    assert.match(r.headers.location ?? "", new RegExp(`^/v2/${repo}/blobs/uploads/[0-9a-f-]{36}$`));
    assert.equal(r.headers["docker-upload-uuid"], r.headers.location?.split("/").pop());
    assert.equal(r.headers.range, "0-0");
    const bytes = randomBytes(100_000);
    const d = sha256(bytes);
    const put = await call("PUT", `${base}${r.headers.location}?digest=${d}`, {
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
    });
    assert.equal(put.status, 201);
    assert.equal(put.headers.location, `/v2/${repo}/blobs/${d}`);
    assert.equal(put.headers["docker-content-digest"], d);
    assert.deepEqual((await call("GET", `${base}/v2/${repo}/blobs/${d}`)).body, bytes);
    // the session is gone once closed
    assert.equal((await call("GET", `${base}${r.headers.location}`)).status, 404);
  });

  test("chunks in order with Content-Range; out of order is 416; GET tells where it stands", async () => {
    const bytes = randomBytes(30_000);
    const d = sha256(bytes);
    const loc = (await post()).headers.location as string;
    const patch = (start: number, end: number, body = bytes.subarray(start, end + 1)) =>
      call("PATCH", `${base}${loc}`, {
        headers: { "content-range": `${start}-${end}`, "content-type": "application/octet-stream" },
        body,
      });
    const first = await patch(0, 9999);
    assert.equal(first.status, 202);
    assert.equal(first.headers.range, "0-9999");
    assert.equal(first.headers.location, loc);
    // resending the first chunk, or skipping ahead, is out of order
    for (const [s, e] of [
      [0, 9999],
      [15000, 19999],
    ] as const) {
      const r = await patch(s, e);
      assert.equal(r.status, 416);
      assert.deepEqual(r.codes(), ["BLOB_UPLOAD_INVALID"]);
      assert.equal(r.headers.range, "0-9999");
    }
    const status = await call("GET", `${base}${loc}`);
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, "0-9999");
    assert.equal(status.headers.location, loc);
    assert.equal((await patch(10000, 19999)).headers.range, "0-19999");
    // the last chunk in the closing PUT, with its Content-Range
    const put = await call("PUT", `${base}${loc}?digest=${d}`, {
      headers: { "content-range": "20000-29999" },
      body: bytes.subarray(20000),
    });
    assert.equal(put.status, 201);
    assert.deepEqual((await call("GET", `${base}/v2/${repo}/blobs/${d}`)).body, bytes);
  });

  test("streamed PATCH without Content-Range, then PUT without a body", async () => {
    const bytes = randomBytes(200_000);
    const loc = (await post()).headers.location as string;
    const p1 = await call("PATCH", `${base}${loc}`, { body: bytes.subarray(0, 123_456) });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.range, "0-123455");
    const p2 = await call("PATCH", `${base}${loc}`, { body: bytes.subarray(123_456) });
    assert.equal(p2.headers.range, `0-${bytes.length - 1}`);
    const put = await call("PUT", `${base}${loc}?digest=${sha256(bytes)}`, { headers: { "content-length": "0" } });
    assert.equal(put.status, 201);
  });

  test("a chunk shorter or longer than its Content-Range is SIZE_INVALID and not kept", async () => {
    const loc = (await post()).headers.location as string;
    const r = await call("PATCH", `${base}${loc}`, {
      headers: { "content-range": "0-99", "content-length": "50" },
      body: randomBytes(50),
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.codes(), ["SIZE_INVALID"]);
    assert.equal((await call("GET", `${base}${loc}`)).headers.range, "0-0");
    const bad = await call("PATCH", `${base}${loc}`, { headers: { "content-range": "banana" }, body: "x" });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.codes(), ["BLOB_UPLOAD_INVALID"]);
  });

  test("bytes that do not match the digest: DIGEST_INVALID, nothing stored, session gone", async () => {
    const bytes = randomBytes(1000);
    const claimed = sha256("something else");
    const mono = await call("POST", `${base}/v2/${repo}/blobs/uploads/?digest=${claimed}`, { body: bytes });
    assert.equal(mono.status, 400);
    assert.deepEqual(mono.codes(), ["DIGEST_INVALID"]);
    const loc = (await post()).headers.location as string;
    await call("PATCH", `${base}${loc}`, { body: bytes });
    const put = await call("PUT", `${base}${loc}?digest=${claimed}`);
    assert.equal(put.status, 400);
    assert.deepEqual(put.codes(), ["DIGEST_INVALID"]);
    assert.equal((await call("GET", `${base}${loc}`)).status, 404);
    for (const d of [claimed, sha256(bytes)]) {
      assert.equal((await call("HEAD", `${base}/v2/${repo}/blobs/${d}`)).status, 404);
    }
  });

  test("a truncated chunked upload (a chunk never sent) fails its digest and stores nothing", async () => {
    const bytes = randomBytes(20_000);
    const loc = (await post()).headers.location as string;
    await call("PATCH", `${base}${loc}`, { headers: { "content-range": "0-9999" }, body: bytes.subarray(0, 10_000) });
    const put = await call("PUT", `${base}${loc}?digest=${sha256(bytes)}`);
    assert.equal(put.status, 400);
    assert.deepEqual(put.codes(), ["DIGEST_INVALID"]);
    assert.equal((await call("HEAD", `${base}/v2/${repo}/blobs/${sha256(bytes)}`)).status, 404);
  });

  test("PUT without or with a malformed digest is DIGEST_INVALID", async () => {
    const loc = (await post()).headers.location as string;
    for (const q of ["", "?digest=sha256:1234", "?digest=crc32:00000000"]) {
      const r = await call("PUT", `${base}${loc}${q}`);
      assert.equal(r.status, 400, q);
      assert.deepEqual(r.codes(), ["DIGEST_INVALID"]);
    }
  });

  test("DELETE cancels a session; unknown sessions are BLOB_UPLOAD_UNKNOWN, also from another repository", async () => {
    const loc = (await post()).headers.location as string;
    const id = loc.split("/").pop();
    assert.equal((await call("GET", `${base}/v2/elsewhere/blobs/uploads/${id}`)).status, 404);
    assert.equal((await call("DELETE", `${base}${loc}`)).status, 204);
    for (const method of ["GET", "PATCH", "PUT", "DELETE"]) {
      const r = await call(method, `${base}${loc}?digest=${sha256("")}`, method === "PATCH" ? { body: "x" } : {});
      assert.equal(r.status, 404, method);
      assert.deepEqual(r.codes(), ["BLOB_UPLOAD_UNKNOWN"]);
    }
    const bogus = await call("GET", `${base}/v2/${repo}/blobs/uploads/not-a-uuid`);
    assert.deepEqual(bogus.codes(), ["BLOB_UPLOAD_UNKNOWN"]);
  });

  test("sha512: single POST, and a session closed with a sha512 digest", async () => {
    const bytes = randomBytes(7000);
    const d = sha512(bytes);
    const r = await call("POST", `${base}/v2/${repo}/blobs/uploads/?digest=${d}`, { body: bytes });
    assert.equal(r.status, 201);
    assert.equal(r.headers["docker-content-digest"], d);
    const got = await call("GET", `${base}/v2/${repo}/blobs/${d}`);
    assert.deepEqual(got.body, bytes);
    assert.equal(got.headers["docker-content-digest"], d);
    // hashed as sha256 while arriving, then rehashed for the sha512 close
    const other = randomBytes(9000);
    const loc = (await post()).headers.location as string;
    await call("PATCH", `${base}${loc}`, { body: other });
    assert.equal((await call("PUT", `${base}${loc}?digest=${sha512(other)}`)).status, 201);
    // and a session that hashes sha512 from the start
    const s = await call("POST", `${base}/v2/${repo}/blobs/uploads/?digest-algorithm=sha512`);
    assert.equal(s.status, 202);
    const third = randomBytes(4000);
    const put = await call("PUT", `${base}${s.headers.location}?digest=${sha512(third)}`, { body: third });
    assert.equal(put.status, 201);
  });

  test("the empty blob", async () => {
    const d = sha256("");
    const r = await call("POST", `${base}/v2/${repo}/blobs/uploads/?digest=${d}`, {
      headers: { "content-length": "0" },
    });
    assert.equal(r.status, 201);
    const got = await call("GET", `${base}/v2/${repo}/blobs/${d}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.length, 0);
  });
});

describe("cross-repository mount (end-11)", () => {
  test("mounts a blob `from` has (201), else falls back to a session (202)", async () => {
    const bytes = randomBytes(2000);
    const d = await putBlob(base, "mount/source", bytes);
    const ok = await call("POST", `${base}/v2/mount/target/blobs/uploads/?mount=${d}&from=mount/source`);
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.location, `/v2/mount/target/blobs/${d}`);
    assert.equal(ok.headers["docker-content-digest"], d);
    assert.deepEqual((await call("GET", `${base}/v2/mount/target/blobs/${d}`)).body, bytes);
    for (const q of [
      `mount=${d}&from=mount/missing-repo`,
      `mount=${sha256("not there")}&from=mount/source`,
      `mount=${d}`,
      `mount=${d}&from=Bad..Name`,
    ]) {
      const r = await call("POST", `${base}/v2/mount/other/blobs/uploads/?${q}`);
      assert.equal(r.status, 202, q);
      assert.match(r.headers.location ?? "", /^\/v2\/mount\/other\/blobs\/uploads\/[0-9a-f-]{36}$/);
    }
    assert.equal((await call("HEAD", `${base}/v2/mount/other/blobs/${d}`)).status, 404);
    const bad = await call("POST", `${base}/v2/mount/other/blobs/uploads/?mount=sha256:xyz&from=mount/source`);
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.codes(), ["DIGEST_INVALID"]);
  });
});

describe("manifests (end-3, end-7, end-9)", () => {
  const repo = "app/web";
  test("PUT by tag: 201 with Location and digest; GET and HEAD by tag and digest give the exact bytes", async () => {
    const image = testImage([100, 2000]);
    // odd spacing: the bytes must come back as sent, not re-serialised
    const spaced = Buffer.from(`${image.manifest.toString().replace(/,/g, ", ")}\n`);
    const img = { ...image, manifest: spaced, digest: sha256(spaced) };
    const put = await pushImage(base, repo, "v1", img);
    assert.equal(put.status, 201);
    assert.equal(put.headers.location, `/v2/${repo}/manifests/${img.digest}`);
    assert.equal(put.headers["docker-content-digest"], img.digest);
    assert.equal(put.headers["oci-subject"], undefined);
    for (const ref of ["v1", img.digest]) {
      const r = await call("GET", `${base}/v2/${repo}/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, spaced);
      assert.equal(r.headers["content-type"], OCI_MANIFEST);
      assert.equal(r.headers["docker-content-digest"], img.digest);
      const h = await call("HEAD", `${base}/v2/${repo}/manifests/${ref}`);
      assert.equal(h.status, 200);
      assert.equal(h.headers["content-length"], String(spaced.length));
      assert.equal(h.headers["docker-content-digest"], img.digest);
    }
    // a manifest is content too: the blob endpoint serves it by digest
    assert.deepEqual((await call("GET", `${base}/v2/${repo}/blobs/${img.digest}`)).body, spaced);
  });

  test("PUT by digest; a wrong digest is DIGEST_INVALID; sha512 references", async () => {
    const image = testImage([10]);
    for (const b of [image.config, ...image.layers]) await putBlob(base, repo, b);
    const at = (ref: string) =>
      call("PUT", `${base}/v2/${repo}/manifests/${ref}`, {
        headers: { "content-type": OCI_MANIFEST },
        body: image.manifest,
      });
    const wrong = await at(sha256("other"));
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.codes(), ["DIGEST_INVALID"]);
    assert.equal((await at(image.digest)).status, 201);
    const d512 = sha512(image.manifest);
    const r = await at(d512);
    assert.equal(r.status, 201);
    assert.equal(r.headers["docker-content-digest"], d512);
    assert.deepEqual((await call("GET", `${base}/v2/${repo}/manifests/${d512}`)).body, image.manifest);
  });

  test("Docker schema 2 manifests and manifest lists are stored and served as they came", async () => {
    const layer = randomBytes(500);
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    await putBlob(base, repo, layer);
    await putBlob(base, repo, config);
    const v2s2 = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        config: {
          mediaType: "application/vnd.docker.container.image.v1+json",
          size: config.length,
          digest: sha256(config),
        },
        layers: [
          { mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: layer.length, digest: sha256(layer) },
        ],
      }),
    );
    const mt = "application/vnd.docker.distribution.manifest.v2+json";
    assert.equal(
      (await call("PUT", `${base}/v2/${repo}/manifests/docker`, { headers: { "content-type": mt }, body: v2s2 }))
        .status,
      201,
    );
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
        manifests: [
          { mediaType: mt, size: v2s2.length, digest: sha256(v2s2), platform: { architecture: "amd64", os: "linux" } },
        ],
      }),
    );
    const lmt = "application/vnd.docker.distribution.manifest.list.v2+json";
    assert.equal(
      (await call("PUT", `${base}/v2/${repo}/manifests/list`, { headers: { "content-type": lmt }, body: list })).status,
      201,
    );
    for (const [tag, bytes, type] of [
      ["docker", v2s2, mt],
      ["list", list, lmt],
    ] as const) {
      const r = await call("GET", `${base}/v2/${repo}/manifests/${tag}`);
      assert.deepEqual(r.body, bytes);
      assert.equal(r.headers["content-type"], type);
    }
  });

  test("hostile manifests are refused with the spec's codes and nothing is stored", async () => {
    const image = testImage([10]);
    const put = (ref: string, body: Buffer | string, type = OCI_MANIFEST) =>
      call("PUT", `${base}/v2/${repo}/manifests/${ref}`, { headers: { "content-type": type }, body });
    // blobs never pushed
    const missing = await put("missing", image.manifest);
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.codes(), ["MANIFEST_BLOB_UNKNOWN"]);
    // an index naming a manifest that is not there
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: sha256("x"), size: 1 }],
    });
    const idx = await put("missing-child", index, OCI_INDEX);
    assert.deepEqual(idx.codes(), ["MANIFEST_BLOB_UNKNOWN"]);
    for (const [why, body, type] of [
      ["not JSON", "{not json", OCI_MANIFEST],
      ["an array", "[]", OCI_MANIFEST],
      ["no config", JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers: [] }), OCI_MANIFEST],
      ["a bad digest", image.manifest.toString().replace(/sha256:[0-9a-f]{4}/, "sha256:zzzz"), OCI_MANIFEST],
      ["schema 1", JSON.stringify({ schemaVersion: 1, name: "x", tag: "y", fsLayers: [] }), OCI_MANIFEST],
      ["a mismatching Content-Type", image.manifest, OCI_INDEX],
      ["an unknown type", "{}", "application/x-whatever"],
    ] as const) {
      const r = await put("bad", body, type);
      assert.equal(r.status, 400, why);
      assert.deepEqual(r.codes(), ["MANIFEST_INVALID"], why);
    }
    const huge = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    const big = await put("huge", huge);
    assert.equal(big.status, 413);
    assert.deepEqual(big.codes(), ["MANIFEST_INVALID"]);
    for (const tag of ["missing", "missing-child", "bad", "huge"]) {
      assert.equal((await call("GET", `${base}/v2/${repo}/manifests/${tag}`)).status, 404, tag);
    }
    const badTag = await put("-no", image.manifest);
    assert.equal(badTag.status, 400);
    const longTag = await put("t".repeat(129), image.manifest);
    assert.equal(longTag.status, 400);
    // a push of bad things into a new repository does not create it
    await call("PUT", `${base}/v2/never/created/manifests/x`, {
      headers: { "content-type": OCI_MANIFEST },
      body: image.manifest,
    });
    const tags = await call("GET", `${base}/v2/never/created/tags/list`);
    assert.deepEqual(tags.codes(), ["NAME_UNKNOWN"]);
  });

  test("unknown manifests are MANIFEST_UNKNOWN, unknown repositories NAME_UNKNOWN", async () => {
    const r = await call("GET", `${base}/v2/${repo}/manifests/nope`);
    assert.equal(r.status, 404);
    assert.deepEqual(r.codes(), ["MANIFEST_UNKNOWN"]);
    assert.equal((await call("HEAD", `${base}/v2/${repo}/manifests/${sha256("nope")}`)).status, 404);
    const n = await call("GET", `${base}/v2/not/there/manifests/latest`);
    assert.equal(n.status, 404);
    assert.deepEqual(n.codes(), ["NAME_UNKNOWN"]);
  });

  test("DELETE a tag (202): the manifest stays by digest; DELETE by digest removes it and its tags", async () => {
    const image = testImage([30]);
    await pushImage(base, "del/me", "a", image);
    await call("PUT", `${base}/v2/del/me/manifests/b`, {
      headers: { "content-type": OCI_MANIFEST },
      body: image.manifest,
    });
    assert.equal((await call("DELETE", `${base}/v2/del/me/manifests/a`)).status, 202);
    assert.equal((await call("GET", `${base}/v2/del/me/manifests/a`)).status, 404);
    assert.equal((await call("GET", `${base}/v2/del/me/manifests/${image.digest}`)).status, 200);
    assert.equal((await call("DELETE", `${base}/v2/del/me/manifests/${image.digest}`)).status, 202);
    for (const ref of ["b", image.digest]) {
      const r = await call("GET", `${base}/v2/del/me/manifests/${ref}`);
      assert.equal(r.status, 404);
      assert.deepEqual(r.codes(), ["MANIFEST_UNKNOWN"]);
    }
    const again = await call("DELETE", `${base}/v2/del/me/manifests/${image.digest}`);
    assert.equal(again.status, 404);
    assert.deepEqual(again.codes(), ["MANIFEST_UNKNOWN"]);
    assert.deepEqual((await call("DELETE", `${base}/v2/del/nothing/manifests/x`)).codes(), ["NAME_UNKNOWN"]);
    // blobs: DELETE unlinks (202), then 404
    const layer = sha256(image.layers[0] as Buffer);
    const del = await call("DELETE", `${base}/v2/del/me/blobs/${layer}`);
    assert.equal(del.status, 202);
    assert.equal((await call("GET", `${base}/v2/del/me/blobs/${layer}`)).status, 404);
    const twice = await call("DELETE", `${base}/v2/del/me/blobs/${layer}`);
    assert.equal(twice.status, 404);
    assert.deepEqual(twice.codes(), ["BLOB_UNKNOWN"]);
  });
});

describe("content discovery (end-8, end-12, _catalog)", () => {
  const repo = "disco/tags";
  const tags = ["b", "a", "C", "latest", "v1.0", "v1.1", "_x"];
  before(async () => {
    const image = testImage([10]);
    await pushImage(base, repo, "z", image);
    for (const t of tags) {
      await call("PUT", `${base}/v2/${repo}/manifests/${t}`, {
        headers: { "content-type": OCI_MANIFEST },
        body: image.manifest,
      });
    }
  });
  const sorted = [...tags, "z"].sort();
  const list = (q = "") => call("GET", `${base}/v2/${repo}/tags/list${q}`);

  test("tags in lexical order", async () => {
    const r = await list();
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { name: repo, tags: sorted });
    assert.equal(r.headers.link, undefined);
  });
  test("n and last page through with a Link header", async () => {
    const seen: string[] = [];
    let url: string | undefined = `/v2/${repo}/tags/list?n=3`;
    let pages = 0;
    while (url) {
      const r = await call("GET", `${base}${url}`);
      const page = r.json<{ tags: string[] }>().tags;
      assert.ok(page.length <= 3);
      seen.push(...page);
      pages++;
      url = /^<([^>]+)>; rel="next"$/.exec(r.headers.link ?? "")?.[1];
    }
    assert.deepEqual(seen, sorted);
    assert.equal(pages, 3);
    const exact = await list(`?n=${sorted.length}`);
    assert.equal(exact.json<{ tags: string[] }>().tags.length, sorted.length);
    assert.equal(exact.headers.link, undefined);
  });
  test("n=0 is an empty list without Link; last past the end is empty; last alone pages", async () => {
    const zero = await list("?n=0");
    assert.deepEqual(zero.json(), { name: repo, tags: [] });
    assert.equal(zero.headers.link, undefined);
    assert.deepEqual((await list("?last=zzz")).json(), { name: repo, tags: [] });
    assert.deepEqual((await list("?last=v1.0")).json<{ tags: string[] }>().tags, ["v1.1", "z"]);
    assert.deepEqual((await list("?n=1&last=a")).json<{ tags: string[] }>().tags, ["b"]);
  });
  test("bad n is 400; unknown repository NAME_UNKNOWN", async () => {
    assert.equal((await list("?n=-1")).status, 400);
    assert.equal((await list("?n=abc")).status, 400);
    const r = await call("GET", `${base}/v2/disco/none/tags/list`);
    assert.equal(r.status, 404);
    assert.deepEqual(r.codes(), ["NAME_UNKNOWN"]);
  });
  test("_catalog lists repositories in order, with n, last and Link", async () => {
    const all = (await call("GET", `${base}/v2/_catalog`)).json<{ repositories: string[] }>().repositories;
    assert.ok(all.includes(repo));
    assert.deepEqual(all, [...all].sort());
    const first = await call("GET", `${base}/v2/_catalog?n=2`);
    assert.deepEqual(first.json<{ repositories: string[] }>().repositories, all.slice(0, 2));
    assert.equal(first.headers.link, `</v2/_catalog?n=2&last=${encodeURIComponent(all[1] as string)}>; rel="next"`);
    const next = await call("GET", `${base}/v2/_catalog?n=2&last=${all[1]}`);
    assert.deepEqual(next.json<{ repositories: string[] }>().repositories, all.slice(2, 4));
    const zero = await call("GET", `${base}/v2/_catalog?n=0`);
    assert.deepEqual(zero.json(), { repositories: [] });
    assert.equal(zero.headers.link, undefined);
    assert.deepEqual((await call("GET", `${base}/v2/_catalog?last=zzzz`)).json(), { repositories: [] });
  });

  test("referrers: subject on push (OCI-Subject), listing, artifactType filter", async () => {
    const name = "disco/refs";
    const subject = testImage([20]);
    await pushImage(base, name, "v1", subject);
    const subjectDesc = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length };
    const empty = Buffer.from("{}");
    await putBlob(base, name, empty);
    const artifact = (
      artifactType: string | undefined,
      annotation: string,
      configType = "application/vnd.oci.empty.v1+json",
    ) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          ...(artifactType ? { artifactType } : {}),
          config: { mediaType: configType, digest: sha256(empty), size: 2 },
          layers: [],
          subject: subjectDesc,
          annotations: { "org.example.note": annotation },
        }),
      );
    const sbom = artifact("application/vnd.example.sbom.v1", "sbom");
    const sig = artifact("application/vnd.example.sig.v1", "sig");
    const typed = artifact(undefined, "by-config", "application/vnd.example.config.v1+json");
    for (const m of [sbom, sig, typed]) {
      const r = await call("PUT", `${base}/v2/${name}/manifests/${sha256(m)}`, {
        headers: { "content-type": OCI_MANIFEST },
        body: m,
      });
      assert.equal(r.status, 201);
      assert.equal(r.headers["oci-subject"], subject.digest);
    }
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [],
        subject: subjectDesc,
        annotations: { a: "b" },
      }),
    );
    assert.equal(
      (
        await call("PUT", `${base}/v2/${name}/manifests/${sha256(index)}`, {
          headers: { "content-type": OCI_INDEX },
          body: index,
        })
      ).headers["oci-subject"],
      subject.digest,
    );
    type Index = { schemaVersion: number; mediaType: string; manifests: Record<string, unknown>[] };
    const r = await call("GET", `${base}/v2/${name}/referrers/${subject.digest}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], OCI_INDEX);
    assert.equal(r.headers["oci-filters-applied"], undefined);
    const got = r.json<Index>();
    assert.equal(got.schemaVersion, 2);
    assert.equal(got.mediaType, OCI_INDEX);
    const byDigest = new Map(got.manifests.map((m) => [m.digest, m]));
    assert.equal(byDigest.size, 4);
    assert.deepEqual(byDigest.get(sha256(sbom)), {
      mediaType: OCI_MANIFEST,
      digest: sha256(sbom),
      size: sbom.length,
      artifactType: "application/vnd.example.sbom.v1",
      annotations: { "org.example.note": "sbom" },
    });
    assert.equal(byDigest.get(sha256(typed))?.artifactType, "application/vnd.example.config.v1+json");
    assert.equal(byDigest.get(sha256(index))?.artifactType, undefined);
    assert.equal(byDigest.get(sha256(index))?.mediaType, OCI_INDEX);
    const f = await call(
      "GET",
      `${base}/v2/${name}/referrers/${subject.digest}?artifactType=application/vnd.example.sig.v1`,
    );
    assert.equal(f.headers["oci-filters-applied"], "artifactType");
    assert.deepEqual(
      f.json<Index>().manifests.map((m) => m.digest),
      [sha256(sig)],
    );
    // no referrers, an unknown subject, even an unknown repository: 200 and an empty index
    for (const url of [`/v2/${name}/referrers/${sha256("none")}`, `/v2/disco/unknown/referrers/${subject.digest}`]) {
      const e = await call("GET", `${base}${url}`);
      assert.equal(e.status, 200);
      assert.deepEqual(e.json<Index>().manifests, []);
    }
    const bad = await call("GET", `${base}/v2/${name}/referrers/sha256:nothex`);
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.codes(), ["DIGEST_INVALID"]);
    // a referrer pushed before its subject is accepted (spec "Push")
    const early = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: "application/vnd.example.early",
        config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha256(empty), size: 2 },
        layers: [],
        subject: { mediaType: OCI_MANIFEST, digest: sha256("future"), size: 10 },
      }),
    );
    const e = await call("PUT", `${base}/v2/${name}/manifests/${sha256(early)}`, {
      headers: { "content-type": OCI_MANIFEST },
      body: early,
    });
    assert.equal(e.status, 201);
    assert.equal(
      (await call("GET", `${base}/v2/${name}/referrers/${sha256("future")}`)).json<Index>().manifests.length,
      1,
    );
  });

  test("referrers: a long list is paged with Link (n, last, the filter kept); exactly n is one page", async () => {
    const name = "disco/refpages";
    const subject = testImage([21]);
    await pushImage(base, name, "v1", subject);
    const empty = Buffer.from("{}");
    await putBlob(base, name, empty);
    const referrer = (i: number, artifactType: string) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType,
          config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha256(empty), size: 2 },
          layers: [],
          subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.manifest.length },
          annotations: { i: String(i) },
        }),
      );
    const sigs = [0, 1, 2].map((i) => referrer(i, "application/vnd.example.sig.v1"));
    for (const m of [...sigs, referrer(3, "application/vnd.example.sbom.v1")]) {
      const r = await call("PUT", `${base}/v2/${name}/manifests/${sha256(m)}`, {
        headers: { "content-type": OCI_MANIFEST },
        body: m,
      });
      assert.equal(r.status, 201);
    }
    type Index = { manifests: { digest: string }[] };
    // walks the Links from `first`, returning each page's digests
    const walk = async (first: string) => {
      const pages: string[][] = [];
      for (let url: string | undefined = first; url !== undefined; ) {
        const r = await call("GET", `${base}${url}`);
        assert.equal(r.status, 200);
        pages.push(r.json<Index>().manifests.map((m) => m.digest));
        url = /^<([^>]+)>; rel="next"$/.exec(r.headers.link ?? "")?.[1];
        assert.ok(pages.length < 10, "the links end");
      }
      return pages;
    };
    const filter = "artifactType=application/vnd.example.sig.v1";
    const sigDigests = sigs.map((m) => sha256(m)).sort();
    // three matching referrers in pages of 2: two pages, the filter carried into the link
    assert.deepEqual(await walk(`/v2/${name}/referrers/${subject.digest}?n=2&${filter}`), [
      sigDigests.slice(0, 2),
      sigDigests.slice(2),
    ]);
    // exactly n: one page, no Link
    const exact = await call("GET", `${base}/v2/${name}/referrers/${subject.digest}?n=3&${filter}`);
    assert.equal(exact.headers.link, undefined);
    assert.deepEqual(
      exact.json<Index>().manifests.map((m) => m.digest),
      sigDigests,
    );
    // unfiltered, the sbom is there too; without n, all in one page (the maximum is 1,000)
    assert.equal((await walk(`/v2/${name}/referrers/${subject.digest}?n=3`)).flat().length, 4);
    const one = await call("GET", `${base}/v2/${name}/referrers/${subject.digest}`);
    assert.equal(one.headers.link, undefined);
    assert.equal(one.json<Index>().manifests.length, 4);
  });
});

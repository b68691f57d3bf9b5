import assert from "node:assert/strict";
import { test } from "node:test";
import { matchRoute } from "./routes.js";

test("routes: every endpoint, with multi-slash names read from the end of the path", () => {
  const d = `sha256:${"a".repeat(64)}`;
  assert.deepEqual(matchRoute("/v2/"), { kind: "base" });
  assert.deepEqual(matchRoute("/v2"), { kind: "base" });
  assert.deepEqual(matchRoute("/v2/_catalog"), { kind: "catalog" });
  assert.deepEqual(matchRoute("/v2/a/b/c/tags/list"), { kind: "tags", name: "a/b/c" });
  assert.deepEqual(matchRoute("/v2/a/manifests/latest"), { kind: "manifest", name: "a", reference: "latest" });
  assert.deepEqual(matchRoute(`/v2/a/b/blobs/${d}`), { kind: "blob", name: "a/b", digest: d });
  assert.deepEqual(matchRoute("/v2/a/b/blobs/uploads/"), { kind: "uploads", name: "a/b" });
  assert.deepEqual(matchRoute("/v2/a/b/blobs/uploads"), { kind: "uploads", name: "a/b" });
  assert.deepEqual(matchRoute("/v2/a/blobs/uploads/123"), { kind: "upload", name: "a", id: "123" });
  assert.deepEqual(matchRoute(`/v2/x/referrers/${d}`), { kind: "referrers", name: "x", digest: d });
  // components that look like endpoint words are names when more follows
  assert.deepEqual(matchRoute("/v2/manifests/manifests/v1"), { kind: "manifest", name: "manifests", reference: "v1" });
  assert.deepEqual(matchRoute("/v2/tags/blobs/uploads/"), { kind: "uploads", name: "tags" });
  assert.deepEqual(matchRoute("/v2/x/blobs/blobs/uploads/"), { kind: "uploads", name: "x/blobs" });
  assert.deepEqual(matchRoute("/v2/a/tags/list/x"), undefined);
  for (const path of ["/", "/v1/a/manifests/x", "/v2/a/manifests/", "/v2/a", "/v2/a/blobs/", "/healthz"]) {
    assert.equal(matchRoute(path), undefined, path);
  }
});

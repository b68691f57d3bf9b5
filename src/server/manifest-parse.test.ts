import assert from "node:assert/strict";
import { test } from "node:test";
import { MediaType } from "../oci/media-types.js";
import { parseManifest } from "./manifest-parse.js";
import { checkName, parseManifestRef } from "./names.js";
import { RegistryError } from "./registry-error.js";

const d = (c: string) => `sha256:${c.repeat(64)}`;
const desc = (mediaType: string, c: string, extra: Record<string, unknown> = {}) => ({
  mediaType,
  digest: d(c),
  size: 1,
  ...extra,
});

test("image manifests: blobs to check, foreign layers skipped, artifactType from the config", () => {
  const m = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: desc("application/vnd.example.config", "a"),
    layers: [desc(MediaType.ociLayerGzip, "b"), desc(MediaType.ociLayerGzip, "c", { urls: ["https://x/y"] })],
    subject: desc(MediaType.ociManifest, "d"),
    annotations: { k: "v" },
  };
  const p = parseManifest(Buffer.from(JSON.stringify(m)), `${MediaType.ociManifest}; charset=utf-8`);
  assert.deepEqual(p, {
    mediaType: MediaType.ociManifest,
    subject: d("d"),
    artifactType: "application/vnd.example.config",
    annotations: { k: "v" },
    blobs: [d("a"), d("b")],
    manifests: [],
  });
});

test("indexes: children to check; no artifactType unless given; type from the body when the header says nothing", () => {
  const idx = { schemaVersion: 2, manifests: [desc(MediaType.ociManifest, "e")] };
  const p = parseManifest(Buffer.from(JSON.stringify(idx)), "application/octet-stream");
  assert.equal(p.mediaType, MediaType.ociIndex);
  assert.deepEqual(p.manifests, [d("e")]);
  assert.equal(p.artifactType, undefined);
});

test("bad manifests are MANIFEST_INVALID", () => {
  const cases: [string, string | undefined][] = [
    ["{", MediaType.ociManifest],
    ["null", MediaType.ociManifest],
    ['{"schemaVersion":1}', undefined],
    [JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }), MediaType.ociManifest],
    [JSON.stringify({ schemaVersion: 2, config: { digest: "x" }, layers: [] }), MediaType.ociManifest],
    ["{}", "application/vnd.unknown+json"],
    ["{}", undefined],
  ];
  for (const [body, type] of cases) {
    assert.throws(
      () => parseManifest(Buffer.from(body), type),
      (e: unknown) => e instanceof RegistryError && e.code === "MANIFEST_INVALID",
      body,
    );
  }
});

test("names and references", () => {
  for (const ok of ["a", "a/b", "a-b/c.d/e__f", "0/1", `${"a".repeat(255)}`]) assert.equal(checkName(ok), ok);
  for (const bad of ["", "A", "a/", "/a", "a//b", "a/../b", "..", "a..b", "a_-b", "-a", `${"a".repeat(256)}`]) {
    assert.throws(
      () => checkName(bad),
      (e: unknown) => e instanceof RegistryError && e.code === "NAME_INVALID",
      bad,
    );
  }
  assert.deepEqual(parseManifestRef("v1.0_A-b"), { tag: "v1.0_A-b" });
  assert.deepEqual(parseManifestRef(d("f")), { digest: d("f") });
  assert.throws(() => parseManifestRef("sha256:zz"), /sha256/);
  assert.throws(() => parseManifestRef(".hidden"), /invalid tag/);
  assert.throws(() => parseManifestRef("t".repeat(129)), /invalid tag/);
});

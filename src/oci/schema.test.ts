import assert from "node:assert/strict";
import { test } from "node:test";
import { BerthError } from "./errors.js";
import { imageConfigSchema, manifestSchema, parseJson } from "./schema.js";

const D = `sha256:${"b".repeat(64)}`;

test("a valid manifest parses and keeps unknown fields", () => {
  const m = parseJson(
    manifestSchema,
    JSON.stringify({ schemaVersion: 2, config: { mediaType: "x", digest: D, size: 1 }, layers: [], extra: 1 }),
    "manifest",
  );
  assert.equal(m.config.digest, D);
  assert.equal((m as Record<string, unknown>).extra, 1);
});

test("a bad document names the field at fault", () => {
  const cases: [string, RegExp][] = [
    ["{", /not JSON/],
    [
      JSON.stringify({ schemaVersion: 2, config: { mediaType: "x", digest: "sha256:zz", size: 1 }, layers: [] }),
      /config\.digest/,
    ],
    [JSON.stringify({ schemaVersion: 2, config: { mediaType: "x", digest: D, size: -1 }, layers: [] }), /config\.size/],
    [JSON.stringify({ schemaVersion: 2, config: { mediaType: "x", digest: D, size: 1 }, layers: [{}] }), /layers\[0\]/],
    [JSON.stringify({ schemaVersion: 1, config: {}, layers: [] }), /schemaVersion/],
  ];
  for (const [text, field] of cases) {
    assert.throws(
      () => parseJson(manifestSchema, text, "image manifest"),
      (e: unknown) =>
        e instanceof BerthError &&
        e.code === "INVALID_JSON" &&
        field.test(e.message) &&
        e.message.startsWith("invalid image manifest"),
      text,
    );
  }
});

test("image config keeps docker's fields the OCI spec lacks", () => {
  const c = parseJson(
    imageConfigSchema,
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [D] },
      config: {
        Healthcheck: { Test: ["CMD", "true"] },
        OnBuild: ["RUN x"],
        Shell: ["/bin/bash", "-c"],
        StopSignal: "SIGINT",
      },
    }),
    "config",
  );
  assert.deepEqual(c.config?.OnBuild, ["RUN x"]);
  assert.deepEqual(c.config?.Healthcheck, { Test: ["CMD", "true"] });
  assert.throws(
    () =>
      parseJson(
        imageConfigSchema,
        JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: ["x"] } }),
        "config",
      ),
    /rootfs\.diff_ids\[0\]/,
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { formatPlatform, parsePlatform, platformMatches } from "./platform.js";

test("platforms normalise as containerd's do", () => {
  assert.deepEqual(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/x86_64"), { os: "linux", architecture: "amd64" });
  assert.deepEqual(parsePlatform("linux/aarch64"), { os: "linux", architecture: "arm64" });
  assert.deepEqual(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64" });
  assert.deepEqual(parsePlatform("linux/arm"), { os: "linux", architecture: "arm", variant: "v7" });
  assert.deepEqual(parsePlatform("linux/armhf"), { os: "linux", architecture: "arm", variant: "v7" });
  assert.deepEqual(parsePlatform("arm64"), { os: "linux", architecture: "arm64" });
  assert.deepEqual(parsePlatform("Linux/ARM/v6"), { os: "linux", architecture: "arm", variant: "v6" });
  assert.equal(formatPlatform(parsePlatform("linux/arm")), "linux/arm/v7");
});

test("a malformed platform is one line naming it", () => {
  assert.throws(
    () => parsePlatform("linux/amd64/v1/x"),
    /invalid platform "linux\/amd64\/v1\/x": give os\/architecture/,
  );
  assert.throws(() => parsePlatform("linux//"), /invalid platform/);
  assert.throws(() => parsePlatform(""), /invalid platform/);
});

test("matching: an unset variant matches any, a set one only itself", () => {
  assert.ok(platformMatches(parsePlatform("linux/arm64"), { os: "linux", architecture: "arm64", variant: "v8" }));
  assert.ok(platformMatches(parsePlatform("linux/amd64"), { os: "linux", architecture: "amd64" }));
  assert.ok(!platformMatches(parsePlatform("linux/arm64"), { os: "linux", architecture: "amd64" }));
  assert.ok(!platformMatches(parsePlatform("linux/arm/v6"), { os: "linux", architecture: "arm", variant: "v7" }));
  assert.ok(!platformMatches(parsePlatform("windows/amd64"), { os: "linux", architecture: "amd64" }));
});

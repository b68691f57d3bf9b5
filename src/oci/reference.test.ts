import assert from "node:assert/strict";
import { test } from "node:test";
import { BerthError } from "./errors.js";
import { familiarName, familiarString, formatReference, parseReference, withDefaultTag } from "./reference.js";

const HEX = "a".repeat(64);

test("docker's normalisation of short names", () => {
  assert.deepEqual(parseReference("nginx"), { domain: "docker.io", path: "library/nginx" });
  assert.deepEqual(parseReference("nginx:latest"), { domain: "docker.io", path: "library/nginx", tag: "latest" });
  assert.deepEqual(parseReference("vaishali/myapp:1.0"), { domain: "docker.io", path: "vaishali/myapp", tag: "1.0" });
  assert.deepEqual(parseReference("index.docker.io/library/busybox"), { domain: "docker.io", path: "library/busybox" });
  assert.deepEqual(parseReference("localhost:5000/a/b:c"), { domain: "localhost:5000", path: "a/b", tag: "c" });
  assert.deepEqual(parseReference("localhost/app"), { domain: "localhost", path: "app" });
  assert.deepEqual(parseReference("registry.example.com/team/app/api:v2-rc.1"), {
    domain: "registry.example.com",
    path: "team/app/api",
    tag: "v2-rc.1",
  });
  assert.deepEqual(parseReference("[::1]:5000/x"), { domain: "[::1]:5000", path: "x" });
});

test("digests, with and without a tag", () => {
  const r = parseReference(`busybox@sha256:${HEX}`);
  assert.equal(r.digest, `sha256:${HEX}`);
  assert.equal(r.tag, undefined);
  const both = parseReference(`busybox:1@sha256:${HEX}`);
  assert.equal(both.tag, "1");
  assert.equal(both.digest, `sha256:${HEX}`);
});

test("familiar forms are what docker prints", () => {
  assert.equal(familiarName(parseReference("docker.io/library/nginx")), "nginx");
  assert.equal(familiarName(parseReference("docker.io/amitpatil/myapp")), "amitpatil/myapp");
  assert.equal(familiarName(parseReference("ghcr.io/a/b")), "ghcr.io/a/b");
  assert.equal(familiarString("docker.io/library/bb:built"), "bb:built");
  assert.equal(formatReference(withDefaultTag(parseReference("nginx"))), "docker.io/library/nginx:latest");
  assert.equal(formatReference(withDefaultTag(parseReference("nginx")), true), "nginx:latest");
});

function rejects(input: string, part: RegExp): void {
  assert.throws(
    () => parseReference(input),
    (err: unknown) =>
      err instanceof BerthError &&
      err.code === "INVALID_REFERENCE" &&
      part.test(err.message) &&
      !err.message.includes("\n"),
    `expected ${input} to be rejected with ${part}`,
  );
}

test("bad references are one line naming the part that is wrong", () => {
  rejects("", /empty/);
  rejects("MyApp", /lowercase/);
  rejects("myapp:", /tag ""/);
  rejects("myapp:-x", /tag "-x"/);
  rejects(`myapp:${"t".repeat(129)}`, /tag/);
  rejects("my_-app", /path component "my_-app"/);
  rejects("a//b", /path component ""/);
  rejects("myapp@sha256:abc", /digest/);
  rejects("myapp@md5:abc", /unsupported algorithm/);
  rejects("bad_host.com:x/app", /tag|port|host|path/);
  rejects(HEX, /image ID/);
  rejects(`${"a".repeat(250)}/${"b".repeat(10)}`, /longer than 255/);
  rejects("-bad.com/app", /host/);
});

test("tags follow [\\w][\\w.-]{0,127}", () => {
  assert.equal(parseReference(`a:${"t".repeat(128)}`).tag?.length, 128);
  assert.equal(parseReference("a:_x.Y-1").tag, "_x.Y-1");
});

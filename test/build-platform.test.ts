import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { berth, busyboxRootfsTar, DOCKER, ensureDocker, must, sh, snapshotStore, tempDir } from "./helpers.js";

/**
 * `build --platform`: the target platform reaches the image config, the predefined ARGs and
 * scratch stages, the same as BuildKit's; a base of another platform and a RUN this host
 * cannot execute are refused before anything is stored.
 */
let dir: string;
let root: string;

before(() => {
  dir = tempDir("buildplat");
  root = join(dir, "store");
  ok(berth(root, ["import", busyboxRootfsTar(join(dir, "base")), "plat/base:1"]));
});

function ok(r: { code: number; stdout: string; stderr: string }): string {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function context(name: string, dockerfile: string): string {
  const ctx = join(dir, name);
  fs.mkdirSync(ctx, { recursive: true });
  fs.writeFileSync(join(ctx, "Dockerfile"), dockerfile);
  fs.writeFileSync(join(ctx, "hello.txt"), "hello\n");
  return ctx;
}

const CROSS = `FROM scratch
ARG TARGETPLATFORM
ARG TARGETARCH
ARG TARGETVARIANT
ARG BUILDARCH
LABEL target=$TARGETPLATFORM arch=$TARGETARCH variant=$TARGETVARIANT build=$BUILDARCH
COPY hello.txt /
`;

function inspect(
  r: string,
  ref: string,
): { Architecture: string; Os: string; Variant?: string; Labels: Record<string, string> } {
  const out = r === "docker" ? must(DOCKER, ["image", "inspect", ref]) : ok(berth(root, ["image", "inspect", ref]));
  const [img] = JSON.parse(out) as [
    { Architecture: string; Os: string; Variant?: string; Config: { Labels: Record<string, string> } },
  ];
  return {
    Architecture: img.Architecture,
    Os: img.Os,
    ...(img.Variant ? { Variant: img.Variant } : {}),
    Labels: img.Config.Labels,
  };
}

test("--platform linux/arm/v7 sets the config and the TARGET* ARGs as BuildKit does", () => {
  ensureDocker();
  const ctx = context("cross", CROSS);
  ok(berth(root, ["build", "-q", "--platform", "linux/arm/v7", "-t", "plat/cross:1", ctx]));
  const tag = `berth-test-plat-${process.pid}:1`;
  must("env", [
    "DOCKER_BUILDKIT=1",
    DOCKER,
    "build",
    "-q",
    "--platform",
    "linux/arm/v7",
    "--network=none",
    "-t",
    tag,
    ctx,
  ]);
  try {
    const ours = inspect("berth", "plat/cross:1");
    assert.deepEqual(ours, {
      Architecture: "arm",
      Os: "linux",
      Variant: "v7",
      Labels: { target: "linux/arm/v7", arch: "arm", variant: "v7", build: "amd64" },
    });
    assert.deepEqual(ours, inspect("docker", tag));
  } finally {
    sh(DOCKER, ["rmi", "-f", tag]);
  }
});

test("FROM --platform overrides the target for its stage; aarch64 is spelled arm64", () => {
  const ctx = context("from-platform", "FROM --platform=linux/aarch64 scratch\nCOPY hello.txt /\n");
  ok(berth(root, ["build", "-q", "-t", "plat/from:1", ctx]));
  const got = inspect("berth", "plat/from:1");
  assert.equal(got.Architecture, "arm64");
  assert.equal(got.Os, "linux");
});

test("a base image the store has for another platform is pulled for this one; when that fails, one line says both", () => {
  const ctx = context("base-mismatch", "FROM plat/base:1\nCOPY hello.txt /\n");
  const before = snapshotStore(root);
  const r = berth(root, ["build", "--platform", "linux/arm64", ctx]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr.trimEnd().split("\n").pop() ?? "",
    /^Error: base image "plat\/base:1" is linux\/amd64 in the store, and this stage builds for linux\/arm64: pulling docker\.io\/plat\/base:1: /,
  );
  assert.equal(snapshotStore(root), before);
});

test("a RUN this host cannot execute is refused before it runs, and the store is unchanged", () => {
  const ctx = context("foreign-run", 'FROM --platform=linux/s390x scratch\nCOPY hello.txt /\nRUN ["/hello.txt"]\n');
  // QEMU's s390x handler (scripts/setup.sh registers it) is switched off for the test: the
  // host then truly cannot run s390x binaries
  const handler = "/proc/sys/fs/binfmt_misc/qemu-s390x";
  const wasOn = fs.existsSync(handler) && fs.readFileSync(handler, "utf8").startsWith("enabled");
  if (wasOn) fs.writeFileSync(handler, "0");
  const before = snapshotStore(root);
  let r: ReturnType<typeof berth>;
  try {
    r = berth(root, ["build", ctx]);
  } finally {
    if (wasOn) fs.writeFileSync(handler, "1");
  }
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /RUN for linux\/s390x cannot execute on this linux\/amd64 host: no binfmt_misc handler for s390x \(install qemu-user-static/,
  );
  assert.equal(snapshotStore(root), before);
});

test("bad --platform values are one line each", () => {
  for (const [value, want] of [
    ["linux/amd64,linux/arm64", "--platform linux/amd64,linux/arm64: berth builds one platform at a time"],
    ["linux//", 'invalid platform "linux//": give os/architecture[/variant]'],
  ] as const) {
    const r = berth(root, ["build", "--platform", value, context("bad", "FROM scratch\n")]);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(r.stderr.includes(want), r.stderr);
  }
});

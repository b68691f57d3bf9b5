import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { berth, busyboxRootfsTar, DOCKER, ensureDocker, must, snapshotStore, tempDir } from "./helpers.js";
import { Distribution, ok } from "./registry-client-harness.js";

/** `build` fetches base images the store lacks from their registry, and all of them with --pull. */
let dir: string;
let reg: Distribution;
let base: string;

before(async () => {
  dir = tempDir("buildpull");
  reg = await Distribution.start(join(dir, "registry"));
  base = `${reg.host}/bases/busybox:1`;
  const pusher = join(dir, "pusher");
  ok(berth(pusher, ["import", busyboxRootfsTar(join(dir, "rootfs")), base]), "import");
  ok(berth(pusher, ["push", base]), "push");
  fs.mkdirSync(join(dir, "ctx"));
  fs.writeFileSync(join(dir, "ctx", "Dockerfile"), `FROM ${base}\nRUN echo built > /built\nCMD ["cat", "/built"]\n`);
});

after(async () => {
  await reg.stop();
});

test("a base the store lacks is pulled, then the build runs on it", () => {
  const root = join(dir, "fresh");
  const b = berth(root, ["build", "-t", "app:1", join(dir, "ctx")]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, new RegExp(`#0 \\[internal\\] pulling ${base.replace(/[.]/g, "\\.")} for linux/amd64\\n`));
  assert.match(ok(berth(root, ["images", "--format", "{{.Repository}}:{{.Tag}}"]), "images"), new RegExp(base));
  assert.equal(ok(berth(root, ["run", "--rm", "app:1"]), "run"), "built\n");
  // the store has it now: no pull without --pull, one with it, and the steps stay cached
  const again = berth(root, ["build", "-t", "app:1", join(dir, "ctx")]);
  assert.equal(again.code, 0, again.stderr);
  assert.ok(!again.stderr.includes("pulling"), again.stderr);
  const pulled = berth(root, ["build", "--pull", "-t", "app:1", join(dir, "ctx")]);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.match(pulled.stderr, /#0 \[internal\] pulling /);
  assert.match(pulled.stderr, /\(2\/2 steps cached\)/);
});

test("a base the registry does not have is one line naming it, and the store is unchanged", () => {
  const root = join(dir, "missing");
  ok(berth(root, ["images"]), "images");
  fs.mkdirSync(join(dir, "ctx-missing"));
  fs.writeFileSync(join(dir, "ctx-missing", "Dockerfile"), `FROM ${reg.host}/bases/nothing:1\nRUN true\n`);
  const before = snapshotStore(root);
  const r = berth(root, ["build", join(dir, "ctx-missing")]);
  assert.equal(r.code, 1);
  const last = r.stderr.trimEnd().split("\n").pop() ?? "";
  assert.match(last, /^Error: .*bases\/nothing.*(MANIFEST_UNKNOWN|NAME_UNKNOWN)/);
  assert.equal(snapshotStore(root), before);
});

test("a build on a base docker pushed (Docker v2s2) writes a manifest that is OCI throughout; docker runs it", () => {
  ensureDocker();
  // the base as docker pushes it: a Docker v2s2 manifest with Docker layer media types
  const dockerBase = `${reg.host}/bases/from-docker:1`;
  const archive = join(dir, "base.tar");
  ok(berth(join(dir, "pusher"), ["save", "-o", archive, base]), "save");
  const loaded = must(DOCKER, ["load", "-q", "-i", archive])
    .trim()
    .replace(/^Loaded image: /, "");
  must(DOCKER, ["tag", loaded, dockerBase]);
  must(DOCKER, ["push", dockerBase]);
  const raw = (ref: string) =>
    JSON.parse(must("skopeo", ["inspect", "--tls-verify=false", "--raw", `docker://${ref}`])) as {
      mediaType: string;
      config: { mediaType: string };
      layers: { mediaType: string }[];
    };
  assert.equal(raw(dockerBase).mediaType, "application/vnd.docker.distribution.manifest.v2+json");

  const ctx = join(dir, "ctx-docker-base");
  fs.mkdirSync(ctx);
  fs.writeFileSync(
    join(ctx, "Dockerfile"),
    `FROM ${dockerBase}\nENV A=1\nRUN echo built > /built\nCMD ["cat", "/built"]\n`,
  );
  const root = join(dir, "docker-base");
  ok(berth(root, ["build", "-q", "-t", `${reg.host}/apps/on-docker:1`, ctx]), "build");
  ok(berth(root, ["push", `${reg.host}/apps/on-docker:1`]), "push");
  const m = raw(`${reg.host}/apps/on-docker:1`);
  assert.equal(m.mediaType, "application/vnd.oci.image.manifest.v1+json");
  assert.equal(m.config.mediaType, "application/vnd.oci.image.config.v1+json");
  for (const l of m.layers) assert.match(l.mediaType, /^application\/vnd\.oci\.image\.layer\.v1\.tar/);
  must(DOCKER, ["pull", "-q", `${reg.host}/apps/on-docker:1`]);
  assert.equal(must(DOCKER, ["run", "--rm", "--network=none", `${reg.host}/apps/on-docker:1`]), "built\n");
});

import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { berth, busyboxRootfsTar, must, sh, tempDir } from "./helpers.js";
import { Distribution, ok } from "./registry-client-harness.js";

/**
 * A multi-platform image made by another tool: podman's `manifest create/add/push` puts an
 * amd64 and an arm64 image behind one index in Distribution; berth pull picks by --platform.
 */
let reg: Distribution;
let work: string;
const list = `berth-test-list-${process.pid}`;

before(async () => {
  work = tempDir("rc-podman-index");
  reg = await Distribution.start(join(work, "registry"));
});
after(async () => {
  await reg.stop();
  sh("podman", ["manifest", "rm", list]);
  sh("podman", [
    "rmi",
    "-f",
    `localhost/berth-test-amd64-${process.pid}:1`,
    `localhost/berth-test-arm64-${process.pid}:1`,
  ]);
  fs.rmSync(work, { recursive: true, force: true });
});

test("an index made by podman manifest: --platform picks the image, the default is the host's", () => {
  const root = join(work, "maker");
  const ctx = join(work, "ctx");
  fs.mkdirSync(ctx);
  fs.writeFileSync(join(ctx, "Dockerfile"), "FROM scratch\nARG TARGETARCH\nCOPY arch /arch\nLABEL arch=$TARGETARCH\n");
  fs.writeFileSync(join(ctx, "arch"), "any\n");
  ok(
    berth(root, ["import", busyboxRootfsTar(join(work, "bb")), `localhost/berth-test-amd64-${process.pid}:1`]),
    "import",
  );
  ok(
    berth(root, ["build", "-q", "--platform", "linux/arm64", "-t", `localhost/berth-test-arm64-${process.pid}:1`, ctx]),
    "build arm64",
  );
  for (const arch of ["amd64", "arm64"]) {
    const tar = join(work, `${arch}.tar`);
    ok(berth(root, ["save", "-o", tar, `localhost/berth-test-${arch}-${process.pid}:1`]), `save ${arch}`);
    must("podman", ["load", "-q", "-i", tar]);
  }
  must("podman", ["manifest", "create", list]);
  for (const arch of ["amd64", "arm64"]) {
    must("podman", ["manifest", "add", list, `containers-storage:localhost/berth-test-${arch}-${process.pid}:1`]);
  }
  must("podman", ["manifest", "push", "--all", "--tls-verify=false", list, `docker://${reg.host}/podidx:1`]);
  const raw = JSON.parse(
    must("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/podidx:1`]),
  ) as { manifests: { platform: { architecture: string } }[] };
  assert.deepEqual(raw.manifests.map((m) => m.platform.architecture).sort(), ["amd64", "arm64"]);

  const armRoot = join(work, "arm");
  ok(berth(armRoot, ["pull", "--platform", "linux/arm64", `${reg.host}/podidx:1`]), "pull arm64");
  assert.equal(
    ok(
      berth(armRoot, ["inspect", "-f", "{{.Architecture}} {{.Config.Labels.arch}}", `${reg.host}/podidx:1`]),
      "inspect",
    ),
    "arm64 arm64\n",
  );
  const hostRoot = join(work, "host");
  ok(berth(hostRoot, ["pull", `${reg.host}/podidx:1`]), "pull default");
  assert.equal(
    ok(berth(hostRoot, ["inspect", "-f", "{{.Architecture}}", `${reg.host}/podidx:1`]), "inspect"),
    "amd64\n",
  );
  assert.equal(ok(berth(hostRoot, ["run", "--rm", `${reg.host}/podidx:1`, "echo", "picked"]), "run"), "picked\n");
});

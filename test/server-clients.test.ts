import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { berth, busyboxRootfsTar, DOCKER, ensureDocker, must, tempDir } from "./helpers.js";
import { call, type OpenServer, sha256, startServer } from "./server-harness.js";

/**
 * Real clients against `berth serve` in open mode: skopeo, podman and docker (through dockerd)
 * push and pull over plain HTTP on loopback; what comes back is byte-identical and runs.
 */
let srv: OpenServer;
let work: string;
let archive: string;

before(async () => {
  work = tempDir("server-clients");
  srv = await startServer(join(work, "registry"));
  const store = join(work, "store");
  const rootfs = busyboxRootfsTar(work, { "etc/which": "clients\n" });
  must(process.execPath, [
    join(import.meta.dirname, "..", "bin", "berth"),
    "--root",
    store,
    "import",
    rootfs,
    "clients/base:1",
  ]);
  archive = join(work, "base.tar");
  assert.equal(berth(store, ["save", "-o", archive, "clients/base:1"]).code, 0);
});
after(async () => {
  assert.equal(await srv.stop(), 0);
});

/** Every blob of a `dir:` copy must hash to its name. */
function assertDirBlobsIntact(dir: string): number {
  let n = 0;
  for (const name of fs.readdirSync(dir)) {
    if (!/^[0-9a-f]{64}$/.test(name)) continue;
    const hex = createHash("sha256")
      .update(fs.readFileSync(join(dir, name)))
      .digest("hex");
    assert.equal(hex, name, `blob ${name} came back changed`);
    n++;
  }
  return n;
}

test("skopeo copies an image in and out byte for byte", () => {
  const ref = `docker://${srv.host}/clients/skopeo:1`;
  const digestFile = join(work, "skopeo.digest");
  must("skopeo", ["copy", "--dest-tls-verify=false", "--digestfile", digestFile, `docker-archive:${archive}`, ref]);
  const pushed = fs.readFileSync(digestFile, "utf8").trim();
  const raw = must("skopeo", ["inspect", "--raw", "--tls-verify=false", ref]);
  assert.equal(sha256(raw), pushed);
  const out = join(work, "skopeo-out");
  must("skopeo", ["copy", "--src-tls-verify=false", ref, `dir:${out}`]);
  assert.equal(sha256(fs.readFileSync(join(out, "manifest.json"))), pushed);
  assert.equal(assertDirBlobsIntact(out), 2); // the config and the layer
  // a second push of the same image skips every blob (HEAD), and the tag list shows it
  must("skopeo", [
    "copy",
    "--dest-tls-verify=false",
    `docker-archive:${archive}`,
    `docker://${srv.host}/clients/skopeo:2`,
  ]);
  const tags = must("skopeo", ["list-tags", "--tls-verify=false", `docker://${srv.host}/clients/skopeo`]);
  assert.deepEqual((JSON.parse(tags) as { Tags: string[] }).Tags, ["1", "2"]);
});

test("podman pulls and pushes; the image comes back the same", async () => {
  const src = `${srv.host}/clients/skopeo:1`;
  must("skopeo", ["copy", "--dest-tls-verify=false", `docker-archive:${archive}`, `docker://${src}`]);
  must("podman", ["pull", "--tls-verify=false", src]);
  const dst = `${srv.host}/clients/podman:1`;
  must("podman", ["tag", src, dst]);
  const digestFile = join(work, "podman.digest");
  must("podman", ["push", "--tls-verify=false", "--digestfile", digestFile, dst]);
  const pushed = fs.readFileSync(digestFile, "utf8").trim();
  const raw = must("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${dst}`]);
  assert.equal(sha256(raw), pushed);
  const out = join(work, "podman-out");
  must("skopeo", ["copy", "--src-tls-verify=false", `docker://${dst}`, `dir:${out}`]);
  assertDirBlobsIntact(out);
  // the same image: the config (image ID) is unchanged by the round trip
  const id = must("podman", ["image", "inspect", "--format", "{{.Id}}", src]).trim();
  const config = JSON.parse(raw) as { config: { digest: string } };
  assert.equal(config.config.digest, `sha256:${id}`);
  must("podman", ["rmi", "-f", src, dst]);
  must("podman", ["pull", "--tls-verify=false", dst]);
  // (running is docker's part below: this sandbox refuses the rlimits podman's runtimes set)
  assert.equal(must("podman", ["image", "inspect", "--format", "{{.Id}}", dst]).trim(), id);
  must("podman", ["rmi", "-f", dst]);
});

test("docker pushes and pulls through dockerd; the image comes back the same and runs", async () => {
  ensureDocker();
  const ref = `${srv.host}/clients/docker:1`;
  const rootfs = busyboxRootfsTar(tempDir("server-clients-docker"), { "etc/which": "docker\n" });
  must(DOCKER, ["import", rootfs, ref]);
  const id = must(DOCKER, ["image", "inspect", "--format", "{{.Id}}", ref]).trim();
  const push = must(DOCKER, ["push", ref]);
  const pushedDigest = /digest: (sha256:[0-9a-f]{64})/.exec(push)?.[1];
  assert.ok(pushedDigest, push);
  const manifest = await call("GET", `${srv.base}/v2/clients/docker/manifests/1`, {
    headers: { accept: "application/vnd.docker.distribution.manifest.v2+json" },
  });
  assert.equal(sha256(manifest.body), pushedDigest);
  // every blob the manifest names is there and hashes to its digest
  const m = manifest.json<{ config: { digest: string }; layers: { digest: string }[] }>();
  assert.equal(m.config.digest, id);
  for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) {
    const blob = await call("GET", `${srv.base}/v2/clients/docker/blobs/${d}`);
    assert.equal(sha256(blob.body), d);
  }
  must(DOCKER, ["rmi", ref]);
  const pull = must(DOCKER, ["pull", ref]);
  assert.ok(pull.includes(pushedDigest), pull);
  assert.equal(must(DOCKER, ["image", "inspect", "--format", "{{.Id}}", ref]).trim(), id);
  assert.equal(must(DOCKER, ["run", "--rm", "--network=none", ref, "cat", "/etc/which"]), "docker\n");
  // a second repository gets the layer by cross-repository mount (no upload)
  const other = `${srv.host}/clients/docker-copy:1`;
  must(DOCKER, ["tag", ref, other]);
  const second = must(DOCKER, ["push", other]);
  assert.match(second, /Mounted from clients\/docker|Layer already exists/);
  must(DOCKER, ["rmi", ref, other]);
});

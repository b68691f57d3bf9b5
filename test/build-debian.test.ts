import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import {
  BARE,
  berthBuild,
  berthSave,
  compareViews,
  dockerBuild,
  dockerImageId,
  dockerSave,
  viewOf,
} from "./build-compare.js";
import { berth, busyboxRootfsTar, DOCKER, ensureDocker, must, REPO, sh, tempDir } from "./helpers.js";

/**
 * Builds on a real Debian base, made offline with debootstrap (the apt mirror is the one network
 * this machine has), by berth and by docker's BuildKit from the same image, and compares the
 * results. The base is made once per machine and cached under /var/cache/berth-tests.
 */
const DEBIAN = "berth-debian/bookworm:minbase";
const CACHE = "/var/cache/berth-tests";
let dir: string;
let root: string;

function debianRootfsTar(): string {
  const tar = join(CACHE, "bookworm-minbase.tar");
  if (fs.existsSync(tar)) return tar;
  fs.mkdirSync(CACHE, { recursive: true });
  const target = join(CACHE, "bookworm-minbase");
  fs.rmSync(target, { recursive: true, force: true });
  must("debootstrap", ["--variant=minbase", "bookworm", target, "http://deb.debian.org/debian"]);
  // what an image base ships without: downloaded packages and package lists
  must("bash", ["-c", `rm -rf ${target}/var/cache/apt/archives/*.deb ${target}/var/lib/apt/lists/*`]);
  must("tar", ["-C", target, "--numeric-owner", "-cf", `${tar}.tmp`, "."]);
  fs.renameSync(`${tar}.tmp`, tar);
  fs.rmSync(target, { recursive: true, force: true });
  return tar;
}

before(() => {
  ensureDocker();
  dir = tempDir("debian");
  root = join(dir, "store");
  if (sh(DOCKER, ["image", "inspect", DEBIAN]).code !== 0) {
    must(DOCKER, [
      "import",
      "--change",
      `ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      debianRootfsTar(),
      DEBIAN,
    ]);
  }
  if (sh(DOCKER, ["image", "inspect", BARE]).code !== 0)
    must(DOCKER, ["import", busyboxRootfsTar(join(dir, "bare")), BARE]);
  must(DOCKER, ["save", "-o", join(dir, "bases.tar"), DEBIAN, BARE]);
  const r = berth(root, ["load", "-i", join(dir, "bases.tar")]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(berth(root, ["inspect", "--format", "{{.Id}}", DEBIAN]).stdout.trim(), dockerImageId(DEBIAN));
});

for (const name of ["app", "multistage"]) {
  test(`${name}: berth and BuildKit give the same image on a debootstrap Debian base`, async () => {
    const context = join(REPO, "test", "build-debian", name);
    const tag = `berth-debian/${name}:test`;
    const d = await dockerBuild({ context, tag, iidfile: join(dir, `${name}.docker.iid`), noCache: true });
    assert.equal(d.code, 0, d.output);
    const b = await berthBuild(root, { context, tag, iidfile: join(dir, `${name}.berth.iid`) });
    assert.equal(b.code, 0, b.output);
    assert.equal((await dockerSave(tag, join(dir, `${name}.docker.tar`))).code, 0);
    assert.equal((await berthSave(root, tag, join(dir, `${name}.berth.tar`))).code, 0);
    const diffs = compareViews(
      "docker",
      await viewOf(join(dir, `${name}.docker.tar`)),
      "berth",
      await viewOf(join(dir, `${name}.berth.tar`)),
    );
    assert.deepEqual(diffs, []);
    sh(DOCKER, ["rmi", "-f", tag]);
  });
}

test("the Debian app image runs, as its USER, from berth's store", () => {
  const r = berth(root, ["run", "--rm", "berth-debian/app:test"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "app on Debian GNU/Linux 12 (bookworm)\n");
  assert.equal(berth(root, ["run", "--rm", "berth-debian/app:test", "id", "-u"]).stdout, "1500\n");
});

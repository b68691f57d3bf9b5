import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BERTH, berth, busyboxRootfsTar, DOCKER, ensureDocker, must, sh, tempDir } from "./helpers.js";
import { Distribution, ok, randomImageArchive } from "./registry-client-harness.js";

/**
 * Round trips against CNCF Distribution with no auth: berth → registry → docker/skopeo, and
 * docker → registry → berth, with the same digests both ways; multi-platform indexes,
 * pulls by digest and --all-tags.
 */
let reg: Distribution;
let work: string;

before(async () => {
  ensureDocker();
  work = tempDir("rc-roundtrip");
  reg = await Distribution.start(join(work, "registry"));
});
after(async () => {
  await reg.stop();
  for (const img of [`${reg.host}/bb:1`, `${reg.host}/fromdocker:1`]) sh(DOCKER, ["rmi", "-f", img]);
  fs.rmSync(work, { recursive: true, force: true });
});

test("berth push, then skopeo and docker pull the same digest and docker runs it", () => {
  const root = join(work, "push-root");
  const tar = busyboxRootfsTar(join(work, "bb"));
  ok(berth(root, ["import", "-c", 'CMD ["cat", "/etc/hello"]', tar, `${reg.host}/bb:1`]), "import");
  const out = ok(berth(root, ["push", `${reg.host}/bb:1`]), "push");
  assert.match(out, /^The push refers to repository \[127\.0\.0\.1:\d+\/bb\]$/m);
  assert.match(out, /^[0-9a-f]{12}: Pushed$/m);
  const digest = /^1: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(out)?.[1];
  assert.ok(digest, out);

  const inspected = JSON.parse(must("skopeo", ["inspect", "--tls-verify=false", `docker://${reg.host}/bb:1`])) as {
    Digest: string;
  };
  assert.equal(inspected.Digest, digest);
  must("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${reg.host}/bb:1`, `oci:${join(work, "oci")}:bb`]);

  must(DOCKER, ["pull", "-q", `${reg.host}/bb:1`]);
  assert.equal(must(DOCKER, ["run", "--rm", `${reg.host}/bb:1`]), "hello from berth\n");
  assert.equal(
    must(DOCKER, ["inspect", "--format", "{{index .RepoDigests 0}}", `${reg.host}/bb:1`]).trim(),
    `${reg.host}/bb@${digest}`,
  );

  // the store remembers where the image now lives, as docker's RepoDigests do
  const mine = JSON.parse(ok(berth(root, ["inspect", `${reg.host}/bb:1`]), "inspect")) as { RepoDigests: string[] }[];
  assert.deepEqual(mine[0]?.RepoDigests, [`${reg.host}/bb@${digest}`]);

  // a second push sends no blob again
  const again = ok(berth(root, ["push", `${reg.host}/bb:1`]), "re-push");
  assert.match(again, /: Layer already exists$/m);
});

test("docker push, then berth pull gives the same digests and berth runs it", () => {
  must(DOCKER, ["tag", `${reg.host}/bb:1`, `${reg.host}/fromdocker:1`]);
  const pushed = must(DOCKER, ["push", `${reg.host}/fromdocker:1`]);
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed)?.[1];
  assert.ok(digest, pushed);
  const dockerId = must(DOCKER, ["inspect", "--format", "{{.Id}}", `${reg.host}/fromdocker:1`]).trim();

  const root = join(work, "pull-root");
  const out = ok(berth(root, ["pull", `${reg.host}/fromdocker:1`]), "pull");
  assert.match(out, /^1: Pulling from fromdocker$/m);
  assert.match(out, /^[0-9a-f]{12}: Pull complete$/m);
  assert.ok(out.includes(`Digest: ${digest}\n`), out);
  assert.ok(out.includes(`Status: Downloaded newer image for ${reg.host}/fromdocker:1\n`), out);
  assert.ok(out.endsWith(`${reg.host}/fromdocker:1\n`), out);

  const info = JSON.parse(ok(berth(root, ["inspect", `${reg.host}/fromdocker:1`]), "inspect")) as {
    Id: string;
    RepoDigests: string[];
  }[];
  assert.equal(info[0]?.Id, dockerId);
  assert.deepEqual(info[0]?.RepoDigests, [`${reg.host}/fromdocker@${digest}`]);
  assert.equal(ok(berth(root, ["run", "--rm", `${reg.host}/fromdocker:1`]), "run"), "hello from berth\n");

  // pulled again: nothing downloaded, docker's words
  const again = ok(berth(root, ["pull", `${reg.host}/fromdocker:1`]), "re-pull");
  assert.match(again, /: Already exists$/m);
  assert.ok(again.includes(`Status: Image is up to date for ${reg.host}/fromdocker:1\n`), again);

  // and berth pushes docker's gzip layers back as they are: the digest does not change
  const pushedBack = ok(berth(root, ["push", `${reg.host}/fromdocker:1`]), "push back");
  assert.ok(pushedBack.includes(`1: digest: ${digest} `), pushedBack);
});

test("a multi-platform index: --platform picks the image, the default is the host's, by digest and --all-tags", async () => {
  const root = join(work, "multi-src");
  const digests: Record<string, { digest: string; size: number }> = {};
  for (const arch of ["amd64", "arm64"]) {
    const tar = await randomImageArchive(work, {
      name: `${reg.host}/multi:${arch}`,
      layers: 1,
      layerBytes: 1000,
      architecture: arch,
    });
    ok(berth(root, ["load", "-i", tar]), "load");
    const out = ok(berth(root, ["push", `${reg.host}/multi:${arch}`]), "push part");
    const m = /digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(out);
    assert.ok(m, out);
    digests[arch] = { digest: m[1] as string, size: Number(m[2]) };
  }
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: ["amd64", "arm64"].map((arch) => ({
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      ...digests[arch],
      platform: { os: "linux", architecture: arch },
    })),
  });
  fs.writeFileSync(join(work, "index.json"), index);
  must("curl", [
    "-fsS",
    "-X",
    "PUT",
    "-H",
    "Content-Type: application/vnd.oci.image.index.v1+json",
    "--data-binary",
    `@${join(work, "index.json")}`,
    `http://${reg.host}/v2/multi/manifests/1`,
  ]);
  const indexDigest = `sha256:${must("sha256sum", [join(work, "index.json")]).split(" ")[0]}`;

  const armRoot = join(work, "multi-arm");
  const out = ok(berth(armRoot, ["pull", "--platform", "linux/arm64", `${reg.host}/multi:1`]), "pull arm64");
  assert.ok(out.includes(`Digest: ${indexDigest}\n`), out);
  const arm = JSON.parse(ok(berth(armRoot, ["inspect", `${reg.host}/multi:1`]), "inspect")) as {
    Architecture: string;
    RepoDigests: string[];
  }[];
  assert.equal(arm[0]?.Architecture, "arm64");
  assert.deepEqual(arm[0]?.RepoDigests, [`${reg.host}/multi@${indexDigest}`]);

  const hostRoot = join(work, "multi-host");
  ok(berth(hostRoot, ["pull", `${reg.host}/multi:1`]), "pull default");
  const host = JSON.parse(ok(berth(hostRoot, ["inspect", `${reg.host}/multi:1`]), "inspect")) as {
    Architecture: string;
  }[];
  assert.equal(host[0]?.Architecture, process.arch === "arm64" ? "arm64" : "amd64");

  const none = berth(join(work, "multi-none"), ["pull", "--platform", "linux/s390x", `${reg.host}/multi:1`]);
  assert.notEqual(none.code, 0);
  assert.match(
    none.stderr,
    /^Error: pulling 127\.0\.0\.1:\d+\/multi:1: no matching manifest for linux\/s390x in the manifest list entries\n$/,
  );

  const byDigestRoot = join(work, "multi-digest");
  const byDigest = ok(berth(byDigestRoot, ["pull", `${reg.host}/multi@${digests.arm64?.digest}`]), "pull by digest");
  assert.ok(byDigest.endsWith(`${reg.host}/multi@${digests.arm64?.digest}\n`), byDigest);
  const wrongDigest = berth(byDigestRoot, ["pull", `${reg.host}/multi@sha256:${"0".repeat(64)}`]);
  assert.notEqual(wrongDigest.code, 0);
  assert.match(wrongDigest.stderr, /MANIFEST_UNKNOWN/);

  const allRoot = join(work, "all-tags");
  ok(berth(allRoot, ["pull", "-a", `${reg.host}/multi`]), "pull -a");
  const listed = ok(berth(allRoot, ["images", "--format", "{{.Repository}}:{{.Tag}}"]), "images");
  assert.deepEqual(
    listed.trim().split("\n").sort(),
    ["1", "amd64", "arm64"].map((t) => `${reg.host}/multi:${t}`),
  );
});

test("manifest push: stored images of two platforms become one index, their images pushed first; skopeo and docker read it", async () => {
  const root = join(work, "index-src");
  const names: string[] = [];
  for (const arch of ["amd64", "arm64"]) {
    const name = `local/idx-${arch}:1`;
    ok(
      berth(root, [
        "load",
        "-i",
        await randomImageArchive(work, { name, layers: 1, layerBytes: 2000, architecture: arch }),
      ]),
      "load",
    );
    names.push(name);
  }
  const out = ok(berth(root, ["manifest", "push", `${reg.host}/idx:1`, ...names]), "manifest push");
  const digest = /^1: digest: (sha256:[0-9a-f]{64}) size: \d+$/m.exec(out)?.[1];
  assert.ok(digest, out);
  const raw = JSON.parse(must("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/idx:1`])) as {
    mediaType: string;
    manifests: { platform: { architecture: string } }[];
  };
  assert.equal(raw.mediaType, "application/vnd.oci.image.index.v1+json");
  assert.deepEqual(
    raw.manifests.map((m) => m.platform.architecture),
    ["amd64", "arm64"],
  );
  // every image the index names is there (the registry accepted the index, and serves each)
  must("skopeo", ["inspect", "--tls-verify=false", "--override-arch", "arm64", `docker://${reg.host}/idx:1`]);
  const armRoot = join(work, "index-arm");
  ok(berth(armRoot, ["pull", "--platform", "linux/arm64", `${reg.host}/idx:1`]), "pull arm64");
  const arm = JSON.parse(ok(berth(armRoot, ["inspect", `${reg.host}/idx:1`]), "inspect")) as { Architecture: string }[];
  assert.equal(arm[0]?.Architecture, "arm64");
  const dup = berth(root, ["manifest", "push", `${reg.host}/idx:2`, names[0] as string, names[0] as string]);
  assert.notEqual(dup.code, 0);
  assert.match(dup.stderr, /an index holds one image per platform/);
});

const ESC = String.fromCharCode(27);

test("progress: on a terminal a redrawn bar per layer with bytes and speed; plain lines otherwise", async () => {
  const root = join(work, "tty-src");
  const name = `${reg.host}/tty/app:1`;
  ok(berth(root, ["load", "-i", await randomImageArchive(work, { name, layers: 2, layerBytes: 8 << 20 })]), "load");
  const cmd = (args: string) => `stty rows 40 cols 120; ${process.execPath} ${BERTH} --root ${args}`;
  const pushed = must("script", ["-qc", cmd(`${root} push ${name}`), "/dev/null"]);
  assert.ok(pushed.includes(`${ESC}[`), "escape sequences redraw the lines");
  assert.match(pushed, /[0-9a-f]{12}: Pushing \[=*>? *\] +[\d.]+MB\/8\.39MB/);
  assert.match(pushed, /[0-9a-f]{12}: Pushed/);
  const pulled = must("script", ["-qc", cmd(`${join(work, "tty-dst")} pull ${name}`), "/dev/null"]);
  assert.match(pulled, /[0-9a-f]{12}: Downloading \[=*>? *\] +[\d.]+MB\/8\.39MB/);
  assert.match(pulled, /[0-9a-f]{12}: Pull complete/);
  assert.match(pulled, /Status: Downloaded newer image for /);
  // the same without a terminal: one plain line per status change, no bars
  const plain = ok(berth(join(work, "tty-plain"), ["pull", name]), "plain pull");
  assert.ok(!plain.includes(ESC) && !plain.includes("Downloading"), plain);
  assert.equal((plain.match(/: Pull complete\n/g) ?? []).length, 2);
});

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { CONFIG_FIELDS } from "./build-compare.js";
import { berth, busyboxRootfsTar, DOCKER, ensureDocker, must, sh, tempDir } from "./helpers.js";

/**
 * The foundation's compatibility claim, against a real Docker engine: an image docker made
 * goes docker save → berth load → berth save → docker load → docker run, keeping its ID; and
 * berth's images / inspect / history agree with docker's on it.
 */
const TAG = "berth-compat/app:1";
let dir: string;
let root: string;
let dockerId: string;

before(() => {
  ensureDocker();
  dir = tempDir("compat");
  root = join(dir, "store");
  const rootfs = busyboxRootfsTar(dir);
  must(DOCKER, ["rmi", "-f", TAG, "berth-compat/base:1", "berth-compat/app:roundtrip"]);
  must(DOCKER, ["import", rootfs, "berth-compat/base:1"]);
  fs.writeFileSync(
    join(dir, "Dockerfile"),
    [
      "FROM berth-compat/base:1",
      "RUN echo built > /built && rm /etc/hello-link && mkdir -p /opt/app && ln -s /built /opt/app/link",
      "ENV A=1 B=two",
      'LABEL org.example.team="berth" version="1"',
      "WORKDIR /opt/app",
      "EXPOSE 8080/tcp",
      'VOLUME ["/data"]',
      "USER 1000:1000",
      "STOPSIGNAL SIGINT",
      'HEALTHCHECK --interval=5s CMD ["true"]',
      "ONBUILD RUN echo child",
      'ENTRYPOINT ["/bin/sh", "-c"]',
      'CMD ["cat /built"]',
      "",
    ].join("\n"),
  );
  // the classic builder (no BuildKit) keeps docker's parent chain and nop history rows
  must(DOCKER, ["build", "--network=none", "-q", "-t", TAG, dir]);
  dockerId = must(DOCKER, ["image", "inspect", "--format", "{{.Id}}", TAG]).trim();
});

test("docker save → berth load keeps the image ID and tag", () => {
  must(DOCKER, ["save", "-o", join(dir, "docker.tar"), TAG]);
  const r = berth(root, ["load", "-i", join(dir, "docker.tar")]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Loaded image: ${TAG}\n`);
  const id = berth(root, ["image", "inspect", "--format", "{{.Id}}", TAG]);
  assert.equal(id.stdout.trim(), dockerId);
});

test("berth save → docker load → docker run works and keeps the ID", () => {
  const tar = join(dir, "berth.tar");
  const s = berth(root, ["save", "-o", tar, TAG]);
  assert.equal(s.code, 0, s.stderr);
  must(DOCKER, ["rmi", "-f", TAG]);
  const loaded = must(DOCKER, ["load", "-i", tar]);
  assert.match(loaded, /Loaded image: berth-compat\/app:1/);
  assert.equal(must(DOCKER, ["image", "inspect", "--format", "{{.Id}}", TAG]).trim(), dockerId);
  const run = sh(DOCKER, ["run", "--rm", "--network=none", TAG]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "built\n");
});

test("berth images agrees with docker images on ID, tag and size", () => {
  const fmt = "{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}";
  const d = must(DOCKER, ["images", "--format", fmt, "berth-compat/app"]).trim();
  const b = berth(root, ["images", "--format", fmt, "berth-compat/app"]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(b.stdout.trim(), d);
  const dq = must(DOCKER, ["images", "-q", "--no-trunc", "berth-compat/app"]).trim();
  assert.equal(berth(root, ["images", "-q", "--no-trunc", "berth-compat/app"]).stdout.trim(), dq);
});

test("berth inspect agrees with docker inspect on the config and sizes", () => {
  const d = JSON.parse(must(DOCKER, ["image", "inspect", TAG]))[0];
  const b = JSON.parse(berth(root, ["image", "inspect", TAG]).stdout)[0];
  for (const key of [
    "Id",
    "RepoTags",
    "Created",
    "Author",
    "Architecture",
    "Os",
    "Size",
    "VirtualSize",
    "RootFS",
    "Comment",
    "DockerVersion",
  ]) {
    assert.deepEqual(b[key], d[key], key);
  }
  for (const key of CONFIG_FIELDS) {
    assert.deepEqual(b.Config[key], d.Config[key], `Config.${key}`);
  }
  const fmt = '{{.Config.Env}} {{index .Config.Labels "version"}} {{json .Config.ExposedPorts}}';
  assert.equal(berth(root, ["inspect", "--format", fmt, TAG]).stdout, must(DOCKER, ["inspect", "--format", fmt, TAG]));
});

test("berth history agrees with docker history row for row", () => {
  const fmt = "{{.CreatedBy}}|{{.Size}}|{{.Comment}}|{{.CreatedAt}}";
  const d = must(DOCKER, ["history", "--no-trunc", "--format", fmt, TAG]);
  const b = berth(root, ["history", "--no-trunc", "--format", fmt, TAG]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(b.stdout, d);
  // the default table: same rows, same column layout (IDs differ: docker keeps its build chain)
  // (relative times are normalised: the two commands run a moment apart)
  // (and "1 second ago" is singular, so the whole CREATED cell goes, padding and all)
  const norm = (text: string) =>
    text
      .split("\n")
      .map((l) =>
        l.slice(15).replace(/^(?:\d+ seconds?|Less than a second|About a minute|\d+ minutes?) ago +/, "(ago) "),
      );
  const dt = norm(must(DOCKER, ["history", TAG]));
  const bt = norm(berth(root, ["history", TAG]).stdout);
  assert.deepEqual(bt, dt);
});

test("podman load and skopeo read berth's save", () => {
  const tar = join(dir, "berth.tar");
  const sk = JSON.parse(must("skopeo", ["inspect", `docker-archive:${tar}`]));
  assert.equal(sk.Layers.length, 2);
  const skOci = JSON.parse(must("skopeo", ["inspect", `oci-archive:${tar}:1`]));
  assert.equal(skOci.Layers.length, 2);
  const p = sh("podman", ["load", "-i", tar]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /Loaded image/);
  const pid = must("podman", ["image", "inspect", "--format", "{{.Id}}", TAG]).trim();
  assert.equal(`sha256:${pid}`, dockerId);
  sh("podman", ["rmi", "-f", TAG]);
});

test("umoci and oci-image-tool accept the store and the save as OCI layouts", () => {
  const layout = join(dir, "layout");
  fs.mkdirSync(layout);
  must("tar", ["-C", layout, "-xf", join(dir, "berth.tar")]);
  assert.match(must("umoci", ["ls", "--layout", layout]), /^1$/m);
  assert.match(must("umoci", ["ls", "--layout", root]), /docker\.io\/berth-compat\/app:1/);
  must("umoci", ["stat", "--image", `${layout}:1`]);
  for (const [dirToCheck, ref] of [
    [layout, "1"],
    [root, "docker.io/berth-compat/app:1"],
  ] as const) {
    const v = sh("oci-image-tool", ["validate", "--type", "image", "--ref", `name=${ref}`, dirToCheck]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout + v.stderr, /Validation succeeded/);
  }
});

test("load accepts gzip'd archives and podman's docker-archive", () => {
  const other = join(dir, "store2");
  must("bash", ["-c", `gzip -c ${join(dir, "docker.tar")} > ${join(dir, "docker.tar.gz")}`]);
  const r = berth(other, ["load", "-i", join(dir, "docker.tar.gz")]);
  assert.equal(r.code, 0, r.stderr);
  const podmanTar = join(dir, "podman.tar");
  must("podman", ["load", "-i", join(dir, "berth.tar")]);
  must("podman", ["save", "--format", "docker-archive", "-o", podmanTar, TAG]);
  sh("podman", ["rmi", "-f", TAG]);
  const third = join(dir, "store3");
  const p = berth(third, ["load", "-i", podmanTar]);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(berth(third, ["inspect", "--format", "{{.Id}}", TAG]).stdout.trim(), dockerId);
});

test("load reads OCI layout archives from skopeo, multi-platform ones for the host's platform", () => {
  const src = join(dir, "docker.tar");
  const ociTar = join(dir, "skopeo-oci.tar");
  must("skopeo", ["copy", `docker-archive:${src}`, `oci-archive:${ociTar}:1.0`]);
  const store = join(dir, "store-oci");
  const r = berth(store, ["load", "-i", ociTar]);
  assert.equal(r.code, 0, r.stderr);
  // skopeo rewrites the config as an OCI one (dropping docker's fields), so the ID is its
  // config's digest; a bare tag names no repository, so the image loads untagged
  const skopeoId = JSON.parse(must("skopeo", ["inspect", "--raw", `oci-archive:${ociTar}:1.0`])).config.digest;
  assert.equal(r.stdout, `Loaded image ID: ${skopeoId}\n`);
  assert.equal(berth(store, ["inspect", "--format", "{{.Id}}", skopeoId.slice(7, 19)]).stdout.trim(), skopeoId);

  // a two-platform index: the host's image is the one loaded
  const layout = join(dir, "multi");
  must("skopeo", ["copy", `docker-archive:${src}`, `oci:${layout}:amd`]);
  const index = JSON.parse(fs.readFileSync(join(layout, "index.json"), "utf8"));
  const amd = index.manifests[0];
  const manifest = JSON.parse(fs.readFileSync(join(layout, "blobs", "sha256", amd.digest.slice(7)), "utf8"));
  const config = JSON.parse(fs.readFileSync(join(layout, "blobs", "sha256", manifest.config.digest.slice(7)), "utf8"));
  const armConfig = Buffer.from(JSON.stringify({ ...config, architecture: "arm64" }));
  const put = (bytes: Buffer) => {
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    fs.writeFileSync(join(layout, "blobs", "sha256", digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  const armCfg = put(armConfig);
  const armManifest = put(Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, ...armCfg } })));
  const nested = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [
          { mediaType: amd.mediaType, ...armManifest, platform: { os: "linux", architecture: "arm64" } },
          {
            mediaType: amd.mediaType,
            digest: amd.digest,
            size: amd.size,
            platform: { os: "linux", architecture: "amd64" },
          },
        ],
      }),
    ),
  );
  fs.writeFileSync(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.index.v1+json",
          ...nested,
          annotations: { "io.containerd.image.name": "docker.io/multi/arch:1" },
        },
      ],
    }),
  );
  must("tar", ["-C", layout, "-cf", join(dir, "multi.tar"), "."]);
  const m = berth(store, ["load", "-i", join(dir, "multi.tar")]);
  assert.equal(m.code, 0, m.stderr);
  assert.equal(m.stdout, "Loaded image: multi/arch:1\n");
  assert.equal(
    berth(store, ["inspect", "--format", "{{.Id}} {{.Architecture}}", "multi/arch:1"]).stdout,
    `${manifest.config.digest} amd64\n`,
  );
});

test("load follows docker's links for a layer several saved images share", () => {
  const tar = join(dir, "shared.tar");
  must(DOCKER, ["save", "-o", tar, TAG, "berth-compat/base:1"]);
  assert.match(must("tar", ["-tvf", tar]), /^l.* -> \.\.\/[a-f0-9]{64}\/layer\.tar$/m, "docker links the shared layer");
  const store = join(dir, "store-shared");
  const r = berth(store, ["load", "-i", tar]);
  assert.equal(r.code, 0, r.stderr);
  const ids = berth(store, ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
    .stdout.split("\n")
    .filter(Boolean)
    .sort();
  const expected = must(DOCKER, ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "berth-compat/*"])
    .split("\n")
    .filter(Boolean)
    .sort();
  assert.deepEqual(ids, expected);
});

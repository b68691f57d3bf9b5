import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { berth, busyboxRootfsTar, DOCKER, ensureDocker, must, sh, tempDir } from "./helpers.js";

/**
 * The seeds' image commands, side by side with docker: the same images in both stores, the
 * same commands, the same output (relative times aside).
 */
let dir: string;
let root: string;
const REPOS = ["cmpx/one", "cmpx/two", "cmpx/label", "cmpx/imported"];

function both(args: string[]): { d: string; b: string } {
  const d = sh(DOCKER, args);
  const b = berth(root, args);
  assert.equal(b.code, d.code, `exit codes differ for ${args.join(" ")}: berth ${b.stderr}`);
  return { d: d.stdout, b: b.stdout };
}

const normTimes = (s: string) =>
  s.replace(/(Less than a second|About a minute|\d+ (seconds?|minutes)) ago/g, "T ago").replace(/ +/g, " ");

/**
 * docker groups an image's tags by repository through a Go map, so the order of repositories
 * within one image is random there; compare rows as a sorted list, header first.
 */
const rows = (s: string) => {
  const lines = normTimes(s).split("\n");
  // a table's first line is its header (upper-case titles); --format output has none
  const header = /^[A-Z][A-Z ]*(\s|$)/.test(lines[0] ?? "") ? 1 : 0;
  return [...lines.slice(0, header), ...lines.slice(header).sort()];
};

before(() => {
  ensureDocker();
  dir = tempDir("cmds");
  root = join(dir, "store");
  for (const repo of REPOS)
    sh(DOCKER, ["rmi", "-f", ...must(DOCKER, ["images", "-q", repo]).split("\n").filter(Boolean)]);
  const tarA = busyboxRootfsTar(join(dir, "a"));
  const tarB = busyboxRootfsTar(join(dir, "b"), { "etc/extra": "x".repeat(5000) });
  must(DOCKER, ["import", tarA, "cmpx/one:1"]);
  // docker orders images by creation time in whole seconds; keep the two apart
  must("sleep", ["1.1"]);
  must(DOCKER, ["tag", "cmpx/one:1", "cmpx/one:2"]);
  must(DOCKER, ["tag", "cmpx/one:1", "cmpx/two:latest"]);
  must(DOCKER, ["import", "--change", "LABEL team=berth", "--change", "LABEL tier=base", tarB, "cmpx/label:1"]);
  must(DOCKER, ["save", "-o", join(dir, "all.tar"), "cmpx/one:1", "cmpx/one:2", "cmpx/two:latest", "cmpx/label:1"]);
  const r = berth(root, ["load", "-i", join(dir, "all.tar")]);
  assert.equal(r.code, 0, r.stderr);
});

test("images: the default table, -q, --no-trunc, --digests and templates match docker", () => {
  for (const args of [
    ["images", "cmpx/*"],
    ["images", "--digests", "cmpx/one"],
    ["images", "-q", "cmpx/one"],
    ["images", "-q", "--no-trunc", "cmpx/label"],
    ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}} {{.VirtualSize}}", "cmpx/*"],
    ["images", "--format", "table {{.Repository}}\\t{{.Size}}", "cmpx/two"],
    ["images", "--format", "{{json .}}", "cmpx/label"],
    ["image", "ls", "--filter", "label=team=berth", "--format", "{{.Repository}}"],
    ["image", "ls", "--filter", "label=tier", "--filter", "reference=cmpx/*", "-q"],
    ["images", "--filter", "reference=cmpx/one:2", "--format", "{{.Tag}}"],
  ]) {
    const { d, b } = both(args);
    assert.deepEqual(rows(b), rows(d), args.join(" "));
  }
});

test("images --filter before/since follow creation order", () => {
  for (const args of [
    ["images", "--filter", "since=cmpx/one:1", "--filter", "reference=cmpx/*", "--format", "{{.Repository}}:{{.Tag}}"],
    [
      "images",
      "--filter",
      "before=cmpx/label:1",
      "--filter",
      "reference=cmpx/*",
      "--format",
      "{{.Repository}}:{{.Tag}}",
    ],
  ]) {
    const { d, b } = both(args);
    assert.deepEqual(rows(b), rows(d), args.join(" "));
  }
});

test("inspect and history formats match docker", () => {
  for (const args of [
    ["inspect", "--format", "{{.Id}} {{.RepoTags}} {{.Size}} {{.Config.Labels}} {{.Comment}}", "cmpx/label:1"],
    ["image", "inspect", "--format", "{{json .RootFS}}", "cmpx/one:1"],
    ["history", "cmpx/label:1"],
    ["history", "-q", "cmpx/label:1"],
    ["history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}", "cmpx/label:1"],
    ["history", "--human=false", "--format", "{{.CreatedSince}} {{.Size}}", "cmpx/label:1"],
  ]) {
    const { d, b } = both(args);
    assert.equal(normTimes(b), normTimes(d), args.join(" "));
  }
});

test("rmi untags while other names remain, refuses an ID in several repositories, and -f deletes", () => {
  const id = must(DOCKER, ["images", "-q", "cmpx/one:1"]).trim();
  let r = both(["rmi", "cmpx/one:2"]);
  assert.equal(r.b, r.d);
  assert.equal(r.b, "Untagged: cmpx/one:2\n");
  const d = sh(DOCKER, ["rmi", id]);
  const b = berth(root, ["rmi", id]);
  assert.notEqual(b.code, 0);
  assert.equal(b.stderr.replace(/^Error: /, ""), d.stderr.replace(/^Error response from daemon: /, ""));
  r = both(["rmi", "-f", id]);
  const deletedLine = (s: string) =>
    s.split("\n").filter((l) => !l.startsWith("Deleted:") || l.includes(id) || true)[0];
  assert.equal(deletedLine(r.b), deletedLine(r.d));
  assert.match(r.b, /^Untagged: cmpx\/one:1\nUntagged: cmpx\/two:latest\nDeleted: sha256:/);
  assert.equal(r.b.split("\n")[2], r.d.split("\n")[2], "the image's own Deleted line");
  assert.equal(berth(root, ["images", "-q", "cmpx/one"]).stdout, "");
});

test("import --change sets the config as docker's does", () => {
  const tar = busyboxRootfsTar(join(dir, "c"));
  const changes = [
    'CMD ["sh", "-c", "echo hi"]',
    "ENTRYPOINT /bin/sh",
    "ENV A=1 B=two",
    "ENV C three",
    "EXPOSE 80 53/udp",
    "LABEL x=y",
    "USER 1000",
    "WORKDIR /srv",
    'VOLUME ["/data"]',
    "ONBUILD RUN echo hi",
  ];
  const flags = changes.flatMap((c) => ["--change", c]);
  sh(DOCKER, ["rmi", "-f", "cmpx/imported:1"]);
  must(DOCKER, ["import", ...flags, tar, "cmpx/imported:1"]);
  const b = berth(root, ["import", ...flags, tar, "cmpx/imported:1"]);
  assert.equal(b.code, 0, b.stderr);
  const dc = JSON.parse(must(DOCKER, ["inspect", "cmpx/imported:1"]))[0];
  const bc = JSON.parse(berth(root, ["inspect", "cmpx/imported:1"]).stdout)[0];
  for (const key of [
    "Cmd",
    "Entrypoint",
    "Env",
    "ExposedPorts",
    "Labels",
    "User",
    "WorkingDir",
    "Volumes",
    "StopSignal",
    "OnBuild",
  ]) {
    assert.deepEqual(bc.Config[key], dc.Config[key], key);
  }
  assert.equal(bc.Size, dc.Size);
  assert.equal(bc.Comment, dc.Comment);
  assert.deepEqual(bc.RootFS, dc.RootFS, "the same layer (diffID) from the same tar");
  sh(DOCKER, ["rmi", "-f", "cmpx/imported:1"]);
  // berth also takes what docker's import refuses ("stopsignal is not a valid change command")
  const more = berth(root, [
    "import",
    "--change",
    "STOPSIGNAL SIGINT",
    "--change",
    'SHELL ["/bin/ash", "-c"]',
    tar,
    "cmpx/more:1",
  ]);
  assert.equal(more.code, 0, more.stderr);
  assert.equal(
    berth(root, ["inspect", "--format", "{{.Config.StopSignal}} {{.Config.Shell}}", "cmpx/more:1"]).stdout,
    "SIGINT [/bin/ash -c]\n",
  );
  const bad = berth(root, ["import", "--change", "FROM x", tar, "cmpx/bad:1"]);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /^Error: invalid --change "FROM x": FROM is not one of/);
});

test("image prune removes dangling images only; -a removes every unused one", () => {
  const tar = busyboxRootfsTar(join(dir, "d"), { "etc/d": "dangling" });
  const id = berth(root, ["import", tar]).stdout.trim();
  assert.match(id, /^sha256:[a-f0-9]{64}$/);
  assert.equal(berth(root, ["images", "--filter", "dangling=true", "-q", "--no-trunc"]).stdout, `${id}\n`);
  const refused = berth(root, ["image", "prune"], { input: "n\n" });
  assert.match(
    refused.stdout,
    /WARNING! This will remove all dangling images\.\nAre you sure you want to continue\? \[y\/N\] $/,
  );
  assert.equal(berth(root, ["images", "--filter", "dangling=true", "-q"]).stdout.trim().length, 12, "kept after 'n'");
  const p = berth(root, ["image", "prune"], { input: "y\n" });
  assert.match(p.stdout, new RegExp(`Deleted Images:\\ndeleted: ${id}\\n`));
  assert.match(p.stdout, /Total reclaimed space: \d/);
  assert.equal(berth(root, ["images", "--filter", "dangling=true", "-q"]).stdout, "");
  assert.ok(berth(root, ["images", "-q"]).stdout.length > 0, "tagged images stay");
  const all = berth(root, ["system", "prune", "-a", "-f"]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /untagged: cmpx\/label:1/);
  assert.equal(berth(root, ["images", "-q"]).stdout, "");
  assert.deepEqual(fs.readdirSync(join(root, "blobs", "sha256")), []);
  const df = berth(root, ["system", "df"]);
  assert.match(df.stdout, /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\nImages +0 +0 +0B +0B\n/);
});

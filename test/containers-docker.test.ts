import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { findRuntimes, hostFacts } from "../src/runtime/oci-runtime.js";
import { berth, busyboxRootfsTar, DOCKER, ensureDocker, must, type Run, sh, tempDir } from "./helpers.js";
import { ensureCli } from "./runtime-images.js";

/**
 * The container commands side by side with docker's: the same image (one busybox tar imported
 * into both), the same three containers (running, exited 3, created), then ps, inspect, logs,
 * commit, export and the errors compared.
 */

const canRun = process.geteuid?.() === 0 && findRuntimes(hostFacts()).candidates.length > 0;
const skip = canRun ? false : "needs root and runc or crun";
const IMAGE = "berthcmp/bb:1";
const NAMES = ["cmpc-up", "cmpc-x", "cmpc-new"];
const CHANGE = "echo hi > /tmp/f; rm /etc/hello-link; mkdir -p /a/b; ln -s /x /a/l; exit 3";
let dir: string;
let root: string;

function b(args: readonly string[]): Run {
  return berth(root, args);
}

function d(args: readonly string[]): Run {
  return sh(DOCKER, args);
}

/** Runs the same command line through both; `docker` gets --network=none where it runs one. */
function both(args: readonly string[]): { b: Run; d: Run } {
  const dockerArgs = args[0] === "run" || args[0] === "create" ? [args[0], "--network=none", ...args.slice(1)] : args;
  return { b: b(args), d: d(dockerArgs) };
}

function json(r: Run): unknown {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

before(async () => {
  if (!canRun) return;
  ensureCli();
  ensureDocker();
  dir = tempDir("containers-docker");
  root = join(dir, "store");
  const tar = busyboxRootfsTar(dir);
  d(["rm", "-f", ...NAMES]);
  for (const r of [b(["import", tar, IMAGE]), d(["import", tar, IMAGE])]) assert.equal(r.code, 0, r.stderr);
  // the last line comes after a pause: which of two pipes is read first is a race
  const loop = "echo hello; echo err >&2; busybox sleep 0.1; echo later; while true; do busybox sleep 0.1; done";
  for (const [args, code] of [
    [["run", "-d", "--name", "cmpc-up", "-e", "A=1", IMAGE, "sh", "-c", loop], 0],
    [["run", "--name", "cmpc-x", "-w", "/tmp", IMAGE, "sh", "-c", CHANGE], 3],
    [["create", "--name", "cmpc-new", IMAGE, "true"], 0],
  ] as const) {
    const r = both(args);
    assert.equal(r.b.code, code, r.b.stderr);
    assert.equal(r.d.code, code, r.d.stderr);
  }
  await sleep(500); // both running containers have printed their lines
});

after(() => {
  if (!canRun) return;
  d(["rm", "-f", ...NAMES]);
  d(["rmi", "-f", IMAGE, "berthcmp/committed:1"]);
  b(["rm", "-f", ...NAMES]);
});

test("ps: the same rows for the same containers (image, command, state, status, size, names)", { skip }, () => {
  const format = "{{.Image}}|{{.Command}}|{{.State}}|{{.Status}}|{{.Size}}|{{.Names}}|{{.Ports}}|{{.Networks}}";
  const args = ["ps", "-a", "--no-trunc", "--filter", "name=cmpc-", "--format", format];
  const r = { b: b(args), d: d(args) };
  // durations move while the commands run: only their shape is compared
  const norm = (s: string) =>
    s.replace(/(Up|\)) (Less than a second|About a minute|\d+ \w+)/g, "$1 <duration>").replace(/ ago/g, "");
  assert.equal(norm(r.b.stdout), norm(r.d.stdout));
  const trunc = ["ps", "-a", "--filter", "name=cmpc-", "--format", "{{.Command}}|{{len .ID}}"];
  assert.equal(b(trunc).stdout, d(trunc).stdout);
  const header = (s: string) => s.split("\n")[0]?.split(/ {2,}/);
  assert.deepEqual(header(b(["ps", "-a", "-s"]).stdout), header(d(["ps", "-a", "-s"]).stdout));
  const quiet = ["ps", "-q", "--filter", "name=cmpc-"];
  assert.equal(b(quiet).stdout.split("\n").length, d(quiet).stdout.split("\n").length);
  for (const filter of ["status=exited", "exited=3", "status=created", "ancestor=berthcmp/bb:1", "before=cmpc-x"]) {
    const f = ["ps", "-a", "--filter", "name=cmpc-", "--filter", filter, "--format", "{{.Names}}"];
    assert.equal(b(f).stdout, d(f).stdout, filter);
  }
});

test("inspect: the same Config, and docker's State and top-level fields", { skip }, () => {
  for (const name of NAMES) {
    const [ours] = json(b(["inspect", name])) as Record<string, Record<string, unknown>>[];
    const [theirs] = json(d(["inspect", name])) as Record<string, Record<string, unknown>>[];
    assert.ok(ours && theirs);
    const config = (c: Record<string, unknown>) => ({ ...c, Hostname: "<id>" });
    assert.deepEqual(config(ours.Config as Record<string, unknown>), config(theirs.Config as Record<string, unknown>));
    assert.deepEqual(Object.keys(ours.State as object), Object.keys(theirs.State as object));
    for (const k of ["Status", "Running", "ExitCode", "Error"]) assert.equal(ours.State?.[k], theirs.State?.[k], k);
    for (const k of ["Path", "Args", "Name", "RestartCount", "Platform"]) assert.deepEqual(ours[k], theirs[k], k);
    const missing = Object.keys(theirs).filter((k) => !(k in ours));
    assert.deepEqual(missing, [], "every top-level field docker has");
  }
  const sizes = ["inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "cmpc-x"];
  assert.equal(b(sizes).stdout, d(sizes).stdout, "inspect -s: the same read/write and total sizes");
});

test("logs: the same lines on the same streams; --tail", { skip }, () => {
  for (const args of [
    ["logs", "cmpc-up"],
    ["logs", "--tail", "1", "cmpc-up"],
    ["logs", "cmpc-x"],
  ]) {
    const r = both(args);
    assert.equal(r.b.stdout, r.d.stdout, args.join(" "));
    assert.equal(r.b.stderr, r.d.stderr, args.join(" "));
  }
});

/** A tar's entries as "type mode uid/gid size name -> target", mtimes aside. */
function listing(tar: string): string[] {
  return must("tar", ["--numeric-owner", "-tvf", tar])
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [mode, owner, size, , , ...rest] = l.split(/\s+/);
      return `${mode} ${owner} ${size} ${rest.join(" ")}`;
    })
    .sort();
}

test("commit: the same files in the new layer and the same config as docker commit", { skip }, () => {
  const args = [
    "commit",
    "-m",
    "note",
    "-a",
    "me",
    "-c",
    "ENV EXTRA=1",
    "-c",
    "WORKDIR /a",
    "cmpc-x",
    "berthcmp/committed:1",
  ];
  const r = both(args);
  assert.equal(r.b.code, 0, r.b.stderr);
  assert.equal(r.d.code, 0, r.d.stderr);
  const [ours] = json(b(["inspect", "berthcmp/committed:1"])) as Record<string, unknown>[];
  const [theirs] = json(d(["inspect", "berthcmp/committed:1"])) as Record<string, unknown>[];
  assert.ok(ours && theirs);
  const config = (c: unknown) => ({ ...(c as Record<string, unknown>), Hostname: "<id>" });
  assert.deepEqual(config(ours.Config), config(theirs.Config));
  assert.deepEqual(config(ours.ContainerConfig), config(theirs.ContainerConfig));
  for (const k of ["Comment", "Author", "Architecture", "Os"]) assert.equal(ours[k], theirs[k], k);
  assert.equal(
    (ours.RootFS as { Layers: string[] }).Layers.length,
    (theirs.RootFS as { Layers: string[] }).Layers.length,
  );
  const history = [
    "history",
    "--no-trunc",
    "--format",
    "{{.CreatedBy}}|{{.Comment}}|{{.Size}}",
    "berthcmp/committed:1",
  ];
  assert.equal(b(history).stdout, d(history).stdout);
  // the layers themselves: save both and list the top layer's entries
  const top = (tool: "b" | "d") => {
    const out = join(dir, `${tool}-saved`);
    fs.mkdirSync(out, { recursive: true });
    const tar = join(dir, `${tool}.tar`);
    const s =
      tool === "b" ? b(["save", "-o", tar, "berthcmp/committed:1"]) : d(["save", "-o", tar, "berthcmp/committed:1"]);
    assert.equal(s.code, 0, s.stderr);
    must("tar", ["-C", out, "-xf", tar]);
    const manifest = JSON.parse(fs.readFileSync(join(out, "manifest.json"), "utf8")) as { Layers: string[] }[];
    return listing(join(out, manifest[0]?.Layers.at(-1) as string));
  };
  const layer = top("b");
  assert.deepEqual(layer, top("d"));
  assert.ok(
    layer.some((l) => l.endsWith(" etc/.wh.hello-link")),
    "the deletion is a whiteout",
  );
});

test("export: the same files as docker export, apart from docker's own init layer", { skip }, () => {
  const tars = { b: join(dir, "export-b.tar"), d: join(dir, "export-d.tar") };
  assert.equal(b(["export", "-o", tars.b, "cmpc-x"]).code, 0);
  assert.equal(d(["export", "-o", tars.d, "cmpc-x"]).code, 0);
  // docker's init layer adds /.dockerenv, /dev/console and /etc/mtab and makes its mount
  // point files 0755; berth's has /dev/mqueue (runc's mount point) and 0644 files. Those
  // entries are compared by name only, and these four left out.
  const initOnly = /^(\.dockerenv|dev\/console|etc\/mtab|dev\/mqueue\/)$/;
  const stubs = /^(etc\/hosts|etc\/hostname|etc\/resolv\.conf)$/;
  const norm = (tar: string) =>
    listing(tar)
      .filter((l) => !initOnly.test(l.split(" ")[3] ?? ""))
      .map((l) => (stubs.test(l.split(" ")[3] ?? "") ? (l.split(" ")[3] as string) : l))
      .sort();
  assert.deepEqual(norm(tars.b), norm(tars.d));
});

test("errors: the same exit codes and docker's messages for the same mistakes", { skip }, () => {
  const cases: string[][] = [
    ["stop", "nosuch"],
    ["kill", "cmpc-x"],
    ["kill", "-s", "FOO", "cmpc-up"],
    ["logs", "nosuch"],
    ["rm", "nosuch"],
    ["rm", "cmpc-up"],
    ["start", "nosuch"],
    ["commit", "nosuch"],
    ["export", "nosuch"],
    ["container", "inspect", "nosuch"],
    ["inspect", "nosuch"],
    ["ps", "--filter", "nope=1"],
    ["ps", "--filter", "status=sleeping"],
    ["ps", "-n", "x"],
    ["stop", "-t", "x", "cmpc-x"],
  ];
  for (const args of cases) {
    const r = both(args);
    assert.equal(r.b.code, r.d.code, `${args.join(" ")}: ${r.b.stderr} vs ${r.d.stderr}`);
    assert.equal(r.b.stderr.split("\n").filter(Boolean).length, 1, `one line: ${r.b.stderr}`);
    // docker's first line, less its "Error response from daemon: " and IDs, starts ours
    const theirs = (r.d.stderr.split("\n")[0] ?? "")
      .replace(/^(Error response from daemon|Error): /, "")
      .replace(/[a-f0-9]{64}/g, "<id>")
      .replace(/: strconv\.ParseInt.*$/, "");
    const ours = r.b.stderr.replace(/^Error: /, "").replace(/[a-f0-9]{64}/g, "<id>");
    assert.ok(
      ours.toLowerCase().startsWith(theirs.toLowerCase()),
      `${args.join(" ")}: "${ours}" vs docker's "${theirs}"`,
    );
  }
});

import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, test } from "node:test";
import { BerthError } from "../src/oci/errors.js";
import { getContainer } from "../src/runtime/containers.js";
import { crunCgroupProblem, findRuntimes, hostFacts } from "../src/runtime/oci-runtime.js";
import { removeContainer } from "../src/runtime/remove.js";
import { containerDirOf, diffRootfs, openRootfs } from "../src/runtime/rootfs.js";
import { type RunOptions, runContainer } from "../src/runtime/run.js";
import { LocalStore } from "../src/store/local-store.js";
import { removeImage } from "../src/verbs/rmi.js";
import { berth, busyboxRootfsTar, tarDirectory, tempDir } from "./helpers.js";
import { ensureCli, registerLayeredImage } from "./runtime-images.js";
import { makeTar, readTar } from "./runtime-tar.js";

/**
 * Containers from real images made offline (busybox-static imported with `berth import`, and
 * layered images built from hand-made tars), run through runc or crun as root.
 */

const facts = hostFacts();
const canRun = process.geteuid?.() === 0 && findRuntimes(facts).candidates.length > 0;
const skip = canRun ? false : "needs root and runc or crun";

let dir: string;
let root: string;
let store: LocalStore;

const PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345:app user:/home/app:/bin/sh\n";
const GROUP = "root:x:0:\napp:x:2345:\nextra:x:3456:app\n";

before(async () => {
  if (!canRun) return;
  ensureCli();
  dir = tempDir("runtime-run");
  root = join(dir, "store");
  const tar = busyboxRootfsTar(join(dir, "bb"), {
    "etc/passwd": PASSWD,
    "etc/group": GROUP,
    "usr/local/bin/noexec": "#!/bin/sh\necho never\n",
    "usr/local/bin/badinterp": "#!/no/such/shell\n",
  });
  // The helper tars before this chmod can happen: tar again, with the same normalisation.
  fs.chmodSync(join(dir, "bb", "rootfs", "usr/local/bin/badinterp"), 0o755);
  tarDirectory(join(dir, "bb", "rootfs"), tar);
  const imported = berth(root, ["import", "--change", "ENV IMAGE_VAR=from-image", tar, "rt/busybox:1"]);
  assert.equal(imported.code, 0, imported.stderr);
  store = LocalStore.open(root);
});

after(() => {
  store?.close();
});

/** Runs a command and gathers what it printed. */
async function run(image: string, opts: RunOptions = {}) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  err.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const result = await runContainer(store, image, { rm: true, stdout: out, stderr: err, ...opts });
  return { ...result, stdout, stderr };
}

const sh = (script: string, opts: RunOptions = {}) => run("rt/busybox:1", { cmd: ["sh", "-c", script], ...opts });

test("echo hello, and exit codes: 0, false → 1, exit 3 → 3", { skip }, async () => {
  const hello = await run("rt/busybox:1", { cmd: ["echo", "hello"] });
  assert.equal(hello.stdout, "hello\n");
  assert.equal(hello.exitCode, 0);
  assert.equal(hello.runtime, "runc", "crun is passed over on this host's hybrid cgroups");
  assert.equal((await sh("false")).exitCode, 1);
  assert.equal((await sh("exit 3")).exitCode, 3);
  assert.equal((await sh("sh -c 'kill -KILL $$'; exit $?")).exitCode, 137, "killed by a signal: 128 + 9");
});

test("a command that is missing gives 127, one that cannot be executed 126", { skip }, async () => {
  const missing = await run("rt/busybox:1", { cmd: ["no-such-command"] });
  assert.equal(missing.exitCode, 127);
  assert.equal(missing.message, 'exec: "no-such-command": executable file not found in $PATH');
  assert.equal((await run("rt/busybox:1", { cmd: ["/bin/nope"] })).exitCode, 127);
  assert.equal((await run("rt/busybox:1", { cmd: ["/etc/hello"] })).exitCode, 126, "not executable");
  assert.equal((await run("rt/busybox:1", { cmd: ["/etc"] })).exitCode, 126, "a directory");
  assert.equal((await run("rt/busybox:1", { cmd: ["noexec"] })).exitCode, 127, "on PATH but not executable");
  const bad = await run("rt/busybox:1", { cmd: ["badinterp"] });
  assert.equal(bad.exitCode, 127);
  assert.match(bad.message ?? "", /no\/such\/shell: no such file/);
});

test("environment: the image's, -e overrides, PATH and HOSTNAME by default", { skip }, async () => {
  const r = await sh("env", { env: ["FOO=bar", "IMAGE_VAR=overridden"], hostname: "box" });
  const env = new Set(r.stdout.trim().split("\n"));
  assert.ok(env.has("FOO=bar"));
  assert.ok(env.has("IMAGE_VAR=overridden"));
  assert.ok(env.has("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  assert.ok(env.has("HOSTNAME=box"));
  assert.ok(env.has("HOME=/root"));
  assert.equal((await sh("echo $IMAGE_VAR")).stdout, "from-image\n");
  assert.equal((await sh("hostname", { hostname: "box" })).stdout, "box\n");
});

test("working directory: -w, created when missing", { skip }, async () => {
  assert.equal((await sh("pwd", { workdir: "/work/dir" })).stdout, "/work/dir\n");
  assert.equal((await sh("pwd")).stdout, "/\n");
});

test("user: numbers, names from /etc/passwd and /etc/group, supplementary groups", { skip }, async () => {
  // the same lines docker 20.10 prints for the same image here
  assert.equal((await sh("id", { user: "1000:1000" })).stdout, "uid=1000 gid=1000 groups=1000\n");
  const named = await sh("id; echo $HOME", { user: "app" });
  assert.match(named.stdout, /^uid=1234\(app\) gid=2345\(app\) groups=2345\(app\),3456\(extra\)\n\/home\/app\n$/);
  assert.equal((await sh("id", { user: "app:root" })).stdout, "uid=1234(app) gid=0(root) groups=0(root)\n");
  assert.equal((await sh("id", { user: "1234" })).stdout, "uid=1234(app) gid=2345(app) groups=2345(app),3456(extra)\n");
  assert.equal((await sh("id")).stdout, "uid=0(root) gid=0(root) groups=0(root)\n");
  const caps = await sh("grep -E '^Cap(Eff|Bnd)' /proc/self/status", { user: "app" });
  assert.equal(
    caps.stdout,
    "CapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n",
    "docker's bounding set, none effective",
  );
  await assert.rejects(sh("id", { user: "nobody-here" }), /unable to find user nobody-here/);
});

test("a container's record keeps its image from rmi until it is removed", { skip }, async () => {
  const r = await run("rt/busybox:1", { cmd: ["true"], rm: false, name: "keeper" });
  assert.equal(r.exitCode, 0);
  const rec = getContainer(store, r.id);
  assert.equal(rec?.state, "exited");
  assert.equal(rec?.name, "keeper");
  assert.equal(rec?.spec.exitCode, 0);
  assert.throws(
    () => removeImage(store, "rt/busybox:1"),
    (e: unknown) => (e as BerthError).code === "IMAGE_IN_USE",
  );
  await assert.rejects(run("rt/busybox:1", { cmd: ["true"], name: "keeper" }), /already in use/);
  assert.throws(() => removeContainer(store, "keep"), /No such container: keep/);
  assert.equal(removeContainer(store, "keeper"), r.id);
  assert.equal(fs.existsSync(containerDirOf(store, r.id)), false, "rm removes the files");
  assert.equal(getContainer(store, r.id), undefined);

  const gone = await run("rt/busybox:1", { cmd: ["true"] });
  assert.equal(getContainer(store, gone.id), undefined, "--rm removes the record");
  assert.equal(fs.existsSync(containerDirOf(store, gone.id)), false, "--rm removes the files");
});

test("stdin reaches the container with -i", { skip }, async () => {
  const r = await run("rt/busybox:1", { cmd: ["cat"], stdin: Readable.from([Buffer.from("piped in\n")]) });
  assert.equal(r.stdout, "piped in\n");
});

test("ENTRYPOINT and CMD follow docker's rules", { skip }, async () => {
  const bbLayer = fs.readFileSync(join(dir, "bb", "rootfs.tar"));
  await registerLayeredImage(store, [bbLayer], { Entrypoint: ["/bin/echo", "ep"], Cmd: ["default"] }, "rt/entry:2");
  assert.equal((await run("rt/entry:2")).stdout, "ep default\n");
  assert.equal((await run("rt/entry:2", { cmd: ["given"] })).stdout, "ep given\n");
  assert.equal((await run("rt/entry:2", { entrypoint: ["/bin/echo"] })).stdout, "\n", "--entrypoint drops Cmd");
  assert.equal((await run("rt/entry:2", { entrypoint: [], cmd: ["echo", "plain"] })).stdout, "plain\n");
  assert.equal((await run("rt/entry:2", { entrypoint: [] })).exitCode, 127, '"default" is not a command');
});

for (const driver of ["overlay", "copy"] as const) {
  test(`${driver}: whiteouts and opaque directories apply across layers`, { skip }, async () => {
    const bbLayer = fs.readFileSync(join(dir, "bb", "rootfs.tar"));
    const lower = await makeTar([
      { name: "data/", type: "directory" },
      { name: "data/keep", content: "keep\n" },
      { name: "data/gone", content: "gone\n" },
      { name: "data/sub/", type: "directory" },
      { name: "data/sub/file", content: "sub\n" },
      { name: "opq/", type: "directory" },
      { name: "opq/old", content: "old\n" },
    ]);
    const upper = await makeTar([
      { name: "data/.wh.gone", content: "" },
      { name: "data/.wh.sub", content: "" },
      { name: "opq/", type: "directory" },
      { name: "opq/.wh..wh..opq", content: "" },
      { name: "opq/new", content: "new\n" },
      { name: "etc/.wh.hello", content: "" },
    ]);
    await registerLayeredImage(store, [bbLayer, lower, upper], {}, `rt/layers:${driver}`);
    const r = await run(`rt/layers:${driver}`, {
      cmd: ["sh", "-c", "ls /data /opq; ls /etc/hello 2>&1; cat /etc/hello-link"],
      driver,
    });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, "/data:\nkeep\n\n/opq:\nnew\nls: /etc/hello: No such file or directory\nhello from berth\n");
  });

  test(`${driver}: a container's changes become a reproducible layer tar`, { skip }, async () => {
    const script = [
      "echo new > /etc/new",
      "rm /etc/hello",
      "rm -rf /tmp && mkdir /tmp && echo t > /tmp/t",
      "mkdir -p /made/deep && ln -s ../etc/new /made/link && ln /etc/new /made/hard",
      "chmod 4755 /made/deep",
    ].join(" && ");
    const r = await run("rt/busybox:1", { cmd: ["sh", "-c", script], driver, rm: false });
    assert.equal(r.exitCode, 0, r.stderr);
    const rootfs = openRootfs(containerDirOf(store, r.id), driver);
    const epoch = 1_700_000_000;
    const entries = await readTar(await diffRootfs(rootfs, { epoch }));
    const again = await readTar(await diffRootfs(rootfs, { epoch }));
    assert.deepEqual(again, entries, "the same tar twice");
    const names = entries.map((e) => `${e.name} ${e.type}${e.linkname ? ` ${e.linkname}` : ""}`);
    const expected = [
      "etc/ directory",
      "etc/.wh.hello file",
      "etc/new file",
      "made/ directory",
      "made/deep/ directory",
      "made/hard link etc/new",
      "made/link symlink ../etc/new",
      "tmp/ directory",
      ...(driver === "overlay" ? ["tmp/.wh..wh..opq file"] : []),
      "tmp/t file",
    ];
    // The copy driver has no opaque marker; /tmp had nothing, so there is nothing to white out.
    assert.deepEqual(names, expected);
    assert.equal(entries.find((e) => e.name === "etc/new")?.content, "new\n");
    for (const e of entries) assert.ok(e.mtime.getTime() <= epoch * 1000, `${e.name} mtime clamped`);
    assert.equal(entries.find((e) => e.name === "made/deep/")?.mode, 0o4755);
    assert.ok(entries.every((e) => !e.uname && !e.gname));

    // The tar is a layer: on top of the image, it shows what the container saw.
    const chunks: Buffer[] = [];
    for await (const c of await diffRootfs(rootfs, { epoch })) chunks.push(c as Buffer);
    const bbLayer = fs.readFileSync(join(dir, "bb", "rootfs.tar"));
    await registerLayeredImage(store, [bbLayer, Buffer.concat(chunks)], {}, `rt/committed:${driver}`);
    const view = await run(`rt/committed:${driver}`, {
      cmd: [
        "sh",
        "-c",
        "ls /tmp /made; cat /made/hard; ls /etc/hello 2>&1; cat /etc/hello-link; stat -c %a /made/deep",
      ],
      driver,
    });
    assert.equal(
      view.stdout,
      "/made:\ndeep\nhard\nlink\n\n/tmp:\nt\nnew\nls: /etc/hello: No such file or directory\nhello from berth\n4755\n",
    );
    removeContainer(store, r.id.slice(0, 12));
  });
}

test("crun is tried first where it should work, and runc takes over when it fails to start", { skip }, async () => {
  const real = crunCgroupProblem(facts);
  const pretend = { ...facts, mountinfo: facts.mountinfo.replace(/ - cgroup2 /g, " - notcgroup2 ") };
  await assert.rejects(
    run("rt/busybox:1", { cmd: ["true"], host: { ...facts, path: "/nowhere" } }),
    /no OCI runtime can run containers here: install runc/,
    "neither runtime: say what to install",
  );
  const search = findRuntimes(pretend);
  if (!search.candidates.some((c) => c.name === "crun")) return; // crun not installed
  assert.equal(search.candidates[0]?.name, "crun");
  const r = await run("rt/busybox:1", { cmd: ["echo", "via fallback"], host: pretend });
  assert.equal(r.stdout, "via fallback\n");
  assert.equal(r.exitCode, 0);
  assert.equal(r.runtime, real ? "runc" : "crun");
  if (real) {
    // asked for crun alone, on a host where it cannot work: a clear error, exit 125 territory
    await assert.rejects(
      run("rt/busybox:1", { cmd: ["true"], runtime: "crun" }),
      (e: unknown) => e instanceof BerthError && /could not start the container: crun: .*hybrid/.test(e.message),
    );
  }
});

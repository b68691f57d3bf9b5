import assert from "node:assert/strict";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, test } from "node:test";
import { Command } from "@commander-js/extra-typings";
import { registerRun } from "../src/cli/commands/run.js";
import type { CliContext } from "../src/cli/context.js";
import { findRuntimes, hostFacts } from "../src/runtime/oci-runtime.js";
import { LocalStore } from "../src/store/local-store.js";
import { berth, busyboxRootfsTar, tempDir } from "./helpers.js";
import { ensureCli } from "./runtime-images.js";

/**
 * `berth run` as a command line: registered on a program the way main.ts would, so that the
 * flags, the pass-through of the container's arguments and docker's exit codes are checked.
 */

const canRun = process.geteuid?.() === 0 && findRuntimes(hostFacts()).candidates.length > 0;
const skip = canRun ? false : "needs root and runc or crun";
let root: string;
let store: LocalStore | undefined;

before(() => {
  if (!canRun) return;
  ensureCli();
  const dir = tempDir("runtime-cli");
  root = join(dir, "store");
  const r = berth(root, ["import", busyboxRootfsTar(dir), "cli/busybox:1"]);
  assert.equal(r.code, 0, r.stderr);
});

after(() => store?.close());

async function cli(args: string[], input = "") {
  store ??= LocalStore.open(root);
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
  let code = 0;
  const opened = store;
  const ctx: CliContext = {
    env: { FROM_HOST: "host value" },
    stdin: Readable.from([Buffer.from(input)]),
    stdout: out,
    stderr: err,
    root: () => root,
    store: () => opened,
    setExitCode: (c) => {
      code = c;
    },
  };
  const program = new Command("berth").enablePositionalOptions().exitOverride();
  registerRun(program.command("run"), ctx);
  await program.parseAsync(["run", ...args], { from: "user" });
  return { code, stdout, stderr };
}

test("berth run: output, exit code, and the container's own flags after the image", { skip }, async () => {
  const r = await cli([
    "--rm",
    "-e",
    "A=1",
    "-e",
    "FROM_HOST",
    "cli/busybox:1",
    "sh",
    "-c",
    'echo -e "$A $FROM_HOST"; exit 4',
  ]);
  assert.equal(r.stdout, "1 host value\n");
  assert.equal(r.code, 4);
});

test("berth run: -i, -w, -u, --entrypoint", { skip }, async () => {
  assert.equal((await cli(["--rm", "-i", "cli/busybox:1", "cat"], "from stdin")).stdout, "from stdin");
  assert.equal(
    (await cli(["--rm", "-w", "/tmp", "-u", "7:8", "cli/busybox:1", "sh", "-c", "pwd; id"])).stdout,
    "/tmp\nuid=7 gid=8 groups=8\n",
  );
  assert.equal((await cli(["--rm", "--entrypoint", "echo", "cli/busybox:1", "a", "b"])).stdout, "a b\n");
});

test("berth run: docker's exit codes for failures", { skip }, async () => {
  const missing = await cli(["--rm", "cli/busybox:1", "nope"]);
  assert.equal(missing.code, 127);
  assert.equal(missing.stderr, 'Error: exec: "nope": executable file not found in $PATH\n');
  assert.equal((await cli(["--rm", "cli/busybox:1", "/etc"])).code, 126);
  const noImage = await cli(["--rm", "cli/nothing:1", "true"]);
  assert.equal(noImage.code, 125);
  assert.match(noImage.stderr, /No such image: cli\/nothing:1/);
  assert.equal((await cli(["--rm", "--network", "bridge", "cli/busybox:1", "true"])).code, 125);
  assert.equal((await cli(["--rm", "--ulimit", "nofile=1:99999999", "cli/busybox:1", "true"])).code, 125);
  assert.equal((await cli(["--rm", "-u", "ghost", "cli/busybox:1", "true"])).code, 125);
});

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { BERTH, berth, tempDir } from "./helpers.js";
import { Distribution, ok, randomImageArchive } from "./registry-client-harness.js";

// undici parses HTTP with llhttp compiled to WebAssembly. V8 recompiled its parser function
// with TurboFan on a background thread after a few responses: ~0.1 s of CPU that a pull
// shared two cores with, and waited for at exit (a one-file pull idled 80-150 ms after its
// last byte). The CLI's undici bundle compiles llhttp with the baseline compiler only
// (scripts/llhttp-module.cjs); V8's own trace says which compiler built each function.
test("a pull's HTTP parser is compiled once, by the baseline compiler, and never recompiled", async (t) => {
  const dir = tempDir("llhttp");
  const reg = await Distribution.start(join(dir, "registry"));
  t.after(() => reg.stop());
  const root = join(dir, "store");
  const name = `${reg.host}/tiny/one:1`;
  ok(berth(root, ["load", "-q", "-i", await randomImageArchive(dir, { name, layers: 2, layerBytes: 2048 })]), "load");
  ok(berth(root, ["push", "-q", name]), "push");

  // a V8 flag on the command line makes the code caches unusable: slower, not different
  const r = spawnSync(
    process.execPath,
    ["--trace-wasm-compilation-times", BERTH, "--root", join(dir, "pulled"), "pull", name],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Downloaded newer image/);
  const compiled = `${r.stdout}${r.stderr}`.split("\n").filter((l) => /^Compiled function .* using /.test(l));
  assert.ok(
    compiled.some((l) => l.includes(" using Liftoff")),
    `no wasm function was compiled (is llhttp still WebAssembly?):\n${r.stdout}`,
  );
  assert.deepEqual(
    compiled.filter((l) => !l.includes(" using Liftoff")),
    [],
    "a wasm function was compiled by another compiler than Liftoff",
  );
});

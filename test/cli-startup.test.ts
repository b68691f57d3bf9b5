import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BERTH, tempDir } from "./helpers.js";

// The bundle initialises every module that the CLI's entry reaches through static imports.
// A command file that imports the registry client that way (undici, which also loads node's
// own undici) makes every berth command, a cached `berth build -q` included, pay ~20-40 ms
// more start-up: the registry commands import it where they run. (It happened twice.)
test("start-up does not load the registry client", () => {
  const hook = join(tempDir("startup"), "report.cjs");
  fs.writeFileSync(
    hook,
    `process.on("exit", () => {
      const undici = process.moduleLoadList.some((m) => m.includes("internal/deps/undici"));
      process.stderr.write("\\nLOADED " + JSON.stringify({ undici }) + "\\n");
    });`,
  );
  const r = spawnSync(process.execPath, ["--require", hook, BERTH, "--version"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const line = /LOADED (.*)/.exec(r.stderr)?.[1];
  assert.ok(line, r.stderr);
  assert.deepEqual(JSON.parse(line), { undici: false }, "something imports the registry client at start-up");
});

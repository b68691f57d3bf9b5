import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { REPO } from "./helpers.js";

/**
 * Imports point one way: oci → format/image/dockerfile → store → archive/runtime/registry-client → build/verbs/server → cli. A module may
 * import from its own layer or any layer below it, never above.
 */
const RANK: Record<string, number> = {
  oci: 0,
  format: 1,
  image: 1,
  dockerfile: 1,
  store: 2,
  archive: 3,
  runtime: 3,
  "registry-client": 3,
  build: 4,
  server: 4,
  verbs: 4,
  cli: 5,
  "index.ts": 5,
};

function* files(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) yield p;
  }
}

test("imports point down the layers", () => {
  const src = join(REPO, "src");
  const violations: string[] = [];
  for (const file of files(src)) {
    const from = relative(src, file).split("/")[0] as string;
    const fromRank = RANK[from];
    assert.notEqual(fromRank, undefined, `${relative(src, file)} is in no known layer: add it to RANK`);
    for (const m of fs.readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
      const target = relative(src, join(file, "..", m[1] as string)).split("/")[0] as string;
      const toRank = RANK[target.endsWith(".js") ? target.replace(/\.js$/, ".ts") : target];
      if (toRank !== undefined && fromRank !== undefined && toRank > fromRank) {
        violations.push(`${relative(src, file)} imports ${m[1]} (${target} is above ${from})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

/** Every source file, recursively. */
function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return p.endsWith(".ts") && !p.endsWith(".test.ts") ? [p] : [];
  });
}

test("every module takes zod from src/oci/zod.ts, so its jitless setting is made before any schema", () => {
  const src = join(import.meta.dirname, "..", "src");
  const direct = sources(src).filter(
    (p) => p !== join(src, "oci", "zod.ts") && /from\s+["']zod(\/[^"']*)?["']/.test(fs.readFileSync(p, "utf8")),
  );
  assert.deepEqual(direct, []);
  assert.match(fs.readFileSync(join(src, "oci", "zod.ts"), "utf8"), /z\.config\(\{ jitless: true \}\)/);
});

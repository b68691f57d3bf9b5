import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { REPO, tempDir } from "./helpers.js";

/**
 * bin/berth runs the bundle with V8's code cache. V8 checks a cache only against the source's
 * length, so a rebuilt bundle of the same length with the old cache beside it would run old
 * code. Every build stamps its bundle (a random /*berth-build:...*\/ at the top) and its cache
 * with the same stamp, and a cache of another stamp is ignored.
 */
test("a code cache made for another build of the same length is not used", () => {
  const dir = tempDir("codecache");
  fs.mkdirSync(join(dir, "bin"));
  fs.cpSync(join(REPO, "dist"), join(dir, "dist"), { recursive: true });
  fs.copyFileSync(join(REPO, "bin", "berth"), join(dir, "bin", "berth"));
  fs.copyFileSync(join(REPO, "bin", "package.json"), join(dir, "bin", "package.json"));
  fs.symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  const run = () =>
    spawnSync(process.execPath, [join(dir, "bin", "berth"), "--version"])
      .stdout.toString()
      .trim();
  const version = run();
  assert.match(version, /^\d+\.\d+\.\d+$/);
  // the same bundle with another version string of the same length, and the old cache kept
  const bundle = join(dir, "dist", "cli.cjs");
  const source = fs.readFileSync(bundle, "utf8");
  const other = version.replace(/\d/g, (d) => String((Number(d) + 1) % 10));
  assert.equal(other.length, version.length);
  // what a rebuild does: other code, and a new stamp of the same length
  const stamp = /^\/\*berth-build:([0-9a-f]{32})\*\//.exec(source)?.[1];
  assert.ok(stamp, "the bundle starts with its build stamp");
  const rebuilt = source.split(`"${version}"`).join(`"${other}"`).replace(stamp, randomBytes(16).toString("hex"));
  fs.writeFileSync(bundle, rebuilt);
  assert.equal(fs.statSync(bundle).size, Buffer.byteLength(source));
  assert.equal(run(), other, "the new code runs, not the cached old code");
  // the old bundle back (its stamp matches the cache again) runs as before
  fs.writeFileSync(bundle, source);
  assert.equal(run(), version);
});

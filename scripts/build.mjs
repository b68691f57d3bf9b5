// Builds berth:
// - dist/cli.cjs + dist/cli.cache: the CLI bundled into one CommonJS file (one module to load)
//   and V8's code cache for it, made by running it once; bin/berth feeds the cache to
//   vm.Script, so a start skips compiling ~600 kB of JS (Node 20 has no built-in compile cache).
//   Measured alternative, not taken: a V8 start-up snapshot (node --build-snapshot) of the
//   same bundle starts slower here (0.12-0.13 s vs 0.11 s), as deserialising its 6 MB heap
//   costs more than the evaluation it saves.
// - dist/index.js (+ .d.ts from tsc): the library API.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  external: ["better-sqlite3", "@node-rs/argon2"],
  logLevel: "warning",
  // import.meta.url in the CommonJS bundles: the bundle's own file (module resolution for
  // better-sqlite3 starts there).
  define: { "import.meta.url": "__berthModuleUrl" },
  banner: { js: 'var __berthModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
};
// Outputs are written to a staging folder and renamed into dist/ one file at a time, so a berth
// started while a build runs sees whole files (a cache from another build is refused by its hash).
const staging = `dist/.staging-${process.pid}`;
const cjs = {
  ...common,
  format: "cjs",
  outExtension: { ".js": ".cjs" },
  outdir: staging,
  minify: true,
  sourcemap: true,
};
await build({ ...cjs, entryPoints: { cli: "src/cli/run.ts" } });
// The library keeps its npm dependencies as imports (whoever installs berth installs them).
await build({
  bundle: true,
  packages: "external",
  platform: "node",
  target: "node20",
  logLevel: "warning",
  sourcemap: true,
  entryPoints: { index: "src/index.ts" },
  format: "esm",
  outdir: staging,
});
for (const name of readdirSync(staging)) renameSync(join(staging, name), join("dist", name));
rmSync(staging, { recursive: true, force: true });

const run = (args, env = {}) =>
  execFileSync(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
// Warm the code cache with a typical run, starting from none (a stale one would be refused by
// bin/berth's hash check anyway, but must not seed the new one).
rmSync("dist/cli.cache", { force: true });
const root = mkdtempSync(join(tmpdir(), "berth-build-"));
try {
  run(["bin/berth", "--root", root, "images"], { BERTH_WRITE_CODE_CACHE: "1" });
} finally {
  rmSync(root, { recursive: true, force: true });
}
if (!process.argv.includes("--no-types")) {
  execFileSync("npx", ["tsc", "-p", "tsconfig.json", "--emitDeclarationOnly", "--declaration"], { stdio: "inherit" });
}

// Builds berth:
// - dist/cli.cjs: the CLI bundled into one CommonJS file, so start-up loads one module;
// - dist/cli.cache: V8's code cache for it, made by running the CLI once, so start-up skips
//   compiling ~1 MB of JavaScript (bin/berth feeds it to vm.Script; Node 20 has no built-in
//   compile cache for this);
// - dist/index.js (+ .d.ts from tsc): the library API.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  sourcemap: true,
  external: ["better-sqlite3"],
  logLevel: "warning",
};
await build({
  ...common,
  entryPoints: { cli: "src/cli/run.ts" },
  format: "cjs",
  outExtension: { ".js": ".cjs" },
  outdir: "dist",
  minify: true,
});
await build({
  ...common,
  entryPoints: { index: "src/index.ts" },
  format: "esm",
  outdir: "dist",
  banner: {
    js: "import { createRequire as __berthRequire } from 'node:module'; const require = __berthRequire(import.meta.url);",
  },
});

// Warm the code cache with a typical run: functions V8 compiled lazily are included.
const root = mkdtempSync(join(tmpdir(), "berth-build-"));
try {
  execFileSync(process.execPath, ["bin/berth", "--root", root, "images"], {
    env: { ...process.env, BERTH_WRITE_CODE_CACHE: "1" },
    stdio: "ignore",
  });
} finally {
  rmSync(root, { recursive: true, force: true });
}
if (!process.argv.includes("--no-types")) {
  execFileSync("npx", ["tsc", "-p", "tsconfig.json", "--emitDeclarationOnly", "--declaration"], { stdio: "inherit" });
}

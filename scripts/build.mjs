// Bundles the CLI into one file (fast start: one module to load instead of hundreds) and
// the library entry; tsc writes the type declarations.
import { execFileSync } from "node:child_process";
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  sourcemap: true,
  external: ["better-sqlite3"],
  // commander and other CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __berthRequire } from 'node:module'; const require = __berthRequire(import.meta.url);" },
  logLevel: "warning",
};
await build({ ...common, entryPoints: { cli: "src/cli/run.ts", index: "src/index.ts" }, outdir: "dist" });
if (!process.argv.includes("--no-types")) {
  execFileSync("npx", ["tsc", "-p", "tsconfig.json", "--emitDeclarationOnly", "--declaration"], { stdio: "inherit" });
}

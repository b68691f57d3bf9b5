// Builds berth:
// - dist/cli.cjs + dist/cli.cache: the CLI bundled into one CommonJS file (one module to load)
//   and V8's code cache for it, made by running it once; bin/berth feeds the cache to
//   vm.Script, so a start skips compiling ~600 kB of JS (Node 20 has no built-in compile cache);
//   dist/undici.cjs, required by the bundle only when the registry client loads.
//   Measured alternative, not taken: a V8 start-up snapshot (node --build-snapshot) of the
//   same bundle starts slower here (0.12-0.13 s vs 0.11 s), as deserialising its 6 MB heap
//   costs more than the evaluation it saves.
// - dist/index.js (+ .d.ts from tsc): the library API.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  // better-sqlite3's JavaScript is bundled (store/local-store.ts gives it its addon's path);
  // the addons themselves are loaded from node_modules at run time
  external: ["@node-rs/argon2"],
  logLevel: "warning",
  // import.meta.url in the CommonJS bundles: the bundle's own file (module resolution for
  // better-sqlite3's addon starts there).
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
// undici (the registry client's HTTP, a third of the bundle) is a bundle of its own, required
// only when the registry client loads: every other command starts without reading it.
// bin/berth loads it with its own code cache (globalThis.__berthRequireCached); a plain require
// serves whoever loads dist/cli.cjs some other way.
const undiciApart = {
  name: "undici-apart",
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, () => ({ path: "undici", namespace: "undici-apart" }));
    b.onResolve({ filter: /^\.\/undici\.cjs$/ }, () => ({ path: "./undici.cjs", external: true }));
    b.onLoad({ filter: /.*/, namespace: "undici-apart" }, () => ({
      contents:
        'module.exports = globalThis.__berthRequireCached ? globalThis.__berthRequireCached("undici") : require("./undici.cjs");',
      loader: "js",
    }));
  },
};
// commander requires node:child_process when it loads, for executable subcommands, which berth
// has none of: loading it cost every start ~2 ms. Commander gets it on first use instead.
const commanderLazyChildProcess = {
  name: "commander-lazy-child-process",
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer) ? { path: "child_process", namespace: "lazy-builtin" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => ({
      contents: `module.exports = new Proxy({}, { get: (_, key) => require("node:${args.path}")[key] });`,
      loader: "js",
    }));
  },
};
// undici loads node:http2 when it loads, for HTTP/2, which berth never asks for (allowH2 stays
// off): ~3.4 ms of every pull and push. undici falls back by itself when it cannot load it.
const noHttp2 = {
  name: "no-http2",
  setup(b) {
    b.onResolve({ filter: /^node:http2$/ }, () => ({ path: "http2", namespace: "no-http2" }));
    b.onLoad({ filter: /.*/, namespace: "no-http2" }, () => ({
      contents: 'throw new Error("berth does not use HTTP/2");',
      loader: "js",
    }));
  },
};
// undici compiles llhttp, its HTTP parser, to WebAssembly at its first connection; V8 then
// recompiles the parser with TurboFan, ~0.1 s of CPU that a pull or push pays for and waits
// for at exit. scripts/llhttp-module.cjs compiles it with the baseline compiler only.
const llhttpBaseline = {
  name: "llhttp-baseline",
  setup(b) {
    b.onLoad({ filter: /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h1\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      const compiles = source.split("new WebAssembly.Module(").length - 1;
      // undici 7.30 compiles it in two places (the SIMD build, else the plain one): another
      // count means undici changed, and this must be looked at again
      if (compiles !== 2) throw new Error(`undici's client-h1.js compiles WebAssembly ${compiles} times, not 2`);
      const shim = JSON.stringify(fileURLToPath(new URL("llhttp-module.cjs", import.meta.url)));
      return { contents: source.replaceAll("new WebAssembly.Module(", `require(${shim})(`), loader: "js" };
    });
  },
};
// The stamp bin/berth matches the code cache against (see there).
const stamp = randomBytes(16).toString("hex");
await build({
  ...cjs,
  entryPoints: { cli: "src/cli/run.ts" },
  plugins: [undiciApart, commanderLazyChildProcess],
  banner: { js: `/*berth-build:${stamp}*/${common.banner.js}` },
});
await build({
  ...cjs,
  entryPoints: { undici: "scripts/undici-entry.cjs" },
  plugins: [noHttp2, llhttpBaseline],
  banner: { js: `/*berth-build:${stamp}*/` },
  define: {},
  // its licence comments (one names Jimmy W\u00e4rting) go to undici.cjs.LEGAL.txt, keeping the bundle ASCII
  legalComments: "external",
});
// bin/berth reads the bundles as latin1: they must be ASCII (esbuild's default charset escapes the rest)
for (const name of ["cli.cjs", "undici.cjs"]) {
  if (readFileSync(join(staging, name)).some((b) => b > 0x7f)) throw new Error(`dist/${name} is not ASCII`);
}
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
// Warm the code cache with typical runs, starting from none (a stale one would be refused by
// bin/berth's stamp check anyway, but must not seed the new one). V8 caches the functions that
// ran, and each run starts from the cache the one before wrote, so the cache ends up holding
// what images, a build (cold, then all cached) and help run; anything else compiles on use.
for (const name of ["cli", "undici"]) rmSync(`dist/${name}.cache`, { force: true });
const root = mkdtempSync(join(tmpdir(), "berth-build-"));
try {
  const ctx = join(root, "context");
  mkdirSync(ctx);
  writeFileSync(join(ctx, "Dockerfile"), 'FROM scratch\nCOPY a.txt /\nENV A=1\nWORKDIR /w\nCMD ["/a"]\n');
  writeFileSync(join(ctx, "a.txt"), "a\n");
  const store = ["bin/berth", "--root", join(root, "store")];
  for (const args of [["images"], ["build", "-q", "-t", "warm", ctx], ["build", "-q", "-t", "warm", ctx], ["--help"]]) {
    run([...store, ...args], { BERTH_WRITE_CODE_CACHE: "1" });
  }
  // a pull from a port where nothing listens: loads the registry client and undici, and makes
  // a request (refused), which is enough for undici's cache
  try {
    run([...store, "pull", "127.0.0.1:9/warm/up:1"], { BERTH_WRITE_CODE_CACHE: "1", BERTH_REGISTRY_ATTEMPTS: "1" });
  } catch {
    // it fails, as it must
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
if (!process.argv.includes("--no-types")) {
  execFileSync("npx", ["tsc", "-p", "tsconfig.json", "--emitDeclarationOnly", "--declaration"], { stdio: "inherit" });
}

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BERTH, REPO, tempDir } from "./helpers.js";

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

// The same for every command's implementation: the command files keep commander's definitions
// (names, options, help) and load what runs a command (verbs, runtime, server, builder,
// formatting) inside its action with `await import(...)`. esbuild wraps every module reached
// that way in a lazy initialiser, so a start that runs no action evaluates none of them; one
// static import of, say, the server from a command file would evaluate it (and its zod schemas
// and jose) at every start of every command.
const HEAVY: Record<string, RegExp> = {
  "the registry server (src/server, jose)": /^src\/server\/|^node_modules\/jose\//,
  "zod (and its schemas in src/oci/schema.ts)": /^node_modules\/zod\/|^src\/oci\/schema\.ts$/,
  "the container runtime (src/runtime)": /^src\/runtime\//,
  "the builder (src/build, src/dockerfile)": /^src\/build\/|^src\/dockerfile\//,
  "the registry client (src/registry-client)": /^src\/registry-client\//,
  "the verbs, the store and archives (src/verbs, src/store, src/archive, src/image)":
    /^src\/(verbs|store|archive|image)\//,
  "the terminal views (log-update)": /^node_modules\/log-update\//,
};

for (const args of [["--version"], ["tag", "--help"]]) {
  test(`berth ${args.join(" ")} evaluates none of the commands' implementations`, () => {
    const evaluated = evaluatedModules(args);
    const found = Object.entries(HEAVY)
      .map(([group, re]) => [group, evaluated.filter((m) => re.test(m))] as const)
      .filter(([, modules]) => modules.length > 0);
    assert.deepEqual(
      found.map(([group, modules]) => `${group}: ${modules.join(" ")}`),
      [],
      `evaluated at start-up: ${evaluated.join(" ")}`,
    );
    // the check itself works: the CLI's own definitions and commander are seen
    assert.ok(evaluated.includes("src/cli/main.ts"), evaluated.join(" "));
    assert.ok(evaluated.includes("node_modules/commander/lib/command.js"), evaluated.join(" "));
  });
}

// A build whose steps are all cached executes none of them: the runtime (RUN's containers,
// rootfs, snapshots, mounts), the COPY executor, the downloader and the archive writer load in
// the step that runs them, and the image's JSON is read without zod (its schemas validate what
// comes from outside: pulls, loads, the server). A static import of any of them from
// src/build/build.ts evaluates it again at every cached build.
test("a cached build evaluates neither the runtime nor zod", () => {
  const dir = tempDir("startup-build");
  const root = join(dir, "root");
  const ctx = join(dir, "ctx");
  fs.mkdirSync(ctx);
  fs.writeFileSync(join(ctx, "app.txt"), "hello\n");
  fs.writeFileSync(join(ctx, "Dockerfile"), "FROM scratch\nCOPY app.txt /app.txt\nENV A=1\nCOPY app.txt /b/\n");
  const args = ["--root", root, "build", "-q", "-t", "startup:1", ctx];
  const first = spawnSync(process.execPath, [BERTH, ...args], { encoding: "utf8" });
  assert.equal(first.status, 0, first.stderr);
  const evaluated = evaluatedModules(args);
  const heavy = evaluated.filter(
    (m) => /^src\/runtime\/|^node_modules\/zod\/|^src\/oci\/schema\.ts$/.test(m) || m === "src/build/copy.ts",
  );
  assert.deepEqual(heavy, [], `evaluated by a cached build: ${evaluated.join(" ")}`);
  // the check itself works: the build ran
  assert.ok(evaluated.includes("src/build/build.ts"), evaluated.join(" "));
});

/**
 * The source files of the bundle whose code ran while berth ran with `args`, from V8's function
 * coverage and the bundle's source map. A module reached through a dynamic import is wrapped in
 * an initialiser function (esbuild's __esm, or __commonJS for CommonJS packages), and so is
 * everything it imports: a function that ran is attributed to the source of its first mapped
 * position, so an initialiser that ran names its module. (Hoisted function declarations sit
 * outside the initialisers, so positions outside functions say nothing and are not counted.)
 */
function evaluatedModules(args: string[]): string[] {
  const dir = tempDir("startup-coverage");
  const hook = join(dir, "coverage.cjs");
  const out = join(dir, "coverage.json");
  fs.writeFileSync(
    hook,
    `const inspector = require("node:inspector");
    const fs = require("node:fs");
    const { fileURLToPath } = require("node:url");
    const session = new inspector.Session();
    session.connect();
    session.post("Debugger.enable");
    session.post("Profiler.enable");
    session.post("Profiler.startPreciseCoverage", { callCount: true, detailed: false });
    process.on("exit", () => {
      session.post("Profiler.takePreciseCoverage", (err, coverage) => {
        if (err) throw err;
        const script = coverage.result.find((s) => s.url.endsWith("/dist/cli.cjs"));
        session.post("Debugger.getScriptSource", { scriptId: script.scriptId }, (err, source) => {
          if (err) throw err;
          // bin/berth wraps the bundle in a function: where the bundle's own text starts
          const head = fs.readFileSync(fileURLToPath(script.url), "latin1").slice(0, 200);
          const offset = source.scriptSource.indexOf(head);
          fs.writeFileSync(${JSON.stringify(out)}, JSON.stringify({ offset, length: source.scriptSource.length, functions: script.functions }));
        });
      });
    });`,
  );
  const r = spawnSync(process.execPath, ["--require", hook, BERTH, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const coverage = JSON.parse(fs.readFileSync(out, "utf8")) as {
    offset: number;
    length: number;
    functions: { ranges: { startOffset: number; endOffset: number; count: number }[] }[];
  };
  assert.ok(coverage.offset >= 0, "the bundle's text is in the script bin/berth ran");

  // each offset of the script → the innermost function around it (ranges nest: outer ones first)
  const owner = new Int32Array(coverage.length).fill(-1);
  const ranges = coverage.functions
    .map((f, index) => ({ ...(f.ranges[0] as { startOffset: number; endOffset: number }), index }))
    .sort((a, b) => a.startOffset - b.startOffset || b.endOffset - a.endOffset);
  for (const r of ranges) owner.fill(r.index, r.startOffset, r.endOffset);

  const bundle = fs.readFileSync(join(REPO, "dist", "cli.cjs"), "latin1");
  const map = JSON.parse(fs.readFileSync(join(REPO, "dist", "cli.cjs.map"), "utf8")) as {
    sources: string[];
    mappings: string;
  };
  const lineStarts = [0];
  for (let i = 0; i < bundle.length; i++) if (bundle.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const firstSource = new Map<number, number>();
  let source = 0;
  for (const [line, segments] of map.mappings.split(";").entries()) {
    let column = 0;
    for (const segment of segments.split(",")) {
      if (!segment) continue;
      const fields = decodeVlq(segment);
      column += fields[0] as number;
      if (fields.length < 4) continue;
      source += fields[1] as number;
      const fn = owner[coverage.offset + (lineStarts[line] as number) + column] as number;
      if (fn >= 0 && !firstSource.has(fn)) firstSource.set(fn, source);
    }
  }
  const evaluated = new Set<string>();
  for (const [fn, src] of firstSource) {
    const range = coverage.functions[fn]?.ranges[0];
    // the script and bin/berth's wrapper hold the whole bundle: they name no module
    if (!range || (range.startOffset <= coverage.offset && range.endOffset >= coverage.offset + bundle.length)) {
      continue;
    }
    if (range.count > 0) {
      evaluated.add((map.sources[src] as string).replace(/^(\.\.\/)+/, ""));
    }
  }
  return [...evaluated].sort();
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** One source map segment: its base64 VLQ fields, as numbers. */
function decodeVlq(segment: string): number[] {
  const fields: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = BASE64.indexOf(ch);
    value += (digit & 31) << shift;
    if (digit & 32) shift += 5;
    else {
      fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return fields;
}

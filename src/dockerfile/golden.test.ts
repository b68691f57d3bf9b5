/**
 * Golden tests of the whole pure front end: testdata/<case>/Dockerfile → expected.json, and
 * testdata-invalid/<case>/Dockerfile → error.txt (the one-line error). A case may carry an
 * options.json: { "buildArgs": {…}, "targetPlatform": "linux/arm64", "target": "name",
 * "baseImages": { "image": { "env": [...], "onBuild": [...] } } }.
 *
 * expected.json lists each stage's instructions as parsed (variables as written); an
 * instruction that changes when its stage's variables are expanded carries the changed fields
 * under "expanded". Ranges print as "line:column-line:column".
 *
 * UPDATE_GOLDEN=1 rewrites the expected files; then `npx biome format --write src/dockerfile`
 * (the comparison ignores layout), and review the diff before keeping it.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Range } from "./ast.js";
import { type BaseImageConfig, type Platform, resolveBuild } from "./build-args.js";
import { DockerfileError } from "./errors.js";
import { toInstructions } from "./instructions.js";
import { parseDockerfile } from "./parse.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const BUILD_PLATFORM: Platform = { os: "linux", architecture: "amd64" };

interface CaseOptions {
  buildArgs?: Record<string, string>;
  targetPlatform?: string;
  target?: string;
  baseImages?: Record<string, BaseImageConfig>;
}

function platformOf(text: string): Platform {
  const [os = "", architecture = "", variant] = text.split("/");
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

function isRange(v: unknown): v is Range {
  return typeof v === "object" && v !== null && "start" in v && "end" in v;
}

function plain(v: unknown): unknown {
  return JSON.parse(
    JSON.stringify(v, (_k, x: unknown) => {
      if (isRange(x)) return `${x.start.line}:${x.start.column}-${x.end.line}:${x.end.column}`;
      if (x instanceof Map) return Object.fromEntries(x);
      return x;
    }),
  );
}

/** The fields of `after` that differ from `before`. */
function changed(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(after)) {
    if (JSON.stringify(v) !== JSON.stringify(before[k])) out[k] = v;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function frontEnd(dir: string): unknown {
  const text = readFileSync(join(dir, "Dockerfile"), "utf8");
  const optionsFile = join(dir, "options.json");
  const options: CaseOptions = existsSync(optionsFile) ? JSON.parse(readFileSync(optionsFile, "utf8")) : {};
  const ast = parseDockerfile(text);
  const parsed = toInstructions(ast);
  const resolved = resolveBuild(parsed, {
    buildPlatform: BUILD_PLATFORM,
    ...(options.targetPlatform ? { targetPlatform: platformOf(options.targetPlatform) } : {}),
    ...(options.target ? { target: options.target } : {}),
    buildArgs: new Map(Object.entries(options.buildArgs ?? {})),
    baseImage: (image) => options.baseImages?.[image],
  });
  return plain({
    escape: ast.escape,
    directives: ast.directives,
    warnings: ast.warnings,
    metaArgs: parsed.metaArgs,
    stages: parsed.stages.map((stage, i) => {
      const r = resolved.stages[i];
      assert.ok(r);
      const steps = r.steps.filter((s) => !s.trigger);
      return {
        ...stage,
        resolved: {
          baseName: r.baseName,
          base: r.base,
          ...(r.platform === undefined ? {} : { platform: r.platform }),
          ...(r.steps.some((s) => s.trigger)
            ? { triggers: r.steps.filter((s) => s.trigger).map((s) => s.instruction) }
            : {}),
          configEnv: r.configEnv,
        },
        instructions: stage.instructions.map((instruction, j) => {
          const step = steps[j];
          assert.ok(step);
          const diff = changed(
            plain(instruction) as Record<string, unknown>,
            plain(step.instruction) as Record<string, unknown>,
          );
          return diff === undefined ? instruction : { ...instruction, expanded: diff };
        }),
      };
    }),
    ...(resolved.unusedBuildArgs.length > 0 ? { unusedBuildArgs: resolved.unusedBuildArgs } : {}),
  });
}

function cases(folder: string): string[] {
  const root = join(HERE, folder);
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

test("valid Dockerfiles give the expected instructions", async (t) => {
  const names = cases("testdata");
  assert.ok(names.length >= 30, `only ${names.length} golden cases`);
  for (const name of names) {
    await t.test(name, () => {
      const dir = join(HERE, "testdata", name);
      const actual = frontEnd(dir);
      const file = join(dir, "expected.json");
      if (UPDATE) writeFileSync(file, `${JSON.stringify(actual, null, 2)}\n`);
      assert.deepEqual(actual, JSON.parse(readFileSync(file, "utf8")));
    });
  }
});

test("invalid Dockerfiles fail with the expected one-line error", async (t) => {
  for (const name of cases("testdata-invalid")) {
    await t.test(name, () => {
      const dir = join(HERE, "testdata-invalid", name);
      let message: string | undefined;
      try {
        frontEnd(dir);
      } catch (err) {
        assert.ok(err instanceof DockerfileError, `${name}: not a DockerfileError: ${String(err)}`);
        assert.equal(err.code, "USAGE");
        message = err.message;
      }
      assert.ok(message !== undefined, `${name}: no error`);
      assert.ok(!message.includes("\n"), `${name}: the error is more than one line`);
      const file = join(dir, "error.txt");
      if (UPDATE) writeFileSync(file, `${message}\n`);
      assert.equal(message, readFileSync(file, "utf8").trimEnd());
    });
  }
});

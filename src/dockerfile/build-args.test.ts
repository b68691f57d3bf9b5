// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfile text, not templates.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  formatPlatform,
  isPredefinedArg,
  predefinedArgs,
  proxyEnv,
  resolveBuild,
  resolveMetaArgs,
} from "./build-args.js";
import { DockerfileError } from "./errors.js";
import { type ArgInstruction, type RunInstruction, toInstructions } from "./instructions.js";
import { parseDockerfile } from "./parse.js";

const AMD64 = { os: "linux", architecture: "amd64" };
const ARMV7 = { os: "linux", architecture: "arm", variant: "v7" };

function build(text: string, buildArgs: Record<string, string> = {}, stages?: number[]) {
  return resolveBuild(toInstructions(parseDockerfile(text)), {
    buildPlatform: AMD64,
    targetPlatform: ARMV7,
    buildArgs: new Map(Object.entries(buildArgs)),
    ...(stages ? { stages } : {}),
  });
}

test("predefined platform ARGs, overridable by --build-arg", () => {
  const args = predefinedArgs({ buildPlatform: AMD64, targetPlatform: ARMV7, target: "prod" });
  assert.equal(args.get("BUILDPLATFORM"), "linux/amd64");
  assert.equal(args.get("TARGETPLATFORM"), "linux/arm/v7");
  assert.equal(args.get("TARGETVARIANT"), "v7");
  assert.equal(args.get("BUILDVARIANT"), "");
  assert.equal(args.get("TARGETSTAGE"), "prod");
  const over = predefinedArgs({ buildPlatform: AMD64, buildArgs: new Map([["TARGETARCH", "riscv64"]]) });
  assert.equal(over.get("TARGETARCH"), "riscv64");
  assert.equal(over.get("TARGETPLATFORM"), "linux/amd64");
  assert.equal(formatPlatform(ARMV7), "linux/arm/v7");
});

test("proxy ARGs need no declaration and reach RUN in both spellings", () => {
  assert.ok(isPredefinedArg("HTTPS_PROXY") && isPredefinedArg("no_proxy") && isPredefinedArg("TARGETOS"));
  assert.ok(!isPredefinedArg("VERSION"));
  assert.deepEqual(
    proxyEnv(
      new Map([
        ["Http_Proxy", "http://p:3128"],
        ["VERSION", "1"],
      ]),
    ),
    [
      ["HTTP_PROXY", "http://p:3128"],
      ["http_proxy", "http://p:3128"],
    ],
  );
});

test("global ARG defaults expand in order and --build-arg wins", () => {
  const metaArgs = toInstructions(parseDockerfile("ARG A=1 B=$A-x\nARG C=${B}y\nFROM s\n"))
    .metaArgs as ArgInstruction[];
  const scope = resolveMetaArgs(metaArgs, new Map(), new Map([["A", "9"]]));
  assert.deepEqual([scope.get("A"), scope.get("B"), scope.get("C")], ["9", "9-x", "9-xy"]);
});

test("each step sees the environment before it; ARG values are in it, not in the image", () => {
  const r = build("FROM scratch\nARG V=1\nENV E=$V\nRUN echo\nARG V=2\nRUN echo\n");
  const steps = r.stages[0]?.steps ?? [];
  assert.equal(steps[2]?.env.get("V"), "1");
  assert.equal(steps[2]?.env.get("E"), "1");
  assert.deepEqual(steps[2]?.args, [{ key: "V", value: "1" }]);
  assert.equal(steps[4]?.env.get("V"), "2");
  assert.deepEqual(r.stages[0]?.configEnv, [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "E=1",
  ]);
});

test("only the stages asked for (and their bases) are resolved", () => {
  const text = "FROM scratch AS a\nENV A=1\nFROM scratch AS broken\nWORKDIR ${X:?x}\nFROM a\nENV B=$A\n";
  assert.throws(() => build(text), DockerfileError);
  const r = build(text, {}, [2]);
  assert.equal(r.stages[1], undefined);
  assert.deepEqual(r.stages[2]?.base, { kind: "stage", index: 0 });
  assert.equal(r.stages[2]?.env.get("B"), "1");
});

test("a base image's Env is the starting environment; PATH is added when missing", () => {
  const parsed = toInstructions(parseDockerfile("FROM img\nWORKDIR $HOME\nFROM other\n"));
  const r = resolveBuild(parsed, {
    buildPlatform: AMD64,
    baseImage: (image) => (image === "img" ? { env: ["HOME=/home/u"] } : { env: ["PATH=/bin"] }),
  });
  const workdir = r.stages[0]?.steps[0]?.instruction;
  assert.equal(workdir?.kind === "WORKDIR" ? workdir.path : undefined, "/home/u");
  assert.deepEqual(r.stages[0]?.configEnv, [
    "HOME=/home/u",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  ]);
  assert.deepEqual(r.stages[1]?.configEnv, ["PATH=/bin"]);
});

test("RUN mounts expand with the step's environment", () => {
  const r = build("FROM scratch\nARG ID=deps\nRUN --mount=type=cache,id=$ID,target=/c true\n");
  const run = r.stages[0]?.steps[1]?.instruction as RunInstruction;
  assert.equal(run.mounts[0]?.id, "deps");
});

test("--build-arg names nothing declares are reported, predefined ones are not", () => {
  const r = build("ARG G\nFROM scratch\nARG S\n", { G: "1", S: "2", X: "3", HTTP_PROXY: "p", TARGETOS: "linux" });
  assert.deepEqual(r.unusedBuildArgs, ["X"]);
});

test("expansion errors point at the instruction", () => {
  // USER takes its whole line as one word; ENV splits words first, so the same text breaks.
  assert.throws(() => build("FROM scratch\n\nUSER ${U:?set U}\n"), {
    message: 'Dockerfile:3:1: failed to process "${U:?set U}": U: set U',
  });
  assert.throws(() => build("FROM scratch\nENV A=${U:?set U}\n"), /Syntax error - can't find = in "U}"/);
  assert.throws(() => build('FROM scratch\nUSER "${U:?set U}"\n'), {
    message: 'Dockerfile:2:1: failed to process "\\"${U:?set U}\\"": U: set U',
  });
});

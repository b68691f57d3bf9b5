// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfile text, not templates.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DockerfileError } from "./errors.js";
import { expandInstruction } from "./expand-instruction.js";
import {
  type Instruction,
  parseInstruction,
  parseTrigger,
  type RunInstruction,
  toInstructions,
} from "./instructions.js";
import { parseDockerfile } from "./parse.js";

function instructionsOf(text: string): Instruction[] {
  const parsed = toInstructions(parseDockerfile(text));
  return parsed.stages.flatMap((s) => [s.from, ...s.instructions]);
}

function second<K extends Instruction["kind"]>(text: string, kind: K): Extract<Instruction, { kind: K }> {
  const i = instructionsOf(text)[1];
  assert.equal(i?.kind, kind);
  return i as Extract<Instruction, { kind: K }>;
}

test("stages: FROM opens one, global ARGs come before, names are lower-cased", () => {
  const parsed = toInstructions(
    parseDockerfile("ARG V=1\nFROM --platform=$P img:$V AS Build\nRUN x\nFROM build\nCOPY --from=Build a b\n"),
  );
  assert.equal(parsed.metaArgs.length, 1);
  assert.equal(parsed.stages.length, 2);
  const [first, next] = parsed.stages;
  assert.deepEqual(
    [first?.name, first?.baseName, first?.platform, first?.instructions.length],
    ["build", "img:$V", "$P", 1],
  );
  assert.deepEqual([next?.name, next?.baseName], [undefined, "build"]);
  const copy = next?.instructions[0];
  assert.equal(copy?.kind === "COPY" ? copy.from : undefined, "Build");
});

test("shell and exec forms of RUN, CMD and ENTRYPOINT", () => {
  assert.deepEqual(second("FROM a\nRUN echo  hi\n", "RUN").command, { form: "shell", args: ["echo  hi"] });
  assert.deepEqual(second('FROM a\nRUN ["echo", "hi"]\n', "RUN").command, { form: "exec", args: ["echo", "hi"] });
  assert.deepEqual(second("FROM a\nCMD\n", "CMD").command, { form: "shell", args: [] });
  assert.deepEqual(second("FROM a\nENTRYPOINT []\n", "ENTRYPOINT").command, { form: "exec", args: [] });
});

test("RUN flags: mounts parsed, network and security checked", () => {
  const run = second(
    "FROM a\nRUN --mount=type=cache,target=/c --mount=type=secret,id=s --network=none --security=insecure x\n",
    "RUN",
  );
  assert.deepEqual(run.mountSpecs, ["type=cache,target=/c", "type=secret,id=s"]);
  assert.deepEqual(
    run.mounts.map((m) => [m.type, m.target, m.id, m.readOnly]),
    [
      ["cache", "/c", undefined, false],
      ["secret", undefined, "s", true],
    ],
  );
  assert.equal(run.network, "none");
  assert.equal(run.security, "insecure");
});

test("a mount written with variables is parsed again once they are known", () => {
  const run = second("FROM a\nRUN --mount=type=cache,target=$HOME/c,uid=$U x\n", "RUN");
  assert.equal(run.mounts[0]?.target, "$HOME/c");
  assert.equal(run.mounts[0]?.uid, undefined);
  const expanded = expandInstruction(
    run,
    new Map([
      ["HOME", "/root"],
      ["U", "1000"],
    ]),
  ) as RunInstruction;
  assert.equal(expanded.mounts[0]?.target, "/root/c");
  assert.equal(expanded.mounts[0]?.uid, 1000);
});

test("COPY and ADD: heredoc sources become inline files, flags typed", () => {
  const copy = second("FROM a\nCOPY --link --exclude=a --exclude=b x <<-EOF /d/\n\tbody\n\tEOF\n", "COPY");
  assert.deepEqual(copy.sources, ["x"]);
  assert.deepEqual(copy.contents, [{ path: "EOF", data: "body\n", expand: true }]);
  assert.deepEqual([copy.dest, copy.link, copy.parents, copy.excludes], ["/d/", true, false, ["a", "b"]]);
  const add = second("FROM a\nADD --keep-git-dir --unpack=true https://x/y.git /s\n", "ADD");
  assert.deepEqual([add.keepGitDir, add.unpack, add.checksum], [true, true, undefined]);
});

test("COPY/ADD expansion: paths, chown and chmod expand; --from never does", () => {
  const copy = second("FROM a\nCOPY --from=b --chown=$U:$G $SRC/* ${DST:-/d}\n", "COPY");
  const env = new Map([
    ["U", "1"],
    ["G", "2"],
    ["SRC", "lib"],
  ]);
  const e = expandInstruction(copy, env);
  assert.deepEqual([e.from, e.chown, e.sources, e.dest], ["b", "1:2", ["lib/*"], "/d"]);
});

test("HEALTHCHECK durations are nanoseconds, NONE has no options", () => {
  const hc = second("FROM a\nHEALTHCHECK --interval=1m30s --timeout=1.5s --retries=0 CMD true\n", "HEALTHCHECK");
  assert.deepEqual(hc.test, ["CMD-SHELL", "true"]);
  assert.equal(hc.interval, 90e9);
  assert.equal(hc.timeout, 1.5e9);
  assert.equal(hc.retries, 0);
  assert.deepEqual(second("FROM a\nHEALTHCHECK NONE\n", "HEALTHCHECK").test, ["NONE"]);
});

test("ONBUILD keeps the expression for the image config and checks the trigger now", () => {
  const ob = second("FROM a\nonbuild   COPY . /app\n", "ONBUILD");
  assert.equal(ob.expression, "COPY . /app");
  assert.equal(ob.trigger.kind, "COPY");
});

test("a trigger from a base image's config parses on its own", () => {
  const t = parseTrigger("RUN <<EOF\necho hi\nEOF");
  assert.equal(t.kind, "RUN");
  assert.equal((t as RunInstruction).heredocs[0]?.data, "echo hi\n");
  assert.throws(() => parseTrigger("FROM x"), DockerfileError);
});

test("EXPOSE keeps BuildKit's order (sorted as written) and normalises after expansion", () => {
  const ex = second("FROM a\nEXPOSE 8080 443/UDP 80\n", "EXPOSE");
  assert.deepEqual(ex.ports, ["443/UDP", "80", "8080"]);
  assert.deepEqual(expandInstruction(ex, new Map()).ports, ["443/udp", "80/tcp", "8080/tcp"]);
});

test("errors point at the offending word", () => {
  const cases: [string, string][] = [
    ["FROM a\nCOPY --chown=1 --chown=2 a b\n", "Dockerfile:2:16: duplicate flag specified: --chown"],
    ["FROM a AS b c\n", "Dockerfile:1:1: FROM requires either one or three arguments"],
    ["FROM a\nVOLUME /ok [\n", ""],
    ["FROM a\nSTOPSIGNAL\n", "Dockerfile:2:1: STOPSIGNAL requires exactly one argument"],
    ["FROM a\nRUN --network=bridge x\n", 'Dockerfile:2:5: invalid network mode "bridge"'],
    ["FROM a\nHEALTHCHECK --timeout=1x CMD y\n", 'Dockerfile:2:13: time: unknown unit "x" in duration "1x"'],
  ];
  for (const [text, message] of cases) {
    if (message === "") {
      assert.doesNotThrow(() => instructionsOf(text));
      continue;
    }
    assert.throws(() => instructionsOf(text), { message });
  }
});

test("parseInstruction works on single nodes, labelled with the given file", () => {
  const node = parseDockerfile("BOGUS 1\n").instructions[0];
  assert.ok(node);
  assert.throws(() => parseInstruction(node, "ctx/Dockerfile.dev"), {
    message: "ctx/Dockerfile.dev:1:1: unknown instruction: BOGUS",
  });
});

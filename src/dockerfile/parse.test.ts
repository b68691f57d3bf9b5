import assert from "node:assert/strict";
import { test } from "node:test";
import type { InstructionNode, Range } from "./ast.js";
import { DockerfileError } from "./errors.js";
import { parseDockerfile } from "./parse.js";

function at(r: Range): string {
  return `${r.start.line}:${r.start.column}-${r.end.line}:${r.end.column}`;
}

function only(text: string, index = 0): InstructionNode {
  const node = parseDockerfile(text).instructions[index];
  assert.ok(node, `no instruction ${index}`);
  return node;
}

test("keyword, flags and arguments carry their ranges", () => {
  const n = only("FROM a\n  copy --from=build --chmod=755 src/ /dst/\n", 1);
  assert.equal(n.keyword, "COPY");
  assert.equal(n.keywordText, "copy");
  assert.equal(at(n.keywordRange), "2:3-2:7");
  assert.equal(at(n.range), "2:3-2:43");
  assert.deepEqual(
    n.flags.map((f) => [f.text, at(f.range)]),
    [
      ["--from=build", "2:8-2:20"],
      ["--chmod=755", "2:21-2:32"],
    ],
  );
  assert.deepEqual(
    n.args.map((a) => [a.value, at(a.range)]),
    [
      ["src/", "2:33-2:37"],
      ["/dst/", "2:38-2:43"],
    ],
  );
});

test("arguments on continuation lines point at the line they are on", () => {
  const n = only("FROM a\nCOPY one \\\n     two \\\n# gone\n  three /d\n", 1);
  assert.equal(n.original, "COPY one      two   three /d");
  assert.deepEqual(
    n.args.map((a) => [a.value, at(a.range)]),
    [
      ["one", "2:6-2:9"],
      ["two", "3:6-3:9"],
      ["three", "5:3-5:8"],
      ["/d", "5:9-5:11"],
    ],
  );
  assert.equal(at(n.range), "2:1-5:11");
});

test("JSON arrays: each string's range, exec form flagged", () => {
  const n = only('FROM a\nCMD ["echo", "a,b", "\\"q\\""]\n', 1);
  assert.equal(n.json, true);
  assert.deepEqual(
    n.args.map((a) => [a.value, at(a.range)]),
    [
      ["echo", "2:6-2:12"],
      ["a,b", "2:14-2:19"],
      ['"q"', "2:21-2:28"],
    ],
  );
  const shell = only("FROM a\nCMD [not json]\n", 1);
  assert.equal(shell.json, false);
  assert.deepEqual(
    shell.args.map((a) => a.value),
    ["[not json]"],
  );
});

test("ENV pairs: new and legacy forms, with ranges", () => {
  const n = only('FROM a\nENV A=1 B="x y"\n', 1);
  assert.deepEqual(
    n.pairs.map((p) => [p.key.value, p.value.value, p.hasEquals, at(p.key.range), at(p.value.range)]),
    [
      ["A", "1", true, "2:5-2:6", "2:7-2:8"],
      ["B", '"x y"', true, "2:9-2:10", "2:11-2:16"],
    ],
  );
  const legacy = only("FROM a\nENV NAME some value\n", 1);
  assert.deepEqual(
    legacy.pairs.map((p) => [p.key.value, p.value.value, p.hasEquals]),
    [["NAME", "some value", false]],
  );
});

test("directives: only at the top, names case-insensitive, escape changes continuations", () => {
  const df = parseDockerfile("# Syntax = docker/dockerfile:1\n#escape=`\nFROM a\nRUN echo a `\n  b\n");
  assert.deepEqual(
    df.directives.map((d) => [d.name, d.value, at(d.range)]),
    [
      ["syntax", "docker/dockerfile:1", "1:1-1:31"],
      ["escape", "`", "2:1-2:10"],
    ],
  );
  assert.equal(df.escape, "`");
  assert.equal(df.instructions[1]?.original, "RUN echo a   b");
  const late = parseDockerfile("FROM a\n# escape=`\nRUN echo \\\n  b\n");
  assert.equal(late.directives.length, 0);
  assert.equal(late.escape, "\\");
  assert.equal(late.instructions[1]?.original, "RUN echo   b");
});

test("comments above an instruction are kept, directives are not", () => {
  const df = parseDockerfile("# syntax=x\n# about a\n#\n# about b\nFROM a\n");
  assert.deepEqual(df.instructions[0]?.comments, ["about b"]);
});

test("a byte-order mark and CRLF line endings change nothing", () => {
  const df = parseDockerfile("\uFEFFFROM a\r\nRUN x \\\r\n  y\r\nCOPY <<EOF /f\r\nline\r\nEOF\r\n");
  assert.equal(at(df.instructions[0]?.keywordRange as Range), "1:1-1:5");
  assert.equal(df.instructions[1]?.original, "RUN x   y");
  const copy = df.instructions[2];
  assert.equal(copy?.heredocs[0]?.content, "line\r\n");
});

test("heredoc bodies: raw lines with their newlines, ranges, several per line", () => {
  const df = parseDockerfile("FROM a\nCOPY <<A <<-'B' /d\none\nA\n\ttwo $X\n\tB\nRUN x\n");
  const copy = df.instructions[1] as InstructionNode;
  assert.deepEqual(
    copy.heredocs.map((h) => [h.name, h.content, h.expand, h.chomp, at(h.range)]),
    [
      ["A", "one\n", true, false, "3:1-4:2"],
      ["B", "\ttwo $X\n", false, true, "5:1-6:3"],
    ],
  );
  assert.equal(at(copy.range), "2:1-6:3");
  assert.equal(df.instructions[2]?.keyword, "RUN");
});

test("JSON-form RUN and other instructions do not open heredocs", () => {
  const df = parseDockerfile('FROM a\nRUN ["<<EOF"]\nENV A=<<B\nRUN echo "<<C"\n');
  assert.ok(df.instructions.every((n) => n.heredocs.length === 0));
});

test("ONBUILD's trigger is a node of its own, with heredocs", () => {
  const n = only("FROM a\nONBUILD RUN --network=none <<EOF\nmake\nEOF\n", 1);
  assert.equal(n.trigger?.keyword, "RUN");
  assert.equal(at(n.trigger?.keywordRange as Range), "2:9-2:12");
  assert.deepEqual(
    n.trigger?.flags.map((f) => f.text),
    ["--network=none"],
  );
  assert.equal(n.heredocs[0]?.content, "make\n");
  assert.equal(n.trigger?.heredocs[0]?.content, "make\n");
});

test("empty continuation lines are accepted with BuildKit's warning", () => {
  const df = parseDockerfile("FROM a\nRUN a \\\n\n  b\n");
  assert.equal(df.warnings.length, 1);
  assert.match(df.warnings[0]?.message ?? "", /^Empty continuation line found in: RUN a {3}b$/);
});

test("an escaped escape character at the end of a line does not continue it", () => {
  const df = parseDockerfile("FROM a\nRUN echo \\\\\nRUN next\n");
  assert.equal(df.instructions.length, 3);
  assert.equal(df.instructions[1]?.args[0]?.value, "echo \\\\");
});

test("HEALTHCHECK splits the type from the command", () => {
  const n = only('FROM a\nHEALTHCHECK --interval=1s CMD ["curl", "-f", "x"]\n', 1);
  assert.deepEqual(
    n.args.map((a) => a.value),
    ["CMD", "curl", "-f", "x"],
  );
  assert.equal(n.json, true);
});

test("unknown keywords parse; the instruction pass rejects them", () => {
  const n = only("FROM a\nfrobnicate --x y\n", 1);
  assert.equal(n.keyword, "FROBNICATE");
  assert.equal(n.args.length, 0);
});

function fails(text: string, message: string, file = "Dockerfile"): void {
  assert.throws(
    () => parseDockerfile(text, file),
    (err: unknown) => err instanceof DockerfileError && err.message === message && err.code === "USAGE",
  );
}

test("parse errors name the file, line and column", () => {
  fails("", "Dockerfile:1:1: file with no instructions");
  fails("FROM a\nENV X\n", "docker/app.Dockerfile:2:5: ENV must have two arguments", "docker/app.Dockerfile");
  fails("FROM a\nRUN <<EOF\nno end\n", "Dockerfile:2:1: unterminated heredoc");
  fails("# escape=\\\n# Escape=`\nFROM a\n", "Dockerfile:2:1: only one escape parser directive can be used");
  fails(
    'FROM a\n  CMD   ["a", null]\n',
    "Dockerfile:2:9: when using JSON array syntax, arrays must be comprised of strings only",
  );
  const err = (() => {
    try {
      parseDockerfile("FROM a\nLABEL a=1 b\n");
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof DockerfileError);
  assert.deepEqual([err.file, err.line, err.column], ["Dockerfile", 2, 11]);
  assert.equal(err.detail, `Syntax error - can't find = in "b". Must be of the form: name=value`);
});

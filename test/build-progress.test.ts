import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { before, test } from "node:test";
import { ttyProgress } from "../src/cli/build-progress.js";
import { BERTH, berth, busyboxRootfsTar, sh, tempDir } from "./helpers.js";

/** `build --progress`: BuildKit's terminal view on a tty (auto) or asked for, plain lines otherwise. */

function terminal(): { out: Writable & { isTTY: boolean; columns: number; rows: number }; text: () => string } {
  let text = "";
  const out = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    }),
    { isTTY: true, columns: 80, rows: 24 },
  );
  return { out, text: () => text };
}

/** The last frame drawn: from the last "[+] Building" to the end, without escape sequences. */
function lastFrame(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are what is stripped
  const plain = text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "");
  return plain.slice(plain.lastIndexOf("[+] Building"));
}

test("the terminal view ends with one line a step, cached steps marked, and FINISHED", () => {
  let t = 0;
  const term = terminal();
  const p = ttyProgress(term.out, () => t);
  p.log("#1 [1/3] COPY a /a\n#1 CACHED");
  p.log("#2 [2/3] RUN make");
  p.output.write("compiling\nlinking\n");
  t = 1500;
  p.log("#3 [3/3] RUN echo done");
  t = 1700;
  p.log("#4 writing image sha256:abc");
  p.log("#4 naming to docker.io/library/x:latest");
  p.done(true);
  const lines = lastFrame(term.text()).trimEnd().split("\n");
  assert.equal(lines[0], "[+] Building 1.7s (4/4) FINISHED");
  assert.match(lines[1] ?? "", /^ => CACHED \[1\/3\] COPY a \/a +0\.0s$/);
  assert.match(lines[2] ?? "", /^ => \[2\/3\] RUN make +1\.5s$/);
  assert.match(lines[3] ?? "", /^ => \[3\/3\] RUN echo done +0\.2s$/);
  assert.match(lines[4] ?? "", /^ => exporting to image +0\.0s$/);
  assert.equal(lines.length, 5);
  for (const l of lines) assert.ok(l.length <= 80, l);
});

test("a failed build leaves the view and prints the failing step's output under it", () => {
  const term = terminal();
  const p = ttyProgress(term.out, () => 0);
  p.log("#1 [1/1] RUN false");
  p.output.write("about to fail\npartial");
  p.done(false);
  const frame = lastFrame(term.text());
  assert.ok(!frame.includes("FINISHED"));
  assert.ok(frame.endsWith("------\n > [1/1] RUN false:\nabout to fail\npartial\n------\n"), frame);
});

let dir: string;
let root: string;
let ctx: string;
before(() => {
  dir = tempDir("progress");
  root = join(dir, "store");
  assert.equal(berth(root, ["import", busyboxRootfsTar(join(dir, "base")), "prog/base:1"]).code, 0);
  ctx = join(dir, "ctx");
  fs.mkdirSync(ctx);
  fs.writeFileSync(join(ctx, "Dockerfile"), "FROM prog/base:1\nRUN echo from-run\nCOPY Dockerfile /x\n");
});

test("auto mode: the redrawn view on a terminal, plain lines through a pipe", () => {
  const onTty = sh("script", [
    "-qfec",
    `stty rows 40 cols 100; ${process.execPath} ${BERTH} --root ${root} build --no-cache ${ctx}`,
    "/dev/null",
  ]);
  assert.equal(onTty.code, 0, onTty.stdout);
  const frame = lastFrame(onTty.stdout.replace(/\r/g, ""));
  assert.match(frame, /^\[\+\] Building \d+\.\ds \(3\/3\) FINISHED\n => \[1\/2\] RUN echo from-run +\d+\.\ds\n/);
  const piped = berth(root, ["build", "--no-cache", ctx]);
  assert.equal(piped.code, 0, piped.stderr);
  assert.match(piped.stderr, /^#1 \[1\/2\] RUN echo from-run\nfrom-run\n#2 \[2\/2\] COPY Dockerfile \/x\n/);
  assert.ok(!piped.stderr.includes("[+] Building"));
});

test("an unknown --progress mode is one line", () => {
  const r = berth(root, ["build", "--progress", "fancy", ctx]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim(), "Error: --progress fancy: give auto, plain, tty or quiet");
});

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { before, test } from "node:test";
import { BERTH, berth, busyboxRootfsTar, must, snapshotStore, tempDir } from "./helpers.js";

/**
 * Builder features beyond what docker 20.10's BuildKit can be compared on (heredocs,
 * --parents, --exclude, secrets, ADD of a URL, --output, contexts on stdin, hints), and the
 * builder's promises: reproducible IDs, a warm cache, a failed build leaving the store as it was.
 */
let dir: string;
let root: string;

before(() => {
  dir = tempDir("buildf");
  root = join(dir, "store");
  const base = berth(root, ["import", busyboxRootfsTar(join(dir, "base")), "feat/base:1"], {
    env: { SOURCE_DATE_EPOCH: "0" },
  });
  assert.equal(base.code, 0, base.stderr);
});

function context(name: string, files: Record<string, string>): string {
  const ctx = join(dir, name);
  for (const [path, text] of Object.entries(files)) {
    fs.mkdirSync(join(ctx, path, ".."), { recursive: true });
    fs.writeFileSync(join(ctx, path), text);
  }
  return ctx;
}

function build(ctx: string, args: string[] = [], input?: string | Buffer) {
  return berth(root, ["build", ...args, ctx], input !== undefined ? { input } : {});
}

function run(image: string, ...cmd: string[]): string {
  const r = berth(root, ["run", "--rm", image, ...cmd]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test("heredocs: RUN <<EOF runs the body as a script, COPY <<EOF writes a file", () => {
  const ctx = context("heredoc", {
    Dockerfile: [
      "FROM feat/base:1",
      "RUN <<EOF",
      "echo one > /one",
      "echo two >> /one",
      "EOF",
      "COPY <<EOF /etc/app.conf",
      "key=value",
      "EOF",
      "",
    ].join("\n"),
  });
  const r = build(ctx, ["-t", "feat/heredoc:1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(run("feat/heredoc:1", "cat", "/one", "/etc/app.conf"), "one\ntwo\nkey=value\n");
});

test("COPY --parents keeps source directories; --exclude leaves matches out", () => {
  const ctx = context("parents", {
    Dockerfile: "FROM feat/base:1\nCOPY --parents a/b/*.txt /keep/\nCOPY --exclude=*.log --exclude=skip logs /logs/\n",
    "a/b/one.txt": "1",
    "a/b/two.txt": "2",
    "logs/app.txt": "t",
    "logs/app.log": "l",
    "logs/skip/x": "x",
  });
  const r = build(ctx, ["-t", "feat/parents:1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(run("feat/parents:1", "ls", "/keep/a/b", "/logs"), "/keep/a/b:\none.txt\ntwo.txt\n\n/logs:\napp.txt\n");
});

test("secrets are readable during RUN and never stored; mount stubs do not reach the layer", () => {
  const secret = join(dir, "token");
  fs.writeFileSync(secret, "s3cr3t");
  const ctx = context("secret", {
    Dockerfile:
      "FROM feat/base:1\nRUN --mount=type=secret,id=tok --mount=type=cache,target=/cache/x wc -c < /run/secrets/tok > /len\n",
  });
  const r = build(ctx, ["-t", "feat/secret:1", "--secret", `id=tok,src=${secret}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(run("feat/secret:1", "cat", "/len").trim(), "6");
  const out = join(dir, "secret-out");
  assert.equal(build(ctx, ["-q", "--secret", `id=tok,src=${secret}`, "-o", out]).code, 0);
  assert.deepEqual(fs.existsSync(join(out, "run", "secrets")), false, "no secret stub in the image");
  assert.deepEqual(fs.existsSync(join(out, "cache")), false, "no cache-mount stub in the image");
  // without the secret (and past the cache, which does not key on secrets) the RUN fails
  const missing = build(ctx, ["--no-cache", "-t", "feat/secret:2"]);
  assert.equal(missing.code, 1);
});

/** berth without blocking this process: the loopback server below must answer meanwhile. */
function berthAsync(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BERTH, "--root", root, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("exit", (code) => resolve({ code: code ?? -1, stderr }));
  });
}

test("ADD of a URL fetches it (from a loopback server here); an unreachable one fails clearly", async () => {
  const server = createServer((req, res) => {
    if (req.url === "/files/data.txt") res.end("from the web\n");
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    const ctx = context("addurl", {
      Dockerfile: `FROM feat/base:1\nADD http://127.0.0.1:${port}/files/data.txt /web/\n`,
    });
    const ok = await berthAsync(["build", "-t", "feat/url:1", ctx]);
    assert.equal(ok.code, 0, ok.stderr);
    const gone = context("addurl404", {
      Dockerfile: `FROM feat/base:1\nADD http://127.0.0.1:${port}/nope.txt /web/\n`,
    });
    const bad = await berthAsync(["build", gone]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error: ADD http:\/\/127\.0\.0\.1:\d+\/nope\.txt: the server answered 404/m);
  } finally {
    server.close();
  }
  assert.equal(run("feat/url:1", "cat", "/web/data.txt"), "from the web\n");
  assert.match(run("feat/url:1", "ls", "-l", "/web/data.txt"), /^-rw------- /, "ADD gives a fetched file mode 0600");
});

test("--output exports the file system (local, tar) and the image (docker), loadable by docker", () => {
  const ctx = context("output", { Dockerfile: "FROM feat/base:1\nCOPY f /out/f\n", f: "exported\n" });
  const local = join(dir, "out-local");
  assert.equal(build(ctx, ["-q", "-o", local]).code, 0);
  assert.equal(fs.readFileSync(join(local, "out", "f"), "utf8"), "exported\n");
  assert.ok(fs.existsSync(join(local, "bin", "busybox")), "the base's files are there too");
  const tar = join(dir, "out.tar");
  assert.equal(build(ctx, ["-q", "--output", `type=tar,dest=${tar}`]).code, 0);
  assert.match(must("tar", ["-tf", tar]), /^\.\/out\/f$/m);
  const archive = join(dir, "out-docker.tar");
  assert.equal(build(ctx, ["-q", "-t", "feat/out:1", "--output", `type=docker,dest=${archive}`]).code, 0);
  assert.match(must("tar", ["-tf", archive]), /^manifest\.json$/m);
});

test("a context tar or a lone Dockerfile on stdin", () => {
  const ctx = context("stdin", { Dockerfile: "FROM feat/base:1\nCOPY hello /hello\n", hello: "hi\n" });
  const tarBytes = Buffer.from(must("bash", ["-c", `tar -C ${ctx} -cf - . | base64 -w0`]), "base64");
  const r = berth(root, ["build", "-q", "-t", "feat/stdin:1", "-"], { input: tarBytes });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(run("feat/stdin:1", "cat", "/hello"), "hi\n");
  const lone = berth(root, ["build", "-q", "-t", "feat/lone:1", "-"], {
    input: 'FROM feat/base:1\nCMD ["echo", "lone"]\n',
  });
  assert.equal(lone.code, 0, lone.stderr);
  assert.equal(run("feat/lone:1"), "lone\n");
});

test("the same context builds the same image ID on a fresh store; a warm rebuild is all cached", () => {
  const ctx = context("repro", {
    Dockerfile:
      'FROM feat/base:1\nWORKDIR /app\nCOPY . .\nRUN echo built > /app/out && rm -f /etc/hello-link\nCMD ["cat", "/app/out"]\n',
    "src/a.txt": "a",
  });
  const first = build(ctx, ["-q", "-t", "feat/repro:1"]);
  assert.equal(first.code, 0, first.stderr);
  // another store, the same base imported the same way, files touched in between
  const other = join(dir, "store-repro");
  must("touch", [join(ctx, "src", "a.txt")]);
  assert.equal(
    berth(other, ["import", busyboxRootfsTar(join(dir, "base2")), "feat/base:1"], { env: { SOURCE_DATE_EPOCH: "0" } })
      .code,
    0,
  );
  const second = berth(other, ["build", "-q", ctx]);
  assert.equal(second.stdout, first.stdout, "same image ID on another store");
  const warm = build(ctx, ["-t", "feat/repro:1"]);
  assert.match(warm.stderr, /\(4\/4 steps cached\)/);
  fs.writeFileSync(join(ctx, "src", "a.txt"), "changed");
  const edited = build(ctx, ["-t", "feat/repro:1"]);
  assert.match(edited.stderr, /^#1 CACHED$/m, "the step before the COPY stays cached");
  assert.match(edited.stderr, /\(1\/4 steps cached\)/);
});

test("a failing RUN names the step, the command and the exit code, and leaves the store as it was", () => {
  const ctx = context("fail", {
    Dockerfile: "FROM feat/base:1\nRUN echo one > /one\nCOPY Dockerfile /x\nRUN echo about to fail && exit 3\n",
  });
  const before = snapshotStore(root);
  const r = build(ctx, ["-t", "feat/fail:1"]);
  assert.equal(r.code, 1);
  const last = r.stderr.trimEnd().split("\n").pop() ?? "";
  assert.equal(
    last,
    'Error: RUN echo about to fail && exit 3: process "/bin/sh -c echo about to fail && exit 3" did not complete successfully: exit code: 3',
  );
  assert.equal(snapshotStore(root), before);
});

test("after a build: one line on the size, and the seeds' advice when it applies", () => {
  const ctx = context("advice", {
    Dockerfile:
      "FROM feat/base:1\nRUN mkdir -p /var/lib/apt/lists && head -c 300000 /dev/zero > /var/lib/apt/lists/lists_bookworm\n",
  });
  const r = build(ctx, ["-t", "feat/advice:1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^berth: built [a-f0-9]{12}: 2\.\d+MB in 2 layers/m);
  assert.match(
    r.stderr,
    /^berth: hint: apt package lists \(300kB\) are left in the final image: rm -rf \/var\/lib\/apt\/lists\/\*/m,
  );
});

test("RUN --mount=type=bind,from=STAGE reads another stage's files without copying them", () => {
  const ctx = context("bindfrom", {
    Dockerfile: [
      "FROM feat/base:1 AS tools",
      "RUN echo tooling > /tool.txt",
      "FROM feat/base:1",
      "RUN --mount=type=bind,from=tools,source=/tool.txt,target=/mnt/tool.txt cat /mnt/tool.txt > /copied",
      "",
    ].join("\n"),
  });
  const r = build(ctx, ["-t", "feat/bindfrom:1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(run("feat/bindfrom:1", "cat", "/copied"), "tooling\n");
  assert.notEqual(
    berth(root, ["run", "--rm", "feat/bindfrom:1", "ls", "/mnt"]).code,
    0,
    "the mount point is not in the image",
  );
  const ssh = build(context("ssh", { Dockerfile: "FROM feat/base:1\nRUN --mount=type=ssh true\n" }));
  assert.equal(ssh.code, 1);
  assert.match(ssh.stderr, /--mount=type=ssh is not supported yet/);
});

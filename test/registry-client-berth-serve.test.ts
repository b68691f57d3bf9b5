import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { after, before, type TestContext, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BERTH, berth, busyboxRootfsTar, tempDir } from "./helpers.js";
import { berthAsync, CountingProxy, freePort, LENT_PATCH, randomImageArchive } from "./registry-client-harness.js";

/**
 * berth's client against berth's own registry with accounts (`berth serve --auth token`):
 * login through its token endpoint, push into the user's namespace, pull back from a fresh
 * store, and a private repository refused to an anonymous client with the registry's code.
 */
let work: string;
let server: ChildProcess | undefined;
let host: string;
let dataDir: string;

before(async () => {
  work = tempDir("rc-serve");
  dataDir = join(work, "registry");
  const port = await freePort();
  host = `127.0.0.1:${port}`;
  server = spawn(
    process.execPath,
    [BERTH, "serve", "--addr", host, "--root", dataDir, "--auth", "token", "--no-access-log"],
    {
      env: { ...process.env, BERTH_ADMIN_PASSWORD: "admin-pass-123" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.on("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (up) break;
    await sleep(50);
  }
  const add = berth(work, ["registry", "--root", dataDir, "user", "add", "alice", "--password-stdin"], {
    input: "alice-pass-456\n",
  });
  assert.equal(add.code, 0, add.stderr);
});

after(() => {
  server?.kill("SIGTERM");
  fs.rmSync(work, { recursive: true, force: true });
});

test("login, push and pull against berth serve with token auth", async () => {
  const env = { DOCKER_CONFIG: join(work, "docker-config") };
  const root = join(work, "root");
  const image = `${host}/alice/app:1`;
  assert.equal(berth(root, ["import", busyboxRootfsTar(join(work, "bb")), image]).code, 0);

  const anonymous = await berthAsync(root, ["push", image], { env });
  assert.notEqual(anonymous.code, 0);
  assert.equal(anonymous.stderr.trimEnd().split("\n").length, 1, anonymous.stderr);
  assert.match(anonymous.stderr, new RegExp(`${image.replace(/\./g, "\\.")}.*(UNAUTHORIZED|DENIED)`));

  const wrong = await berthAsync(root, ["login", "-u", "alice", "--password-stdin", host], { env, input: "nope" });
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /UNAUTHORIZED/);

  const login = await berthAsync(root, ["login", "-u", "alice", "--password-stdin", host], {
    env,
    input: "alice-pass-456\n",
  });
  assert.equal(login.code, 0, login.stderr);
  const pushed = await berthAsync(root, ["push", image], { env });
  assert.equal(pushed.code, 0, pushed.stderr);
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1];
  assert.ok(digest, pushed.stdout);

  const pulled = await berthAsync(join(work, "root2"), ["pull", image], { env });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.ok(pulled.stdout.includes(`Digest: ${digest}\n`), pulled.stdout);

  // a private repository (the default) is not for anonymous clients
  const anon = await berthAsync(join(work, "root3"), ["pull", image], { env: { DOCKER_CONFIG: join(work, "none") } });
  assert.notEqual(anon.code, 0);
  assert.equal(anon.stderr.trimEnd().split("\n").length, 1, anon.stderr);
  assert.match(anon.stderr, /(UNAUTHORIZED|DENIED|NAME_UNKNOWN)/);
});

/** A 40 MiB one-layer image of alice's, loaded, logged in, behind a counting proxy to the registry. */
async function aliceLargeImage(t: TestContext, name: string, gzip: boolean) {
  const proxy = await new CountingProxy(Number(host.split(":")[1])).listen();
  t.after(() => proxy.close());
  const env = { DOCKER_CONFIG: join(work, `docker-config-${name}`) };
  const dir = join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  const image = `${proxy.host}/alice/${name}:1`;
  const root = join(dir, "root");
  const archive = await randomImageArchive(dir, { name: image, layers: 1, layerBytes: 40 << 20, gzip });
  assert.equal(berth(root, ["load", "-i", archive]).code, 0);
  const login = await berthAsync(root, ["login", "-u", "alice", "--password-stdin", proxy.host], {
    env,
    input: "alice-pass-456\n",
  });
  assert.equal(login.code, 0, login.stderr);
  return { proxy, env, dir, image, root };
}

test(
  "a large plain layer is pushed to a private repository by a lent PATCH with the bearer token, answered 202",
  LENT_PATCH,
  async (t) => {
    const { proxy, env, dir, image, root } = await aliceLargeImage(t, "plain-big", false);
    const pushed = await berthAsync(root, ["push", image], { env });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.deepEqual(
      proxy.log.filter((e) => e.method === "PATCH").map((e) => [e.status, e.connection]),
      [[202, "close"]],
      JSON.stringify(proxy.log),
    );
    const pulled = await berthAsync(join(dir, "pull-root"), ["pull", image], { env });
    assert.equal(pulled.code, 0, pulled.stderr);
    const ids = [root, join(dir, "pull-root")].map(
      (r) => JSON.parse(berth(r, ["inspect", "--format", "{{json .Id}}", image]).stdout) as string,
    );
    assert.equal(ids[0], ids[1]);
    const listed = berth(join(dir, "pull-root"), ["images"]);
    assert.equal(listed.stderr, "", "the pulled layer inflates to its diffID");
  },
);

test("a large layer of a private repository is read the direct way with the bearer token: one GET, answered 200", async (t) => {
  const { proxy, env, dir, image, root } = await aliceLargeImage(t, "big", true);
  const pushed = await berthAsync(root, ["push", image], { env });
  assert.equal(pushed.code, 0, pushed.stderr);
  proxy.log.length = 0;
  const pulled = await berthAsync(join(dir, "pull-root"), ["pull", image], { env });
  assert.equal(pulled.code, 0, pulled.stderr);
  const layerGets = proxy.log.filter(
    (e) => e.method === "GET" && /\/blobs\/sha256:/.test(e.url) && e.received > 1 << 20,
  );
  assert.deepEqual(
    layerGets.map((e) => [e.status, e.connection]),
    [[200, "close"]],
    JSON.stringify(proxy.log),
  );
  const ids = [root, join(dir, "pull-root")].map(
    (r) => JSON.parse(berth(r, ["inspect", "--format", "{{json .Id}}", image]).stdout) as string,
  );
  assert.equal(ids[0], ids[1]);
});

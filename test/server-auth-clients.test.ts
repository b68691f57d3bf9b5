import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BERTH, busyboxRootfsTar, DOCKER, ensureDocker, must, type Run, sh, tempDir } from "./helpers.js";
import { basic, registry, type Served, serve } from "./server-auth-harness.js";

/**
 * Real clients against `berth serve --auth token`: docker (through the engine, whose login
 * takes a refresh token and later uses the OAuth2 POST), skopeo, podman and berth log in,
 * push, pull, and are refused what they may not do. Test images are made offline.
 */

const ALICE = "alice-password";
const BOB = "bob-password";
let s: Served;
let work: string;
let rootfsTar: string;
let archive: string;
let imageId = "";

function admin(args: string[], input = ""): string {
  const r = registry(s.root, args, input);
  assert.equal(r.code, 0, `berth registry ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** The docker CLI with its own config dir (credentials stay in the test's directory). */
function docker(config: string, args: string[], input = ""): Run {
  fs.mkdirSync(config, { recursive: true });
  return shEnv(DOCKER, args, { DOCKER_CONFIG: config }, input);
}

function shEnv(cmd: string, args: string[], env: Record<string, string>, input = ""): Run {
  const r = spawnSync(cmd, args, { input, env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, stdout: r.stdout?.toString() ?? "", stderr: r.stderr?.toString() ?? String(r.error) };
}

function ok(r: Run, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

before(async () => {
  ensureDocker();
  work = tempDir("auth-clients");
  s = await serve(join(work, "registry"), { BERTH_ADMIN_PASSWORD: "first-admin-pass" });
  admin(["user", "add", "alice", "--password-stdin"], `${ALICE}\n`);
  admin(["user", "add", "bob", "--password-stdin"], `${BOB}\n`);
  rootfsTar = busyboxRootfsTar(work);
  imageId = must(DOCKER, ["import", rootfsTar, `${s.host}/alice/bb:1`]).trim();
  archive = join(work, "bb.tar");
  must(DOCKER, ["save", "-o", archive, `${s.host}/alice/bb:1`]);
});

after(async () => {
  await s?.stop();
  sh(DOCKER, ["rmi", "-f", `${s?.host}/alice/bb:1`, `${s?.host}/bob/bb:1`]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test("docker login, push, pull and run; refused without login and for another user", async () => {
  const cfg = join(work, "docker-alice");
  const wrong = docker(cfg, ["login", s.host, "-u", "alice", "--password-stdin"], "not-the-password\n");
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /unauthorized|incorrect/i);
  ok(docker(cfg, ["login", s.host, "-u", "alice", "--password-stdin"], `${ALICE}\n`), "docker login");
  // the engine traded the password for a refresh token: the CLI keeps that, not the password
  const config = fs.readFileSync(join(cfg, "config.json"), "utf8");
  assert.match(config, /identitytoken/);
  assert.ok(!config.includes(Buffer.from(`alice:${ALICE}`).toString("base64")));
  ok(docker(cfg, ["push", `${s.host}/alice/bb:1`]), "docker push");
  // ...and the engine spent the refresh token with the OAuth2 POST (oauth.md's grant_type=refresh_token);
  // the server's log is read once this process's event loop has run (the docker calls block it)
  await new Promise((r) => setTimeout(r, 300));
  assert.match(s.log(), /"method":"POST","path":"\/token","status":200/);
  ok(docker(cfg, ["rmi", `${s.host}/alice/bb:1`]), "docker rmi");
  ok(docker(cfg, ["pull", `${s.host}/alice/bb:1`]), "docker pull");
  const pulledId = ok(docker(cfg, ["image", "inspect", "-f", "{{.Id}}", `${s.host}/alice/bb:1`]), "inspect").trim();
  assert.equal(pulledId, imageId);
  const out = ok(
    docker(cfg, ["run", "--rm", "--network", "none", `${s.host}/alice/bb:1`, "/bin/cat", "/etc/hello"]),
    "docker run",
  );
  assert.equal(out, "hello from berth\n");

  // anonymous: the private repository is refused; made public, it pulls
  const anon = join(work, "docker-anon");
  ok(docker(cfg, ["rmi", `${s.host}/alice/bb:1`]), "docker rmi");
  const refused = docker(anon, ["pull", `${s.host}/alice/bb:1`]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /unauthorized|denied|authentication required/i);
  admin(["repo", "visibility", "alice/bb", "public"]);
  ok(docker(anon, ["pull", `${s.host}/alice/bb:1`]), "anonymous docker pull of a public repository");
  admin(["repo", "visibility", "alice/bb", "private"]);

  // bob may not push into alice's namespace, but into his own
  const bobCfg = join(work, "docker-bob");
  ok(docker(bobCfg, ["login", s.host, "-u", "bob", "--password-stdin"], `${BOB}\n`), "docker login bob");
  const denied = docker(bobCfg, ["push", `${s.host}/alice/bb:1`]);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /denied|unauthorized|authentication required/i);
  ok(docker(bobCfg, ["tag", `${s.host}/alice/bb:1`, `${s.host}/bob/bb:1`]), "docker tag");
  ok(docker(bobCfg, ["push", `${s.host}/bob/bb:1`]), "docker push bob");
  ok(docker(bobCfg, ["logout", s.host]), "docker logout");
  assert.notEqual(docker(bobCfg, ["push", `${s.host}/bob/bb:1`]).code, 0);

  // CI: a robot token as the password, limited to pulling alice/bb
  const ci = join(work, "docker-ci");
  const robot = admin(["token", "create", "--user", "alice", "--scope", "alice/bb:pull", "--expires", "1h"]);
  const token = robot.trim().split("\n").at(-1) as string;
  ok(docker(ci, ["login", s.host, "-u", "alice", "--password-stdin"], `${token}\n`), "docker login with a robot token");
  ok(docker(ci, ["rmi", `${s.host}/alice/bb:1`]), "docker rmi");
  ok(docker(ci, ["pull", `${s.host}/alice/bb:1`]), "docker pull with a robot token");
  const push = docker(ci, ["push", `${s.host}/alice/bb:1`]);
  assert.notEqual(push.code, 0, "a pull-only robot token pushed");
  assert.match(push.stderr, /denied|unauthorized|authentication required/i);
});

test("skopeo login, copy in and out byte for byte; robot tokens as passwords; refused without credentials", async () => {
  const auth = join(work, "skopeo-auth.json");
  ok(
    sh("skopeo", ["login", "--tls-verify=false", "--authfile", auth, "-u", "alice", "--password-stdin", s.host], {
      input: `${ALICE}\n`,
    }),
    "skopeo login",
  );
  const dest = `docker://${s.host}/alice/sk:1`;
  ok(
    sh("skopeo", ["copy", "--dest-tls-verify=false", "--authfile", auth, `docker-archive:${archive}`, dest]),
    "skopeo copy in",
  );
  const raw = ok(sh("skopeo", ["inspect", "--raw", "--tls-verify=false", "--authfile", auth, dest]), "inspect");
  const head = await fetch(`${s.base}/v2/alice/sk/manifests/1`, { headers: { authorization: basic("alice", ALICE) } });
  const served = Buffer.from(await head.arrayBuffer());
  assert.equal(served.toString(), raw);
  const out = join(work, "sk-oci");
  ok(sh("skopeo", ["copy", "--src-tls-verify=false", "--authfile", auth, dest, `oci:${out}:1`]), "skopeo copy out");

  const empty = join(work, "skopeo-empty.json");
  fs.writeFileSync(empty, "{}");
  const anon = sh("skopeo", ["inspect", "--raw", "--tls-verify=false", "--authfile", empty, dest]);
  assert.notEqual(anon.code, 0);

  const token = admin(["token", "create", "--user", "alice", "--scope", "alice/sk:pull"])
    .trim()
    .split("\n")
    .at(-1) as string;
  ok(
    sh("skopeo", ["inspect", "--raw", "--tls-verify=false", "--authfile", empty, "--creds", `alice:${token}`, dest]),
    "skopeo with a robot token",
  );
  const push = sh("skopeo", [
    "copy",
    "--dest-tls-verify=false",
    "--authfile",
    empty,
    "--dest-creds",
    `alice:${token}`,
    `docker-archive:${archive}`,
    `docker://${s.host}/alice/sk:2`,
  ]);
  assert.notEqual(push.code, 0, "a pull-only token pushed");
  ok(sh("skopeo", ["logout", "--authfile", auth, s.host]), "skopeo logout");
});

test("podman login, pull and push", () => {
  const store = join(work, "podman");
  const auth = join(work, "podman-auth.json");
  const podman = (args: string[], input = "") =>
    sh("podman", ["--root", join(store, "root"), "--runroot", join(store, "run"), "--storage-driver", "vfs", ...args], {
      input,
    });
  ok(
    podman(
      ["login", "--tls-verify=false", "--authfile", auth, "-u", "alice", "--password-stdin", s.host],
      `${ALICE}\n`,
    ),
    "podman login",
  );
  ok(podman(["pull", "--tls-verify=false", "--authfile", auth, `${s.host}/alice/sk:1`]), "podman pull");
  ok(podman(["tag", `${s.host}/alice/sk:1`, `${s.host}/alice/pod:1`]), "podman tag");
  ok(podman(["push", "--tls-verify=false", "--authfile", auth, `${s.host}/alice/pod:1`]), "podman push");
  const denied = podman([
    "push",
    "--tls-verify=false",
    "--authfile",
    auth,
    `${s.host}/alice/pod:1`,
    `docker://${s.host}/bob/pod:1`,
  ]);
  assert.notEqual(denied.code, 0, "alice pushed into bob's namespace");
  ok(podman(["logout", "--authfile", auth, s.host]), "podman logout");
  sh("podman", [
    "--root",
    join(store, "root"),
    "--runroot",
    join(store, "run"),
    "--storage-driver",
    "vfs",
    "system",
    "reset",
    "-f",
  ]);
});

test("berth login, push and pull", () => {
  const root = join(work, "berth-store");
  const env = { DOCKER_CONFIG: join(work, "berth-docker"), BERTH_INSECURE_REGISTRIES: s.host };
  const run = (args: string[], input = "") => shEnv(process.execPath, [BERTH, "--root", root, ...args], env, input);
  assert.notEqual(run(["login", s.host, "-u", "alice", "--password-stdin"], "wrong-password\n").code, 0);
  ok(run(["login", s.host, "-u", "alice", "--password-stdin"], `${ALICE}\n`), "berth login");
  ok(run(["import", rootfsTar, `${s.host}/alice/berth:1`]), "berth import");
  ok(run(["push", `${s.host}/alice/berth:1`]), "berth push");
  ok(run(["rmi", `${s.host}/alice/berth:1`]), "berth rmi");
  ok(run(["pull", `${s.host}/alice/sk:1`]), "berth pull");
  ok(run(["pull", `${s.host}/alice/berth:1`]), "berth pull");
  ok(run(["logout", s.host]), "berth logout");
  assert.notEqual(run(["pull", `${s.host}/alice/sk:1`]).code, 0);
});

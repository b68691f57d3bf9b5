import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { BERTH, berth, busyboxRootfsTar, DOCKER, ensureDocker, must, sh, tempDir } from "./helpers.js";
import { berthAsync, Distribution, htpasswdFile, ok, tlsDistribution } from "./registry-client-harness.js";
import { TokenServer } from "./registry-client-token-server.js";

/**
 * Auth and TLS against CNCF Distribution: htpasswd Basic auth, Docker token auth (a token
 * server of the test's own), logins shared with docker through config.json and credential
 * helpers, and TLS from a test CA given through a certs.d folder.
 */
let work: string;
let rootfsTar: string;

before(() => {
  ensureDocker();
  work = tempDir("rc-auth");
  rootfsTar = busyboxRootfsTar(join(work, "bb"));
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** An error is one line, names the image, carries the registry's code, and exits non-zero. */
function failsWith(r: { code: number; stdout: string; stderr: string }, image: string, code: string): void {
  assert.notEqual(r.code, 0, r.stdout);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0]?.startsWith("Error: "), r.stderr);
  assert.ok(lines[0]?.includes(image), `${r.stderr} should name ${image}`);
  assert.ok(lines[0]?.includes(code), `${r.stderr} should carry ${code}`);
}

test("htpasswd Basic auth: login checks the password, stores it where docker reads it; pull, push and logout", async (t) => {
  const dir = join(work, "basic");
  const reg = await Distribution.start(join(dir, "registry"), { htpasswd: htpasswdFile(work, "alice", "s3cret") });
  t.after(() => reg.stop());
  const env = { DOCKER_CONFIG: join(dir, "docker-config") };
  const root = join(dir, "root");
  const image = `${reg.host}/team/app:1`;
  ok(berth(root, ["import", rootfsTar, image]), "import");

  const anonymous = berth(root, ["push", image], { env });
  failsWith(anonymous, image, "UNAUTHORIZED");

  const wrong = berth(root, ["login", "-u", "alice", "--password-stdin", reg.host], { env, input: "nope\n" });
  failsWith(wrong, reg.host, "UNAUTHORIZED");
  assert.ok(!fs.existsSync(join(env.DOCKER_CONFIG, "config.json")));

  const login = berth(root, ["login", "-u", "alice", "--password-stdin", reg.host], { env, input: "s3cret\n" });
  assert.equal(ok(login, "login"), "Login Succeeded\n");
  assert.match(login.stderr, /WARNING! Your password will be stored unencrypted/);
  const config = JSON.parse(fs.readFileSync(join(env.DOCKER_CONFIG, "config.json"), "utf8")) as {
    auths: Record<string, { auth: string }>;
  };
  assert.equal(Buffer.from(config.auths[reg.host]?.auth ?? "", "base64").toString(), "alice:s3cret");

  const pushed = ok(berth(root, ["push", image], { env }), "push");
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed)?.[1];
  // docker uses the login berth stored
  must(DOCKER, ["--config", env.DOCKER_CONFIG, "pull", "-q", image]);
  assert.equal(
    must(DOCKER, ["inspect", "--format", "{{index .RepoDigests 0}}", image]).trim(),
    `${reg.host}/team/app@${digest}`,
  );
  sh(DOCKER, ["rmi", "-f", image]);
  ok(berth(join(dir, "root2"), ["pull", image], { env }), "pull");

  // a wrong password in config.json: the pull fails naming the image and the registry's code
  fs.writeFileSync(
    join(dir, "bad.json"),
    JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from("alice:wrong").toString("base64") } } }),
  );
  fs.mkdirSync(join(dir, "bad-config"));
  fs.renameSync(join(dir, "bad.json"), join(dir, "bad-config", "config.json"));
  failsWith(
    berth(join(dir, "root3"), ["pull", image], { env: { DOCKER_CONFIG: join(dir, "bad-config") } }),
    image,
    "UNAUTHORIZED",
  );

  assert.equal(
    ok(berth(root, ["logout", reg.host], { env }), "logout"),
    `Removing login credentials for ${reg.host}\n`,
  );
  assert.equal(ok(berth(root, ["logout", reg.host], { env }), "logout again"), `Not logged in to ${reg.host}\n`);
  failsWith(berth(join(dir, "root4"), ["pull", image], { env }), image, "UNAUTHORIZED");

  // and the other way: a login docker made serves berth
  const dockerConfig = join(dir, "docker-made");
  const dockerLogin = sh("bash", [
    "-c",
    `printf s3cret | ${DOCKER} --config ${dockerConfig} login -u alice --password-stdin ${reg.host}`,
  ]);
  assert.equal(dockerLogin.code, 0, dockerLogin.stderr);
  ok(berth(join(dir, "root6"), ["pull", image], { env: { DOCKER_CONFIG: dockerConfig } }), "pull with docker's login");

  // on a terminal, login asks: the username is echoed, the password is not
  const typed = "(sleep 1; printf 'alice\\r'; sleep 0.5; printf 's3cret\\r')";
  const login2 = sh("bash", [
    "-c",
    `${typed} | DOCKER_CONFIG=${env.DOCKER_CONFIG} script -qc "${process.execPath} ${BERTH} --root ${root} login ${reg.host}" /dev/null`,
  ]);
  assert.equal(login2.code, 0, login2.stderr);
  assert.match(login2.stdout, /Username: alice\r?\n/);
  assert.match(login2.stdout, /Password: \r?\n/);
  assert.doesNotMatch(login2.stdout, /s3cret/);
  assert.match(login2.stdout, /Login Succeeded/);
  ok(berth(join(dir, "root5"), ["pull", image], { env }), "pull after the prompted login");
});

test("credential helpers: credsStore keeps the secret out of config.json, for berth and docker alike", async (t) => {
  const dir = join(work, "helper");
  const reg = await Distribution.start(join(dir, "registry"), { htpasswd: htpasswdFile(work, "bob", "hunter2") });
  t.after(() => reg.stop());
  const bin = join(dir, "bin");
  fs.mkdirSync(bin, { recursive: true });
  const secrets = join(dir, "helper-secrets.json");
  // a credential helper speaking docker's protocol (get/store/erase on stdin), keeping a JSON file
  fs.writeFileSync(
    join(bin, "docker-credential-berthtest"),
    `#!/usr/bin/env node
const fs = require("fs"); const f = ${JSON.stringify(secrets)};
const db = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, "utf8")) : {};
const input = fs.readFileSync(0, "utf8").trim();
const op = process.argv[2];
if (op === "store") { const c = JSON.parse(input); db[c.ServerURL] = c; fs.writeFileSync(f, JSON.stringify(db)); }
else if (op === "get") { const c = db[input]; if (!c) { process.stdout.write("credentials not found in native keychain"); process.exit(1); } process.stdout.write(JSON.stringify(c)); }
else if (op === "erase") { delete db[input]; fs.writeFileSync(f, JSON.stringify(db)); }
`,
    { mode: 0o755 },
  );
  const configDir = join(dir, "docker-config");
  fs.mkdirSync(configDir);
  fs.writeFileSync(join(configDir, "config.json"), JSON.stringify({ credsStore: "berthtest" }));
  const env = { DOCKER_CONFIG: configDir, PATH: `${bin}:${process.env.PATH}` };
  const root = join(dir, "root");
  const image = `${reg.host}/bob/app:2`;
  ok(berth(root, ["import", rootfsTar, image]), "import");
  const login = berth(root, ["login", "-u", "bob", "-p", "hunter2", reg.host], { env });
  ok(login, "login");
  assert.match(login.stderr, /WARNING! Using --password via the CLI is insecure/);
  assert.doesNotMatch(login.stderr, /stored unencrypted/);
  const config = fs.readFileSync(join(configDir, "config.json"), "utf8");
  assert.doesNotMatch(config, /hunter2|aHVudGVy/);
  assert.equal(
    (JSON.parse(fs.readFileSync(secrets, "utf8")) as Record<string, { Secret: string }>)[reg.host]?.Secret,
    "hunter2",
  );
  ok(berth(root, ["push", image], { env }), "push with the helper's login");
  const docker = sh("env", [`PATH=${env.PATH}`, DOCKER, "--config", configDir, "pull", "-q", image]);
  assert.equal(docker.code, 0, docker.stderr);
  sh(DOCKER, ["rmi", "-f", image]);
  ok(berth(root, ["logout", reg.host], { env }), "logout");
  assert.deepEqual(JSON.parse(fs.readFileSync(secrets, "utf8")), {});
});

test("two logins at once each keep their entry in config.json (a slow credential helper between read and write)", async (t) => {
  const dir = join(work, "logins-at-once");
  const reg = await Distribution.start(join(dir, "registry"), { htpasswd: htpasswdFile(dir, "dora", "s3cret") });
  t.after(() => reg.stop());
  const bin = join(dir, "bin");
  const kept = join(dir, "kept");
  fs.mkdirSync(bin, { recursive: true });
  fs.mkdirSync(kept);
  // a helper that takes its time to store (as a keychain's prompt or a remote store does), one
  // file per registry so that it has no race of its own
  fs.writeFileSync(
    join(bin, "docker-credential-slow"),
    `#!/usr/bin/env node
const fs = require("fs"); const input = fs.readFileSync(0, "utf8").trim();
if (process.argv[2] === "store") {
  const c = JSON.parse(input);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
  fs.writeFileSync(${JSON.stringify(kept)} + "/" + encodeURIComponent(c.ServerURL), input);
} else process.exit(1);
`,
    { mode: 0o755 },
  );
  const configDir = join(dir, "docker-config");
  fs.mkdirSync(configDir);
  fs.writeFileSync(join(configDir, "config.json"), JSON.stringify({ credsStore: "slow", experimental: "kept" }));
  const env = { DOCKER_CONFIG: configDir, PATH: `${bin}:${process.env.PATH}` };
  const hosts = [reg.host, `localhost:${reg.port}`];
  const logins = await Promise.all(
    hosts.map((h) =>
      berthAsync(join(dir, "root"), ["login", "-u", "dora", "--password-stdin", h], { env, input: "s3cret\n" }),
    ),
  );
  for (const r of logins) ok(r, "login");
  const config = JSON.parse(fs.readFileSync(join(configDir, "config.json"), "utf8")) as {
    auths: Record<string, unknown>;
    experimental: string;
  };
  assert.deepEqual(Object.keys(config.auths).sort(), [...hosts].sort());
  assert.equal(config.experimental, "kept", "fields berth does not know stay");
  assert.deepEqual(fs.readdirSync(kept).sort(), hosts.map(encodeURIComponent).sort());
  assert.equal(fs.existsSync(join(configDir, "config.json.lock")), false, "the lock is gone");
});

test("token auth: anonymous pulls of public repositories, logins for the rest, refresh after a 401, and a missing scope", async (t) => {
  const dir = join(work, "token");
  const tokens = await new TokenServer(join(dir, "token"), { carol: "pa55" }).listen();
  t.after(() => tokens.close());
  const reg = await Distribution.start(join(dir, "registry"), {
    token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.certPath },
  });
  t.after(() => reg.stop());
  const env = { DOCKER_CONFIG: join(dir, "docker-config") };
  const root = join(dir, "root");
  const pub = `${reg.host}/public/app:1`;
  ok(await berthAsync(root, ["import", rootfsTar, pub]), "import");
  ok(await berthAsync(root, ["tag", pub, `${reg.host}/readonly/app:1`]), "tag");

  failsWith(await berthAsync(root, ["push", pub], { env }), pub, "UNAUTHORIZED");
  failsWith(
    await berthAsync(root, ["login", "-u", "carol", "--password-stdin", reg.host], { env, input: "wrong" }),
    reg.host,
    "UNAUTHORIZED",
  );
  ok(await berthAsync(root, ["login", "-u", "carol", "--password-stdin", reg.host], { env, input: "pa55" }), "login");
  // login kept the realm's refresh token (docker's identitytoken), not the password
  const config = fs.readFileSync(join(env.DOCKER_CONFIG, "config.json"), "utf8");
  assert.match(config, /"identitytoken": "refresh-carol-/);
  assert.ok(
    !Buffer.from(/"auth": "([^"]*)"/.exec(config)?.[1] ?? "", "base64")
      .toString()
      .includes("pa55"),
  );
  ok(await berthAsync(root, ["push", pub], { env }), "push");
  assert.ok(tokens.refreshGrants > 0, "tokens came through the refresh-token grant");
  const granted = tokens.issued.filter((i) => i.user === "carol").flatMap((i) => i.access);
  assert.ok(granted.includes(`repository:public/app:pull,push`), JSON.stringify(granted));

  // another repository: the blob is mounted from the first, with a token widened to both
  ok(await berthAsync(root, ["tag", pub, `${reg.host}/public/app2:1`]), "tag");
  const n0 = tokens.issued.length;
  const mounted = ok(await berthAsync(root, ["push", `${reg.host}/public/app2:1`], { env }), "push app2");
  assert.match(mounted, /: Mounted from public\/app$/m);
  const widened = tokens.issued.slice(n0).map((i) => i.access.sort().join(" "));
  assert.ok(widened.includes("repository:public/app2:pull,push repository:public/app:pull"), JSON.stringify(widened));

  // anonymous: a token with no login, pull only
  const before = tokens.issued.length;
  ok(
    await berthAsync(join(dir, "anon"), ["pull", pub], { env: { DOCKER_CONFIG: join(dir, "empty-config") } }),
    "anonymous pull",
  );
  assert.ok(tokens.issued.slice(before).every((i) => i.user === null));

  // an expired token: the registry answers 401 and the client fetches a new one, once
  tokens.expireNext = true;
  const n = tokens.issued.length;
  ok(await berthAsync(join(dir, "refresh"), ["pull", pub], { env }), "pull with a refreshed token");
  assert.equal(tokens.issued.length - n, 2, "one expired token, one fresh");

  // carol may not push to readonly/: one line with the registry's code
  failsWith(
    await berthAsync(root, ["push", `${reg.host}/readonly/app:1`], { env }),
    `${reg.host}/readonly/app:1`,
    "UNAUTHORIZED",
  );
  // unknown repository and unknown tag
  // (Distribution names an unknown repository MANIFEST_UNKNOWN on a manifest, NAME_UNKNOWN on its tags)
  failsWith(
    await berthAsync(join(dir, "x"), ["pull", `${reg.host}/public/nothing:1`], { env }),
    `${reg.host}/public/nothing:1`,
    "MANIFEST_UNKNOWN",
  );
  failsWith(
    await berthAsync(join(dir, "x"), ["pull", "-a", `${reg.host}/public/nothing`], { env }),
    `${reg.host}/public/nothing`,
    "NAME_UNKNOWN",
  );
  failsWith(
    await berthAsync(join(dir, "x"), ["pull", `${reg.host}/public/app:nope`], { env }),
    `${reg.host}/public/app:nope`,
    "MANIFEST_UNKNOWN",
  );
});

test("TLS from a test CA: refused without the CA, accepted with it in certs.d, by berth and docker", async (t) => {
  const dir = join(work, "tls");
  const { reg, ca, certsD, trust } = await tlsDistribution(t, dir);
  const root = join(dir, "root");
  const image = `${reg.host}/secure/app:1`;
  ok(berth(root, ["import", rootfsTar, image]), "import");
  const refused = berth(root, ["push", image], { env: { BERTH_CERTS_D: certsD } });
  assert.notEqual(refused.code, 0);
  assert.match(
    refused.stderr,
    /^Error: pushing .*cannot verify the TLS certificate of registry 127\.0\.0\.1:\d+ .*certs\.d/,
  );
  trust();
  ok(berth(root, ["push", image], { env: { BERTH_CERTS_D: certsD } }), "push over TLS");
  ok(berth(join(dir, "root2"), ["pull", image], { env: { BERTH_CERTS_D: certsD } }), "pull over TLS");
  // named insecure (docker's insecure-registries): TLS without verifying, no CA needed
  const insecureEnv = { BERTH_CERTS_D: join(dir, "no-certs"), BERTH_INSECURE_REGISTRIES: reg.host };
  ok(berth(join(dir, "root3"), ["pull", image], { env: insecureEnv }), "pull from a registry named insecure");
  // docker reads the same layout from /etc/docker/certs.d
  const dockerCerts = join("/etc/docker/certs.d", reg.host);
  fs.mkdirSync(dockerCerts, { recursive: true });
  t.after(() => fs.rmSync(dockerCerts, { recursive: true, force: true }));
  fs.copyFileSync(ca, join(dockerCerts, "ca.crt"));
  must(DOCKER, ["pull", "-q", image]);
  sh(DOCKER, ["rmi", "-f", image]);
  // the registry saw TLS only
  assert.ok(reg.requests().length > 0);
});

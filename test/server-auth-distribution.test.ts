import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { must, sh, tempDir } from "./helpers.js";
import { basic, bearer, freePort, pushSynthetic, registry, type Served, serve } from "./server-auth-harness.js";

/**
 * berth's tokens are Docker's, to the letter: Distribution's own registry (docker-registry
 * 2.8), told to trust berth's signing key as its token issuer, accepts the JWTs berth's token
 * endpoint signs (ES256, libtrust `kid`, `iss`/`aud`/`exp`/`nbf`/`access`), and a client
 * following Distribution's challenge to berth's realm pushes and pulls.
 */

let s: Served;
let work: string;
let distribution: ChildProcess;
let distributionBase = "";
let distributionLog = "";

before(async () => {
  work = tempDir("auth-distribution");
  s = await serve(join(work, "berth"), { BERTH_ADMIN_PASSWORD: "first-admin-pass" });
  const r = registry(s.root, ["user", "add", "alice", "--password-stdin"], "alice-password\n");
  assert.equal(r.code, 0, r.stderr);
  // Distribution trusts keys by certificate: one for berth's signing key
  const cert = join(work, "berth.crt");
  must("openssl", [
    "req",
    "-x509",
    "-new",
    "-key",
    join(s.root, "auth-key.pem"),
    "-subj",
    "/CN=berth",
    "-days",
    "1",
    "-out",
    cert,
  ]);
  const port = await freePort();
  distributionBase = `http://127.0.0.1:${port}`;
  const config = join(work, "config.yml");
  fs.writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(work, "distribution")}`,
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "auth:",
      "  token:",
      `    realm: ${s.base}/token`,
      `    service: ${s.host}`,
      "    issuer: berth",
      `    rootcertbundle: ${cert}`,
      "",
    ].join("\n"),
  );
  distribution = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
  distribution.stderr?.on("data", (d: Buffer) => {
    distributionLog += d.toString();
  });
  for (const deadline = Date.now() + 15_000; ; ) {
    const ok = await fetch(`${distributionBase}/v2/`).then(
      () => true,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline || distribution.exitCode !== null) throw new Error(`docker-registry: ${distributionLog}`);
    await new Promise((res) => setTimeout(res, 100));
  }
});

after(async () => {
  distribution?.kill();
  await s?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test("Distribution challenges with berth's realm and accepts berth's tokens for exactly their scopes", async () => {
  const anon = await fetch(`${distributionBase}/v2/alice/app/tags/list`);
  assert.equal(anon.status, 401);
  assert.match(anon.headers.get("www-authenticate") ?? "", new RegExp(`realm="${s.base}/token"`));

  const token = await bearer(s, ["repository:alice/app:pull,push"], basic("alice", "alice-password"));
  const target = { ...s, base: distributionBase };
  const pushed = await pushSynthetic(target, "alice/app", "v1", token);
  const got = await fetch(`${distributionBase}/v2/alice/app/manifests/v1`, {
    headers: { authorization: token, accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  assert.equal(got.status, 200, distributionLog);
  assert.equal(got.headers.get("docker-content-digest"), pushed.manifest);

  // a token for another repository, or none of alice's rights (anonymous), is refused by Distribution too
  const other = await bearer(s, ["repository:alice/other:pull"], basic("alice", "alice-password"));
  assert.equal(
    (await fetch(`${distributionBase}/v2/alice/app/tags/list`, { headers: { authorization: other } })).status,
    401,
  );
  const anonToken = await bearer(s, ["repository:alice/app:pull"]);
  assert.equal(
    (await fetch(`${distributionBase}/v2/alice/app/tags/list`, { headers: { authorization: anonToken } })).status,
    401,
  );
});

test("skopeo follows Distribution's challenge to berth's token endpoint", () => {
  const dest = `docker://127.0.0.1:${new URL(distributionBase).port}/alice/app:v1`;
  const ok = sh("skopeo", ["inspect", "--raw", "--tls-verify=false", "--creds", "alice:alice-password", dest]);
  assert.equal(ok.code, 0, ok.stderr);
  const wrong = sh("skopeo", ["inspect", "--raw", "--tls-verify=false", "--creds", "alice:wrong-password", dest]);
  assert.notEqual(wrong.code, 0);
});

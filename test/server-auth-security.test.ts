import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { TokenSigner } from "../src/server/auth/jwt.js";
import { BERTH, tempDir } from "./helpers.js";
import {
  basic,
  bearer,
  type PushedImage,
  pushSynthetic,
  registry,
  type Served,
  serve,
  syntheticImage,
} from "./server-auth-harness.js";

/**
 * `berth serve --auth token`: who may do what, over real HTTP to a real server, with every
 * admin change made by `berth registry` while it runs.
 */

const ADMIN_PASSWORD = "first-admin-pass";
const PASSWORDS: Record<string, string> = { alice: "alice-password", bob: "bob-password", carol: "carol-password" };
let s: Served;
let priv: PushedImage;
let aliceUpload = "";

const as = (user: string) => basic(user, PASSWORDS[user] as string);

function admin(args: string[], input = ""): string {
  const r = registry(s.root, args, input);
  assert.equal(r.code, 0, `berth registry ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  s = await serve(tempDir("auth-security"), { BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD });
  for (const [user, password] of Object.entries(PASSWORDS))
    admin(["user", "add", user, "--password-stdin"], `${password}\n`);
  admin(["org", "create", "acme"]);
  admin(["org", "add-member", "acme", "bob", "--role", "write"]);
  admin(["org", "add-member", "acme", "carol", "--role", "read"]);
  priv = await pushSynthetic(s, "alice/priv", "v1", as("alice"));
  await pushSynthetic(s, "alice/pub", "v1", as("alice"));
  admin(["repo", "visibility", "alice/pub", "public"]);
  const start = await fetch(`${s.base}/v2/alice/priv/blobs/uploads/`, {
    method: "POST",
    headers: { authorization: as("alice") },
  });
  assert.equal(start.status, 202);
  aliceUpload = new URL(start.headers.get("location") as string, s.base).toString();
});

after(async () => {
  await s?.stop();
  if (s) fs.rmSync(s.root, { recursive: true, force: true });
});

interface Req {
  method: string;
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
}

/** Every endpoint that touches the repository `name` (reads and writes). */
function endpoints(name: string): Req[] {
  const img = syntheticImage("another");
  return [
    { method: "GET", path: `/v2/${name}/manifests/v1` },
    { method: "HEAD", path: `/v2/${name}/manifests/v1` },
    { method: "GET", path: `/v2/${name}/manifests/${priv.manifest}` },
    { method: "GET", path: `/v2/${name}/blobs/${priv.layer}` },
    { method: "HEAD", path: `/v2/${name}/blobs/${priv.config}` },
    { method: "GET", path: `/v2/${name}/blobs/${priv.layer}`, headers: { range: "bytes=0-3" } },
    { method: "GET", path: `/v2/${name}/tags/list` },
    { method: "GET", path: `/v2/${name}/referrers/${priv.manifest}` },
    { method: "POST", path: `/v2/${name}/blobs/uploads/` },
    { method: "POST", path: `/v2/${name}/blobs/uploads/?digest=${img.digests.layer}`, body: img.layer },
    {
      method: "PUT",
      path: `/v2/${name}/manifests/v2`,
      body: priv.manifestBytes,
      headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
    },
    { method: "DELETE", path: `/v2/${name}/manifests/${priv.manifest}` },
    { method: "DELETE", path: `/v2/${name}/manifests/v1` },
    { method: "DELETE", path: `/v2/${name}/blobs/${priv.layer}` },
  ];
}

async function call(r: Req, authorization?: string): Promise<Response> {
  return fetch(`${s.base}${r.path}`, {
    method: r.method,
    headers: { ...r.headers, ...(authorization ? { authorization } : {}) },
    body: r.body,
  });
}

async function errorCode(res: Response): Promise<string> {
  // HEAD answers carry the error's headers and no body
  const text = await res.text();
  if (res.status < 400 || text === "") return "";
  return (JSON.parse(text) as { errors: { code: string }[] }).errors[0]?.code ?? "";
}

test("/v2/ challenges anonymous callers (so clients start the token flow) and takes Basic and bearer tokens", async () => {
  const anon = await fetch(`${s.base}/v2/`);
  assert.equal(anon.status, 401);
  assert.equal(anon.headers.get("www-authenticate"), `Bearer realm="${s.base}/token",service="${s.host}"`);
  assert.equal((await fetch(`${s.base}/v2/`, { headers: { authorization: as("bob") } })).status, 200);
  assert.equal((await fetch(`${s.base}/v2/`, { headers: { authorization: basic("bob", "wrong") } })).status, 401);
  assert.equal((await fetch(`${s.base}/v2/`, { headers: { authorization: await bearer(s, []) } })).status, 200);
});

test("a private repository: every endpoint refuses anonymous callers with 401 and a challenge naming the scope", async () => {
  for (const r of endpoints("alice/priv")) {
    const res = await call(r);
    assert.equal(res.status, 401, `${r.method} ${r.path}`);
    const challenge = res.headers.get("www-authenticate") ?? "";
    assert.match(
      challenge,
      new RegExp(`^Bearer realm="${s.base}/token",service="${s.host}",scope="repository:alice/priv:`),
    );
    assert.equal(await errorCode(res), r.method === "HEAD" ? "" : "UNAUTHORIZED", `${r.method} ${r.path}`);
  }
  // nor may they touch alice's upload session
  for (const method of ["GET", "PATCH", "PUT", "DELETE"]) {
    const url = new URL(aliceUpload);
    if (method === "PUT") url.searchParams.set("digest", priv.layer);
    const res = await fetch(url, { method, body: method === "PATCH" || method === "PUT" ? "x" : undefined });
    assert.equal(res.status, 401, `${method} upload`);
  }
  // an anonymous token changes nothing
  const anonToken = await bearer(s, ["repository:alice/priv:pull,push,delete"]);
  for (const r of endpoints("alice/priv"))
    assert.equal((await call(r, anonToken)).status, 401, `${r.method} ${r.path}`);
});

test("a private repository: every endpoint refuses another user with 403 DENIED (Basic) or 401 (a token without the scope)", async () => {
  for (const r of endpoints("alice/priv")) {
    const res = await call(r, as("bob"));
    assert.equal(res.status, 403, `${r.method} ${r.path}`);
    assert.equal(await errorCode(res), r.method === "HEAD" ? "" : "DENIED");
  }
  // bob's token endpoint grant for alice/priv is empty (not an error), and the registry then refuses
  const token = await bearer(s, ["repository:alice/priv:pull,push,delete"], as("bob"));
  for (const r of endpoints("alice/priv")) assert.equal((await call(r, token)).status, 401, `${r.method} ${r.path}`);
  // alice's own upload session is not bob's to use
  for (const method of ["GET", "PATCH", "PUT", "DELETE"]) {
    const url = new URL(aliceUpload);
    if (method === "PUT") url.searchParams.set("digest", priv.layer);
    const res = await fetch(url, {
      method,
      headers: { authorization: as("bob") },
      body: method === "PATCH" || method === "PUT" ? "x" : undefined,
    });
    assert.equal(res.status, 403, `${method} upload`);
  }
  // and the owner still can
  assert.equal((await call({ method: "GET", path: `/v2/alice/priv/manifests/v1` }, as("alice"))).status, 200);
  assert.equal((await call({ method: "GET", path: `/v2/alice/priv/blobs/${priv.layer}` }, as("alice"))).status, 200);
});

test("mounting from a repository the caller cannot read falls back to an upload, and mounts nothing", async () => {
  const res = await fetch(`${s.base}/v2/bob/copy/blobs/uploads/?mount=${priv.layer}&from=alice/priv`, {
    method: "POST",
    headers: { authorization: as("bob") },
  });
  assert.equal(res.status, 202);
  assert.match(res.headers.get("location") ?? "", /\/v2\/bob\/copy\/blobs\/uploads\//);
  const blob = await fetch(`${s.base}/v2/bob/copy/blobs/${priv.layer}`, { headers: { authorization: as("bob") } });
  assert.equal(blob.status, 404);
  // alice mounting between her own repositories does mount
  const own = await fetch(`${s.base}/v2/alice/copy/blobs/uploads/?mount=${priv.layer}&from=alice/priv`, {
    method: "POST",
    headers: { authorization: as("alice") },
  });
  assert.equal(own.status, 201);
});

test("tokens: one scope's token is refused for another; expired and tampered tokens are refused", async () => {
  const pullOnly = await bearer(s, ["repository:alice/priv:pull"], as("alice"));
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, pullOnly)).status, 200);
  assert.equal((await call({ method: "GET", path: "/v2/alice/pub/manifests/v1" }, pullOnly)).status, 200); // public anyway
  assert.equal((await call({ method: "GET", path: "/v2/alice/copy/tags/list" }, pullOnly)).status, 401);
  assert.equal((await call({ method: "POST", path: "/v2/alice/priv/blobs/uploads/" }, pullOnly)).status, 401);
  assert.equal(
    (await call({ method: "DELETE", path: `/v2/alice/priv/manifests/${priv.manifest}` }, pullOnly)).status,
    401,
  );

  // tokens signed here with the server's key are right but for one thing (the control proves it)
  const [h, p, sig] = pullOnly.slice("Bearer ".length).split(".") as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, "base64url").toString());
  const userCreatedAt = claims.berth_user_created as number;
  const signer = TokenSigner.open(s.root, "berth", s.host);
  const access = [{ type: "repository", name: "alice/priv", actions: ["pull"] }];
  const control = await signer.sign("alice", access, 60, { userCreatedAt });
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, `Bearer ${control}`)).status, 200);
  const expired = await signer.sign("alice", access, 60, { userCreatedAt, now: Date.now() - 600_000 });
  const res = await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, `Bearer ${expired}`);
  assert.equal(res.status, 401);
  assert.equal(await errorCode(res), "UNAUTHORIZED");
  claims.access = [{ type: "repository", name: "alice/priv", actions: ["pull", "push", "delete"] }];
  const tampered = `Bearer ${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${sig}`;
  assert.equal((await call({ method: "POST", path: "/v2/alice/priv/blobs/uploads/" }, tampered)).status, 401);
  const kid = JSON.parse(Buffer.from(h, "base64url").toString()).kid;
  const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT", kid })).toString("base64url");
  const unsigned = `Bearer ${none}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.`;
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, unsigned)).status, 401);
  const otherAudience = await TokenSigner.open(s.root, "berth", "elsewhere").sign("alice", access, 60, {
    userCreatedAt,
  });
  assert.equal(
    (await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, `Bearer ${otherAudience}`)).status,
    401,
  );
});

test("a public repository: anyone pulls, anonymously too; no one but its owners pushes or deletes", async () => {
  const pull = { method: "GET", path: "/v2/alice/pub/manifests/v1" };
  assert.equal((await call(pull)).status, 200);
  assert.equal((await call(pull, await bearer(s, ["repository:alice/pub:pull"]))).status, 200);
  assert.equal((await call(pull, as("bob"))).status, 200);
  const anonPushToken = await bearer(s, ["repository:alice/pub:pull,push"]);
  const push = { method: "POST", path: "/v2/alice/pub/blobs/uploads/" };
  assert.equal((await call(push)).status, 401);
  assert.equal((await call(push, anonPushToken)).status, 401);
  assert.equal((await call(push, as("bob"))).status, 403);
  assert.equal((await call({ method: "DELETE", path: `/v2/alice/pub/manifests/v1` }, as("bob"))).status, 403);
  assert.equal((await call(push, as("alice"))).status, 202);
});

test("org roles: read pulls, write pushes, admin deletes; changing a role applies to the next request", async () => {
  await pushSynthetic(s, "acme/app", "v1", as("bob"));
  assert.equal((await call({ method: "GET", path: "/v2/acme/app/manifests/v1" }, as("carol"))).status, 200);
  assert.equal((await call({ method: "POST", path: "/v2/acme/app/blobs/uploads/" }, as("carol"))).status, 403);
  assert.equal((await call({ method: "DELETE", path: "/v2/acme/app/manifests/v1" }, as("bob"))).status, 403);
  admin(["org", "add-member", "acme", "carol", "--role", "write"]);
  assert.equal((await call({ method: "POST", path: "/v2/acme/app/blobs/uploads/" }, as("carol"))).status, 202);
  admin(["org", "add-member", "acme", "bob", "--role", "admin"]);
  await pushSynthetic(s, "acme/app", "gone", as("bob"), "gone");
  assert.equal((await call({ method: "DELETE", path: "/v2/acme/app/manifests/gone" }, as("bob"))).status, 202);
  admin(["org", "rm-member", "acme", "carol"]);
  assert.equal((await call({ method: "GET", path: "/v2/acme/app/manifests/v1" }, as("carol"))).status, 403);
});

test("new repositories take their namespace's default visibility", async () => {
  admin(["namespace", "visibility", "acme", "public"]);
  await pushSynthetic(s, "acme/open", "v1", as("bob"), "open");
  admin(["namespace", "visibility", "acme", "private"]);
  await pushSynthetic(s, "acme/closed", "v1", as("bob"), "closed");
  assert.equal((await call({ method: "GET", path: "/v2/acme/open/manifests/v1" })).status, 200);
  assert.equal((await call({ method: "GET", path: "/v2/acme/closed/manifests/v1" })).status, 401);
  // a repository made before keeps its visibility
  assert.equal((await call({ method: "GET", path: "/v2/acme/app/manifests/v1" })).status, 401);
});

test("the catalog needs registry:catalog:* with a token and lists only what the caller may pull", async () => {
  const anon = await fetch(`${s.base}/v2/_catalog`);
  assert.equal(anon.status, 401);
  assert.match(anon.headers.get("www-authenticate") ?? "", /scope="registry:catalog:\*"/);
  const list = async (authorization: string) => {
    const res = await fetch(`${s.base}/v2/_catalog`, { headers: { authorization } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { repositories: string[] }).repositories;
  };
  assert.deepEqual(await list(await bearer(s, ["registry:catalog:*"])), ["acme/open", "alice/pub"]);
  const bobs = await list(as("bob"));
  assert.ok(bobs.includes("acme/app") && bobs.includes("acme/closed") && !bobs.includes("alice/priv"), bobs.join());
  assert.ok((await list(as("alice"))).includes("alice/priv"));
  // a token without the catalog scope is challenged for it
  const noCatalog = await fetch(`${s.base}/v2/_catalog`, {
    headers: { authorization: await bearer(s, [], as("alice")) },
  });
  assert.equal(noCatalog.status, 401);
  const adminList = await list(basic("admin", ADMIN_PASSWORD));
  assert.ok(adminList.includes("alice/priv") && adminList.includes("acme/closed"));
});

test("robot tokens: usable as a password within their scope, refused after expiry or revocation", async () => {
  const out = admin(["token", "create", "--user", "alice", "--scope", "alice/priv:pull", "--expires", "4s"]);
  const robot = out.trim().split("\n").at(-1) as string;
  assert.match(robot, /^berth_[0-9a-f]{16}_/);
  const auth = basic("alice", robot);
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, auth)).status, 200);
  assert.equal((await call({ method: "POST", path: "/v2/alice/priv/blobs/uploads/" }, auth)).status, 403);
  assert.equal((await call({ method: "GET", path: "/v2/alice/copy/tags/list" }, auth)).status, 403);
  // the catalog shows a robot token only what it may pull
  const seen = await fetch(`${s.base}/v2/_catalog`, { headers: { authorization: auth } });
  assert.deepEqual(((await seen.json()) as { repositories: string[] }).repositories, [
    "acme/open",
    "alice/priv",
    "alice/pub",
  ]);
  const jwt = await bearer(s, ["repository:alice/priv:pull,push", "repository:alice/copy:pull"], auth);
  const granted = JSON.parse(Buffer.from(jwt.split(".")[1] as string, "base64url").toString()).access;
  assert.deepEqual(granted, [{ type: "repository", name: "alice/priv", actions: ["pull"] }]);
  await new Promise((r) => setTimeout(r, 4500));
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, auth)).status, 401);
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, jwt)).status, 401);

  const lasting = admin(["token", "create", "--user", "alice", "--scope", "alice/priv:pull"]).trim().split("\n");
  const token = lasting.at(-1) as string;
  const id = token.slice("berth_".length, "berth_".length + 16);
  const jwt2 = await bearer(s, ["repository:alice/priv:pull"], basic("alice", token));
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, jwt2)).status, 200);
  admin(["token", "rm", id]);
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, basic("alice", token))).status, 401);
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, jwt2)).status, 401);
});

test("a removed user's passwords and tokens stop working at once", async () => {
  admin(["user", "add", "dave", "--password-stdin"], "dave-password\n");
  await pushSynthetic(s, "dave/app", "v1", basic("dave", "dave-password"));
  const jwt = await bearer(s, ["repository:dave/app:pull,push"], basic("dave", "dave-password"));
  assert.equal((await call({ method: "GET", path: "/v2/dave/app/manifests/v1" }, jwt)).status, 200);
  admin(["user", "rm", "dave"]);
  assert.equal((await call({ method: "GET", path: "/v2/dave/app/manifests/v1" }, jwt)).status, 401);
  assert.equal(
    (await call({ method: "GET", path: "/v2/dave/app/manifests/v1" }, basic("dave", "dave-password"))).status,
    401,
  );
  const res = await fetch(`${s.base}/token?service=${s.host}`, {
    headers: { authorization: basic("dave", "dave-password") },
  });
  assert.equal(res.status, 401);
});

test("the admin API does what the CLI does, for admins only", async () => {
  const adminAuth = basic("admin", ADMIN_PASSWORD);
  const made = await fetch(`${s.base}/admin/v1/users`, {
    method: "POST",
    headers: { authorization: adminAuth, "content-type": "application/json" },
    body: JSON.stringify({ name: "erin" }),
  });
  assert.equal(made.status, 201);
  const { password } = (await made.json()) as { password: string };
  assert.equal((await fetch(`${s.base}/v2/`, { headers: { authorization: basic("erin", password) } })).status, 200);
  const denied = await fetch(`${s.base}/admin/v1/users`, { headers: { authorization: as("alice") } });
  assert.equal(denied.status, 403);
  const vis = await fetch(`${s.base}/admin/v1/repositories/alice/priv/visibility`, {
    method: "PUT",
    headers: { authorization: adminAuth, "content-type": "application/json" },
    body: JSON.stringify({ visibility: "public" }),
  });
  assert.equal(vis.status, 204);
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" })).status, 200);
  admin(["repo", "visibility", "alice/priv", "private"]);
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" })).status, 401);
});

test("bad admin input: one clear line, a non-zero exit, nothing changed", () => {
  const before = registry(s.root, ["user", "ls"]).stdout;
  const cases: [string[], RegExp][] = [
    [["user", "add", "Bad..Name"], /invalid user name "Bad\.\.Name"/],
    [["user", "add", "alice"], /"alice" is already a user or organisation/],
    [["user", "rm", "nobody"], /no user "nobody"/],
    [["org", "create", "bob"], /"bob" is already a user or organisation/],
    [["org", "add-member", "nope", "bob", "--role", "read"], /no organisation "nope"/],
    [["org", "add-member", "acme", "bob", "--role", "owner"], /invalid role "owner"/],
    [["repo", "visibility", "alice/priv", "hidden"], /invalid visibility "hidden"/],
    [["repo", "visibility", "../etc", "public"], /invalid repository name/],
    [["namespace", "visibility", "ghost", "public"], /no user or organisation "ghost"/],
    [["token", "create", "--user", "alice", "--scope", "alice/priv:steal"], /invalid scope/],
    [["token", "create", "--user", "alice", "--scope", "alice/priv:pull", "--expires", "tomorrow"], /invalid duration/],
    [["token", "create", "--user", "ghost", "--scope", "ghost/x:pull"], /no user "ghost"/],
  ];
  for (const [args, message] of cases) {
    const r = registry(s.root, args);
    assert.notEqual(r.code, 0, args.join(" "));
    assert.match(r.stderr, message, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  assert.equal(registry(s.root, ["user", "ls"]).stdout, before);
  // a mistyped root: refused, and nothing made there
  const missing = join(s.root, "no-such-root");
  for (const args of [
    ["user", "rm", "alice"],
    ["user", "add", "Bad"],
    ["org", "create", "-x"],
    ["user", "ls"],
  ]) {
    const r = registry(missing, args);
    assert.notEqual(r.code, 0, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  assert.equal(fs.existsSync(missing), false);
  assert.equal(registry(s.root, ["org", "members", "acme"]).stdout.includes("owner"), false);
});

test("--auth token on a wildcard address needs the realm clients can reach", () => {
  const r = spawnSync(
    process.execPath,
    [BERTH, "serve", "--addr", "0.0.0.0:0", "--root", join(s.root, "other"), "--auth", "token"],
    {
      timeout: 20_000,
    },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr.toString(), /needs --auth-realm/);
  assert.equal(r.stderr.toString().trim().split("\n").length, 1);
});

test("passwords and tokens are never stored in clear", () => {
  const files = fs.readdirSync(s.root).filter((f) => f.startsWith("auth.db"));
  const bytes = Buffer.concat(files.map((f) => fs.readFileSync(join(s.root, f))));
  for (const secret of [ADMIN_PASSWORD, ...Object.values(PASSWORDS), "dave-password"]) {
    assert.equal(bytes.includes(secret), false, `${secret} found in auth.db`);
  }
  assert.ok(bytes.includes("$argon2id$"));
  for (const f of [...files, "auth-key.pem"]) assert.equal(fs.statSync(join(s.root, f)).mode & 0o077, 0, f);
});

test("a restart keeps the signing key and the accounts: issued tokens and logins still work", async () => {
  const token = await bearer(s, ["repository:alice/priv:pull"], as("alice"));
  const key = fs.readFileSync(join(s.root, "auth-key.pem"));
  const port = Number(s.host.split(":")[1]);
  await s.stop();
  s = await serve(s.root, { BERTH_ADMIN_PASSWORD: "another-password" }, [], port);
  assert.deepEqual(fs.readFileSync(join(s.root, "auth-key.pem")), key);
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, token)).status, 200);
  assert.equal((await call({ method: "GET", path: "/v2/alice/priv/manifests/v1" }, as("alice"))).status, 200);
  // BERTH_ADMIN_PASSWORD only ever makes the first admin
  assert.doesNotMatch(s.log(), /created the first admin/);
  assert.equal(
    (await fetch(`${s.base}/v2/`, { headers: { authorization: basic("admin", "another-password") } })).status,
    401,
  );
  assert.equal(
    (await fetch(`${s.base}/v2/`, { headers: { authorization: basic("admin", ADMIN_PASSWORD) } })).status,
    200,
  );
});

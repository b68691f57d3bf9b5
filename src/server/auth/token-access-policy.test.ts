import assert from "node:assert/strict";
import * as fs from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { createLocalJWKSet, jwtVerify } from "jose";
import { tempDir } from "../../../test/helpers.js";
import type { Principal } from "../access.js";
import { TokenSigner } from "./jwt.js";
import { parseCredentialScope } from "./tenancy-admin.js";
import { TokenAccessPolicy } from "./token-access-policy.js";

/**
 * The token policy in-process: its token endpoint and admin API on a bare node:http server,
 * its decisions called directly. The real `berth serve` is in test/server-auth-*.test.ts.
 */

const root = tempDir("auth-policy");
let policy: TokenAccessPolicy;
let server: Server;
let base = "";
const ADMIN_PASSWORD = "admin-secret-1";

before(async () => {
  server = createServer((req, res) => {
    void policy.handle(req, res).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  policy = await TokenAccessPolicy.open({
    root,
    realm: `${base}/token`,
    service: "berth-test",
    bootstrapAdmin: { name: "admin", password: ADMIN_PASSWORD },
  });
  await policy.admin.addUser("alice", { password: "alice-pass-1" });
  await policy.admin.addUser("bob", { password: "bob-pass-12" });
  await policy.admin.createOrg("acme");
  await policy.admin.addMember("acme", "bob", "write");
});

after(async () => {
  server.close();
  await policy.close();
  fs.rmSync(root, { recursive: true, force: true });
});

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

async function principal(authorization: string | undefined): Promise<Principal> {
  const auth = await policy.authenticate(authorization);
  assert.ok(auth.ok, auth.ok ? "" : auth.message);
  return auth.principal;
}

async function token(scopes: string[], authorization?: string): Promise<string> {
  const q = new URLSearchParams({ service: "berth-test" });
  for (const s of scopes) q.append("scope", s);
  const res = await fetch(`${base}/token?${q}`, { headers: authorization ? { authorization } : {} });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { token: string }).token;
}

function claims(jwt: string): { access: { type: string; name: string; actions: string[] }[]; sub: string } {
  return JSON.parse(Buffer.from(jwt.split(".")[1] as string, "base64url").toString());
}

const allowed = async (p: Principal, repo: string) =>
  [...(await policy.allowed(p, repo, ["pull", "push", "delete"]))].join(",");

test("secrets are stored only as argon2id hashes; the signing key and auth.db are the owner's only", () => {
  const db = new Database(join(root, "auth.db"), { readonly: true });
  const dump = JSON.stringify(db.prepare("SELECT * FROM users").all());
  db.close();
  assert.ok(!dump.includes(ADMIN_PASSWORD) && !dump.includes("alice-pass-1"));
  assert.equal((dump.match(/\$argon2id\$/g) ?? []).length, 3);
  assert.equal(fs.statSync(join(root, "auth-key.pem")).mode & 0o777, 0o600);
  assert.equal(fs.statSync(join(root, "auth.db")).mode & 0o777, 0o600);
});

test("Basic credentials: right ones give the user, wrong ones fail, none is anonymous", async () => {
  assert.deepEqual(await principal(basic("alice", "alice-pass-1")), { kind: "user", name: "alice", admin: false });
  assert.deepEqual(await principal(basic("admin", ADMIN_PASSWORD)), { kind: "user", name: "admin", admin: true });
  assert.equal((await policy.authenticate(basic("alice", "wrong-pass"))).ok, false);
  assert.equal((await policy.authenticate(basic("nobody", "x"))).ok, false);
  assert.equal((await policy.authenticate("Digest abc")).ok, false);
  assert.deepEqual(await principal(undefined), { kind: "anonymous" });
});

test("the token endpoint grants the intersection of what is asked and what is allowed", async () => {
  await policy.admin.setRepositoryVisibility("alice/pub", "public");
  const anon = claims(await token(["repository:alice/pub:pull,push", "repository:alice/priv:pull"]));
  assert.deepEqual(anon.access, [{ type: "repository", name: "alice/pub", actions: ["pull"] }]);
  assert.equal(anon.sub, "");
  const alice = claims(await token(["repository:alice/priv:pull,push,delete"], basic("alice", "alice-pass-1")));
  assert.deepEqual(alice.access, [{ type: "repository", name: "alice/priv", actions: ["pull", "push", "delete"] }]);
  const bob = claims(
    await token(["repository:acme/app:pull,push,delete", "repository:alice/priv:pull"], basic("bob", "bob-pass-12")),
  );
  assert.deepEqual(bob.access, [{ type: "repository", name: "acme/app", actions: ["pull", "push"] }]);
  // scope names outside the grammar are never granted (a wildcard would otherwise pass the namespace's rules)
  const odd = claims(
    await token(["repository:alice/*:pull", "repository:alice/../x:pull"], basic("alice", "alice-pass-1")),
  );
  assert.deepEqual(odd.access, []);
});

test("the token endpoint refuses wrong credentials and another service", async () => {
  const bad = await fetch(`${base}/token?service=berth-test`, { headers: { authorization: basic("alice", "nope") } });
  assert.equal(bad.status, 401);
  const other = await fetch(`${base}/token?service=elsewhere`);
  assert.equal(other.status, 400);
});

test("OAuth2 POST: password grant with offline access gives a refresh token that gets further tokens", async () => {
  const form = new URLSearchParams({
    grant_type: "password",
    username: "alice",
    password: "alice-pass-1",
    service: "berth-test",
    client_id: "test",
    access_type: "offline",
    scope: "repository:alice/priv:pull repository:acme/app:pull",
  });
  const res = await fetch(`${base}/token`, { method: "POST", body: form });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { access_token: string; refresh_token: string; scope: string };
  assert.equal(body.scope, "repository:alice/priv:pull");
  assert.match(body.refresh_token, /^berth_/);
  const again = await fetch(`${base}/token`, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: body.refresh_token,
      service: "berth-test",
      client_id: "test",
      scope: "repository:alice/x:push",
    }),
  });
  assert.equal(again.status, 200);
  assert.equal(((await again.json()) as { scope: string }).scope, "repository:alice/x:push");
  // a refresh token is no password
  assert.equal((await policy.authenticate(basic("alice", body.refresh_token))).ok, false);
  // a new password ends the logins made with the old one
  await policy.admin.setPassword("alice", "alice-pass-1");
  const ended = await fetch(`${base}/token`, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: body.refresh_token,
      service: "berth-test",
    }),
  });
  assert.equal(ended.status, 401);
  const wrong = await fetch(`${base}/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: `${body.refresh_token.slice(0, -1)}A` }),
  });
  assert.equal(wrong.status, 401);
});

test("a token is good for its own scopes only", async () => {
  const p = await principal(`Bearer ${await token(["repository:alice/priv:pull"], basic("alice", "alice-pass-1"))}`);
  assert.equal(await allowed(p, "alice/priv"), "pull");
  assert.equal(await allowed(p, "alice/other"), "");
  assert.deepEqual(await policy.catalog(p, ["alice/priv"]), { allowed: false, visible: [] });
});

test("tampered, expired, foreign, wrong-audience, wrong-issuer and alg:none tokens are refused", async () => {
  const good = await token(["repository:alice/priv:pull"], basic("alice", "alice-pass-1"));
  const [h, payload, sig] = good.split(".") as [string, string, string];
  const forged = Buffer.from(
    JSON.stringify({
      ...claims(good),
      access: [{ type: "repository", name: "alice/priv", actions: ["pull", "push"] }],
    }),
  ).toString("base64url");
  const none = Buffer.from(
    JSON.stringify({ alg: "none", typ: "JWT", kid: JSON.parse(Buffer.from(h, "base64url").toString()).kid }),
  ).toString("base64url");
  // each token below is right but for one thing (the control proves it)
  const userCreatedAt = (await policy.store.user("alice"))?.createdAt;
  const signer = TokenSigner.open(root, "berth", "berth-test");
  const control = await signer.sign("alice", [], 60, { userCreatedAt });
  assert.equal((await policy.authenticate(`Bearer ${control}`)).ok, true);
  const expired = await signer.sign("alice", [], 60, { userCreatedAt, now: Date.now() - 3_600_000 });
  const future = await signer.sign("alice", [], 60, { userCreatedAt, now: Date.now() + 3_600_000 });
  const otherAud = await TokenSigner.open(root, "berth", "another-registry").sign("alice", [], 60, { userCreatedAt });
  const otherIss = await TokenSigner.open(root, "someone", "berth-test").sign("alice", [], 60, { userCreatedAt });
  const otherRoot = tempDir("auth-other");
  const otherKey = await TokenSigner.open(otherRoot, "berth", "berth-test").sign("alice", [], 60, { userCreatedAt });
  const otherAccount = await signer.sign("alice", [], 60, { userCreatedAt: 1 });
  fs.rmSync(otherRoot, { recursive: true });
  const cases: Record<string, string> = {
    "payload changed": `${h}.${forged}.${sig}`,
    "signature changed": `${h}.${payload}.${sig.slice(0, -2)}${sig.endsWith("AA") ? "BB" : "AA"}`,
    "alg none": `${none}.${forged}.`,
    expired,
    "not yet valid": future,
    "other audience": otherAud,
    "other issuer": otherIss,
    "other key": otherKey,
    "an earlier account of the same name": otherAccount,
    garbage: "abc.def.ghi",
  };
  for (const [what, jwt] of Object.entries(cases)) {
    const auth = await policy.authenticate(`Bearer ${jwt}`);
    assert.equal(auth.ok, false, what);
  }
});

test("robot tokens: limited to their scopes, never beyond their user's rights, refused once expired or removed", async () => {
  const created = await policy.admin.createToken("bob", [parseCredentialScope("acme/app:pull,push,delete")]);
  const p = await principal(basic("bob", created.token));
  assert.deepEqual(p, { kind: "user", name: "bob", admin: false });
  // bob is a writer in acme: the token's delete is more than he has
  assert.equal(await allowed(p, "acme/app"), "pull,push");
  assert.equal(await allowed(p, "acme/other"), "");
  assert.equal(await allowed(p, "bob/own"), "");
  // another user's name with bob's token: refused
  assert.equal((await policy.authenticate(basic("alice", created.token))).ok, false);
  // through the token endpoint: the JWT carries at most the robot's scope
  const jwt = await token(["repository:acme/app:pull,push", "repository:bob/own:pull"], basic("bob", created.token));
  assert.deepEqual(claims(jwt).access, [{ type: "repository", name: "acme/app", actions: ["pull", "push"] }]);
  const bearer = await principal(`Bearer ${jwt}`);
  assert.equal(await allowed(bearer, "acme/app"), "pull,push");
  // demoting bob narrows the token at once
  await policy.admin.addMember("acme", "bob", "read");
  assert.equal(await allowed(bearer, "acme/app"), "pull");
  await policy.admin.addMember("acme", "bob", "write");
  // revoking it stops both the robot token and the JWTs issued against it
  await policy.admin.removeToken(created.id);
  assert.equal((await policy.authenticate(basic("bob", created.token))).ok, false);
  assert.equal((await policy.authenticate(`Bearer ${jwt}`)).ok, false);

  const shortLived = await policy.admin.createToken("bob", [parseCredentialScope("acme/app:pull")], 1);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal((await policy.authenticate(basic("bob", shortLived.token))).ok, false);
});

test("removing a user ends their passwords, robot tokens and issued JWTs", async () => {
  await policy.admin.addUser("carol", { password: "carol-pass-1" });
  const robot = await policy.admin.createToken("carol", [parseCredentialScope("carol/app:pull")]);
  const jwt = await token(["repository:carol/app:pull"], basic("carol", "carol-pass-1"));
  assert.equal((await policy.authenticate(`Bearer ${jwt}`)).ok, true);
  await policy.admin.removeUser("carol");
  assert.equal((await policy.authenticate(basic("carol", "carol-pass-1"))).ok, false);
  assert.equal((await policy.authenticate(basic("carol", robot.token))).ok, false);
  assert.equal((await policy.authenticate(`Bearer ${jwt}`)).ok, false);
  // a new user under the old name does not inherit the old one's tokens
  await policy.admin.addUser("carol", { password: "carol-pass-2" });
  assert.equal((await policy.authenticate(`Bearer ${jwt}`)).ok, false);
  assert.equal((await policy.authenticate(basic("carol", robot.token))).ok, false);
});

test("new repositories take their namespace's default visibility", async () => {
  await policy.admin.setNamespaceVisibility("acme", "public");
  await policy.repositoryCreated("acme/new");
  assert.equal(await policy.store.repositoryVisibility("acme/new"), "public");
  await policy.admin.setNamespaceVisibility("acme", "private");
  await policy.repositoryCreated("acme/newer");
  assert.equal(await policy.store.repositoryVisibility("acme/newer"), "private");
  // an existing repository keeps its own
  await policy.repositoryCreated("acme/new");
  assert.equal(await policy.store.repositoryVisibility("acme/new"), "public");
  assert.equal(await allowed({ kind: "anonymous" }, "acme/new"), "pull");
  assert.equal(await allowed({ kind: "anonymous" }, "acme/newer"), "");
});

test("the catalog lists only what the caller may pull", async () => {
  const names = ["acme/new", "acme/newer", "alice/priv", "alice/pub", "bob/x"];
  assert.deepEqual(await policy.catalog({ kind: "anonymous" }, names), { allowed: false, visible: [] });
  const anon = await principal(`Bearer ${await token(["registry:catalog:*"])}`);
  assert.deepEqual(await policy.catalog(anon, names), { allowed: true, visible: ["acme/new", "alice/pub"] });
  const bob = await principal(basic("bob", "bob-pass-12"));
  assert.deepEqual((await policy.catalog(bob, names)).visible, ["acme/new", "acme/newer", "alice/pub", "bob/x"]);
  const admin = await principal(basic("admin", ADMIN_PASSWORD));
  assert.deepEqual((await policy.catalog(admin, names)).visible, names);
});

test("the public key is published as a JWKS that verifies the service's tokens", async () => {
  const res = await fetch(`${base}/token/jwks.json`);
  assert.equal(res.status, 200);
  const set = (await res.json()) as { keys: { kid: string; kty: string; crv: string; d?: string }[] };
  assert.equal(set.keys.length, 1);
  assert.equal(set.keys[0]?.kty, "EC");
  assert.equal(set.keys[0]?.crv, "P-256");
  assert.equal(set.keys[0]?.d, undefined); // never the private part
  const jwt = await token(["repository:alice/pub:pull"]);
  const { payload } = await jwtVerify(jwt, createLocalJWKSet(set as Parameters<typeof createLocalJWKSet>[0]), {
    issuer: "berth",
    audience: "berth-test",
  });
  assert.equal(payload.iss, "berth");
});

test("the challenge names realm, service and scope", () => {
  assert.equal(
    policy.challenge(["repository:alice/app:pull,push"]),
    `Bearer realm="${base}/token",service="berth-test",scope="repository:alice/app:pull,push"`,
  );
  assert.equal(policy.challenge([]), `Bearer realm="${base}/token",service="berth-test"`);
});

test("admin API: admins only; bad input refused with one line and nothing changed", async () => {
  const call = (method: string, path: string, body?: unknown, authorization = basic("admin", ADMIN_PASSWORD)) =>
    fetch(`${base}/admin/v1/${path}`, {
      method,
      headers: { authorization, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  assert.equal((await fetch(`${base}/admin/v1/users`)).status, 401);
  assert.equal((await call("GET", "users", undefined, basic("alice", "alice-pass-1"))).status, 403);
  const made = await call("POST", "users", { name: "dave", password: "dave-pass-1" });
  assert.equal(made.status, 201);
  assert.equal((await call("POST", "users", { name: "dave", password: "dave-pass-1" })).status, 409);
  const bad = await call("POST", "users", { name: "Dave", password: "dave-pass-1" });
  assert.equal(bad.status, 400);
  assert.match(
    ((await bad.json()) as { errors: { message: string }[] }).errors[0]?.message ?? "",
    /invalid user name "Dave"/,
  );
  assert.equal((await call("PUT", "orgs/acme/members/dave", { role: "owner" })).status, 400);
  assert.equal(await policy.store.role("acme", "dave"), undefined);
  assert.equal((await call("PUT", "orgs/acme/members/dave", { role: "read" })).status, 204);
  assert.equal(await policy.store.role("acme", "dave"), "read");
  assert.equal((await call("PUT", "repositories/acme/newer/visibility", { visibility: "public" })).status, 204);
  assert.equal(await policy.store.repositoryVisibility("acme/newer"), "public");
  const tok = await call("POST", "tokens", { user: "dave", scopes: ["acme/newer:pull"], expires: "1h" });
  assert.equal(tok.status, 201);
  const created = (await tok.json()) as { token: string; expiresAt: number };
  assert.ok(created.expiresAt > Date.now() + 3_500_000);
  assert.equal((await policy.authenticate(basic("dave", created.token))).ok, true);
  assert.equal(
    (await call("POST", "tokens", { user: "dave", scopes: ["acme/newer:pull"], expires: "soon" })).status,
    400,
  );
  // a token with registry:admin:* works for admins only
  const adminJwt = await token(["registry:admin:*"], basic("admin", ADMIN_PASSWORD));
  assert.equal((await call("GET", "users", undefined, `Bearer ${adminJwt}`)).status, 200);
  const aliceJwt = await token(["registry:admin:*"], basic("alice", "alice-pass-1"));
  assert.equal((await call("GET", "users", undefined, `Bearer ${aliceJwt}`)).status, 403);
  // the rest of the routes, each once
  assert.equal((await call("POST", "orgs", { name: "initech" })).status, 201);
  assert.equal((await call("POST", "orgs", { name: "initech" })).status, 409);
  assert.equal((await call("PUT", "orgs/initech/members/dave", { role: "admin" })).status, 204);
  assert.deepEqual(await (await call("GET", "orgs/initech/members")).json(), [{ user: "dave", role: "admin" }]);
  assert.equal((await call("DELETE", "orgs/initech/members/dave")).status, 204);
  assert.equal((await call("DELETE", "orgs/initech/members/dave")).status, 404);
  assert.equal((await call("PUT", "namespaces/initech/visibility", { visibility: "public" })).status, 204);
  assert.equal((await policy.store.namespace("initech"))?.defaultVisibility, "public");
  assert.equal((await call("PUT", "namespaces/ghost/visibility", { visibility: "public" })).status, 404);
  assert.equal((await call("PUT", "users/dave/password", { password: "dave-pass-2" })).status, 204);
  assert.equal((await policy.authenticate(basic("dave", "dave-pass-2"))).ok, true);
  assert.equal((await call("PUT", "users/dave/password", { password: "short" })).status, 400);
  const listed = (await (await call("GET", "users/dave/tokens")).json()) as { id: string; kind: string }[];
  assert.equal(listed.length, 1);
  assert.equal(listed[0]?.kind, "robot");
  assert.ok(!JSON.stringify(listed).includes(created.token.slice(-43)));
  assert.equal((await call("DELETE", `tokens/${listed[0]?.id}`)).status, 204);
  assert.equal((await policy.authenticate(basic("dave", created.token))).ok, false);
  assert.equal((await call("POST", "users", { name: "eve", extra: 1 })).status, 400);
  const notJson = await fetch(`${base}/admin/v1/users`, {
    method: "POST",
    headers: { authorization: basic("admin", ADMIN_PASSWORD) },
    body: "{",
  });
  assert.equal(notJson.status, 400);
  assert.equal((await call("GET", "users/%E0%A4%A/tokens")).status, 400);
  assert.equal((await call("GET", "nothing-here")).status, 404);
  assert.equal((await call("DELETE", "users/dave")).status, 204);
  assert.equal(await policy.store.user("dave"), undefined);
});

test("password guessing: after ten wrong passwords a user name is refused unchecked for a minute", async () => {
  await policy.admin.addUser("guessed", { password: "guessed-pass" });
  for (let i = 0; i < 10; i++) assert.equal((await policy.authenticate(basic("guessed", `wrong-${i}`))).ok, false);
  const auth = await policy.authenticate(basic("guessed", "guessed-pass"));
  assert.equal(auth.ok, false);
  assert.match(auth.ok ? "" : auth.message, /too many failed logins for "guessed"/);
  // other users are not affected
  assert.equal((await policy.authenticate(basic("alice", "alice-pass-1"))).ok, true);
});

test("admin API self-service: users manage their own tokens and password, and the namespaces they own or administer", async () => {
  const alice = basic("alice", "alice-pass-1");
  const bob = basic("bob", "bob-pass-12");
  const call = (method: string, path: string, authorization: string, body?: unknown) =>
    fetch(`${base}/admin/v1/${path}`, {
      method,
      headers: { authorization, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  // a CI token of one's own, through a bearer token for registry:admin:* as well
  const jwt = `Bearer ${await token(["registry:admin:*"], alice)}`;
  const made = await call("POST", "tokens", jwt, { user: "alice", scopes: ["alice/app:pull,push"], expires: "1d" });
  assert.equal(made.status, 201);
  const mine = (await made.json()) as { id: string; token: string };
  assert.equal((await call("POST", "tokens", alice, { user: "bob", scopes: ["bob/app:pull"] })).status, 403);
  assert.equal((await call("GET", "users/alice/tokens", alice)).status, 200);
  assert.equal((await call("GET", "users/bob/tokens", alice)).status, 403);
  assert.equal((await call("DELETE", `tokens/${mine.id}`, bob)).status, 403);
  // a robot token manages nothing, not even its own kind
  assert.equal((await call("GET", "users/alice/tokens", basic("alice", mine.token))).status, 403);
  assert.equal((await call("DELETE", `tokens/${mine.id}`, alice)).status, 204);
  // one's own namespace's settings, not another's
  assert.equal((await call("PUT", "repositories/alice/app/visibility", alice, { visibility: "public" })).status, 204);
  assert.equal((await call("PUT", "namespaces/alice/visibility", alice, { visibility: "private" })).status, 204);
  assert.equal((await call("PUT", "repositories/bob/app/visibility", alice, { visibility: "public" })).status, 403);
  assert.equal((await call("PUT", "repositories/lonely/visibility", alice, { visibility: "public" })).status, 403);
  // an organisation's settings: its admins only
  assert.equal((await call("PUT", "namespaces/acme/visibility", bob, { visibility: "public" })).status, 403);
  assert.equal((await call("PUT", "orgs/acme/members/alice", bob, { role: "read" })).status, 403);
  await policy.admin.addMember("acme", "bob", "admin");
  assert.equal((await call("PUT", "orgs/acme/members/alice", bob, { role: "read" })).status, 204);
  assert.equal((await call("GET", "orgs/acme/members", bob)).status, 200);
  assert.equal((await call("PUT", "repositories/acme/app/visibility", bob, { visibility: "private" })).status, 204);
  assert.equal((await call("DELETE", "orgs/acme/members/alice", bob)).status, 204);
  assert.equal((await call("POST", "orgs", bob, { name: "bobcorp" })).status, 403);
  await policy.admin.addMember("acme", "bob", "write");
  // one's own password, not another's
  assert.equal((await call("PUT", "users/bob/password", alice, { password: "taken-over" })).status, 403);
  assert.equal((await call("PUT", "users/alice/password", alice, { password: "alice-pass-1" })).status, 204);
});

test("BERTH_ADMIN_PASSWORD makes the first admin only while there are no users", async () => {
  const again = await TokenAccessPolicy.open({
    root,
    realm: `${base}/token`,
    service: "berth-test",
    bootstrapAdmin: { name: "admin2", password: "another-pass" },
  });
  assert.equal(await again.store.user("admin2"), undefined);
  await again.close();
  // a registry with no users says how to make the first
  const fresh = tempDir("auth-fresh");
  const lines: string[] = [];
  const empty = await TokenAccessPolicy.open({
    root: fresh,
    realm: "http://x/token",
    service: "x",
    notice: (l) => lines.push(l),
  });
  assert.match(lines.join("\n"), /no users yet: add an admin with berth registry --root .* user add NAME --admin/);
  await empty.close();
  fs.rmSync(fresh, { recursive: true, force: true });
});

import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import { tempDir } from "../../../test/helpers.js";
import { SqliteTenancyStore } from "./sqlite-tenancy-store.js";
import type { CredentialRecord, TenancyStore } from "./tenancy-store.js";

/**
 * The TenancyStore contract: what every implementation must do (SQLite today; PostgreSQL
 * would run the same suite). Each case gets a fresh store.
 */
function contract(name: string, open: () => { store: TenancyStore; done: () => Promise<void> }): void {
  const each = (title: string, fn: (store: TenancyStore) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const { store, done } = open();
      try {
        await fn(store);
      } finally {
        await done();
      }
    });
  const user = (n: string, admin = false) => ({ name: n, admin, passwordHash: `$argon2id$${n}`, createdAt: 1000 });
  const cred = (id: string, u: string, kind: CredentialRecord["kind"], createdAt: number): CredentialRecord => ({
    id,
    user: u,
    kind,
    secretHash: `$argon2id$${id}`,
    scopes: kind === "robot" ? [{ repository: `${u}/app`, actions: ["pull"] }] : undefined,
    expiresAt: kind === "robot" ? 5000 : undefined,
    createdAt,
  });

  each("a user owns the namespace of their name; names are unique across users and orgs", async (s) => {
    assert.equal(await s.addUser(user("alice", true), "private"), true);
    assert.deepEqual(await s.user("alice"), user("alice", true));
    assert.deepEqual(await s.namespace("alice"), { name: "alice", kind: "user", defaultVisibility: "private" });
    assert.equal(await s.addUser(user("alice"), "public"), false);
    assert.equal(await s.createOrg("alice", "public", 1), false);
    assert.equal(await s.createOrg("acme", "public", 1), true);
    assert.equal(await s.addUser(user("acme"), "public"), false);
    assert.deepEqual(await s.namespace("acme"), { name: "acme", kind: "org", defaultVisibility: "public" });
    assert.deepEqual(
      (await s.users()).map((u) => u.name),
      ["alice"],
    );
  });

  each("members: set, change, list, remove", async (s) => {
    await s.addUser(user("bob"), "private");
    await s.createOrg("acme", "private", 1);
    await s.setMember("acme", "bob", "read");
    await s.setMember("acme", "bob", "admin");
    assert.equal(await s.role("acme", "bob"), "admin");
    assert.deepEqual(await s.members("acme"), [{ user: "bob", role: "admin" }]);
    assert.equal(await s.removeMember("acme", "bob"), true);
    assert.equal(await s.removeMember("acme", "bob"), false);
    assert.equal(await s.role("acme", "bob"), undefined);
  });

  each("removing a user removes their namespace, memberships and credentials, and nothing else", async (s) => {
    await s.addUser(user("bob"), "private");
    await s.addUser(user("carol"), "private");
    await s.createOrg("acme", "private", 1);
    await s.setMember("acme", "bob", "write");
    await s.setMember("acme", "carol", "read");
    await s.addCredential(cred("0000000000000001", "bob", "robot", 1));
    await s.addCredential(cred("0000000000000002", "carol", "robot", 1));
    assert.equal(await s.removeUser("bob"), true);
    assert.equal(await s.removeUser("bob"), false);
    assert.equal(await s.removeUser("acme"), false); // an organisation is not a user
    assert.equal(await s.user("bob"), undefined);
    assert.equal(await s.namespace("bob"), undefined);
    assert.equal(await s.role("acme", "bob"), undefined);
    assert.equal(await s.credential("0000000000000001"), undefined);
    assert.equal(await s.role("acme", "carol"), "read");
    assert.ok(await s.credential("0000000000000002"));
    assert.ok(await s.namespace("acme"));
  });

  each("visibility: repositories keep their own; namespaces give the default", async (s) => {
    await s.createOrg("acme", "private", 1);
    assert.equal(await s.repositoryVisibility("acme/app"), undefined);
    assert.equal(await s.ensureRepository("acme/app", "public"), "public");
    assert.equal(await s.ensureRepository("acme/app", "private"), "public");
    await s.setRepositoryVisibility("acme/app", "private");
    assert.equal(await s.repositoryVisibility("acme/app"), "private");
    assert.equal(await s.setNamespaceVisibility("acme", "public"), true);
    assert.equal((await s.namespace("acme"))?.defaultVisibility, "public");
    assert.equal(await s.setNamespaceVisibility("ghost", "public"), false);
  });

  each("credentials: round trip, list, remove, keep the newest of a kind", async (s) => {
    await s.addUser(user("bob"), "private");
    const robot = cred("00000000000000aa", "bob", "robot", 1);
    await s.addCredential(robot);
    assert.deepEqual(await s.credential(robot.id), robot);
    for (let i = 0; i < 5; i++) await s.addCredential(cred(`10000000000000${i}0`, "bob", "refresh", 10 + i));
    await s.pruneCredentials("bob", "refresh", 2);
    assert.deepEqual(
      (await s.credentials("bob")).map((c) => c.id),
      [robot.id, "1000000000000030", "1000000000000040"],
    );
    assert.equal(await s.removeCredential(robot.id), true);
    assert.equal(await s.removeCredential(robot.id), false);
    assert.equal(await s.setPassword("bob", "$argon2id$new"), true);
    assert.equal((await s.user("bob"))?.passwordHash, "$argon2id$new");
    assert.equal(await s.setPassword("ghost", "$argon2id$new"), false);
  });
}

contract("sqlite", () => {
  const root = tempDir("tenancy-store");
  const store = SqliteTenancyStore.open(root);
  return {
    store,
    done: async () => {
      await store.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
});

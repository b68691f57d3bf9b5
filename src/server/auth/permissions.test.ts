import assert from "node:assert/strict";
import { test } from "node:test";
import type { RepositoryAction } from "../access.js";
import {
  type AccessFacts,
  limitToScope,
  managesNamespace,
  namespaceOf,
  permittedActions,
  type Role,
  type Visibility,
} from "./permissions.js";

type Who = "anonymous" | "owner" | "other" | "admin" | `member:${Role}`;
type Ns = "user" | "org" | "none";

/** Builds the facts for `who` on a repository in alice's namespace (user), acme's (org), or none. */
function facts(who: Who, ns: Ns, visibility: Visibility): AccessFacts {
  const namespace =
    ns === "user"
      ? { name: "alice", kind: "user" as const }
      : ns === "org"
        ? { name: "acme", kind: "org" as const }
        : undefined;
  const user =
    who === "anonymous"
      ? undefined
      : who === "owner"
        ? { name: "alice", admin: false }
        : who === "admin"
          ? { name: "root", admin: true }
          : { name: "bob", admin: false };
  const role = who.startsWith("member:") ? (who.slice(7) as Role) : undefined;
  return { user, namespace, role, visibility };
}

// principal × namespace kind × visibility → expected actions ("" = none)
const TABLE: [Who, Ns, Visibility, string][] = [
  ["anonymous", "user", "public", "pull"],
  ["anonymous", "user", "private", ""],
  ["anonymous", "org", "public", "pull"],
  ["anonymous", "org", "private", ""],
  ["anonymous", "none", "public", "pull"],
  ["anonymous", "none", "private", ""],
  ["owner", "user", "private", "pull,push,delete"],
  ["owner", "user", "public", "pull,push,delete"],
  ["other", "user", "private", ""],
  ["other", "user", "public", "pull"],
  ["other", "org", "private", ""],
  ["other", "org", "public", "pull"],
  ["other", "none", "private", ""],
  ["other", "none", "public", "pull"],
  ["member:read", "org", "private", "pull"],
  ["member:read", "org", "public", "pull"],
  ["member:write", "org", "private", "pull,push"],
  ["member:write", "org", "public", "pull,push"],
  ["member:admin", "org", "private", "pull,push,delete"],
  ["member:admin", "org", "public", "pull,push,delete"],
  // a role recorded for a namespace that is a user's grants nothing (roles are an org's)
  ["member:admin", "user", "private", ""],
  ["member:write", "user", "public", "pull"],
  ["admin", "user", "private", "pull,push,delete"],
  ["admin", "org", "private", "pull,push,delete"],
  ["admin", "none", "private", "pull,push,delete"],
];

for (const [who, ns, visibility, expected] of TABLE) {
  test(`${who} on a ${visibility} repository in ${ns === "none" ? "no one's" : `a ${ns}'s`} namespace: ${expected || "nothing"}`, () => {
    const got = [...permittedActions(facts(who, ns, visibility))];
    const order: RepositoryAction[] = ["pull", "push", "delete"];
    got.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    assert.equal(got.join(","), expected);
  });
}

// a scoped caller (robot or bearer token): the user's rights × the token's scope × visibility
const SCOPED: [Who, Visibility, string, string][] = [
  ["owner", "private", "pull", "pull"],
  ["owner", "private", "pull,push,delete", "pull,push,delete"],
  ["owner", "private", "", ""],
  ["owner", "public", "", "pull"], // anyone pulls a public repository, scope or not
  ["member:read", "private", "pull,push", "pull"], // never beyond the user's rights
  ["member:write", "private", "push", "push"],
  ["member:write", "public", "push", "pull,push"],
  ["other", "private", "pull", ""],
  ["anonymous", "public", "pull,push", "pull"],
];

for (const [who, visibility, scope, expected] of SCOPED) {
  test(`${who} on a ${visibility} repository with a token scoped to [${scope}]: ${expected || "nothing"}`, () => {
    const ns: Ns = who.startsWith("member:") ? "org" : "user";
    const f = facts(who, ns, visibility);
    const anyone = permittedActions({ ...f, user: undefined, role: undefined });
    const got = limitToScope(permittedActions(f), scope.split(",").filter(Boolean), anyone);
    const order: RepositoryAction[] = ["pull", "push", "delete"];
    assert.equal([...got].sort((a, b) => order.indexOf(a) - order.indexOf(b)).join(","), expected);
  });
}

test("namespace settings: the owner, an organisation's admins, registry admins", () => {
  const alice = { name: "alice", admin: false };
  const org = { name: "acme", kind: "org" as const };
  assert.equal(managesNamespace(alice, { name: "alice", kind: "user" }, undefined), true);
  assert.equal(managesNamespace(alice, { name: "bob", kind: "user" }, undefined), false);
  assert.equal(managesNamespace(alice, org, "admin"), true);
  assert.equal(managesNamespace(alice, org, "write"), false);
  assert.equal(managesNamespace(alice, org, undefined), false);
  assert.equal(managesNamespace(alice, undefined, undefined), false);
  assert.equal(managesNamespace({ name: "root", admin: true }, undefined, undefined), true);
});

test("a user whose name is another namespace's prefix does not own it", () => {
  const f: AccessFacts = {
    user: { name: "ali", admin: false },
    namespace: { name: "alice", kind: "user" },
    visibility: "private",
  };
  assert.equal(permittedActions(f).size, 0);
});

test("the namespace is the first path component; one-component names have none", () => {
  assert.equal(namespaceOf("alice/app"), "alice");
  assert.equal(namespaceOf("alice/group/app"), "alice");
  assert.equal(namespaceOf("busybox"), "");
});

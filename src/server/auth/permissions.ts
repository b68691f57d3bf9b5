import type { RepositoryAction } from "../access.js";
import { isNameComponent } from "../names.js";

/**
 * The rules of tenancy as pure functions, so every decision can be tested as a table
 * (principal × visibility × role × action) without a database or a server.
 *
 * - Every user owns the namespace of their name; organisations own theirs.
 * - Org members: read → pull; write → pull, push; admin → pull, push, delete.
 * - Public repositories: anyone pulls, anonymously too. Private: only those above.
 * - Registry admins may do everything.
 * - A repository with a one-component name (`busybox`) lies in no one's namespace: only
 *   admins push there (it is the registry's own, like Docker Hub's `library/`).
 */

export type Role = "read" | "write" | "admin";
export type Visibility = "public" | "private";
export type NamespaceKind = "user" | "org";

export const ROLES: readonly Role[] = ["read", "write", "admin"];
export const VISIBILITIES: readonly Visibility[] = ["public", "private"];
export const REPOSITORY_ACTIONS: readonly RepositoryAction[] = ["pull", "push", "delete"];

const ROLE_ACTIONS: Record<Role, readonly RepositoryAction[]> = {
  read: ["pull"],
  write: ["pull", "push"],
  admin: ["pull", "push", "delete"],
};

/** What the rules need to know about one repository and one (possibly anonymous) caller. */
export interface AccessFacts {
  /** undefined: anonymous. */
  readonly user?: { readonly name: string; readonly admin: boolean };
  /** The repository's namespace and who owns it (undefined: no user or organisation does). */
  readonly namespace: { readonly name: string; readonly kind: NamespaceKind } | undefined;
  /** The caller's role in the namespace when it is an organisation's. */
  readonly role?: Role;
  readonly visibility: Visibility;
}

/** Every action the caller may perform on the repository. */
export function permittedActions(facts: AccessFacts): Set<RepositoryAction> {
  const out = new Set<RepositoryAction>();
  const { user, namespace } = facts;
  if (user?.admin) return new Set(REPOSITORY_ACTIONS);
  if (user && namespace?.kind === "user" && namespace.name === user.name) return new Set(REPOSITORY_ACTIONS);
  if (user && namespace?.kind === "org" && facts.role) for (const a of ROLE_ACTIONS[facts.role]) out.add(a);
  if (facts.visibility === "public") out.add("pull");
  return out;
}

/**
 * Who may change a namespace's settings (its repositories' visibility, its default, an
 * organisation's members): its owning user, the organisation's admins, registry admins.
 */
export function managesNamespace(
  user: { readonly name: string; readonly admin: boolean },
  namespace: { readonly name: string; readonly kind: NamespaceKind } | undefined,
  role: Role | undefined,
): boolean {
  if (user.admin) return true;
  if (namespace?.kind === "user") return namespace.name === user.name;
  return namespace?.kind === "org" && role === "admin";
}

/**
 * What a caller limited to some scopes (a robot token, a bearer token) may do: its own
 * rights within the scopes, plus what anyone may do anyway (pulling a public repository needs
 * no scope: a token never has less than no token).
 */
export function limitToScope(
  permitted: ReadonlySet<RepositoryAction>,
  scoped: Iterable<string>,
  anyone: ReadonlySet<RepositoryAction>,
): Set<RepositoryAction> {
  const inScope = new Set(scoped);
  const out = new Set(REPOSITORY_ACTIONS.filter((a) => permitted.has(a) && inScope.has(a)));
  for (const a of anyone) out.add(a);
  return out;
}

/** The namespace of a repository name: its first path component ("" for a one-component name). */
export function namespaceOf(repository: string): string {
  const slash = repository.indexOf("/");
  return slash < 0 ? "" : repository.slice(0, slash);
}

/** `requested ∩ permitted`, in the order requested, without repeats. */
export function intersect<T>(requested: readonly T[], permitted: ReadonlySet<T>): T[] {
  return [...new Set(requested)].filter((a) => permitted.has(a));
}

export const NAME_MAX = 64;

/** Namespace names (users and organisations) follow the distribution spec's path-component grammar. */
export function isValidNamespaceName(name: string): boolean {
  return name.length <= NAME_MAX && isNameComponent(name);
}

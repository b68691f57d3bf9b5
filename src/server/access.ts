import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Who may do what on `berth serve`. The HTTP API asks an AccessPolicy and never decides on its
 * own, so the open registry (anyone pushes and pulls) and the tenancy mode (users, orgs,
 * tokens, public/private repositories) are two implementations of this one interface.
 */

export type RepositoryAction = "pull" | "push" | "delete";

export type Principal =
  | { readonly kind: "anonymous" }
  /** A person or robot that proved a password or an access token; `admin` may do anything. */
  | { readonly kind: "user"; readonly name: string; readonly admin: boolean }
  /**
   * The bearer of a registry-issued JWT: exactly the scopes the token grants, nothing more.
   * `subject` is the user it was issued to ("" for an anonymous token).
   */
  | {
      readonly kind: "token";
      readonly subject: string;
      readonly access: readonly { readonly type: string; readonly name: string; readonly actions: readonly string[] }[];
    };

export type Authentication =
  | { readonly ok: true; readonly principal: Principal }
  /** Credentials were presented and are wrong, expired or tampered: answer 401 UNAUTHORIZED. */
  | { readonly ok: false; readonly message: string };

export interface AccessPolicy {
  /** Identifies the caller from the request's `Authorization` header (undefined: anonymous). */
  authenticate(authorization: string | undefined): Promise<Authentication>;
  /** The subset of `actions` the principal may perform on the repository `name`. */
  allowed(principal: Principal, name: string, actions: readonly RepositoryAction[]): Promise<Set<RepositoryAction>>;
  /** Whether the principal may call `/v2/_catalog` at all, and which of `names` it may see. */
  catalog(principal: Principal, names: readonly string[]): Promise<{ allowed: boolean; visible: string[] }>;
  /**
   * The `WWW-Authenticate` value for a 401 on the given scopes (e.g. `repository:a/b:pull`),
   * or undefined when the policy never challenges (the open registry).
   */
  challenge(scopes: readonly string[]): string | undefined;
  /** Told when a push creates a repository, so a new repository takes its namespace's default visibility. */
  repositoryCreated(name: string, principal: Principal): Promise<void>;
  /**
   * Requests outside `/v2/` the policy serves itself (the token endpoint, the admin API).
   * Returns true when it answered the request.
   */
  handle?(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  close?(): Promise<void>;
}

const ALL: readonly RepositoryAction[] = ["pull", "push", "delete"];

/** Distribution's default: no auth, anyone pushes, pulls and deletes, the catalog lists everything. */
export const openAccess: AccessPolicy = {
  authenticate: async () => ({ ok: true, principal: { kind: "anonymous" } }),
  allowed: async (_p, _name, actions) => new Set(actions.filter((a) => ALL.includes(a))),
  catalog: async (_p, names) => ({ allowed: true, visible: [...names] }),
  challenge: () => undefined,
  repositoryCreated: async () => {},
};

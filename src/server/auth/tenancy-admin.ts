import { BerthError } from "../../oci/errors.js";
import { isRepositoryName } from "../names.js";
import {
  isValidNamespaceName,
  NAME_MAX,
  REPOSITORY_ACTIONS,
  ROLES,
  type Role,
  VISIBILITIES,
  type Visibility,
} from "./permissions.js";
import { hashSecret, newPassword, newToken, parseToken } from "./secrets.js";
import type { CredentialRecord, CredentialScope, TenancyStore, UserRecord } from "./tenancy-store.js";

/**
 * The administrative operations, shared by `berth registry …` and the admin API so both
 * validate alike: each checks its input first and changes nothing when it refuses, with one
 * line saying what is wrong, with which object, and what to do.
 */

/** The visibility of namespaces made from now on when nothing else is said. */
const DEFAULT_NAMESPACE_VISIBILITY: Visibility = "private";
const MIN_PASSWORD = 8;

function usage(message: string): BerthError {
  return new BerthError("USAGE", message);
}

export function checkName(what: "user" | "organisation", name: string): void {
  if (!isValidNamespaceName(name)) {
    throw usage(
      `invalid ${what} name "${name}": use lower-case letters, digits and single separators (. _ -), at most ${NAME_MAX} characters`,
    );
  }
}

export function checkPassword(user: string, password: string): void {
  if (password.length < MIN_PASSWORD) {
    throw usage(`the password for user "${user}" is too short: use at least ${MIN_PASSWORD} characters`);
  }
  // a login with such a password would be taken for an access token
  if (parseToken(password))
    throw usage(`the password for user "${user}" has the form of an access token: choose another`);
}

export function parseRole(text: string): Role {
  if (!(ROLES as readonly string[]).includes(text)) throw usage(`invalid role "${text}": use read, write or admin`);
  return text as Role;
}

export function parseVisibility(text: string): Visibility {
  if (!(VISIBILITIES as readonly string[]).includes(text)) {
    throw usage(`invalid visibility "${text}": use public or private`);
  }
  return text as Visibility;
}

/** `REPO:ACTIONS` (`alice/app:pull,push`); `*` for all of pull, push and delete. */
export function parseCredentialScope(text: string): CredentialScope {
  const colon = text.lastIndexOf(":");
  const repository = colon < 0 ? text : text.slice(0, colon);
  const actionsText = colon < 0 ? "" : text.slice(colon + 1);
  if (!isRepositoryName(repository)) {
    throw usage(`invalid scope "${text}": "${repository}" is not a repository name (e.g. alice/app:pull,push)`);
  }
  const actions = actionsText === "*" ? [...REPOSITORY_ACTIONS] : actionsText.split(",").filter((a) => a !== "");
  const unknown = actions.filter((a) => !(REPOSITORY_ACTIONS as readonly string[]).includes(a));
  if (actions.length === 0 || unknown.length > 0) {
    throw usage(`invalid scope "${text}": actions must be some of pull, push, delete (e.g. ${repository}:pull,push)`);
  }
  return { repository, actions: [...new Set(actions)] };
}

export interface CreatedToken {
  readonly id: string;
  readonly token: string;
  readonly expiresAt: number | undefined;
}

export class TenancyAdmin {
  constructor(
    readonly store: TenancyStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Adds a user; without a password one is made and returned (print it once: only its hash is kept). */
  async addUser(name: string, opts: { admin?: boolean; password?: string }): Promise<{ password?: string }> {
    checkName("user", name);
    const generated = opts.password === undefined ? newPassword() : undefined;
    const password = opts.password ?? (generated as string);
    checkPassword(name, password);
    if (await this.store.namespace(name)) {
      throw new BerthError("CONFLICT", `"${name}" is already a user or organisation: choose another name`);
    }
    const user: UserRecord = {
      name,
      admin: opts.admin ?? false,
      passwordHash: await hashSecret(password),
      createdAt: this.now(),
    };
    if (!(await this.store.addUser(user, DEFAULT_NAMESPACE_VISIBILITY))) {
      throw new BerthError("CONFLICT", `"${name}" is already a user or organisation: choose another name`);
    }
    return generated === undefined ? {} : { password: generated };
  }

  async removeUser(name: string): Promise<void> {
    if (!(await this.store.removeUser(name))) throw new BerthError("NOT_FOUND", `no user "${name}": nothing removed`);
  }

  /** Sets a new password and ends the user's logins (refresh tokens); robot tokens stay. */
  async setPassword(name: string, password: string): Promise<void> {
    checkPassword(name, password);
    if (!(await this.store.user(name))) throw new BerthError("NOT_FOUND", `no user "${name}": add it with user add`);
    await this.store.setPassword(name, await hashSecret(password));
    await this.store.pruneCredentials(name, "refresh", 0);
  }

  async createOrg(name: string): Promise<void> {
    checkName("organisation", name);
    if (!(await this.store.createOrg(name, DEFAULT_NAMESPACE_VISIBILITY, this.now()))) {
      throw new BerthError("CONFLICT", `"${name}" is already a user or organisation: choose another name`);
    }
  }

  private async requireOrg(org: string): Promise<void> {
    const ns = await this.store.namespace(org);
    if (ns?.kind !== "org") {
      throw new BerthError(
        "NOT_FOUND",
        ns ? `"${org}" is a user, not an organisation` : `no organisation "${org}": create it with org create ${org}`,
      );
    }
  }

  async addMember(org: string, user: string, role: Role): Promise<void> {
    await this.requireOrg(org);
    if (!(await this.store.user(user))) throw new BerthError("NOT_FOUND", `no user "${user}": add it with user add`);
    await this.store.setMember(org, user, role);
  }

  async removeMember(org: string, user: string): Promise<void> {
    await this.requireOrg(org);
    if (!(await this.store.removeMember(org, user))) {
      throw new BerthError("NOT_FOUND", `"${user}" is not a member of "${org}": nothing removed`);
    }
  }

  async setRepositoryVisibility(repository: string, visibility: Visibility): Promise<void> {
    if (!isRepositoryName(repository)) {
      throw usage(
        `invalid repository name "${repository}": use lower-case path components joined by / (e.g. alice/app)`,
      );
    }
    await this.store.setRepositoryVisibility(repository, visibility);
  }

  async setNamespaceVisibility(namespace: string, visibility: Visibility): Promise<void> {
    if (!(await this.store.setNamespaceVisibility(namespace, visibility))) {
      throw new BerthError(
        "NOT_FOUND",
        `no user or organisation "${namespace}": add one with user add or org create first`,
      );
    }
  }

  /** A robot/access token for CI: limited to `scopes`, optionally expiring after `expiresInMs`. */
  async createToken(user: string, scopes: readonly CredentialScope[], expiresInMs?: number): Promise<CreatedToken> {
    if (scopes.length === 0) throw usage("a token needs at least one --scope REPO:ACTIONS (e.g. alice/app:pull)");
    if (!(await this.store.user(user))) throw new BerthError("NOT_FOUND", `no user "${user}": add it with user add`);
    return this.issueCredential(user, "robot", scopes, expiresInMs);
  }

  /** Stores a new credential's hash and returns its only clear copy. */
  async issueCredential(
    user: string,
    kind: CredentialRecord["kind"],
    scopes: readonly CredentialScope[] | undefined,
    expiresInMs?: number,
  ): Promise<CreatedToken> {
    const token = newToken();
    const now = this.now();
    const expiresAt = expiresInMs === undefined ? undefined : now + expiresInMs;
    await this.store.addCredential({
      id: token.id,
      user,
      kind,
      secretHash: await hashSecret(token.secret),
      scopes,
      expiresAt,
      createdAt: now,
    });
    return { id: token.id, token: token.text, expiresAt };
  }

  async removeToken(id: string): Promise<void> {
    if (!(await this.store.removeCredential(id)))
      throw new BerthError("NOT_FOUND", `no token "${id}": nothing removed`);
  }

  /**
   * The first admin from BERTH_ADMIN_PASSWORD: made only while the registry has no users, so
   * restarting with the variable still set changes nothing.
   */
  async bootstrapAdmin(name: string, password: string): Promise<boolean> {
    if ((await this.store.users()).length > 0) return false;
    await this.addUser(name, { admin: true, password });
    return true;
  }
}

import { createHmac, randomBytes } from "node:crypto";
import type { RepositoryAction } from "../access.js";
import { type AccessFacts, limitToScope, namespaceOf, permittedActions } from "./permissions.js";
import { hashSecret, parseToken, verifySecret } from "./secrets.js";
import type { CredentialScope, TenancyStore } from "./tenancy-store.js";

/**
 * Who a caller is (a password or a credential token checked against its hash) and what a
 * user may do right now (the tenancy rules over the store's current rows). Shared by the
 * token endpoint, which issues what this allows, and the registry, which re-checks it on every
 * request so a removed user, member or token stops working at once.
 */

/** A proven caller: a user, limited to `scopes` when they came with a robot token. */
export interface Identity {
  readonly user: string;
  /** The credential (robot or refresh token) used, undefined for a password. */
  readonly credential: string | undefined;
  /** undefined: the user's full rights. */
  readonly scopes: readonly CredentialScope[] | undefined;
}

/** argon2 costs ~30 ms; a client repeating the same Basic credentials is spared it for a while. */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 1000;
/**
 * Password guessing: after this many wrong passwords for one user name within the window,
 * further tries for it are refused unchecked until the window ends. (Token secrets are 256
 * bits: guessing them is futile, so they are not counted.)
 */
const FAILURES_ALLOWED = 10;
const FAILURE_WINDOW_MS = 60_000;
const FAILURES_TRACKED = 10_000;

export class Authority {
  /** HMAC (with a per-process key) of user and secret → the hash it was verified against. */
  private readonly verified = new Map<string, { hash: string; until: number }>();
  private readonly cacheKey = randomBytes(32);
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    readonly store: TenancyStore,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Checks a username and a password or credential token. A credential token must belong to
   * `username`, be a robot token unless `allowRefresh`, and not have expired.
   */
  async login(username: string, secret: string, opts: { allowRefresh?: boolean } = {}): Promise<Identity | undefined> {
    const token = parseToken(secret);
    if (token) {
      const cred = await this.credential(token.id);
      if (!cred || cred.user !== username) return undefined;
      if (cred.kind === "refresh" && !opts.allowRefresh) return undefined;
      if (!(await this.check(`${username}\0${secret}`, cred.secretHash, token.secret))) return undefined;
      return { user: cred.user, credential: cred.id, scopes: cred.scopes };
    }
    if (this.throttled(username)) return undefined;
    const user = await this.store.user(username);
    if (!user?.passwordHash) {
      // as slow as a wrong password, so timing does not tell which user names exist
      await verifySecret(await this.dummyHash(), secret);
      this.failed(username);
      return undefined;
    }
    if (!(await this.check(`${username}\0${secret}`, user.passwordHash, secret))) {
      this.failed(username);
      return undefined;
    }
    this.failures.delete(username);
    return { user: user.name, credential: undefined, scopes: undefined };
  }

  /** Whether passwords for `username` are refused for now after too many wrong ones. */
  throttled(username: string): boolean {
    const f = this.failures.get(username);
    if (!f) return false;
    if (this.now() - f.since > FAILURE_WINDOW_MS) {
      this.failures.delete(username);
      return false;
    }
    return f.count >= FAILURES_ALLOWED;
  }

  /** Why a login failed, for the one line the caller sees. */
  loginFailure(username: string): string {
    return this.throttled(username)
      ? `too many failed logins for "${username}": wait a minute and try again`
      : "incorrect username or password";
  }

  private failed(username: string): void {
    const f = this.failures.get(username);
    if (f && this.now() - f.since <= FAILURE_WINDOW_MS) f.count++;
    else {
      if (this.failures.size >= FAILURES_TRACKED) this.failures.clear();
      this.failures.set(username, { count: 1, since: this.now() });
    }
  }

  /** A refresh token (docker's identity token) on its own: its owner, with full rights. */
  async refresh(secret: string): Promise<Identity | undefined> {
    const token = parseToken(secret);
    if (!token) return undefined;
    const cred = await this.credential(token.id);
    if (cred?.kind !== "refresh") return undefined;
    if (!(await this.check(`\0${secret}`, cred.secretHash, token.secret))) return undefined;
    return { user: cred.user, credential: cred.id, scopes: undefined };
  }

  /** A stored credential that has not expired. */
  async credential(id: string) {
    const cred = await this.store.credential(id);
    if (!cred || (cred.expiresAt !== undefined && cred.expiresAt <= this.now())) return undefined;
    return cred;
  }

  /**
   * The identity behind a token, if it still stands: its user exists — the same account made
   * at `userCreatedAt`, not one added again under the name since — and its credential is live
   * (a robot credential's scopes limit the identity). false when it no longer stands; undefined
   * for an anonymous token (subject "").
   */
  async tokenIdentity(
    user: string,
    credential: string | undefined,
    userCreatedAt: number | undefined,
  ): Promise<Identity | undefined | false> {
    if (user === "") return undefined;
    const cred = credential === undefined ? undefined : await this.credential(credential);
    if (credential !== undefined && cred?.user !== user) return false;
    if ((await this.store.user(user))?.createdAt !== userCreatedAt) return false;
    return { user, credential, scopes: cred?.kind === "robot" ? cred.scopes : undefined };
  }

  private dummy: Promise<string> | undefined;
  private dummyHash(): Promise<string> {
    this.dummy ??= hashSecret(randomBytes(16).toString("hex"));
    return this.dummy;
  }

  private async check(key: string, hash: string, secret: string): Promise<boolean> {
    const mac = createHmac("sha256", this.cacheKey).update(key).digest("base64");
    const hit = this.verified.get(mac);
    // a hit counts only against the same stored hash: a new password or a removed token misses
    if (hit && hit.hash === hash && hit.until > this.now()) return true;
    if (!(await verifySecret(hash, secret))) return false;
    if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
    this.verified.set(mac, { hash, until: this.now() + VERIFIED_TTL_MS });
    return true;
  }

  /** The facts the rules need for `user` (undefined: anonymous) on a repository. */
  async facts(user: string | undefined, repository: string): Promise<AccessFacts> {
    const nsName = namespaceOf(repository);
    const [record, ns, visibility] = await Promise.all([
      user === undefined ? undefined : this.store.user(user),
      nsName === "" ? undefined : this.store.namespace(nsName),
      this.store.repositoryVisibility(repository),
    ]);
    const role = record && ns?.kind === "org" ? await this.store.role(ns.name, record.name) : undefined;
    return {
      user: record && { name: record.name, admin: record.admin },
      namespace: ns && { name: ns.name, kind: ns.kind },
      role,
      // a repository never told its visibility (pushed before auth was on) takes its namespace's default
      visibility: visibility ?? ns?.defaultVisibility ?? "private",
    };
  }

  /** What `identity` (undefined: anonymous) may do on `repository` now, within its token's scopes. */
  async permitted(identity: Identity | undefined, repository: string): Promise<Set<RepositoryAction>> {
    return (await this.decide(identity, repository)).actions;
  }

  /**
   * `actions`: what `identity` may do on `repository`; `anyone`: what anonymous callers may
   * (from the same reads, for callers that combine them with a token's scopes).
   */
  async decide(
    identity: Identity | undefined,
    repository: string,
  ): Promise<{ actions: Set<RepositoryAction>; anyone: Set<RepositoryAction> }> {
    const facts = await this.facts(identity?.user, repository);
    const anyone = permittedActions({ ...facts, user: undefined, role: undefined });
    const all = permittedActions(facts);
    if (identity?.scopes === undefined) return { actions: all, anyone };
    const scoped = identity.scopes.filter((s) => s.repository === repository).flatMap((s) => s.actions);
    return { actions: limitToScope(all, scoped, anyone), anyone };
  }

  async isAdmin(user: string): Promise<boolean> {
    return (await this.store.user(user))?.admin === true;
  }
}

import type { IncomingMessage, ServerResponse } from "node:http";
import { formatChallenge } from "../../oci/distribution.js";
import type { AccessPolicy, Authentication, Principal, RepositoryAction } from "../access.js";
import { ADMIN_PREFIX, type AdminCaller, handleAdminRequest } from "./admin-api.js";
import { Authority, type Identity } from "./authority.js";
import { parseBasic, parseBearer, sendError, sendJson } from "./http.js";
import { type AccessEntry, type TokenClaims, TokenSigner } from "./jwt.js";
import { intersect, limitToScope } from "./permissions.js";
import { SqliteTenancyStore } from "./sqlite-tenancy-store.js";
import { TenancyAdmin } from "./tenancy-admin.js";
import type { TenancyStore } from "./tenancy-store.js";
import { handleTokenRequest } from "./token-endpoint.js";

/**
 * `berth serve --auth token`: users, organisations and public/private repositories, with
 * Docker's token authentication. The registry accepts the JWTs its own token endpoint
 * (`/token`) signs, and Basic credentials directly (passwords and robot tokens). Every
 * decision re-reads the tenancy store, so admin changes made while the server runs — a user
 * removed, a member demoted, a repository made private — apply to the next request, also for
 * tokens already issued.
 *
 * `/v2/_catalog` needs the `registry:catalog:*` scope with a token (as Distribution), which
 * the token endpoint gives to anyone, anonymous callers included; the list then holds only the
 * repositories the caller may pull.
 */

export const TOKEN_PATH = "/token";
/** The token service's public key set (JWKS). */
const JWKS_PATH = "/token/jwks.json";

export interface TokenAccessOptions {
  /** The registry root; `auth.db` and the signing key live there. */
  readonly root: string;
  /** The absolute URL of the token endpoint clients are sent to (`http://HOST:PORT/token`). */
  readonly realm: string;
  /** The `service` of challenges and the `aud` of tokens. */
  readonly service: string;
  /** The first admin, made when the registry has no users yet (BERTH_ADMIN_PASSWORD). */
  readonly bootstrapAdmin?: { readonly name: string; readonly password: string };
  readonly store?: TenancyStore;
  /** Told one line for the operator at start (the first admin made, or how to make one). */
  readonly notice?: (line: string) => void;
}

/** Verified tokens, so a client's burst of requests costs one signature check. */
const VERIFIED_TOKENS_MAX = 10_000;

export class TokenAccessPolicy implements AccessPolicy {
  readonly admin: TenancyAdmin;
  readonly authority: Authority;
  /** The identity behind each principal this policy made (robot limits included). */
  private readonly identities = new WeakMap<Principal, Identity | undefined>();
  private readonly verified = new Map<string, TokenClaims>();

  private constructor(
    readonly store: TenancyStore,
    readonly signer: TokenSigner,
    private readonly options: TokenAccessOptions,
  ) {
    this.admin = new TenancyAdmin(store);
    this.authority = new Authority(store);
  }

  static async open(options: TokenAccessOptions): Promise<TokenAccessPolicy> {
    const store = options.store ?? SqliteTenancyStore.open(options.root);
    const signer = TokenSigner.open(options.root, "berth", options.service);
    const policy = new TokenAccessPolicy(store, signer, options);
    const first = options.bootstrapAdmin;
    if (first && (await policy.admin.bootstrapAdmin(first.name, first.password))) {
      options.notice?.(`created the first admin "${first.name}" from BERTH_ADMIN_PASSWORD`);
    } else if ((await store.users()).length === 0) {
      options.notice?.(
        `no users yet: add an admin with berth registry --root ${options.root} user add NAME --admin, or start with BERTH_ADMIN_PASSWORD set`,
      );
    }
    return policy;
  }

  private principal(p: Principal, identity: Identity | undefined): Authentication {
    this.identities.set(p, identity);
    return { ok: true, principal: p };
  }

  async authenticate(authorization: string | undefined): Promise<Authentication> {
    if (authorization === undefined || authorization.trim() === "") {
      return this.principal({ kind: "anonymous" }, undefined);
    }
    const basic = parseBasic(authorization);
    if (basic) {
      const identity = await this.authority.login(basic.user, basic.password);
      if (!identity) return { ok: false, message: this.authority.loginFailure(basic.user) };
      // a robot token is a "user" too (access.ts: "proved a password or an access token"), so a
      // refusal is 403; it is never admin, and its scopes ride along in its identity
      const admin = identity.scopes === undefined && (await this.authority.isAdmin(identity.user));
      return this.principal({ kind: "user", name: identity.user, admin }, identity);
    }
    const bearer = parseBearer(authorization);
    if (bearer === undefined) return { ok: false, message: "unsupported authorization scheme: use Bearer or Basic" };
    let claims: TokenClaims;
    try {
      claims = await this.verify(bearer);
    } catch (err) {
      return { ok: false, message: `invalid token: ${(err as Error).message}` };
    }
    const identity = await this.authority.tokenIdentity(claims.sub, claims.credential, claims.userCreatedAt);
    if (identity === false) {
      return { ok: false, message: "the token's user or access token has been removed: log in again" };
    }
    return this.principal({ kind: "token", subject: claims.sub, access: claims.access }, identity);
  }

  private async verify(token: string): Promise<TokenClaims> {
    const cached = this.verified.get(token);
    if (cached && cached.exp * 1000 > Date.now()) return cached;
    const claims = await this.signer.verify(token);
    if (this.verified.size >= VERIFIED_TOKENS_MAX) this.verified.clear();
    this.verified.set(token, claims);
    return claims;
  }

  private identityFor(p: Principal): Identity | undefined {
    if (this.identities.has(p)) return this.identities.get(p);
    if (p.kind === "user") return { user: p.name, credential: undefined, scopes: undefined };
    if (p.kind === "token" && p.subject !== "") return { user: p.subject, credential: undefined, scopes: undefined };
    return undefined;
  }

  async allowed(p: Principal, name: string, actions: readonly RepositoryAction[]): Promise<Set<RepositoryAction>> {
    const decided = await this.authority.decide(this.identityFor(p), name);
    const permitted =
      p.kind === "token"
        ? limitToScope(decided.actions, granted(p.access, "repository", name), decided.anyone)
        : decided.actions;
    return new Set(intersect(actions, permitted));
  }

  async catalog(p: Principal, names: readonly string[]): Promise<{ allowed: boolean; visible: string[] }> {
    if (p.kind === "anonymous") return { allowed: false, visible: [] };
    if (p.kind === "token" && !granted(p.access, "registry", "catalog").has("*"))
      return { allowed: false, visible: [] };
    const identity = this.identityFor(p);
    const visible: string[] = [];
    for (const name of names) if ((await this.authority.permitted(identity, name)).has("pull")) visible.push(name);
    return { allowed: true, visible };
  }

  challenge(scopes: readonly string[]): string {
    const params: Record<string, string> = { realm: this.options.realm, service: this.options.service };
    if (scopes.length > 0) params.scope = scopes.join(" ");
    return formatChallenge({ scheme: "Bearer", params });
  }

  async repositoryCreated(name: string): Promise<void> {
    const slash = name.indexOf("/");
    const ns = slash < 0 ? undefined : await this.store.namespace(name.slice(0, slash));
    await this.store.ensureRepository(name, ns?.defaultVisibility ?? "private");
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = (req.url ?? "/").split("?")[0] as string;
    if (path === TOKEN_PATH) {
      await handleTokenRequest(
        { authority: this.authority, admin: this.admin, signer: this.signer, service: this.options.service },
        req,
        res,
      );
      return true;
    }
    if (path === JWKS_PATH && (req.method === "GET" || req.method === "HEAD")) {
      sendJson(res, 200, this.signer.jwks(), { "Cache-Control": "max-age=300" });
      return true;
    }
    if (path.startsWith(ADMIN_PREFIX)) {
      const caller = await this.adminCaller(req, res);
      if (caller) await handleAdminRequest(this.admin, caller, req, res);
      return true;
    }
    return false;
  }

  /**
   * The admin API's caller: a user's password (Basic) or a token with `registry:admin:*`, never a
   * robot token (CI credentials do not manage accounts). Answers 401/403 itself otherwise; each
   * route then checks what this caller may do.
   */
  private async adminCaller(req: IncomingMessage, res: ServerResponse): Promise<AdminCaller | undefined> {
    const auth = await this.authenticate(req.headers.authorization);
    const p = auth.ok ? auth.principal : undefined;
    if (!p || p.kind === "anonymous") {
      sendError(res, 401, "UNAUTHORIZED", auth.ok ? "authentication required" : auth.message, {
        "WWW-Authenticate": this.challenge(["registry:admin:*"]),
      });
      return undefined;
    }
    const identity = this.identityFor(p);
    if (
      identity === undefined ||
      identity.scopes !== undefined ||
      (p.kind === "token" && !granted(p.access, "registry", "admin").has("*"))
    ) {
      sendError(
        res,
        403,
        "DENIED",
        "the admin API takes a password or a token for registry:admin:*, not an access token",
      );
      return undefined;
    }
    return { name: identity.user, admin: await this.authority.isAdmin(identity.user) };
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

/** The actions `access` grants on one resource. */
function granted(access: readonly AccessEntry[], type: string, name: string): Set<string> {
  return new Set(access.filter((a) => a.type === type && a.name === name).flatMap((a) => a.actions));
}

import type { IncomingMessage, ServerResponse } from "node:http";
import { formatScope, parseScope } from "../../oci/distribution.js";
import { isRepositoryName } from "../names.js";
import type { Authority, Identity } from "./authority.js";
import { BodyTooLarge, parseBasic, readBody, sendError, sendJson } from "./http.js";
import type { AccessEntry, TokenSigner } from "./jwt.js";
import { intersect, REPOSITORY_ACTIONS } from "./permissions.js";
import type { TenancyAdmin } from "./tenancy-admin.js";

/**
 * The token endpoint of Docker's token authentication (docs/spec/auth/token.md and oauth.md):
 * GET with Basic credentials or none, and the OAuth2 POST form docker and podman use with
 * refresh (identity) tokens. It grants the intersection of what is asked and what the caller
 * may do — an empty grant is not an error (token.md: "it must not be considered an error");
 * the registry refuses later.
 */

const TOKEN_TTL_SECONDS = 300;
/** docker login asks for a refresh token each time; a user keeps this many. */
const REFRESH_TOKENS_KEPT = 20;

/** `registry:catalog:*` lets a caller list `/v2/_catalog` (filtered to what they may pull). */
const CATALOG = { type: "registry", name: "catalog" } as const;
/** `registry:admin:*` lets a caller use the admin API (its routes check what the caller manages). */
const ADMIN = { type: "registry", name: "admin" } as const;

export interface TokenEndpointDeps {
  readonly authority: Authority;
  readonly admin: TenancyAdmin;
  readonly signer: TokenSigner;
  readonly service: string;
}

/** The access entries `identity` (undefined: anonymous) gets for the requested scopes. */
export async function grant(
  deps: Pick<TokenEndpointDeps, "authority">,
  identity: Identity | undefined,
  requested: readonly string[],
): Promise<AccessEntry[]> {
  const out: AccessEntry[] = [];
  for (const text of requested) {
    const scope = parseScope(text);
    if (!scope) continue;
    if (scope.type === "repository" && isRepositoryName(scope.name)) {
      const asked = scope.actions.includes("*") ? REPOSITORY_ACTIONS : scope.actions;
      const actions = intersect(asked, await deps.authority.permitted(identity, scope.name));
      if (actions.length > 0) out.push({ type: "repository", name: scope.name, actions });
    } else if (scope.type === CATALOG.type && scope.name === CATALOG.name && scope.actions.includes("*")) {
      out.push({ ...CATALOG, actions: ["*"] });
    } else if (scope.type === ADMIN.type && scope.name === ADMIN.name && scope.actions.includes("*")) {
      // the admin API is for people (each route checks what they manage), not for robot tokens
      if (identity && identity.scopes === undefined) out.push({ ...ADMIN, actions: ["*"] });
    }
  }
  return out;
}

/** Splits scope parameters: each may itself hold several scopes separated by spaces (scope.md). */
function scopesOf(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(" ")).filter((s) => s !== "");
}

async function issue(
  deps: TokenEndpointDeps,
  res: ServerResponse,
  identity: Identity | undefined,
  scopes: readonly string[],
  refreshToken: string | undefined,
  oauth: boolean,
): Promise<void> {
  const access = await grant(deps, identity, scopes);
  const issuedAt = new Date();
  const account = identity && (await deps.authority.store.user(identity.user));
  const token = await deps.signer.sign(identity?.user ?? "", access, TOKEN_TTL_SECONDS, {
    credential: identity?.credential,
    userCreatedAt: account?.createdAt,
    now: issuedAt.getTime(),
  });
  const body: Record<string, unknown> = {
    token,
    access_token: token,
    expires_in: TOKEN_TTL_SECONDS,
    issued_at: issuedAt.toISOString(),
  };
  // oauth.md requires the granted scope in the POST answer
  if (oauth) body.scope = access.map((a) => formatScope(a)).join(" ");
  if (refreshToken !== undefined) body.refresh_token = refreshToken;
  sendJson(res, 200, body);
}

/** A new refresh token for a password login (docker keeps it as its identity token). */
async function newRefreshToken(deps: TokenEndpointDeps, identity: Identity): Promise<string | undefined> {
  if (identity.credential !== undefined) return undefined; // a robot token is not traded for a broader one
  const created = await deps.admin.issueCredential(identity.user, "refresh", undefined);
  await deps.admin.store.pruneCredentials(identity.user, "refresh", REFRESH_TOKENS_KEPT);
  return created.token;
}

function unauthorized(res: ServerResponse, message: string): void {
  sendError(res, 401, "UNAUTHORIZED", message, { "WWW-Authenticate": 'Basic realm="berth"' });
}

function wrongService(deps: TokenEndpointDeps, res: ServerResponse, service: string | null): boolean {
  if (service === null || service === "" || service === deps.service) return false;
  sendError(res, 400, "DENIED", `this token service issues tokens for "${deps.service}", not "${service}"`);
  return true;
}

export async function handleTokenRequest(deps: TokenEndpointDeps, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (req.method === "GET") {
    if (wrongService(deps, res, url.searchParams.get("service"))) return;
    let identity: Identity | undefined;
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const basic = parseBasic(authorization);
      identity = basic && (await deps.authority.login(basic.user, basic.password));
      if (!identity) return unauthorized(res, deps.authority.loginFailure(basic?.user ?? ""));
    }
    const refresh =
      identity && url.searchParams.get("offline_token") === "true" ? await newRefreshToken(deps, identity) : undefined;
    return issue(deps, res, identity, scopesOf(url.searchParams.getAll("scope")), refresh, false);
  }
  if (req.method === "POST") {
    let form: URLSearchParams;
    try {
      form = new URLSearchParams(await readBody(req));
    } catch (err) {
      if (err instanceof BodyTooLarge) return sendError(res, 413, "SIZE_INVALID", err.message);
      throw err;
    }
    if (wrongService(deps, res, form.get("service"))) return;
    const grantType = form.get("grant_type");
    const scopes = scopesOf(form.getAll("scope"));
    if (grantType === "password") {
      const username = form.get("username") ?? "";
      const identity = await deps.authority.login(username, form.get("password") ?? "");
      if (!identity) return unauthorized(res, deps.authority.loginFailure(username));
      const refresh = form.get("access_type") === "offline" ? await newRefreshToken(deps, identity) : undefined;
      return issue(deps, res, identity, scopes, refresh, true);
    }
    if (grantType === "refresh_token") {
      const refreshToken = form.get("refresh_token") ?? "";
      const identity = await deps.authority.refresh(refreshToken);
      if (!identity) return unauthorized(res, "the refresh token is unknown, revoked or expired: log in again");
      return issue(deps, res, identity, scopes, refreshToken, true);
    }
    return sendJson(res, 400, {
      error: "unsupported_grant_type",
      error_description: `grant_type "${grantType ?? ""}" is not supported: use password or refresh_token`,
    });
  }
  sendError(res, 405, "UNSUPPORTED", `${req.method} is not supported on the token endpoint: use GET or POST`, {
    Allow: "GET, POST",
  });
}

import { type Challenge, formatScope, parseChallenges, parseScope, type Scope } from "../oci/distribution.js";
import { BerthError } from "../oci/errors.js";
import { z } from "../oci/zod.js";
import type { Credential } from "./credentials.js";
import { RegistryError, registryError } from "./registry-error.js";
import { type HttpResponse, header, type Transport } from "./transport.js";

/**
 * Docker's token auth (distribution docs/spec/auth/token.md and oauth.md) and Basic auth for
 * one registry. The registry's `/v2/` challenge says which: `Basic realm=…`, or
 * `Bearer realm=…,service=…`, in which case a token for the scopes a request needs is fetched
 * from the realm (anonymously without a login), cached until shortly before it expires, and
 * fetched again when a 401 says it expired or needs a wider scope.
 */
const tokenReplySchema = z.looseObject({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().optional(),
  issued_at: z.string().optional(),
  refresh_token: z.string().optional(),
});

/** Tokens live 60 s when the server does not say (token.md); refresh 10 s early. */
const DEFAULT_TOKEN_SECONDS = 60;
const EARLY_SECONDS = 10;

interface CachedToken {
  token: string;
  expiresAtMs: number;
}

export class RegistryAuth {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  /** Scopes this client has asked for, per repository: a new request asks for their union. */
  private readonly granted = new Map<string, Set<string>>();
  /** A refresh token the realm gave back (OAuth2), used instead of the password afterwards. */
  refreshToken: string | undefined;

  constructor(
    private readonly host: string,
    private readonly transport: Transport,
    private readonly credential: () => Credential | undefined,
  ) {}

  /** Records the challenge of a 401 to `/v2/` (or any 401). */
  setChallenge(headerValue: string | undefined): void {
    const challenges = parseChallenges(headerValue ?? "");
    this.challenge =
      challenges.find((c) => c.scheme.toLowerCase() === "bearer") ??
      challenges.find((c) => c.scheme.toLowerCase() === "basic") ??
      this.challenge;
  }

  get scheme(): "bearer" | "basic" | undefined {
    const s = this.challenge?.scheme.toLowerCase();
    return s === "bearer" || s === "basic" ? s : undefined;
  }

  /** The Authorization header for a request needing `scopes`, or undefined when none is needed. */
  async authorization(scopes: readonly Scope[], forceNew = false): Promise<string | undefined> {
    if (this.scheme === "basic") {
      const cred = this.credential();
      if (!cred || cred.password === undefined) return undefined;
      return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString("base64")}`;
    }
    if (this.scheme !== "bearer") return undefined;
    const key = scopes.map(formatScope).sort().join(" ");
    const cached = this.tokens.get(key);
    if (!forceNew && cached && cached.expiresAtMs > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.fetchToken(scopes);
    this.tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  /**
   * A 401 came back: learn its challenge. Returns the scopes to ask for next (the request's
   * plus any the challenge names), or undefined when asking again cannot help.
   */
  onUnauthorized(res: HttpResponse, scopes: readonly Scope[]): Scope[] | undefined {
    const before = this.scheme;
    this.setChallenge(header(res.headers, "www-authenticate"));
    if (this.scheme !== "bearer") return before === undefined && this.scheme === "basic" ? [...scopes] : undefined;
    const extra = this.challenge?.params.scope;
    const merged = new Map(scopes.map((s) => [`${s.type}:${s.name}`, new Set(s.actions)]));
    for (const text of extra ? extra.split(" ") : []) {
      const s = parseScope(text);
      if (!s) continue;
      const set = merged.get(`${s.type}:${s.name}`) ?? new Set<string>();
      for (const a of s.actions) set.add(a);
      merged.set(`${s.type}:${s.name}`, set);
    }
    return [...merged].map(([k, actions]) => {
      const first = k.indexOf(":");
      return { type: k.slice(0, first), name: k.slice(first + 1), actions: [...actions].sort() };
    });
  }

  /** Widens the scope set for a repository with what earlier requests needed (docker does the same). */
  widen(scopes: readonly Scope[]): Scope[] {
    return scopes.map((s) => {
      const key = `${s.type}:${s.name}`;
      const set = this.granted.get(key) ?? new Set<string>();
      for (const a of s.actions) set.add(a);
      this.granted.set(key, set);
      return { ...s, actions: [...set].sort() };
    });
  }

  private async fetchToken(scopes: readonly Scope[]): Promise<CachedToken> {
    const params = this.challenge?.params ?? {};
    const realm = params.realm;
    if (!realm) throw new BerthError("REGISTRY", `registry ${this.host} asks for a token but names no realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new BerthError("REGISTRY", `registry ${this.host} names an invalid token realm "${realm}"`);
    }
    const cred = this.credential();
    const refresh = this.refreshToken ?? cred?.identityToken;
    let res: HttpResponse;
    if (refresh) {
      // oauth.md: POST with the refresh token
      const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: refresh, client_id: "berth" });
      if (params.service) form.set("service", params.service);
      if (scopes.length) form.set("scope", scopes.map(formatScope).join(" "));
      res = await this.transport.send({
        method: "POST",
        url,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: () => form.toString(),
        idempotent: true,
      });
    } else {
      if (params.service) url.searchParams.set("service", params.service);
      for (const s of scopes) url.searchParams.append("scope", formatScope(s));
      const headers: Record<string, string> = {};
      if (cred && cred.password !== undefined) {
        headers.authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString("base64")}`;
        // token.md: offline_token asks for a refresh token, which login keeps instead of the password
        url.searchParams.set("offline_token", "true");
        url.searchParams.set("client_id", "berth");
      }
      res = await this.transport.send({ method: "GET", url, headers, idempotent: true });
    }
    if (res.status !== 200) {
      const err = await registryError(res, `getting a token from ${url.origin}`);
      throw err.status === 401 || err.status === 403
        ? new RegistryError(err.status, err.registryCode === "UNKNOWN" ? "UNAUTHORIZED" : err.registryCode, err.message)
        : err;
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new BerthError("REGISTRY", `token server ${url.origin} answered something that is not JSON`);
    }
    const reply = tokenReplySchema.safeParse(json);
    const token = reply.success ? (reply.data.token ?? reply.data.access_token) : undefined;
    if (!reply.success || !token) throw new BerthError("REGISTRY", `token server ${url.origin} sent no token`);
    if (reply.data.refresh_token) this.refreshToken = reply.data.refresh_token;
    const seconds = Math.max(reply.data.expires_in ?? DEFAULT_TOKEN_SECONDS, EARLY_SECONDS * 2);
    const issued = reply.data.issued_at ? Date.parse(reply.data.issued_at) : Number.NaN;
    const start = Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now());
    return { token, expiresAtMs: start + (seconds - EARLY_SECONDS) * 1000 };
  }
}

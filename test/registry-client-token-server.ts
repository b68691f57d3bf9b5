import * as fs from "node:fs";
import * as http from "node:http";
import type * as net from "node:net";
import { join } from "node:path";
import { importPKCS8, SignJWT } from "jose";
import { must } from "./helpers.js";

/**
 * A small Docker token-auth server (distribution docs/spec/auth/token.md) for tests:
 * ES256 JWTs carrying the x5c chain of a self-signed certificate, which Distribution is given
 * as its rootcertbundle. Policy: anonymous may pull `public/*`; each user may pull
 * everything and push everything but `readonly/*`.
 */
export class TokenServer {
  private server: http.Server;
  port = 0;
  /** Tokens handed out, with the scopes granted. */
  readonly issued: { user: string | null; access: string[] }[] = [];
  /** When set, the next token is already expired (to exercise refresh after a 401). */
  expireNext = false;
  readonly certPath: string;
  private readonly keyPath: string;

  constructor(
    dir: string,
    private readonly users: Record<string, string>,
    readonly service = "berth-test-registry",
    readonly issuer = "berth-test-issuer",
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.certPath = join(dir, "token.crt");
    this.keyPath = join(dir, "token.key");
    must("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=berth test token signer",
      "-keyout",
      this.keyPath,
      "-out",
      this.certPath,
    ]);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      });
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get realm(): string {
    return `http://127.0.0.1:${this.port}/token`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** Refresh tokens handed out (docker's identitytoken), by token. */
  private readonly refreshTokens = new Map<string, string>();
  /** Requests that used a refresh token (OAuth2 POST) rather than a password. */
  refreshGrants = 0;

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    let user: string | null = null;
    if (req.method === "POST") {
      // oauth.md: grant_type=refresh_token with the token login received
      let body = "";
      for await (const c of req) body += (c as Buffer).toString();
      const form = new URLSearchParams(body);
      const owner = this.refreshTokens.get(form.get("refresh_token") ?? "");
      if (form.get("grant_type") !== "refresh_token" || !owner) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "invalid refresh token" }] }));
        return;
      }
      this.refreshGrants++;
      for (const s of (form.get("scope") ?? "").split(" ").filter(Boolean)) url.searchParams.append("scope", s);
      user = owner;
    }
    const auth = req.headers.authorization;
    if (auth?.startsWith("Basic ")) {
      const [name, ...rest] = Buffer.from(auth.slice(6), "base64").toString().split(":");
      if (!name || this.users[name] !== rest.join(":")) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "incorrect username or password" }] }));
        return;
      }
      user = name;
    }
    const access: { type: string; name: string; actions: string[] }[] = [];
    for (const scope of url.searchParams.getAll("scope").flatMap((s) => s.split(" "))) {
      const first = scope.indexOf(":");
      const last = scope.lastIndexOf(":");
      const type = scope.slice(0, first);
      const name = scope.slice(first + 1, last);
      const wanted = scope.slice(last + 1).split(",");
      const allowed = wanted.filter((a) => {
        if (a === "pull") return user !== null || name.startsWith("public/");
        if (a === "push") return user !== null && !name.startsWith("readonly/");
        return false;
      });
      if (allowed.length) access.push({ type, name, actions: allowed });
    }
    const now = Math.floor(Date.now() / 1000);
    const expired = this.expireNext;
    this.expireNext = false;
    const cert = fs.readFileSync(this.certPath, "utf8").replace(/-----[^-]+-----|\s/g, "");
    const key = await importPKCS8(fs.readFileSync(this.keyPath, "utf8"), "ES256");
    // Distribution allows 60 s of clock skew, so an expired token must be older than that.
    const exp = expired ? now - 300 : now + 300;
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: "ES256", typ: "JWT", x5c: [cert] })
      .setIssuer(this.issuer)
      .setSubject(user ?? "")
      .setAudience(this.service)
      .setIssuedAt(expired ? now - 600 : now)
      .setNotBefore(expired ? now - 600 : now - 10)
      .setExpirationTime(exp)
      .setJti(String(Math.random()))
      .sign(key);
    this.issued.push({ user, access: access.map((a) => `${a.type}:${a.name}:${a.actions.join(",")}`) });
    res.writeHead(200, { "content-type": "application/json" });
    // the reply claims a long life even for the expired token: the client learns from the 401
    let refresh: string | undefined;
    if (user && url.searchParams.get("offline_token") === "true") {
      refresh = `refresh-${user}-${Math.random().toString(36).slice(2)}`;
      this.refreshTokens.set(refresh, user);
    }
    res.end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: 300,
        issued_at: new Date().toISOString(),
        ...(refresh ? { refresh_token: refresh } : {}),
      }),
    );
  }
}

import * as fs from "node:fs";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { type ConnectionOptions, createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { Agent, type Dispatcher, ProxyAgent } from "undici";
import { BerthError } from "../oci/errors.js";
import { proxyFor } from "./proxy.js";
import { isNamedInsecure, type RegistryConfig, tlsFilesFor } from "./registry-config.js";

export interface HttpRequest {
  readonly method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  /** Made afresh for every attempt, since a retry must send the body again. */
  readonly body?: () => Buffer | string | Readable;
  /**
   * Whether the request may be repeated after a 5xx, a 429 or a broken connection. Uploads
   * of a chunk are not: the registry may have kept part of it, and the uploader asks it how
   * much before sending more.
   */
  readonly idempotent: boolean;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Dispatcher.ResponseData["body"];
}

export const USER_AGENT = "berth/0.1";

/** Called before each retry; the CLI may show it, tests count it. */
export type RetryListener = (info: { url: URL; attempt: number; delayMs: number; reason: string }) => void;

/** Error codes of a connection that broke or never formed: worth another attempt. */
const TRANSIENT = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

export function isTransientNetworkError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && TRANSIENT.has(code);
}

/** An error that says the server answered plain HTTP to a TLS hello (or no TLS at all). */
export function isTlsProtocolError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return (
    e?.code === "EPROTO" || e?.code === "ERR_SSL_WRONG_VERSION_NUMBER" || /wrong version number/i.test(e?.message ?? "")
  );
}

/**
 * HTTP for registries: one keep-alive agent per registry with that registry's TLS roots
 * (the system's, Node's, and docker's certs.d), and retries with exponential backoff on
 * 5xx, 429 (honouring Retry-After) and broken connections; never on other 4xx.
 */
export class Transport {
  private readonly agents = new Map<string, Dispatcher>();
  private readonly contexts = new Map<string, SecureContext>();
  private systemCa: string[] | undefined;

  constructor(
    private readonly config: RegistryConfig,
    private readonly onRetry?: RetryListener,
  ) {}

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }

  private agentFor(url: URL): Dispatcher {
    const key = `${url.protocol}//${url.host}`;
    let agent = this.agents.get(key);
    if (agent) return agent;
    const proxy = this.proxied(url);
    if (proxy) {
      // https through a CONNECT tunnel, with this registry's TLS inside it; plain http as
      // absolute-form requests to the proxy, as Go's client (and so dockerd) sends them
      agent = new ProxyAgent({
        uri: proxy,
        proxyTunnel: false,
        keepAliveTimeout: 30_000,
        ...(url.protocol === "https:" ? { requestTls: this.tlsOptions(url) } : {}),
      });
    } else if (url.protocol === "https:") {
      agent = new Agent({ connect: this.tlsOptions(url), keepAliveTimeout: 30_000 });
    } else {
      agent = new Agent({ keepAliveTimeout: 30_000 });
    }
    this.agents.set(key, agent);
    return agent;
  }

  /** The proxy requests to `url` go through (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), if any. */
  proxied(url: URL): string | undefined {
    return proxyFor(url, this.config.proxy);
  }

  /** How connections to `url`'s host are secured: its roots, client certificate and verification. */
  tlsOptions(url: URL): ConnectionOptions {
    // one context per host, shared by undici's connections and direct-get's: building one
    // from ~200 roots takes a fifth of a second
    let secureContext = this.contexts.get(url.host);
    if (!secureContext) {
      const files = tlsFilesFor(this.config.certsDir, url.host);
      secureContext = createSecureContext({
        ca: [...rootCertificates, ...this.systemRoots(), ...files.ca],
        ...(files.cert && files.key ? { cert: files.cert, key: files.key } : {}),
      });
      this.contexts.set(url.host, secureContext);
    }
    // docker skips verification for registries named insecure; so do we, and only for them.
    return { secureContext, rejectUnauthorized: !isNamedInsecure(url.host, this.config.insecure) };
  }

  /** Debian's bundle (update-ca-certificates): the CAs the machine's admin trusts. */
  private systemRoots(): string[] {
    if (!this.systemCa) {
      try {
        this.systemCa = [fs.readFileSync("/etc/ssl/certs/ca-certificates.crt", "utf8")];
      } catch {
        this.systemCa = [];
      }
    }
    return this.systemCa;
  }

  /** One request, retried as the policy allows; the caller reads or dumps the body. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const attempts = req.idempotent ? this.config.attempts : 1;
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      let retryAfterMs: number | undefined;
      try {
        const res = await this.once(req);
        if ((res.status >= 500 || res.status === 429) && attempt < attempts) {
          retryAfterMs = parseRetryAfter(header(res.headers, "retry-after"));
          reason = `HTTP ${res.status}`;
          await res.body.dump().catch(() => undefined);
        } else {
          return res;
        }
      } catch (err) {
        if (!isTransientNetworkError(err) || attempt >= attempts) throw err;
        reason = (err as NodeJS.ErrnoException).code ?? "network error";
      }
      const backoff = this.config.backoffMs * 2 ** (attempt - 1);
      const delayMs = Math.min(retryAfterMs ?? backoff * (0.5 + Math.random() / 2), 60_000);
      this.onRetry?.({ url: req.url, attempt, delayMs, reason });
      await sleep(delayMs);
    }
  }

  private async once(req: HttpRequest): Promise<HttpResponse> {
    // the dispatcher's own request (undici's public API), not undici's top-level request(): the
    // CLI bundles only Agent and this (scripts/undici-entry.cjs)
    const res = await this.agentFor(req.url).request({
      origin: req.url.origin,
      path: `${req.url.pathname}${req.url.search}`,
      method: req.method,
      headers: { "user-agent": USER_AGENT, ...req.headers },
      ...(req.body ? { body: req.body() } : {}),
    });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  }
}

/** Retry-After: seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const when = Date.parse(value);
  return Number.isNaN(when) ? undefined : Math.max(0, when - Date.now());
}

export function header(headers: HttpResponse["headers"], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A network failure as one line for the user, naming the registry. */
export function networkError(host: string, err: unknown): BerthError {
  const e = err as NodeJS.ErrnoException;
  const why = e?.code === "ECONNREFUSED" ? "connection refused" : (e?.message ?? String(err));
  return new BerthError("NETWORK", `cannot reach registry ${host}: ${why}`, { cause: err });
}

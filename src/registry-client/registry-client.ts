import { isIP } from "node:net";
import type { Readable } from "node:stream";
import { createSecureContext, connect as tlsConnect } from "node:tls";
import { type Digest, sha256 } from "../oci/digest.js";
import type { Scope } from "../oci/distribution.js";
import { BerthError } from "../oci/errors.js";
import { MediaType } from "../oci/media-types.js";
import { z } from "../oci/zod.js";
import { RegistryAuth } from "./auth.js";
import type { Credential } from "./credentials.js";
import { type BodySink, type DirectOutcome, directGet } from "./direct-get.js";
import { directPatch, type PatchSender } from "./direct-upload.js";
import { apiHost, isLoopback, isNamedInsecure, type RegistryConfig } from "./registry-config.js";
import { RegistryError, registryError } from "./registry-error.js";
import {
  type HttpRequest,
  type HttpResponse,
  header,
  isTlsProtocolError,
  isTransientNetworkError,
  networkError,
  type Transport,
  USER_AGENT,
} from "./transport.js";

/** What a manifest GET asks for: every image format berth reads (distribution spec §Pulling manifests). */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
] as const;

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

/** Manifests and indexes are small; a registry that sends more is refused (Distribution's limit is 4 MiB). */
const MANIFEST_MAX = 4 << 20;

const tagListSchema = z.looseObject({ name: z.string(), tags: z.array(z.string()).nullish() });

export interface RequestOptions {
  method: HttpRequest["method"];
  /** Path after `/v2/`, or an absolute URL the registry gave (upload locations, redirects). */
  path: string | URL;
  scopes: readonly Scope[];
  headers?: Record<string, string>;
  body?: HttpRequest["body"];
  idempotent?: boolean;
}

export function pullScope(repo: string): Scope {
  return { type: "repository", name: repo, actions: ["pull"] };
}
export function pushScope(repo: string): Scope {
  return { type: "repository", name: repo, actions: ["pull", "push"] };
}

/**
 * The distribution API of one registry: ping (which also picks https or, where allowed,
 * http), authenticated requests, manifests, blobs and tags. Uploads and resumable downloads
 * are built on it in blob-upload.ts and blob-download.ts.
 */
export class RegistryClient {
  readonly host: string;
  private base: URL | undefined;
  private pinging: Promise<void> | undefined;
  readonly auth: RegistryAuth;

  constructor(
    /** The registry as references name it (`docker.io`, `localhost:5000`). */
    readonly domain: string,
    private readonly transport: Transport,
    private readonly config: RegistryConfig,
    credential: () => Credential | undefined,
  ) {
    this.host = apiHost(domain);
    this.auth = new RegistryAuth(this.host, transport, credential);
  }

  /**
   * `GET /v2/` (spec §API version check): learns the scheme and the auth challenge. HTTPS
   * first; plain HTTP only for loopback and insecure-named registries, and only when the
   * server does not speak TLS (as docker does).
   */
  async ping(): Promise<void> {
    if (this.base) return;
    // a push's config and layers start together: one ping for all of them (each ran its own
    // TLS probe and GET /v2/ before)
    this.pinging ??= this.pingOnce().finally(() => {
      this.pinging = undefined;
    });
    return this.pinging;
  }

  private async pingOnce(): Promise<void> {
    const mayUseHttp = isLoopback(this.host) || isNamedInsecure(this.host, this.config.insecure);
    let res: HttpResponse;
    let base = new URL(`https://${this.host}/v2/`);
    // A server that does not speak TLS is found by a bare handshake: cheaper than the first
    // verifying request, whose trust store (~200 CAs) takes a fifth of a second to build.
    // (through a proxy the probe would miss its mark: the https GET's failure says the same)
    if (mayUseHttp && !this.transport.proxied(base) && !(await speaksTls(base)))
      base = new URL(`http://${this.host}/v2/`);
    try {
      res = await this.transport.send({ method: "GET", url: base, idempotent: true });
    } catch (err) {
      if (base.protocol === "http:" || !mayUseHttp || !(isTlsProtocolError(err) || isTransientNetworkError(err))) {
        throw tlsOrNetwork(this.host, err);
      }
      base = new URL(`http://${this.host}/v2/`);
      try {
        res = await this.transport.send({ method: "GET", url: base, idempotent: true });
      } catch (err2) {
        throw networkError(this.host, err2);
      }
    }
    await res.body.dump().catch(() => undefined);
    if (res.status === 401) this.auth.setChallenge(header(res.headers, "www-authenticate"));
    else if (res.status !== 200) {
      throw new RegistryError(
        res.status,
        "UNKNOWN",
        `${this.host} does not answer as a registry (GET /v2/ gave HTTP ${res.status})`,
      );
    }
    this.base = base;
  }

  get baseUrl(): URL {
    if (!this.base) throw new Error("RegistryClient used before ping");
    return this.base;
  }

  url(path: string | URL): URL {
    return path instanceof URL ? path : new URL(path, this.baseUrl);
  }

  /**
   * One request with auth: the header for the scopes, and after a 401 one more try with a
   * fresh token for the scopes the challenge asks for (an expired token, a wider scope).
   */
  async request(opts: RequestOptions): Promise<HttpResponse> {
    await this.ping();
    const url = this.url(opts.path);
    let scopes = this.auth.widen(opts.scopes);
    const send = async (authorization: string | undefined) => {
      try {
        return await this.transport.send({
          method: opts.method,
          url,
          headers: { ...opts.headers, ...(authorization ? { authorization } : {}) },
          ...(opts.body ? { body: opts.body } : {}),
          idempotent: opts.idempotent ?? (opts.method === "GET" || opts.method === "HEAD"),
        });
      } catch (err) {
        throw this.networkFailure(err);
      }
    };
    // A different host (a CDN a blob redirected to) gets no credentials of ours.
    const sameHost = url.host === this.baseUrl.host;
    let res = await send(sameHost ? await this.auth.authorization(scopes) : undefined);
    if (res.status === 401 && sameHost) {
      const next = this.auth.onUnauthorized(res, scopes);
      if (next) {
        await res.body.dump().catch(() => undefined);
        scopes = next;
        res = await send(await this.auth.authorization(scopes, true));
      }
    }
    return res;
  }

  /** GET a manifest by tag or digest; its bytes are checked against the digest asked for or announced. */
  async getManifest(repo: string, reference: string, what: string): Promise<FetchedManifest> {
    const res = await this.request({
      method: "GET",
      path: `${repo}/manifests/${reference}`,
      scopes: [pullScope(repo)],
      headers: { accept: MANIFEST_ACCEPT.join(", ") },
    });
    if (res.status !== 200) throw await registryError(res, what);
    const bytes = await readLimited(res.body, MANIFEST_MAX, what);
    const digest = sha256(bytes);
    // Never trust the registry: by digest the bytes must hash to it; by tag they must hash to
    // what the registry says it sent, when it says.
    if (reference.includes(":") && reference !== digest) {
      throw new BerthError(
        "DIGEST_MISMATCH",
        `${what}: the registry sent content with digest ${digest}, not ${reference}`,
      );
    }
    const announced = header(res.headers, "docker-content-digest");
    if (announced?.startsWith("sha256:") && announced !== digest) {
      throw new BerthError(
        "DIGEST_MISMATCH",
        `${what}: content has digest ${digest}, the registry announced ${announced}`,
      );
    }
    const contentType = (header(res.headers, "content-type") ?? "").split(";")[0]?.trim() ?? "";
    return { bytes, mediaType: mediaTypeOf(bytes, contentType), digest };
  }

  /**
   * HEAD a manifest (spec §Checking if content exists): the digest the registry holds under
   * `reference`, or undefined when it holds none (or does not say).
   */
  async manifestDigest(repo: string, reference: string, scopes: readonly Scope[]): Promise<string | undefined> {
    const res = await this.request({
      method: "HEAD",
      path: `${repo}/manifests/${reference}`,
      scopes,
      headers: { accept: MANIFEST_ACCEPT.join(", ") },
    });
    await res.body.dump().catch(() => undefined);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await registryError(res, `checking manifest ${reference}`);
    return header(res.headers, "docker-content-digest");
  }

  /** PUT a manifest (spec §Pushing manifests); returns its digest, checked against the registry's. */
  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string, what: string): Promise<Digest> {
    const res = await this.request({
      method: "PUT",
      path: `${repo}/manifests/${reference}`,
      scopes: [pushScope(repo)],
      headers: { "content-type": mediaType },
      body: () => bytes,
      idempotent: true,
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await registryError(res, what);
    await res.body.dump().catch(() => undefined);
    const digest = sha256(bytes);
    const announced = header(res.headers, "docker-content-digest");
    if (announced?.startsWith("sha256:") && announced !== digest) {
      throw new BerthError("DIGEST_MISMATCH", `${what}: the registry stored digest ${announced}, berth sent ${digest}`);
    }
    return digest;
  }

  /** HEAD a blob (spec §Checking if content exists): its size, or undefined when absent. */
  async blobSize(repo: string, digest: Digest, scopes: readonly Scope[]): Promise<number | undefined> {
    const res = await this.request({ method: "HEAD", path: `${repo}/blobs/${digest}`, scopes });
    await res.body.dump().catch(() => undefined);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw await registryError(res, `checking blob ${digest}`);
    const length = Number(header(res.headers, "content-length"));
    return Number.isFinite(length) ? length : undefined;
  }

  /**
   * GET a blob from `offset` (spec §Pulling blobs, with Range), following redirects to
   * storage. `start` is where the body begins: 0 when the server ignored the Range.
   */
  async openBlob(
    repo: string,
    digest: Digest,
    offset: number,
    what: string,
  ): Promise<{ body: Readable; start: number }> {
    let path: string | URL = `${repo}/blobs/${digest}`;
    for (let hops = 0; hops < 5; hops++) {
      const res = await this.request({
        method: "GET",
        path,
        scopes: [pullScope(repo)],
        headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      });
      if (res.status >= 300 && res.status < 400 && header(res.headers, "location")) {
        await res.body.dump().catch(() => undefined);
        path = new URL(header(res.headers, "location") as string, this.url(path));
        continue;
      }
      if (res.status === 206) return { body: res.body, start: offset };
      if (res.status === 200) return { body: res.body, start: 0 };
      if (res.status === 416) {
        await res.body.dump().catch(() => undefined);
        return this.openBlob(repo, digest, 0, what);
      }
      throw await registryError(res, what);
    }
    throw new BerthError("REGISTRY", `${what}: too many redirects`);
  }

  /**
   * GET a blob from `offset` with its body read straight into `sink` (direct-get.ts): for
   * large layers. "declined" when the answer is anything but the plain body (a redirect, a
   * 401, an error), with nothing taken: ask again with openBlob, which handles those.
   */
  async directBlob(
    repo: string,
    digest: Digest,
    offset: number,
    size: number,
    sink: BodySink,
    onBytes: (n: number) => void,
  ): Promise<DirectOutcome> {
    await this.ping();
    const url = this.url(`${repo}/blobs/${digest}`);
    // direct-get speaks to the registry's socket itself: through a proxy, undici's way
    if (this.transport.proxied(url)) return { kind: "declined", why: "the registry is reached through a proxy" };
    const authorization = await this.auth.authorization(this.auth.widen([pullScope(repo)]));
    try {
      return await directGet(
        {
          url,
          headers: { "user-agent": USER_AGENT, ...(authorization ? { authorization } : {}) },
          tls: url.protocol === "https:" ? this.transport.tlsOptions(url) : undefined,
          offset,
          length: size - offset,
          timeoutMs: 300_000,
        },
        sink,
        onBytes,
      );
    } catch (err) {
      throw this.networkFailure(err);
    }
  }

  /**
   * The PATCH of an upload at `location`, its body sent from lent memory (direct-upload.ts);
   * undefined when the location is on another host or scheme (then undici's path, which
   * follows whatever the registry asks).
   */
  async patchSender(location: URL, repo: string): Promise<PatchSender | undefined> {
    await this.ping();
    if (location.host !== this.baseUrl.host || location.protocol !== this.baseUrl.protocol) return undefined;
    if (this.transport.proxied(location)) return undefined; // a socket of its own: not through a proxy
    const authorization = await this.auth.authorization(this.auth.widen([pushScope(repo)]));
    const sender = directPatch({
      url: location,
      headers: { "user-agent": USER_AGENT, ...(authorization ? { authorization } : {}) },
      tls: location.protocol === "https:" ? this.transport.tlsOptions(location) : undefined,
      timeoutMs: 300_000,
    });
    return {
      opened: sender.opened,
      send: sender.send,
      abort: sender.abort,
      end: () => sender.end().catch((err: unknown) => Promise.reject(this.networkFailure(err))),
    };
  }

  /**
   * A request's failure as callers see it: berth's own errors as they are, anything else as one
   * line naming the registry, marked transient when a retry may help.
   */
  private networkFailure(err: unknown): Error {
    if (err instanceof BerthError) return err;
    return Object.assign(networkError(this.host, err), { transient: isTransientNetworkError(err) });
  }

  /** Every tag of a repository, following the `Link` header's pages (spec §Listing tags). */
  async listTags(repo: string, what: string): Promise<string[]> {
    const tags: string[] = [];
    let path: string | URL = `${repo}/tags/list`;
    for (let page = 0; page < 1000; page++) {
      const res = await this.request({ method: "GET", path, scopes: [pullScope(repo)] });
      if (res.status !== 200) throw await registryError(res, what);
      const bytes = await readLimited(res.body, 16 << 20, what);
      let json: unknown;
      try {
        json = JSON.parse(bytes.toString("utf8"));
      } catch {
        throw new BerthError("REGISTRY", `${what}: the registry's tag list is not JSON`);
      }
      const parsed = tagListSchema.safeParse(json);
      if (!parsed.success) throw new BerthError("REGISTRY", `${what}: the registry's tag list has no tags field`);
      tags.push(...(parsed.data.tags ?? []));
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(header(res.headers, "link") ?? "");
      if (!next) break;
      path = new URL(next[1] as string, this.baseUrl);
    }
    return tags;
  }
}

/** Whether the server answers a TLS handshake (any certificate: this only picks the scheme). */
function speaksTls(url: URL): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: Number(url.port || 443),
      rejectUnauthorized: false,
      // no roots: this only asks whether the port speaks TLS, and loading Node's ~140 root
      // certificates into a context cost every pull or push of a loopback registry ~25 ms
      secureContext: createSecureContext({ ca: [] }),
      ...(isIP(url.hostname) ? {} : { servername: url.hostname }),
    });
    const done = (yes: boolean) => {
      socket.destroy();
      resolve(yes);
    };
    socket.setTimeout(5000, () => done(true)); // silence is no proof of plain HTTP: let the real request decide
    socket.once("secureConnect", () => done(true));
    socket.once("error", (err) =>
      done(!isTlsProtocolError(err) && (err as NodeJS.ErrnoException).code !== "ECONNRESET"),
    );
  });
}

function tlsOrNetwork(host: string, err: unknown): BerthError {
  const e = err as NodeJS.ErrnoException;
  if (e?.code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(e.code)) {
    return new BerthError(
      "NETWORK",
      `cannot verify the TLS certificate of registry ${host} (${e.code}): put its CA in /etc/docker/certs.d/${host}/ca.crt (or $BERTH_CERTS_D), or name it in BERTH_INSECURE_REGISTRIES`,
      { cause: err },
    );
  }
  return networkError(host, err);
}

/** The media type a manifest declares in its body wins over the header (registries get headers wrong). */
function mediaTypeOf(bytes: Buffer, contentType: string): string {
  try {
    const parsed = JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown; manifests?: unknown; config?: unknown };
    if (typeof parsed.mediaType === "string" && parsed.mediaType) return parsed.mediaType;
    if (Array.isArray(parsed.manifests)) return MediaType.ociIndex;
    if (parsed.config) return MediaType.ociManifest;
  } catch {
    // not JSON: the schema check downstream says so
  }
  return contentType;
}

export async function readLimited(body: AsyncIterable<unknown>, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body) {
    const b = c as Buffer;
    size += b.length;
    if (size > max) throw new BerthError("REGISTRY", `${what}: more than ${max} bytes, too large for a manifest`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

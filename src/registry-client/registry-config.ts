import * as fs from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { BerthError } from "../oci/errors.js";
import { DEFAULT_DOMAIN } from "../oci/reference.js";
import { z } from "../oci/zod.js";
import { type ProxyConfig, proxyConfigFromEnv } from "./proxy.js";
import { hostName } from "./registry-host.js";

/**
 * Where the client looks for what docker's users already configured: TLS roots per registry
 * (certs.d), registries allowed over plain HTTP, and the docker CLI's config directory
 * (logins). Read once at the edge (CLI, library caller) and passed down.
 */
export interface RegistryConfig {
  /** docker's per-registry TLS folder: `<certsDir>/<host[:port]>/ca.crt`, client.cert/key. */
  readonly certsDir: string;
  /** Registries (host, host:port or IPv4 CIDR) allowed over plain HTTP and unverified TLS. */
  readonly insecure: readonly string[];
  /** Where config.json lives ($DOCKER_CONFIG, else ~/.docker). */
  readonly dockerConfigDir: string;
  /** Attempts per request on 5xx, 429 and broken connections (1 = no retry). */
  readonly attempts: number;
  /** First backoff delay in ms; it doubles per attempt. */
  readonly backoffMs: number;
  /** Layers fetched and blobs sent at once (dockerd's max-concurrent-downloads/-uploads: 3 and 5). */
  readonly maxConcurrentDownloads: number;
  readonly maxConcurrentUploads: number;
  /** Blobs larger than this are uploaded in PATCH chunks of this size (the unit an interrupted upload resumes by). */
  readonly uploadChunkSize: number;
  /** HTTP proxies (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as dockerd takes them from its environment. */
  readonly proxy?: ProxyConfig;
  /** Pull-through mirrors of Docker Hub, tried in order before it (dockerd's registry-mirrors), as given. */
  readonly mirrors?: readonly string[];
}

const daemonJsonSchema = z.looseObject({
  "insecure-registries": z.array(z.string()).optional(),
  "registry-mirrors": z.array(z.string()).optional(),
});

/**
 * The configuration from the environment, docker's way:
 * - BERTH_CERTS_D (default /etc/docker/certs.d)
 * - BERTH_INSECURE_REGISTRIES (comma-separated) plus `insecure-registries` of docker's
 *   daemon.json (BERTH_DOCKER_DAEMON_JSON, default /etc/docker/daemon.json); the same for
 *   BERTH_REGISTRY_MIRRORS and `registry-mirrors`
 * - DOCKER_CONFIG (default ~/.docker)
 * - BERTH_REGISTRY_ATTEMPTS, BERTH_REGISTRY_BACKOFF_MS for the retry policy
 * - BERTH_MAX_CONCURRENT_DOWNLOADS / _UPLOADS (dockerd's options), BERTH_UPLOAD_CHUNK_SIZE (bytes)
 * - HTTPS_PROXY, HTTP_PROXY, NO_PROXY (and their lower-case forms)
 */
export function registryConfigFromEnv(env: Readonly<Record<string, string | undefined>>): RegistryConfig {
  const list = (text: string | undefined) =>
    (text ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  const insecure = list(env.BERTH_INSECURE_REGISTRIES);
  const mirrors = list(env.BERTH_REGISTRY_MIRRORS);
  const daemonJson = env.BERTH_DOCKER_DAEMON_JSON ?? "/etc/docker/daemon.json";
  try {
    const parsed = daemonJsonSchema.safeParse(JSON.parse(fs.readFileSync(daemonJson, "utf8")));
    // A broken daemon.json is docker's problem to report; berth just learns nothing from it.
    if (parsed.success) {
      insecure.push(...(parsed.data["insecure-registries"] ?? []));
      mirrors.push(...(parsed.data["registry-mirrors"] ?? []));
    }
  } catch {
    // no daemon.json: nothing to add
  }
  const home = env.HOME ?? homedir();
  const proxy = proxyConfigFromEnv(env);
  return {
    certsDir: env.BERTH_CERTS_D ?? "/etc/docker/certs.d",
    insecure,
    dockerConfigDir: env.DOCKER_CONFIG ?? join(home, ".docker"),
    attempts: positiveInt(env.BERTH_REGISTRY_ATTEMPTS, 5),
    backoffMs: positiveInt(env.BERTH_REGISTRY_BACKOFF_MS, 250),
    maxConcurrentDownloads: positiveInt(env.BERTH_MAX_CONCURRENT_DOWNLOADS, 3),
    maxConcurrentUploads: positiveInt(env.BERTH_MAX_CONCURRENT_UPLOADS, 5),
    uploadChunkSize: positiveInt(env.BERTH_UPLOAD_CHUNK_SIZE, 128 << 20),
    ...(proxy ? { proxy } : {}),
    ...(mirrors.length > 0 ? { mirrors } : {}),
  };
}

function positiveInt(text: string | undefined, fallback: number): number {
  const n = text === undefined ? Number.NaN : Number.parseInt(text, 10);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

/** The host serving a registry's API: Docker Hub's name is docker.io, its API is elsewhere. */
export function apiHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? "registry-1.docker.io" : domain;
}

/** The key docker's config.json keeps a registry's login under. */
export function credentialKey(domain: string): string {
  return domain === DEFAULT_DOMAIN ? "https://index.docker.io/v1/" : domain;
}

export { hostName, isLoopback } from "./registry-host.js";

/** Whether the user named this registry insecure (by host:port, host, or an IPv4 CIDR). */
export function isNamedInsecure(hostPort: string, insecure: readonly string[]): boolean {
  const host = hostName(hostPort);
  for (const entry of insecure) {
    const e = entry.replace(/^https?:\/\//, "").replace(/\/+$/, "");
    if (e === hostPort || e === host) return true;
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(e);
    if (cidr && inCidr(host, cidr[1] as string, Number(cidr[2]))) return true;
  }
  return false;
}

function ipv4(text: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

function inCidr(host: string, base: string, bits: number): boolean {
  const h = ipv4(host);
  const b = ipv4(base);
  if (h === undefined || b === undefined || bits < 0 || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(h / size) === Math.floor(b / size);
}

/** TLS material for one registry: extra roots and an optional client certificate. */
export interface TlsFiles {
  ca: string[];
  cert?: string;
  key?: string;
}

/** Reads `<certsDir>/<host:port>/`: every *.crt is a root, client.cert + client.key a client identity. */
export function tlsFilesFor(certsDir: string, hostPort: string): TlsFiles {
  const dir = join(certsDir, hostPort);
  const out: TlsFiles = { ca: [] };
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    if (name.endsWith(".crt")) out.ca.push(fs.readFileSync(join(dir, name), "utf8"));
    else if (name.endsWith(".cert")) {
      const key = join(dir, `${name.slice(0, -5)}.key`);
      if (fs.existsSync(key)) {
        out.cert = fs.readFileSync(join(dir, name), "utf8");
        out.key = fs.readFileSync(key, "utf8");
      }
    }
  }
  return out;
}

/**
 * A registry mirror as dockerd takes one: an http(s) URL of a host, without path, query or
 * credentials. Returns the registry's host[:port]; http:// makes it a plain-HTTP registry.
 */
export function parseMirror(text: string): { host: string; plainHttp: boolean } {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (
    !url ||
    (url.protocol !== "https:" && url.protocol !== "http:") ||
    (url.pathname !== "/" && url.pathname !== "") ||
    url.search ||
    url.hash ||
    url.username ||
    url.password
  ) {
    throw new BerthError(
      "USAGE",
      `invalid registry mirror "${text}" (daemon.json's registry-mirrors or BERTH_REGISTRY_MIRRORS): give a URL such as https://mirror.example.com, without a path`,
    );
  }
  return { host: url.host, plainHttp: url.protocol === "http:" };
}

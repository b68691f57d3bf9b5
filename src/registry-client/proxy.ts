import { BlockList, isIP } from "node:net";
import { hostName, isLoopback } from "./registry-host.js";

/**
 * HTTP proxies from the environment, as dockerd reads them (Go's httpproxy): HTTPS_PROXY for
 * https registries, HTTP_PROXY for plain ones (upper case first, then lower case), NO_PROXY
 * for hosts to reach directly. localhost and loopback addresses are never proxied.
 */
export interface ProxyConfig {
  readonly http?: string;
  readonly https?: string;
  /** NO_PROXY's entries: `*`, host names (and their subdomains; `.name` only those), IPs and CIDRs, each with an optional port. */
  readonly noProxy: readonly string[];
}

export function proxyConfigFromEnv(env: Readonly<Record<string, string | undefined>>): ProxyConfig | undefined {
  const pick = (upper: string, lower: string) => (env[upper] || env[lower] || undefined)?.trim() || undefined;
  const http = pick("HTTP_PROXY", "http_proxy");
  const https = pick("HTTPS_PROXY", "https_proxy");
  if (!http && !https) return undefined;
  const noProxy = (pick("NO_PROXY", "no_proxy") ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
  return { ...(http ? { http: withScheme(http) } : {}), ...(https ? { https: withScheme(https) } : {}), noProxy };
}

/** Go takes `proxy:3128` as `http://proxy:3128`. */
function withScheme(proxy: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`;
}

/** The proxy a request to `url` goes through, or undefined to go directly. */
export function proxyFor(url: URL, config: ProxyConfig | undefined): string | undefined {
  if (!config) return undefined;
  const proxy = url.protocol === "https:" ? config.https : config.http;
  if (!proxy) return undefined;
  if (isLoopback(url.host)) return undefined;
  const host = hostName(url.host).toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  for (const entry of config.noProxy) if (noProxyMatches(entry, host, port)) return undefined;
  return proxy;
}

function noProxyMatches(entry: string, host: string, port: string): boolean {
  if (entry === "*") return true;
  const slash = entry.indexOf("/");
  if (slash > 0) {
    // a CIDR (node's BlockList does the prefix arithmetic, v4 and v6)
    const family = isIP(entry.slice(0, slash));
    const kind = isIP(host);
    if (family === 0 || kind !== family) return false;
    const list = new BlockList();
    try {
      list.addSubnet(entry.slice(0, slash), Number(entry.slice(slash + 1)), family === 4 ? "ipv4" : "ipv6");
    } catch {
      return false; // a prefix length out of range: no match, as Go's ParseCIDR fails
    }
    return list.check(host, kind === 4 ? "ipv4" : "ipv6");
  }
  // host[:port], [v6]:port, or a bare v6 address
  let entryHost = entry;
  let entryPort = "";
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (v6) {
    entryHost = v6[1] as string;
    entryPort = v6[2] ?? "";
  } else if (isIP(entry) !== 6) {
    const colon = entry.lastIndexOf(":");
    if (colon > 0) {
      entryHost = entry.slice(0, colon);
      entryPort = entry.slice(colon + 1);
    }
  }
  if (entryPort && entryPort !== port) return false;
  if (isIP(entryHost)) return entryHost === host;
  // a domain: `name` is the host and its subdomains, `.name` (or `*.name`) its subdomains only
  const suffix = entryHost.startsWith("*.") ? entryHost.slice(1) : entryHost;
  if (suffix.startsWith(".")) return host.endsWith(suffix);
  return host === suffix || host.endsWith(`.${suffix}`);
}

/** The host name without its port (`[::1]:5000` → `::1`). */
export function hostName(hostPort: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(hostPort);
  if (v6) return v6[1] as string;
  const colon = hostPort.lastIndexOf(":");
  return colon >= 0 ? hostPort.slice(0, colon) : hostPort;
}

/**
 * localhost and 127.0.0.0/8 (and ::1): registries there may speak plain HTTP, as docker allows,
 * and are never reached through a proxy, as Go's proxy rules have it.
 */
export function isLoopback(hostPort: string): boolean {
  const host = hostName(hostPort);
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

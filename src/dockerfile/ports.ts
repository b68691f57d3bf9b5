/**
 * EXPOSE's port specs → docker's ExposedPorts keys ("80/tcp"), as BuildKit's dispatchExpose
 * reads them (frontend/dockerfile/dockerfile2llb/convert_expose.go): `80`, `80/udp`,
 * `8000-8002/tcp` (one key per port), and the old `[ip:]host:container` forms, of which only
 * the container port counts.
 */
import { isIP } from "node:net";
import { DockerfileValueError } from "./errors.js";

function portNumber(raw: string): number | undefined {
  if (!/^[+-]?\d+$/.test(raw)) return undefined;
  const n = Number.parseInt(raw, 10);
  return n >= 0 && n <= 65535 ? n : undefined;
}

function portRange(ports: string): [number, number] | undefined {
  if (ports === "") return undefined;
  const dash = ports.indexOf("-");
  const start = dash < 0 ? ports : ports.slice(0, dash);
  const first = portNumber(start);
  if (first === undefined) return undefined;
  if (dash < 0 || start === ports.slice(dash + 1)) return [first, first];
  const last = portNumber(ports.slice(dash + 1));
  if (last === undefined || last < first) return undefined;
  return [first, last];
}

function splitParts(raw: string): [ip: string, host: string, container: string] {
  const parts = raw.split(":");
  const n = parts.length;
  if (n === 1) return ["", "", parts[0] as string];
  if (n === 2) return ["", parts[0] as string, parts[1] as string];
  return [parts.slice(0, n - 2).join(":"), parts[n - 2] as string, parts[n - 1] as string];
}

/** One spec → its keys. Throws DockerfileValueError with BuildKit's message. */
export function parseExposedPort(raw: string): string[] {
  let [ip, host, container] = splitParts(raw);
  const slash = container.indexOf("/");
  const proto = slash < 0 ? "" : container.slice(slash + 1);
  container = slash < 0 ? container : container.slice(0, slash);
  if (container === "") throw new DockerfileValueError(`invalid port: "${raw}": no port specified`);
  const p = proto.toLowerCase();
  if (p !== "" && p !== "tcp" && p !== "udp" && p !== "sctp") {
    throw new DockerfileValueError(`invalid port: "${raw}": invalid proto: ${proto}`);
  }
  if (ip.startsWith("[") && ip.endsWith("]")) ip = ip.slice(1, -1);
  if (ip !== "" && isIP(ip) === 0) throw new DockerfileValueError(`invalid IP address: ${ip}`);
  const range = portRange(container);
  if (range === undefined) throw new DockerfileValueError(`invalid containerPort: ${container}`);
  if (host !== "") {
    const hostRange = portRange(host);
    if (hostRange === undefined) throw new DockerfileValueError(`invalid hostPort: ${host}`);
    if (range[1] - range[0] !== hostRange[1] - hostRange[0] && range[1] !== range[0]) {
      throw new DockerfileValueError(`invalid ranges specified for container and host Ports: ${container} and ${host}`);
    }
  }
  const out: string[] = [];
  for (let port = range[0]; port <= range[1]; port++) out.push(`${port}/${p === "" ? "tcp" : p}`);
  return out;
}

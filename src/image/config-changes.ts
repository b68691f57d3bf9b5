import { BerthError } from "../oci/errors.js";
import type { ContainerConfig } from "../oci/schema.js";

/**
 * Applies `docker import --change` / `docker commit --change` instructions (CMD, ENTRYPOINT,
 * ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL, SHELL) to a container config.
 * Returns a new config; the input is not changed.
 */
export function applyChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const out: ContainerConfig = { ...config };
  for (const change of changes) {
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(change);
    if (!m) continue;
    const keyword = (m[1] ?? "").toUpperCase();
    const rest = (m[2] ?? "").trim();
    switch (keyword) {
      case "CMD":
        out.Cmd = commandForm(rest);
        break;
      case "ENTRYPOINT":
        out.Entrypoint = commandForm(rest);
        break;
      case "SHELL":
        out.Shell = jsonArray(rest, "SHELL");
        break;
      case "ENV": {
        const env = [...(out.Env ?? [])];
        for (const [k, v] of keyValues(rest, "ENV")) {
          const i = env.findIndex((e) => e.startsWith(`${k}=`));
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        out.Env = env;
        break;
      }
      case "LABEL":
        out.Labels = { ...(out.Labels ?? {}), ...Object.fromEntries(keyValues(rest, "LABEL")) };
        break;
      case "EXPOSE": {
        const ports: Record<string, Record<string, unknown>> = { ...(out.ExposedPorts ?? {}) };
        for (const p of rest.split(/\s+/).filter(Boolean)) ports[p.includes("/") ? p.toLowerCase() : `${p}/tcp`] = {};
        out.ExposedPorts = ports;
        break;
      }
      case "VOLUME": {
        const vols: Record<string, Record<string, unknown>> = { ...(out.Volumes ?? {}) };
        const list = rest.startsWith("[") ? jsonArray(rest, "VOLUME") : rest.split(/\s+/).filter(Boolean);
        for (const v of list) vols[v] = {};
        out.Volumes = vols;
        break;
      }
      case "USER":
        out.User = rest;
        break;
      case "WORKDIR":
        out.WorkingDir = rest;
        break;
      case "STOPSIGNAL":
        out.StopSignal = rest;
        break;
      case "ONBUILD":
        out.OnBuild = [...(out.OnBuild ?? []), rest];
        break;
      default:
        throw new BerthError(
          "USAGE",
          `invalid --change "${change}": ${keyword} is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL, SHELL`,
        );
    }
  }
  return out;
}

function commandForm(rest: string): string[] {
  if (rest.startsWith("[")) {
    try {
      return jsonArray(rest, "command");
    } catch {
      // not valid JSON: docker treats it as shell form
    }
  }
  return ["/bin/sh", "-c", rest];
}

function jsonArray(text: string, what: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new BerthError("USAGE", `invalid --change: ${what} needs a JSON array of strings, got ${text}`);
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new BerthError("USAGE", `invalid --change: ${what} needs a JSON array of strings, got ${text}`);
  }
  return v;
}

/** `K=V K2="v 2"` pairs, or the legacy `K V` form. */
function keyValues(text: string, what: string): [string, string][] {
  if (!/^[^\s=]+=/.test(text)) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(text);
    if (!m) throw new BerthError("USAGE", `invalid --change: ${what} needs KEY=VALUE, got "${text}"`);
    return [[m[1] ?? "", m[2] ?? ""]];
  }
  const pairs: [string, string][] = [];
  const re = /([^\s=]+)=("((?:[^"\\]|\\.)*)"|'([^']*)'|(\S*))/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : (m[4] ?? m[5] ?? "");
    pairs.push([m[1] ?? "", value]);
  }
  return pairs;
}

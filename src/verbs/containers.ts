import { join } from "node:path";
import { humanDuration } from "../format/units.js";
import type { Digest } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { refreshContainer } from "../runtime/container-state.js";
import { type ContainerRecord, listContainerRecords } from "../runtime/containers.js";
import { logPathOf } from "../runtime/json-log.js";
import { containerDirOf, openRootfs, rootfsSize } from "../runtime/rootfs.js";
import { getImage, tryResolve } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";

/**
 * `docker ps` and `docker container inspect`: containers as docker's API describes them
 * (types.Container and types.ContainerJSON), each corrected for a holder that died first
 * (container-state.ts).
 */

/** One container as `ps` lists it (docker's types.Container). */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  /** The image as the user named it, or its ID once that name means another image. */
  Image: string;
  ImageID: Digest;
  Command: string;
  /** Seconds since the epoch. */
  Created: number;
  CreatedMs: number;
  State: string;
  Status: string;
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Record<string, string>;
  NetworkMode: string;
  Mounts: { Source: string; Destination: string }[];
}

export interface ContainerListOptions {
  /** -a: stopped containers too. */
  all?: boolean;
  /** -n: the N most recently created (any state); -l is last: 1. */
  last?: number;
  /** -s: measure the read/write layers. */
  size?: boolean;
  /** --filter key=value, docker's keys: id, name, label, status, exited, ancestor, before, since, network. */
  filters?: readonly string[];
}

const STATUSES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];
const FILTER_KEYS = ["id", "name", "label", "status", "exited", "ancestor", "before", "since", "network"];

/** docker's container list, newest first. */
export function containers(store: LocalStore, opts: ContainerListOptions = {}): ContainerSummary[] {
  const filters = parseFilters(opts.filters ?? []);
  // a build's RUN steps are containers too, but BuildKit's never show in docker ps
  let records = listContainerRecords(store)
    .filter((c) => c.spec.options.buildStep !== true)
    .map((c) => refreshContainer(store, c));
  const everything = records;
  const limited = opts.last !== undefined && opts.last > 0;
  if (!limited && !opts.all && !filters.has("status") && !filters.has("exited")) {
    records = records.filter((c) => c.state === "running");
  }
  records = records.filter((c) => matches(store, c, filters, everything));
  // -n counts what the filters let through, as the daemon's limit does
  if (limited) records = records.slice(0, opts.last);
  const now = Date.now();
  return records.map((c) => summarize(store, c, now, opts.size === true));
}

function parseFilters(raw: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of raw) {
    const eq = f.indexOf("=");
    const key = eq < 0 ? f : f.slice(0, eq).toLowerCase();
    const value = eq < 0 ? "" : f.slice(eq + 1);
    // docker's words, and its exit code 1 (the daemon refuses them, not the flag parser)
    if (eq < 0 || !FILTER_KEYS.includes(key)) {
      throw new BerthError("CONFLICT", `Invalid filter '${key}': ps filters by ${FILTER_KEYS.join(", ")}`);
    }
    if (key === "status" && !STATUSES.includes(value)) {
      throw new BerthError("CONFLICT", `Invalid filter 'status=${value}': use one of ${STATUSES.join(", ")}`);
    }
    if (key === "exited" && !/^-?\d+$/.test(value)) {
      throw new BerthError("CONFLICT", `Invalid filter 'exited=${value}': give an exit code`);
    }
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

/** Values of one key are alternatives; different keys must all match (docker's rules). */
function matches(
  store: LocalStore,
  c: ContainerRecord,
  filters: Map<string, string[]>,
  all: readonly ContainerRecord[],
): boolean {
  const any = (key: string, test: (v: string) => boolean) => {
    const values = filters.get(key);
    return !values || values.some(test);
  };
  const createdOf = (ref: string) => {
    const hit = all.find((o) => o.id === ref || o.name === ref || o.id.startsWith(ref));
    if (!hit) throw new BerthError("NOT_FOUND", `No such container: ${ref}`);
    return hit.createdMs;
  };
  const labels = labelsOf(c);
  return (
    any("id", (v) => c.id.startsWith(v)) &&
    any("name", (v) => safeRegExp(v).test(c.name)) &&
    any("status", (v) => v === c.state) &&
    any("exited", (v) => c.state === "exited" && c.spec.exitCode === Number(v)) &&
    any("label", (v) => {
      const eq = v.indexOf("=");
      return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
    }) &&
    any("ancestor", (v) => isAncestor(store, v, c.imageId)) &&
    any("before", (v) => c.createdMs < createdOf(v)) &&
    any("since", (v) => c.createdMs > createdOf(v)) &&
    any("network", (v) => v === networkOf(c))
  );
}

function safeRegExp(v: string): RegExp {
  try {
    return new RegExp(v);
  } catch {
    throw new BerthError("CONFLICT", `Invalid filter 'name=${v}': not a regular expression`);
  }
}

/** ancestor=IMAGE: the container's image is IMAGE or was built on it. */
function isAncestor(store: LocalStore, ref: string, imageId: Digest): boolean {
  let wanted: Digest | undefined;
  try {
    wanted = tryResolve(store, ref)?.image.id;
  } catch {
    wanted = undefined;
  }
  if (!wanted) return false;
  for (let id: Digest | undefined = imageId, depth = 0; id && depth < 1000; depth++) {
    if (id === wanted) return true;
    id = getImage(store, id)?.parent as Digest | undefined;
  }
  return false;
}

function labelsOf(c: ContainerRecord): Record<string, string> {
  const labels = c.spec.config?.Labels;
  return labels && typeof labels === "object" ? (labels as Record<string, string>) : {};
}

function networkOf(c: ContainerRecord): string {
  return c.spec.options.network === "host" ? "host" : "none";
}

function summarize(store: LocalStore, c: ContainerRecord, now: number, size: boolean): ContainerSummary {
  // docker shows the name the user gave while it still means the same image
  let image = c.imageName;
  try {
    if (tryResolve(store, c.imageName)?.image.id !== c.imageId) image = c.imageId;
  } catch {
    image = c.imageId;
  }
  const out: ContainerSummary = {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: image,
    ImageID: c.imageId,
    Command: commandLine(c.spec.command),
    Created: Math.floor(c.createdMs / 1000),
    CreatedMs: c.createdMs,
    State: c.state,
    Status: statusOf(c, now),
    Labels: labelsOf(c),
    NetworkMode: networkOf(c),
    Mounts: bindsOf(c).map((b) => ({ Source: b.source, Destination: b.destination })),
  };
  if (size) {
    const rw = c.state === "running" ? rootfsSize(openRootfs(containerDirOf(store, c.id), c.spec.driver)) : c.size;
    out.SizeRw = rw;
    out.SizeRootFs = rw + (getImage(store, c.imageId)?.size ?? 0);
  }
  return out;
}

/** The daemon's Command column: the path, then each argument, quoted in '' when it has a space. */
function commandLine(command: readonly string[]): string {
  return command.map((a, i) => (i > 0 && a.includes(" ") ? `'${a}'` : a)).join(" ");
}

/** docker's State.String(): "Up 5 minutes", "Exited (0) 2 hours ago", "Created". */
function statusOf(c: ContainerRecord, now = Date.now()): string {
  if (c.state === "running") return `Up ${humanDuration(now - (c.spec.startedMs ?? now))}`;
  if (c.state === "exited") {
    return `Exited (${c.spec.exitCode ?? 0}) ${humanDuration(now - (c.spec.finishedMs ?? now))} ago`;
  }
  return "Created";
}

function bindsOf(c: ContainerRecord): { source: string; destination: string; readonly?: boolean }[] {
  const v = c.spec.options.volumes;
  return Array.isArray(v) ? (v as { source: string; destination: string; readonly?: boolean }[]) : [];
}

// ---- inspect

/** Go's time.Time in JSON (RFC 3339, trailing zero fractions dropped); docker's zero time for none. */
function goTime(ms: number | undefined): string {
  if (ms === undefined) return "0001-01-01T00:00:00Z";
  return new Date(ms).toISOString().replace(/\.?0+Z$/, "Z");
}

/** `docker container inspect`: the fields of types.ContainerJSON that mean something here. */
export function inspectContainer(
  store: LocalStore,
  c: ContainerRecord,
  want: { size?: boolean } = {},
): Record<string, unknown> {
  const now = refreshContainer(store, c);
  const sizes = want.size ? summarize(store, now, Date.now(), true) : undefined;
  const s = now.spec;
  const dir = containerDirOf(store, now.id);
  const running = now.state === "running";
  const binds = bindsOf(now);
  const network = networkOf(now);
  const opts = s.options;
  return {
    Id: now.id,
    Created: goTime(now.createdMs),
    Path: s.command[0] ?? "",
    Args: s.command.slice(1),
    State: {
      Status: now.state,
      Running: running,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: running ? (s.pid ?? 0) : 0,
      ExitCode: s.exitCode ?? 0,
      Error: s.error ?? "",
      StartedAt: goTime(s.startedMs),
      FinishedAt: goTime(s.finishedMs),
    },
    Image: now.imageId,
    ResolvConfPath: join(dir, "resolv.conf"),
    HostnamePath: join(dir, "hostname"),
    HostsPath: join(dir, "hosts"),
    LogPath: logPathOf(dir, now.id),
    Name: `/${now.name}`,
    RestartCount: 0,
    Driver: s.driver,
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: null,
    HostConfig: {
      Binds: binds.length ? binds.map((b) => `${b.source}:${b.destination}${b.readonly ? ":ro" : ""}`) : null,
      ContainerIDFile: "",
      LogConfig: { Type: "json-file", Config: {} },
      NetworkMode: network,
      PortBindings: {},
      RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
      AutoRemove: opts.rm === true,
      Privileged: false,
      ReadonlyRootfs: opts.readOnly === true,
      Runtime: s.runtime ?? (typeof opts.runtime === "string" ? opts.runtime : "runc"),
      Ulimits: opts.ulimits
        ? Object.entries(opts.ulimits as Record<string, { soft: number; hard: number }>).map(([Name, l]) => ({
            Name,
            Soft: l.soft,
            Hard: l.hard,
          }))
        : null,
    },
    GraphDriver: {
      Data:
        s.driver === "overlay"
          ? { MergedDir: join(dir, "rootfs"), UpperDir: join(dir, "upper"), WorkDir: join(dir, "work") }
          : { RootDir: join(dir, "rootfs") },
      Name: s.driver,
    },
    Mounts: binds.map((b) => ({
      Type: "bind",
      Source: b.source,
      Destination: b.destination,
      Mode: b.readonly ? "ro" : "",
      RW: !b.readonly,
      Propagation: "rprivate",
    })),
    ...(sizes ? { SizeRw: sizes.SizeRw, SizeRootFs: sizes.SizeRootFs } : {}),
    Config: s.config ?? null,
    NetworkSettings: {
      Bridge: "",
      SandboxID: "",
      HairpinMode: false,
      Ports: {},
      SandboxKey: "",
      Gateway: "",
      IPAddress: "",
      IPPrefixLen: 0,
      MacAddress: "",
      Networks: {
        [network]: { NetworkID: "", EndpointID: "", Gateway: "", IPAddress: "", IPPrefixLen: 0, MacAddress: "" },
      },
    },
  };
}

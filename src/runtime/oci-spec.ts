import { BerthError } from "../oci/errors.js";
import type { ContainerConfig } from "../oci/schema.js";
import { resolveUser } from "./users.js";

/**
 * An OCI runtime-spec config.json for a container, from the image's config and the run's
 * options, with docker's defaults (moby's oci/defaults.go and daemon/oci_linux.go): the same
 * mounts, namespaces, capabilities, device rules and masked paths. Pure: everything it needs
 * from the host or the image's files comes in through the options.
 */

/** The parts of the runtime spec (v1.0.2) berth writes. */
export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<"bounding" | "effective" | "permitted" | "inheritable" | "ambient", string[]>;
    rlimits: { type: string; soft: number; hard: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  linux: {
    namespaces: { type: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
    resources: { devices: { allow: boolean; type?: string; major?: number; minor?: number; access: string }[] };
  };
}

export interface BindMount {
  source: string;
  destination: string;
  readonly?: boolean;
}

export interface SpecOptions {
  /** Arguments after the image name (replace the image's Cmd when given). */
  cmd?: readonly string[];
  /** --entrypoint: undefined keeps the image's; [] clears it (docker's `--entrypoint ""`). */
  entrypoint?: readonly string[];
  /** -e: KEY=VALUE entries, overriding the image's. */
  env?: readonly string[];
  /** -w */
  workdir?: string;
  /** -u: user[:group], names or numbers. */
  user?: string;
  /** -t */
  tty?: boolean;
  hostname: string;
  /** --network: none (a namespace with only loopback) or host. */
  network?: "none" | "host";
  /**
   * A builder's RUN step rather than `docker run`: BuildKit's process has no HOSTNAME variable
   * and only its /etc/group memberships as supplementary groups.
   */
  buildStep?: boolean;
  /** -v, and the /etc/hosts, /etc/hostname and /etc/resolv.conf files the caller wrote. */
  mounts?: readonly BindMount[];
  /** --read-only */
  readonlyRootfs?: boolean;
  /** The rootfs directory, relative to the bundle (or absolute). */
  rootfsPath?: string;
  /** The container's /etc/passwd and /etc/group, null when missing. */
  passwd: string | null;
  group: string | null;
  /** The limits of the process that starts the runtime: it cannot raise the hard ones. */
  hostLimits: HostLimits;
  /** --ulimit nofile=soft[:hard] and the like, by lower-case name. */
  ulimits?: Readonly<Record<string, Limit>>;
}

export interface Limit {
  soft: number;
  hard: number;
}

export interface HostLimits {
  nofile: Limit;
  nproc?: Limit;
}

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** docker's default capabilities (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

const MASKED_PATHS = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/interrupts",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/**
 * The command a container runs, by docker's rules: the image's Entrypoint followed by the
 * user's arguments, or by the image's Cmd when there are none. A user's --entrypoint drops the
 * image's Cmd as well. Throws when there is nothing to run.
 */
export function containerCommand(image: ContainerConfig, opts: Pick<SpecOptions, "cmd" | "entrypoint">): string[] {
  const userCmd = opts.cmd && opts.cmd.length > 0 ? [...opts.cmd] : undefined;
  let entrypoint: string[];
  let cmd: string[];
  if (opts.entrypoint && opts.entrypoint.length > 0) {
    entrypoint = [...opts.entrypoint];
    cmd = userCmd ?? [];
  } else {
    entrypoint = opts.entrypoint ? [] : [...(image.Entrypoint ?? [])];
    cmd = userCmd ?? [...(image.Cmd ?? [])];
  }
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) throw new BerthError("USAGE", "no command specified: the image has no Cmd or Entrypoint");
  return args;
}

/** docker's environment: PATH, HOSTNAME (and TERM with a tty) first, then the image's and the user's. */
export function containerEnv(
  image: ContainerConfig,
  opts: Pick<SpecOptions, "env" | "tty" | "hostname" | "buildStep">,
  home: string,
): string[] {
  const env = new Map<string, string>();
  const put = (entry: string) => {
    const eq = entry.indexOf("=");
    env.set(eq < 0 ? entry : entry.slice(0, eq), entry);
  };
  put(`PATH=${DEFAULT_PATH}`);
  if (!opts.buildStep) put(`HOSTNAME=${opts.hostname}`);
  if (opts.tty) put("TERM=xterm");
  for (const e of image.Env ?? []) put(e);
  for (const e of opts.env ?? []) put(e);
  if (!env.has("HOME")) put(`HOME=${home}`);
  return [...env.values()].filter((e) => e.includes("="));
}

export function buildOciSpec(image: ContainerConfig, opts: SpecOptions): OciSpec {
  const user = resolveUser(opts.user ?? image.User ?? "", opts.passwd, opts.group, {
    primaryAsSupplementary: !opts.buildStep,
  });
  const args = containerCommand(image, opts);
  const cwd = opts.workdir || image.WorkingDir || "/";
  if (!cwd.startsWith("/"))
    throw new BerthError("USAGE", `the working directory "${cwd}" is invalid: it needs to be an absolute path`);
  const caps = [...DEFAULT_CAPABILITIES];
  // A non-root process keeps only the bounding set: as in docker, it gets capabilities only
  // through file capabilities, never by default.
  const runningCaps = user.uid === 0 ? caps : [];
  const namespaces = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }];
  if (opts.network !== "host") namespaces.push({ type: "network" });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: opts.tty === true,
      user: {
        uid: user.uid,
        gid: user.gid,
        ...(user.additionalGids.length > 0 ? { additionalGids: user.additionalGids } : {}),
      },
      args,
      env: containerEnv(image, opts, user.home),
      cwd,
      capabilities: {
        bounding: caps,
        effective: runningCaps,
        permitted: runningCaps,
        inheritable: [],
        ambient: [],
      },
      rlimits: rlimits(opts),
      noNewPrivileges: false,
    },
    root: { path: opts.rootfsPath ?? "rootfs", readonly: opts.readonlyRootfs === true },
    hostname: opts.hostname,
    mounts: [...defaultMounts(), ...(opts.mounts ?? []).map(bind)],
    linux: {
      namespaces,
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      resources: { devices: deviceRules() },
    },
  };
}

/**
 * Open files as the host gives them (docker 20.10 sets no limit, so containers inherit
 * dockerd's), and --ulimit on top. A hard limit above the host's fails: raising one needs
 * CAP_SYS_RESOURCE, which berth need not have.
 */
function rlimits(opts: SpecOptions): OciSpec["process"]["rlimits"] {
  const out: OciSpec["process"]["rlimits"] = [];
  const requested: Record<string, Limit> = { nofile: opts.hostLimits.nofile, ...opts.ulimits };
  for (const [name, limit] of Object.entries(requested)) {
    if (!RLIMITS.has(name))
      throw new BerthError("USAGE", `--ulimit ${name}: not a resource limit (${[...RLIMITS].join(", ")})`);
    const host = name === "nofile" ? opts.hostLimits.nofile : name === "nproc" ? opts.hostLimits.nproc : undefined;
    if (host !== undefined && limit.hard > host.hard) {
      throw new BerthError(
        "USAGE",
        `--ulimit ${name}=${limit.soft}:${limit.hard} is above this host's hard limit of ${host.hard}; raising it needs CAP_SYS_RESOURCE`,
      );
    }
    if (limit.soft > limit.hard) {
      throw new BerthError(
        "USAGE",
        `--ulimit ${name}=${limit.soft}:${limit.hard}: the soft limit is above the hard limit`,
      );
    }
    out.push({ type: `RLIMIT_${name.toUpperCase()}`, soft: limit.soft, hard: limit.hard });
  }
  return out;
}

/** setrlimit(2)'s resources, as --ulimit names them. */
const RLIMITS = new Set([
  "as",
  "core",
  "cpu",
  "data",
  "fsize",
  "locks",
  "memlock",
  "msgqueue",
  "nice",
  "nofile",
  "nproc",
  "rss",
  "rtprio",
  "rttime",
  "sigpending",
  "stack",
]);

function defaultMounts(): OciSpec["mounts"] {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
  ];
}

function bind(m: BindMount): OciSpec["mounts"][number] {
  return {
    destination: m.destination,
    type: "bind",
    source: m.source,
    options: ["rbind", "rprivate", m.readonly ? "ro" : "rw"],
  };
}

/** docker's device cgroup rules: nothing but the usual character devices and mknod. */
function deviceRules(): OciSpec["linux"]["resources"]["devices"] {
  const allow = (type: string, major: number | undefined, minor: number | undefined, access: string) => ({
    allow: true,
    type,
    ...(major !== undefined ? { major } : {}),
    ...(minor !== undefined ? { minor } : {}),
    access,
  });
  return [
    { allow: false, access: "rwm" },
    allow("c", undefined, undefined, "m"),
    allow("b", undefined, undefined, "m"),
    allow("c", 1, 3, "rwm"), // null
    allow("c", 1, 5, "rwm"), // zero
    allow("c", 1, 7, "rwm"), // full
    allow("c", 1, 8, "rwm"), // random
    allow("c", 1, 9, "rwm"), // urandom
    allow("c", 5, 0, "rwm"), // tty
    allow("c", 5, 1, "rwm"), // console
    allow("c", 5, 2, "rwm"), // ptmx
    allow("c", 136, undefined, "rwm"), // pts
    allow("c", 10, 200, "rwm"), // tun
  ];
}

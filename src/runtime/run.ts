import * as fs from "node:fs";
import { hostname as hostHostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { BerthError } from "../oci/errors.js";
import type { ContainerConfig } from "../oci/schema.js";
import { z } from "../oci/zod.js";
import { resolveImage } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";
import { lookupCommand } from "./command-lookup.js";
import {
  type ContainerSpec,
  type ContainerState,
  deleteContainer,
  generateName,
  getContainer,
  insertContainer,
  newContainerId,
  type ProcessIdentity,
  updateContainer,
} from "./containers.js";
import { JsonLogWriter, type LogStream, logPathOf } from "./json-log.js";
import { findRuntimes, type HostFacts, hostFacts, hostLimits, type RuntimeName, runBundle } from "./oci-runtime.js";
import { type BindMount, buildOciSpec, DEFAULT_PATH, type Limit } from "./oci-spec.js";
import { identify, isAlive } from "./process-identity.js";
import {
  containerDirOf,
  defaultStorageDriver,
  prepareRootfs,
  type Rootfs,
  releaseRootfs,
  removeContainerFiles,
  rootfsSize,
  type StorageDriver,
} from "./rootfs.js";
import { lstatOrNull, resolveInRoot } from "./scoped-path.js";

/**
 * `docker run`: a container from a stored image, in the foreground, through an OCI runtime.
 *
 * The container is recorded in the store before anything is prepared (so `rmi` refuses its
 * image from then on), its file system is the image's layers under a read/write layer
 * (rootfs.ts), and its exit code is the process's. berth's own failures throw (docker's 125);
 * a command that is missing or cannot be executed gives 127 or 126 with docker's message.
 */

export interface RunOptions {
  /** Arguments after the image: replace the image's Cmd. */
  cmd?: string[];
  /** --entrypoint ([] clears the image's). */
  entrypoint?: string[];
  /** -e KEY=VALUE */
  env?: string[];
  /** -w */
  workdir?: string;
  /** -u user[:group] */
  user?: string;
  /** -t */
  tty?: boolean;
  /** --name */
  name?: string;
  /** --network: berth has no bridge; the default is none (loopback only). */
  network?: "none" | "host";
  /** -v */
  volumes?: BindMount[];
  /** --read-only */
  readOnly?: boolean;
  /** --hostname */
  hostname?: string;
  /** --ulimit */
  ulimits?: Record<string, Limit>;
  /** --rm: remove the container (files and record) when it ends. */
  rm?: boolean;
  /** How to assemble the root file system; default overlay where possible, else copy. */
  driver?: StorageDriver;
  /** "crun", "runc" or a path; default: the best that works here (see oci-runtime.ts). */
  runtime?: string;
  /** The runtimes' state directory; default /run/berth as root. */
  stateRoot?: string;
  /** -i: the container's stdin; without it, /dev/null. */
  stdin?: Readable | "inherit" | null;
  stdout?: Writable | "inherit" | null;
  stderr?: Writable | "inherit" | null;
  /** A builder's RUN step: BuildKit's environment (see SpecOptions.buildStep). */
  buildStep?: boolean;
  /** Facts about the host (for tests); default: read from this machine. */
  host?: HostFacts;
  /** -i, as recorded for inspect (the stream itself is `stdin`). */
  interactive?: boolean;
  /** -d, as recorded for inspect (detaching is the caller's: see supervisor.ts). */
  detach?: boolean;
  /** Also write stdout and stderr to the container's json-file log, for `logs` (not with a tty). */
  log?: boolean;
  /** Record the exit status in the container's directory even if berth is killed first (see exitStatusFile). */
  keepExitStatus?: boolean;
}

export interface RunResult {
  id: string;
  name: string;
  exitCode: number;
  /** Why the command could not run (exit codes 126 and 127), in docker's words. */
  message?: string;
  runtime?: RuntimeName;
  driver: StorageDriver;
  /** Runtimes passed over, and why (crun on a hybrid-cgroup host). */
  notes: string[];
}

/** `docker run` in the foreground: create, start, wait; with `rm`, remove afterwards. */
export async function runContainer(store: LocalStore, image: string, opts: RunOptions = {}): Promise<RunResult> {
  const created = await create(store, image, opts, true);
  const result: RunResult = { ...created.result, exitCode: 125 };
  try {
    const launched = await launchContainer(store, created.result.id, {
      ...opts,
      mounted: created.rootfs,
    });
    Object.assign(result, launched);
    return result;
  } finally {
    if (opts.rm) {
      removeContainerFiles(containerDirOf(store, created.result.id));
      deleteContainer(store, created.result.id);
    }
  }
}

export type CreateResult = Omit<RunResult, "exitCode" | "message" | "runtime">;

/**
 * `docker create`: records the container, prepares its read/write layer and writes its OCI
 * bundle (config.json, hosts files), and leaves it unmounted until `start`. A failure removes
 * what was made; a kill -9 half-way leaves a "Created" container that `rm` clears.
 */
export async function createContainer(store: LocalStore, image: string, opts: RunOptions = {}): Promise<CreateResult> {
  return (await create(store, image, opts, false)).result;
}

async function create(
  store: LocalStore,
  image: string,
  opts: RunOptions,
  keepMounted: boolean,
): Promise<{ result: CreateResult; rootfs: Rootfs }> {
  const resolved = resolveImage(store, image);
  const manifest = store.readManifest(resolved.image.manifest);
  const config = store.readConfig(resolved.image.id);
  const search = findRuntimes(opts.host ?? hostFacts(), opts.runtime);
  if (search.candidates.length === 0) {
    throw new BerthError(
      "UNSUPPORTED",
      `no OCI runtime can run containers here: install runc (Debian: apt-get install runc)${search.skipped.map((s) => `; ${s}`).join("")}`,
    );
  }
  const driver = opts.driver ?? defaultStorageDriver();
  const id = newContainerId();
  const name = opts.name ?? generateName(store);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new BerthError("USAGE", `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  const spec: ContainerSpec = {
    driver,
    command: [],
    options: recordedOptions(opts),
    stateRoot: opts.stateRoot ?? defaultStateRoot(),
    ...holderNow(),
  };
  insertContainer(store, {
    id,
    name,
    imageId: resolved.image.id,
    imageName: image,
    createdMs: Date.now(),
    state: "created",
    size: 0,
    spec,
  });
  const containerDir = resolve(containerDirOf(store, id));
  let rootfs: Rootfs | undefined;
  try {
    rootfs = await prepareRootfs(store, { manifest, config }, containerDir, driver, {
      volatile: opts.buildStep === true,
    });
    const imageConfig = config.config ?? {};
    const hostname = opts.hostname ?? (opts.network === "host" ? hostHostname() : id.slice(0, 12));
    const files = writeHostFiles(containerDir, hostname, opts.network ?? "none");
    const oci = buildOciSpec(imageConfig, {
      ...opts,
      hostname,
      mounts: [
        { source: files.hosts, destination: "/etc/hosts" },
        { source: files.hostname, destination: "/etc/hostname" },
        { source: files.resolvConf, destination: "/etc/resolv.conf" },
        ...(opts.volumes ?? []),
      ],
      readonlyRootfs: opts.readOnly,
      rootfsPath: rootfs.path,
      passwd: readInRoot(rootfs.path, "etc/passwd"),
      group: readInRoot(rootfs.path, "etc/group"),
      hostLimits: hostLimits(),
    });
    spec.command = oci.process.args;
    spec.config = dockerContainerConfig(imageConfig, opts, hostname, image);
    fs.writeFileSync(join(containerDir, "config.json"), `${JSON.stringify(oci, null, 2)}\n`);
    ensureWorkdir(rootfs.path, oci.process.cwd);
    // created: nobody holds it until a start claims it (a run keeps holding it)
    // (`run -d` keeps holding it until its supervisor takes over: see claimContainer)
    if (!keepMounted && !opts.detach) spec.holder = undefined;
    updateContainer(store, id, { spec });
    if (!keepMounted) releaseRootfs(rootfs);
    return { result: { id, name, driver, notes: search.skipped }, rootfs };
  } catch (err) {
    if (rootfs) releaseRootfs(rootfs);
    removeContainerFiles(containerDir);
    deleteContainer(store, id);
    throw err;
  }
}

export interface LaunchOptions
  extends Pick<RunOptions, "stdin" | "stdout" | "stderr" | "host" | "log" | "keepExitStatus"> {
  /** The file system when the caller has it mounted already (run: create, then launch). */
  mounted?: Rootfs;
  /** Called once the container's process runs. */
  onStart?: (pid: number) => void;
}

export type LaunchResult = Pick<RunResult, "exitCode" | "message" | "runtime">;

/**
 * Starts a created (or exited) container and waits for it: mounts its file system, checks
 * that its command exists (docker's 126 and 127), runs the bundle, and records how it ended.
 * The calling process is the container's holder meanwhile (see ContainerSpec.holder).
 */
export async function launchContainer(store: LocalStore, id: string, opts: LaunchOptions = {}): Promise<LaunchResult> {
  const record = getContainer(store, id);
  if (!record) throw new BerthError("NOT_FOUND", `No such container: ${id}`);
  const spec = record.spec;
  const containerDir = resolve(containerDirOf(store, id));
  const configFile = join(containerDir, "config.json");
  if (!fs.existsSync(configFile)) {
    throw new BerthError(
      "STORE",
      `container ${record.name} was never completely created (berth was interrupted): remove it with berth rm ${record.name}`,
    );
  }
  const oci = ociProcessSchema.parse(JSON.parse(fs.readFileSync(configFile, "utf8")));
  const search = findRuntimes(
    opts.host ?? hostFacts(),
    typeof spec.options.runtime === "string" ? spec.options.runtime : undefined,
  );
  let rootfs = opts.mounted;
  const result: LaunchResult = { exitCode: 125 };
  claimContainer(store, id, spec);
  let log = opts.log ? new JsonLogWriter(logPathOf(containerDir, id)) : undefined;
  const logged = (name: LogStream, out: RunOptions["stdout"]): RunOptions["stdout"] =>
    log && out !== "inherit" ? log.stream(name, out ?? undefined) : out;
  // Unmounted and let go of before the end is recorded: whoever sees it stopped (a restart)
  // may mount it again at once, and must not find this process still holding or unmounting.
  const finish = (state: ContainerState, size?: number) => {
    if (rootfs) releaseRootfs(rootfs);
    rootfs = undefined;
    spec.holder = undefined;
    updateContainer(store, id, { state, spec, ...(size === undefined ? {} : { size }) });
  };
  try {
    if (!rootfs) {
      const image = resolveImage(store, record.imageId);
      rootfs = await prepareRootfs(
        store,
        { manifest: store.readManifest(image.image.manifest), config: store.readConfig(image.image.id) },
        containerDir,
        spec.driver,
      );
    }
    const env = oci.process.env.find((e) => e.startsWith("PATH="))?.slice(5) ?? DEFAULT_PATH;
    const found = lookupCommand(rootfs.path, oci.process.args[0] as string, {
      path: env,
      cwd: oci.process.cwd,
      uid: oci.process.user.uid,
      gid: oci.process.user.gid,
      additionalGids: oci.process.user.additionalGids,
    });
    if (!found.ok) {
      result.exitCode = found.exitCode;
      result.message = found.message;
      spec.exitCode = found.exitCode;
      spec.error = found.message;
      // as docker's: a container whose command cannot start stays as it was (Created)
      finish(record.state === "running" ? "exited" : record.state);
      return result;
    }
    const exitFile = exitStatusFile(containerDir);
    fs.rmSync(exitFile, { force: true });
    const run = await runBundle({
      bundle: containerDir,
      id,
      ...(opts.keepExitStatus ? { exitFile } : {}),
      // a -t container started without the caller's terminal (detached) gets one of its own
      allocateTty: oci.process.terminal === true && opts.stdout !== "inherit",
      runtimes: search.candidates,
      stateRoot: spec.stateRoot ?? defaultStateRoot(),
      stdin: opts.stdin ?? null,
      stdout: logged("stdout", opts.stdout) ?? null,
      stderr: logged("stderr", opts.stderr) ?? null,
      onStart: (pid, runtime) => {
        spec.runtime = runtime;
        spec.startedMs = Date.now();
        spec.finishedMs = undefined;
        spec.pid = pid;
        updateContainer(store, id, { state: "running", spec });
        opts.onStart?.(pid);
      },
    });
    // the last partial lines reach the log before the exit is recorded: `logs -f` stops there
    log?.close();
    log = undefined;
    result.exitCode = run.exitCode;
    result.runtime = run.runtime;
    spec.exitCode = run.exitCode;
    spec.finishedMs = Date.now();
    spec.pid = undefined;
    finish("exited", rootfsSize(rootfs));
    return result;
  } catch (err) {
    spec.error = err instanceof Error ? err.message : String(err);
    spec.exitCode = 128;
    finish(record.state === "created" ? "created" : "exited");
    throw err;
  } finally {
    log?.close();
    if (rootfs) releaseRootfs(rootfs);
  }
}

/** Where the runtime's exit status is written by a shell that outlives a killed holder. */
export function exitStatusFile(containerDir: string): string {
  return join(containerDir, "exit-status");
}

/** The part of config.json a launch reads back (the file is berth's own, still checked). */
const ociProcessSchema = z.object({
  process: z.object({
    terminal: z.boolean().optional(),
    args: z.array(z.string()).min(1),
    env: z.array(z.string()),
    cwd: z.string(),
    user: z.object({ uid: z.number(), gid: z.number(), additionalGids: z.array(z.number()).optional() }),
  }),
});

/**
 * Makes this process the container's holder, in one transaction: two `start`s of one
 * container must not both mount and run it, and prune and rm leave a held container alone.
 * Another live holder (a run, a supervisor, a create still writing the bundle) is docker's
 * conflict, except this process's parent: a `start` holds the container while it spawns
 * the supervisor, which takes it over.
 */
export function claimContainer(store: LocalStore, id: string, spec?: ContainerSpec): ContainerSpec {
  const me = holderNow();
  return store.update(() => {
    const now = getContainer(store, id);
    if (!now) throw new BerthError("NOT_FOUND", `No such container: ${id}`);
    const other = now.spec.holder;
    if (other && isAlive(other) && other.pid !== process.pid && other.pid !== process.ppid) {
      throw new BerthError(
        "CONFLICT",
        `container ${now.name} is ${now.state === "running" ? "already running" : "being created or started"} (berth process ${other.pid})`,
      );
    }
    const claimed = Object.assign(spec ?? now.spec, me, { exitCode: undefined, error: undefined, pid: undefined });
    updateContainer(store, id, { spec: claimed });
    return claimed;
  });
}

function holderNow(): { holder?: ProcessIdentity } {
  const me = identify();
  return me ? { holder: me } : {};
}

/**
 * docker's container Config: the image's, with what the run changed (-e appended or replacing
 * by name, the command, -w, -u, the host name). `inspect` shows it and `commit` starts from it.
 */
function dockerContainerConfig(
  image: ContainerConfig,
  opts: RunOptions,
  hostname: string,
  imageName: string,
): Record<string, unknown> {
  const env = new Map<string, string>();
  for (const e of [...(image.Env ?? []), ...(opts.env ?? [])]) env.set(e.split("=")[0] as string, e);
  const userCmd = opts.cmd && opts.cmd.length > 0 ? [...opts.cmd] : undefined;
  const entrypoint = opts.entrypoint
    ? opts.entrypoint.length
      ? [...opts.entrypoint]
      : null
    : (image.Entrypoint ?? null);
  return {
    Hostname: hostname,
    Domainname: "",
    User: opts.user ?? image.User ?? "",
    AttachStdin: opts.interactive === true,
    AttachStdout: opts.detach !== true,
    AttachStderr: opts.detach !== true,
    ...(image.ExposedPorts ? { ExposedPorts: image.ExposedPorts } : {}),
    Tty: opts.tty === true,
    OpenStdin: opts.interactive === true,
    StdinOnce: opts.interactive === true && opts.detach !== true,
    Env: env.size ? [...env.values()] : null,
    Cmd: userCmd ?? (opts.entrypoint ? null : (image.Cmd ?? null)),
    ...(image.Healthcheck ? { Healthcheck: image.Healthcheck } : {}),
    Image: imageName,
    Volumes: image.Volumes ?? null,
    WorkingDir: opts.workdir ?? image.WorkingDir ?? "",
    Entrypoint: entrypoint,
    OnBuild: image.OnBuild ?? null,
    Labels: image.Labels ?? {},
    ...(image.StopSignal ? { StopSignal: image.StopSignal } : {}),
    ...(image.Shell ? { Shell: image.Shell } : {}),
  };
}

/** What `start` would need again; streams and host facts are not data. */
function recordedOptions(opts: RunOptions): Record<string, unknown> {
  const { stdin: _i, stdout: _o, stderr: _e, host: _h, ...rest } = opts;
  return rest;
}

export function defaultStateRoot(): string {
  return process.geteuid?.() === 0 ? "/run/berth" : join(tmpdir(), `berth-${process.geteuid?.() ?? "user"}`);
}

/** A file of the container's own (read through its symlinks, inside its root), or null. */
function readInRoot(rootfs: string, rel: string): string | null {
  try {
    const path = join(rootfs, resolveInRoot(rootfs, rel, { followFinal: true }));
    return lstatOrNull(path)?.isFile() ? fs.readFileSync(path, "utf8") : null;
  } catch {
    return null;
  }
}

/** docker creates a missing working directory (owned by root) before the process starts. */
function ensureWorkdir(rootfs: string, cwd: string): void {
  try {
    resolveInRoot(rootfs, cwd, { followFinal: true, create: true });
  } catch (err) {
    throw new BerthError("USAGE", `cannot use working directory ${cwd}: ${(err as Error).message}`);
  }
}

/** /etc/hosts, /etc/hostname and /etc/resolv.conf for the container, bind-mounted as docker does. */
function writeHostFiles(
  dir: string,
  hostname: string,
  network: "none" | "host",
): { hosts: string; hostname: string; resolvConf: string } {
  const hosts = join(dir, "hosts");
  const hostnameFile = join(dir, "hostname");
  const resolvConf = join(dir, "resolv.conf");
  const hostHosts = network === "host" ? readOr("/etc/hosts") : "";
  fs.writeFileSync(
    hosts,
    hostHosts ||
      [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
        `127.0.1.1\t${hostname}`,
        "",
      ].join("\n"),
  );
  fs.writeFileSync(hostnameFile, `${hostname}\n`);
  fs.writeFileSync(resolvConf, readOr("/etc/resolv.conf"));
  return { hosts, hostname: hostnameFile, resolvConf };
}

function readOr(path: string): string {
  try {
    return fs.readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

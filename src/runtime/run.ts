import * as fs from "node:fs";
import { hostname as hostHostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { BerthError } from "../oci/errors.js";
import { resolveImage } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";
import { lookupCommand } from "./command-lookup.js";
import {
  type ContainerSpec,
  deleteContainer,
  generateName,
  insertContainer,
  newContainerId,
  updateContainer,
} from "./containers.js";
import { findRuntimes, type HostFacts, hostFacts, hostLimits, type RuntimeName, runBundle } from "./oci-runtime.js";
import { type BindMount, buildOciSpec, DEFAULT_PATH, type Limit } from "./oci-spec.js";
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

export async function runContainer(store: LocalStore, image: string, opts: RunOptions = {}): Promise<RunResult> {
  const resolved = resolveImage(store, image);
  const manifest = store.readManifest(resolved.image.manifest);
  const config = store.readConfig(resolved.image.id);
  const facts = opts.host ?? hostFacts();
  const search = findRuntimes(facts, opts.runtime);
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
  const spec: ContainerSpec = { driver, command: [], options: recordedOptions(opts) };
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
  const result: RunResult = { id, name, exitCode: 125, driver, notes: search.skipped };
  try {
    rootfs = await prepareRootfs(store, { manifest, config }, containerDir, driver);
    const image = config.config ?? {};
    const hostname = opts.hostname ?? (opts.network === "host" ? hostHostname() : id.slice(0, 12));
    const files = writeHostFiles(containerDir, hostname, opts.network ?? "none");
    const oci = buildOciSpec(image, {
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
    fs.writeFileSync(join(containerDir, "config.json"), `${JSON.stringify(oci, null, 2)}\n`);
    ensureWorkdir(rootfs.path, oci.process.cwd);

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
      updateContainer(store, id, { state: "exited", spec });
      return result;
    }

    const run = await runBundle({
      bundle: containerDir,
      id,
      runtimes: search.candidates,
      stateRoot: opts.stateRoot ?? defaultStateRoot(),
      stdin: opts.stdin ?? null,
      stdout: opts.stdout ?? null,
      stderr: opts.stderr ?? null,
      onStart: (_pid, runtime) => {
        spec.runtime = runtime;
        spec.startedMs = Date.now();
        updateContainer(store, id, { state: "running", spec });
      },
    });
    result.exitCode = run.exitCode;
    result.runtime = run.runtime;
    spec.exitCode = run.exitCode;
    spec.finishedMs = Date.now();
    updateContainer(store, id, { state: "exited", spec, size: rootfsSize(rootfs) });
    return result;
  } finally {
    if (rootfs) releaseRootfs(rootfs);
    if (opts.rm) {
      removeContainerFiles(containerDir);
      deleteContainer(store, id);
    }
  }
}

/** What `start` would need again; streams and host facts are not data. */
function recordedOptions(opts: RunOptions): Record<string, unknown> {
  const { stdin: _i, stdout: _o, stderr: _e, host: _h, ...rest } = opts;
  return rest;
}

function defaultStateRoot(): string {
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

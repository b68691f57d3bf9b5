import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { findProgram } from "../image/codecs.js";
import { BerthError } from "../oci/errors.js";
import type { HostLimits, Limit } from "./oci-spec.js";

/**
 * Runs an OCI bundle with an OCI runtime, crun or runc, in the foreground (`RUNTIME run`), and
 * gives back the container process's exit code.
 *
 * Which runtime: crun when it can work here (it starts faster), else runc. crun 1.8 refuses
 * every container on a host whose cgroups are in hybrid mode with controllers enabled in the
 * cgroup2 hierarchy ("cgroups in hybrid mode not supported"); that is read from the host's
 * mounts beforehand, so crun is not even tried there. Should a runtime still fail before the
 * container starts, the next candidate gets the bundle.
 *
 * "Before the container starts" is known without reading error text: the runtime writes its
 * --pid-file once the container exists, so no pid file means the runtime itself failed. Its own
 * messages go to a --log file (not to the container's stderr), from which berth quotes them.
 */

export type RuntimeName = "crun" | "runc";

export interface Runtime {
  name: RuntimeName;
  /** The executable. */
  path: string;
}

/** The runtimes on PATH, crun first; `why` says why one was left out. */
export interface RuntimeSearch {
  candidates: Runtime[];
  skipped: string[];
}

export interface HostFacts {
  /** /proc/self/mountinfo */
  mountinfo: string;
  /** Reads a file (cgroup.controllers); empty when it cannot be read. */
  readFile(path: string): string;
  /** PATH to search. */
  path: string;
}

export function hostFacts(env: Readonly<Record<string, string | undefined>> = process.env): HostFacts {
  return {
    mountinfo: readOr("/proc/self/mountinfo"),
    readFile: readOr,
    path: env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  };
}

function readOr(path: string): string {
  try {
    return fs.readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * Why crun (1.8, Debian 12's) cannot run containers on this host, or null when it can:
 * cgroup v1 hierarchies mounted next to a cgroup2 one that owns controllers.
 */
export function crunCgroupProblem(facts: HostFacts): string | null {
  let v1 = false;
  let v2: string | undefined;
  for (const line of facts.mountinfo.split("\n")) {
    const [pre, post] = line.split(" - ");
    const mountPoint = pre?.split(" ")[4];
    const fsType = post?.split(" ")[0];
    if (fsType === "cgroup") v1 = true;
    if (fsType === "cgroup2" && mountPoint) v2 = mountPoint;
  }
  if (!v1 || !v2 || v2 === "/sys/fs/cgroup") return null;
  const controllers = facts.readFile(join(v2, "cgroup.controllers")).trim();
  if (!controllers) return null;
  return `crun cannot run containers here: cgroups are in hybrid mode and the cgroup2 hierarchy at ${v2} owns controllers (${controllers})`;
}

/**
 * The runtimes to try, best first. `wanted` ("crun", "runc" or a path to either) restricts
 * the choice to that one, tried even where it is expected to fail.
 */
export function findRuntimes(facts: HostFacts, wanted?: string): RuntimeSearch {
  const skipped: string[] = [];
  if (wanted) {
    const path = wanted.includes("/") ? wanted : findProgram(wanted, facts.path);
    if (!path) throw new BerthError("UNSUPPORTED", `the OCI runtime ${wanted} is not installed (not on PATH)`);
    const name: RuntimeName = /crun[^/]*$/.test(wanted) ? "crun" : "runc";
    return { candidates: [{ name, path }], skipped };
  }
  const candidates: Runtime[] = [];
  const crun = findProgram("crun", facts.path);
  const runc = findProgram("runc", facts.path);
  const problem = crunCgroupProblem(facts);
  if (crun && problem) skipped.push(problem);
  else if (crun) candidates.push({ name: "crun", path: crun });
  if (runc) candidates.push({ name: "runc", path: runc });
  // crun is the fallback of last resort even where it is expected to fail: its error is
  // clearer than "no runtime".
  if (crun && problem && !runc) candidates.push({ name: "crun", path: crun });
  return { candidates, skipped };
}

/** The limits this process runs under (from /proc/self/limits: Node has no getrlimit). */
export function hostLimits(text = readOr("/proc/self/limits")): HostLimits {
  const limit = (label: string): Limit | undefined => {
    const line = text.split("\n").find((l) => l.startsWith(label));
    const [soft, hard] = line?.slice(label.length).trim().split(/\s+/) ?? [];
    if (soft === undefined || hard === undefined) return undefined;
    const num = (v: string) => (v === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(v));
    return { soft: num(soft), hard: num(hard) };
  };
  return { nofile: limit("Max open files") ?? { soft: 1024, hard: 1024 }, nproc: limit("Max processes") };
}

const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

export type StdioSpec = Readable | Writable | "inherit" | null;

export interface RunBundleOptions {
  bundle: string;
  id: string;
  runtimes: readonly Runtime[];
  /** The runtimes' state directory (one subdirectory per runtime), best on a tmpfs. */
  stateRoot: string;
  /** The container's stdin (-i); null: /dev/null. */
  stdin?: Readable | "inherit" | null;
  stdout?: Writable | "inherit" | null;
  stderr?: Writable | "inherit" | null;
  /** Called with the container's pid (on the host) when it is running. */
  onStart?: (pid: number, runtime: RuntimeName) => void;
  /**
   * Where a small shell between this process and the runtime writes the exit status, so it
   * is known even when this process is killed first (a detached container's supervisor).
   */
  exitFile?: string;
  /**
   * Give the container a terminal of its own (`script` allocates a pseudo-terminal and
   * copies it to stdout): a detached `-t` container has no terminal of the caller's to use.
   */
  allocateTty?: boolean;
}

export interface BundleResult {
  exitCode: number;
  runtime: RuntimeName;
}

/** Runs the bundle in the foreground; throws when no runtime could start it. */
export async function runBundle(opts: RunBundleOptions): Promise<BundleResult> {
  if (opts.runtimes.length === 0) {
    throw new BerthError(
      "UNSUPPORTED",
      "no OCI runtime found: install runc or crun (Debian: apt-get install runc crun) to run containers",
    );
  }
  const failures: string[] = [];
  for (const rt of opts.runtimes) {
    const attempt = await runOnce(rt, opts);
    if (attempt.started) return { exitCode: attempt.exitCode, runtime: rt.name };
    failures.push(`${rt.name}: ${attempt.error}`);
    // Clear whatever the failed runtime left so that the next one can use the same ID.
    spawnSync(rt.path, ["--root", join(opts.stateRoot, rt.name), "delete", "--force", opts.id], { stdio: "ignore" });
  }
  throw new BerthError("UNSUPPORTED", `the OCI runtime could not start the container: ${failures.join("; ")}`);
}

async function runOnce(
  rt: Runtime,
  opts: RunBundleOptions,
): Promise<{ started: true; exitCode: number } | { started: false; error: string }> {
  const pidFile = join(opts.bundle, `${rt.name}.pid`);
  const logFile = join(opts.bundle, `${rt.name}.log`);
  fs.rmSync(pidFile, { force: true });
  fs.rmSync(logFile, { force: true });
  const state = join(opts.stateRoot, rt.name);
  fs.mkdirSync(state, { recursive: true, mode: 0o700 });
  const log = rt.name === "crun" ? [`--log=file:${logFile}`] : ["--log", logFile];
  const args = ["--root", state, ...log, "run", "--bundle", opts.bundle, "--pid-file", pidFile, opts.id];
  const stdio = [mode(opts.stdin), mode(opts.stdout), mode(opts.stderr)] as const;
  const argv = opts.allocateTty
    ? ["script", "-qefc", [rt.path, ...args].map(shellQuote).join(" "), "/dev/null"]
    : [rt.path, ...args];
  const child = opts.exitFile
    ? spawn("/bin/sh", ["-c", RECORD_EXIT, "sh", ...argv], {
        stdio: [...stdio],
        env: { ...process.env, BERTH_EXIT_FILE: opts.exitFile },
      })
    : spawn(argv[0] as string, argv.slice(1), { stdio: [...stdio] });
  if (opts.stdin && opts.stdin !== "inherit" && child.stdin) {
    opts.stdin.pipe(child.stdin);
    child.stdin.on("error", () => undefined); // the container may exit without reading it all
  }
  const outputs: Promise<void>[] = [];
  for (const [src, dest] of [
    [child.stdout, opts.stdout],
    [child.stderr, opts.stderr],
  ] as const) {
    if (src && dest && dest !== "inherit") {
      src.pipe(dest, { end: false });
      outputs.push(new Promise((resolve) => src.on("end", resolve)));
    }
  }
  let announced = false;
  const watcher = opts.onStart
    ? setInterval(() => {
        const pid = readPid(pidFile);
        if (pid !== undefined && !announced) {
          announced = true;
          opts.onStart?.(pid, rt.name);
        }
      }, 20)
    : undefined;
  // Signals to berth go on to the runtime, which passes them to the container (docker's
  // sig-proxy); meanwhile berth itself stays alive to unmount and record the exit.
  const forward = (sig: NodeJS.Signals) => {
    child.kill(sig);
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.on("error", reject);
      child.on("close", (c, s) => resolve({ code: c, signal: s }));
    },
  );
  for (const sig of FORWARDED) process.off(sig, forward);
  if (watcher) clearInterval(watcher);
  await Promise.all(outputs);
  if (opts.stdin && opts.stdin !== "inherit") opts.stdin.unpipe();
  const pid = readPid(pidFile);
  if (pid === undefined) return { started: false, error: lastLogMessage(logFile) || `exited with ${code}` };
  if (!announced) opts.onStart?.(pid, rt.name);
  const exitCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
  return { started: true, exitCode };
}

/** Runs the runtime, then writes its exit status to $BERTH_EXIT_FILE (atomically) and exits with it. */
const RECORD_EXIT =
  '"$@"; code=$?; echo "$code" > "$BERTH_EXIT_FILE.tmp" && mv -f "$BERTH_EXIT_FILE.tmp" "$BERTH_EXIT_FILE"; exit "$code"';

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, "'\\''")}'`;
}

function mode(s: StdioSpec | undefined): "pipe" | "inherit" | "ignore" {
  return s === "inherit" ? "inherit" : s ? "pipe" : "ignore";
}

function readPid(file: string): number | undefined {
  const text = readOr(file).trim();
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

/** The runtime's last error, from its log (runc writes logfmt or JSON, crun plain lines). */
function lastLogMessage(file: string): string {
  const lines = readOr(file).split("\n").filter(Boolean);
  const last = lines[lines.length - 1] ?? "";
  try {
    const parsed = JSON.parse(last) as { msg?: string };
    if (parsed.msg) return parsed.msg;
  } catch {
    // not JSON
  }
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  return m?.[1] ? m[1].replace(/\\"/g, '"') : last.trim();
}

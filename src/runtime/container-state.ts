import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import { BerthError } from "../oci/errors.js";
import { z } from "../oci/zod.js";
import type { LocalStore } from "../store/local-store.js";
import { type ContainerRecord, getContainer, updateContainer } from "./containers.js";
import { findRuntimes, hostFacts, type Runtime } from "./oci-runtime.js";
import { isAlive } from "./process-identity.js";
import { containerDirOf, openRootfs, releaseRootfs } from "./rootfs.js";
import { defaultStateRoot, exitStatusFile } from "./run.js";

/**
 * What a container is doing, with no daemon to ask. The row says "running" while its holder
 * (the foreground `berth run`, or the detached supervisor) waits for it; the holder writes the
 * exit code. When the holder is gone (kill -9, a reboot) the row is corrected here: the OCI
 * runtime's own state says whether the container still runs (its output then goes nowhere,
 * but stop, kill and rm still work); if not, it ended unseen: it is recorded as exited with
 * the status the shell between holder and runtime kept (exit-status), else docker's 255 and
 * a State.Error saying so.
 */

const LOST_EXIT_CODE = 255;

/** The runtime a container was started with (or would be), for state, kill and delete. */
function runtimeOf(c: ContainerRecord): { rt: Runtime; root: string } | null {
  let rts: Runtime[];
  try {
    rts = findRuntimes(hostFacts(), c.spec.runtime ?? (c.spec.options.runtime as string | undefined)).candidates;
  } catch {
    return null;
  }
  const rt = rts[0];
  return rt ? { rt, root: join(c.spec.stateRoot ?? defaultStateRoot(), rt.name) } : null;
}

const runtimeStateSchema = z.looseObject({ status: z.string(), pid: z.number().optional() });

/** The OCI runtime's view: "running", "stopped", "paused", "created", or null when it has none. */
function runtimeStatus(c: ContainerRecord): string | null {
  const r = runtimeOf(c);
  if (!r) return null;
  const out = spawnSync(r.rt.path, ["--root", r.root, "state", c.id], { encoding: "utf8" });
  if (out.status !== 0) return null;
  try {
    const parsed = runtimeStateSchema.safeParse(JSON.parse(out.stdout));
    return parsed.success ? parsed.data.status : null;
  } catch {
    return null;
  }
}

/** The container as it is now: a running row whose holder died is corrected (see above). */
export function refreshContainer(store: LocalStore, c: ContainerRecord): ContainerRecord {
  if (c.state !== "running" || (c.spec.holder && isAlive(c.spec.holder))) return c;
  const status = runtimeStatus(c);
  if (status === "running" || status === "paused") return c;
  // Ended with nobody watching: clear the runtime's leftovers and the mount, then record it,
  // unless its holder wrote the real end meanwhile.
  deleteFromRuntime(c);
  releaseRootfs(openRootfs(containerDirOf(store, c.id), c.spec.driver));
  const now = getContainer(store, c.id);
  if (now?.state !== "running" || now.spec.holder?.start !== c.spec.holder?.start) return now ?? c;
  // the shell between the holder and the runtime may have outlived the holder and kept the code
  const kept = keptExitStatus(containerDirOf(store, c.id), now.spec.startedMs ?? now.createdMs);
  const spec = {
    ...now.spec,
    exitCode: kept?.code ?? LOST_EXIT_CODE,
    finishedMs: kept?.atMs ?? Date.now(),
    pid: undefined,
    holder: undefined,
    error: kept
      ? undefined
      : "berth's process that held this container ended before it did (killed?): its exit code is unknown",
  };
  updateContainer(store, c.id, { state: "exited", spec });
  return { ...now, state: "exited", spec };
}

/** The exit status file of this run (not an older one), with when it was written. */
function keptExitStatus(dir: string, sinceMs: number): { code: number; atMs: number } | null {
  try {
    const file = exitStatusFile(dir);
    const st = fs.statSync(file);
    const text = fs.readFileSync(file, "utf8").trim();
    if (st.mtimeMs + 1000 < sinceMs || !/^\d+$/.test(text)) return null;
    return { code: Number(text), atMs: st.mtimeMs };
  } catch {
    return null;
  }
}

/** docker's signal names: "KILL", "SIGKILL" or "9"; an unknown one is docker's error. */
export function parseSignal(raw: string): string {
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n >= 1 && n <= 64) return String(n);
  } else {
    const name = `SIG${raw.toUpperCase().replace(/^SIG/, "")}`;
    if (name in osConstants.signals || /^SIGRTM(IN|AX)([+-]\d+)?$/.test(name)) return name;
  }
  throw new BerthError("USAGE", `Invalid signal: ${raw}`);
}

/** Sends a signal to the container's main process through its runtime. */
export function signalContainer(c: ContainerRecord, signal: string): void {
  const r = runtimeOf(c);
  if (!r) throw new BerthError("UNSUPPORTED", `no OCI runtime to signal container ${c.name} with: install runc`);
  const out = spawnSync(r.rt.path, ["--root", r.root, "kill", c.id, signal], { encoding: "utf8" });
  if (out.status !== 0 && runtimeStatus(c) === "running") {
    throw new BerthError("STORE", `Cannot kill container: ${c.name}: ${out.stderr.trim().split("\n").pop()}`);
  }
}

/** Forces the runtime to forget the container, killing what is left of it. */
export function deleteFromRuntime(c: ContainerRecord): void {
  const r = runtimeOf(c);
  if (r) spawnSync(r.rt.path, ["--root", r.root, "delete", "--force", c.id], { stdio: "ignore" });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits up to `ms` (forever when negative) for the container to stop running; says whether it did. */
export async function waitStopped(store: LocalStore, id: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = getContainer(store, id);
    if (!c || refreshContainer(store, c).state !== "running") return true;
    if (ms >= 0 && Date.now() >= deadline) return false;
    await sleep(50);
  }
}

/**
 * `docker stop`: the image's StopSignal (default SIGTERM), `timeout` seconds to end, then
 * SIGKILL. A container that is not running is left as it is.
 */
export async function stopContainer(
  store: LocalStore,
  c: ContainerRecord,
  opts: { timeout?: number; signal?: string } = {},
): Promise<void> {
  if (refreshContainer(store, c).state !== "running") return;
  const configured = c.spec.config?.StopSignal;
  const signal = parseSignal(opts.signal ?? (typeof configured === "string" ? configured : "SIGTERM"));
  const timeout = opts.timeout ?? 10;
  signalContainer(c, signal);
  if (await waitStopped(store, c.id, timeout < 0 ? -1 : timeout * 1000)) return;
  signalContainer(c, "SIGKILL");
  if (await waitStopped(store, c.id, 10_000)) return;
  throw new BerthError(
    "STORE",
    `container ${c.name} did not stop after SIGKILL: its processes may be stuck in the kernel`,
  );
}

/** Freezes a running container (its cgroup); says whether it worked (no freezer: false). */
export function pauseContainer(c: ContainerRecord): boolean {
  const r = runtimeOf(c);
  return r ? spawnSync(r.rt.path, ["--root", r.root, "pause", c.id], { stdio: "ignore" }).status === 0 : false;
}

export function resumeContainer(c: ContainerRecord): void {
  const r = runtimeOf(c);
  if (r) spawnSync(r.rt.path, ["--root", r.root, "resume", c.id], { stdio: "ignore" });
}

import { BerthError } from "../oci/errors.js";
import {
  parseSignal,
  refreshContainer,
  signalContainer,
  stopContainer,
  waitStopped,
} from "../runtime/container-state.js";
import { type ContainerRecord, getContainer } from "../runtime/containers.js";
import { type LogEntry, logPathOf, readLog } from "../runtime/json-log.js";
import { findContainer } from "../runtime/remove.js";
import { containerDirOf } from "../runtime/rootfs.js";
import { type LaunchOptions, type LaunchResult, launchContainer } from "../runtime/run.js";
import { type DetachOptions, type SupervisorReport, startDetached } from "../runtime/supervisor.js";
import type { LocalStore } from "../store/local-store.js";

/**
 * The lifecycle verbs after `create`: start (detached, under a supervisor), stop, kill and
 * logs, each on a container named by ID, ID prefix or name.
 */

export { findContainer };

/** `docker start`: runs it in the background; a running container is left alone. */
export async function startContainer(
  store: LocalStore,
  container: ContainerRecord,
  opts: DetachOptions,
): Promise<SupervisorReport> {
  // read again: the record the caller found may be from before a stop (restart)
  const c = refreshContainer(store, getContainer(store, container.id) ?? container);
  if (c.state === "running") return { started: true, pid: c.spec.pid ?? 0 };
  return startDetached(store, c.id, { ...opts, autoRemove: opts.autoRemove ?? c.spec.options.rm === true });
}

/**
 * `docker start -i`: runs the container in this process, its stdin this process's, and
 * resolves with how it ended (the stdin it needs cannot be handed to a supervisor).
 */
export async function startAttached(
  store: LocalStore,
  container: ContainerRecord,
  io: Pick<LaunchOptions, "stdin" | "stdout" | "stderr">,
): Promise<LaunchResult> {
  const c = refreshContainer(store, container);
  if (c.state === "running") {
    throw new BerthError("CONFLICT", `container ${c.name} is already running: berth cannot attach to its input`);
  }
  return launchContainer(store, c.id, { ...io, log: true });
}

/** `docker stop` (see container-state.ts). */
export async function stop(
  store: LocalStore,
  container: ContainerRecord,
  opts: { timeout?: number; signal?: string } = {},
): Promise<void> {
  await stopContainer(store, container, opts);
}

/** `docker kill`: a signal (default SIGKILL) to a running container. */
export function kill(store: LocalStore, container: ContainerRecord, signal = "KILL"): void {
  const sig = parseSignal(signal);
  // read again: the caller's record may be from before it started (start -a's signal proxy)
  const c = refreshContainer(store, getContainer(store, container.id) ?? container);
  if (c.state !== "running") {
    throw new BerthError("CONFLICT", `Cannot kill container: ${container.name}: Container ${c.id} is not running`);
  }
  signalContainer(c, sig);
}

export interface LogsOptions {
  follow?: boolean;
  tail?: number;
  sinceNs?: bigint;
  untilNs?: bigint;
}

/** `docker logs`: the container's output, then with follow what it writes until it stops. */
export function logs(store: LocalStore, container: ContainerRecord, opts: LogsOptions = {}): AsyncGenerator<LogEntry> {
  return readLog(logPathOf(containerDirOf(store, container.id), container.id), {
    ...opts,
    running: () => {
      const now = getContainer(store, container.id);
      return now !== undefined && refreshContainer(store, now).state === "running";
    },
  });
}

/** `docker wait`: resolves with the exit code once the container is not running. */
export async function wait(store: LocalStore, container: ContainerRecord): Promise<number> {
  await waitStopped(store, container.id, -1);
  return getContainer(store, container.id)?.spec.exitCode ?? 0;
}

/** `docker rename`: a new name, free and valid, in one transaction. */
export function rename(store: LocalStore, container: ContainerRecord, name: string): void {
  if (!/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new BerthError("USAGE", `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  const wanted = name.replace(/^\//, "");
  store.update(() => {
    const holder = store.db.prepare("SELECT id FROM containers WHERE name = ?").pluck().get(wanted) as
      | string
      | undefined;
    if (holder && holder !== container.id) {
      throw new BerthError(
        "CONFLICT",
        `Conflict. The container name "/${wanted}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    store.db.prepare("UPDATE containers SET name = ? WHERE id = ?").run(wanted, container.id);
  });
}

import cluster, { type Worker } from "node:cluster";
import { z } from "../oci/zod.js";

/**
 * `berth serve --workers N`: N server processes on one port (node:cluster; the primary accepts
 * and hands connections round-robin), so requests use every core: a process runs its handlers,
 * upload hashing and disk writes on one JS thread.
 *
 * What keeps several processes correct: blobs appear by rename inside SQLite write
 * transactions and SQLite's lock is shared between processes (as with `berth registry gc`);
 * an upload session is written by one request at a time through its row's lock (uploads.ts).
 * What stays per process: the small-blob cache (content-addressed, so never stale) and, with
 * `--auth token`, the password-failure counters and verified-token cache (so N processes let
 * N times ten wrong passwords through per minute). One process is the default: with sendfile,
 * two measured no faster than one on 2 cores (bench/RESULTS.md); more cores may differ.
 *
 * The primary serves nothing. SIGTERM/SIGINT to it: each worker gets a shutdown message and
 * finishes its requests in flight within the grace; the primary exits when all have. If the
 * primary dies (kill -9), the workers' IPC channel closes and they exit at once, as a crash of
 * a single server would: their uploads stay resumable.
 */

const shutdownMessage = z.object({ type: z.literal("berth-serve-shutdown") });

export const isServeWorker = (): boolean => cluster.isWorker;

export interface PrimaryOptions {
  readonly workers: number;
  /** One line for the operator (stderr). */
  readonly notice: (line: string) => void;
}

export interface RunningPrimary {
  /** `host:port` the workers listen on (the real port when 0 was asked). */
  readonly address: string;
  /** The workers' pids, once all listen. */
  readonly pids: readonly number[];
  /** Asks every worker to finish (each applies its own --shutdown-timeout) and waits for all to exit. */
  stop(): Promise<void>;
}

/**
 * Forks the workers (each runs the same command line, and `isServeWorker()` is true there) and
 * resolves when all listen. A worker that exits before listening fails the start (a taken port,
 * a bad root); one that dies later is replaced.
 */
export async function startPrimary(options: PrimaryOptions): Promise<RunningPrimary> {
  const live = new Set<Worker>();
  let stopping = false;
  const fork = (): Worker => {
    const w = cluster.fork();
    live.add(w);
    return w;
  };
  const starting = Array.from({ length: options.workers }, () => fork());
  let address = "";
  await Promise.all(
    starting.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          const early = (code: number | null) => reject(new Error(`a worker exited with ${code} before listening`));
          w.once("exit", early);
          w.once("listening", (a) => {
            const host = a.addressType === 6 ? `[${a.address}]` : a.address;
            address = `${host}:${a.port}`;
            w.off("exit", early);
            resolve();
          });
        }),
    ),
  ).catch((err: unknown) => {
    for (const w of live) w.process.kill("SIGKILL");
    throw err;
  });
  cluster.on("exit", (w, code, signal) => {
    live.delete(w);
    if (stopping) return;
    options.notice(`worker ${w.process.pid} exited (${signal ?? code}); starting another`);
    fork();
  });
  return {
    address,
    pids: starting.map((w) => w.process.pid ?? 0),
    stop: async () => {
      stopping = true;
      const exits = [...live].map((w) => new Promise<void>((resolve) => w.once("exit", () => resolve())));
      for (const w of live) if (w.isConnected()) w.send({ type: "berth-serve-shutdown" });
      await Promise.all(exits);
    },
  };
}

/**
 * In a worker: resolves when the primary asks for a graceful stop. When the primary is gone
 * instead (its IPC channel closed without that message), exits at once: a worker must not go
 * on serving with no one to stop it.
 */
export function workerStopRequested(): Promise<void> {
  return new Promise((resolve) => {
    let asked = false;
    process.on("message", (m: unknown) => {
      if (shutdownMessage.safeParse(m).success) {
        asked = true;
        resolve();
      }
    });
    process.once("disconnect", () => {
      if (!asked) process.exit(1);
    });
  });
}

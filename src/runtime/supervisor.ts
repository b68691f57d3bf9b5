import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { BerthError } from "../oci/errors.js";
import { z } from "../oci/zod.js";
import type { LocalStore } from "../store/local-store.js";
import { deleteContainer, getContainer } from "./containers.js";
import { containerDirOf, removeContainerFiles } from "./rootfs.js";
import { claimContainer, launchContainer } from "./run.js";

/**
 * Detached containers without a daemon, as podman does with conmon: `start` re-invokes berth
 * as a hidden command (`__supervise ID`) in a session of its own (setsid), and returns once
 * that supervisor says the container runs. The supervisor runs the bundle in the foreground,
 * writes the container's stdout and stderr to its json-file log, and records the exit code
 * when it ends (then removes the container if it was run with --rm). If the supervisor is
 * killed, container-state.ts notices and asks the runtime instead.
 *
 *   ROOT/containers/<id>/<id>-json.log   the container's output
 *   ROOT/containers/<id>/supervisor.log  the supervisor's own errors
 */

export interface DetachOptions {
  /**
   * How to run berth again: [node, path/to/bin/berth]. The CLI passes its own; the library
   * cannot know where its executable is.
   */
  berth: readonly string[];
  /** Remove the container when it ends (run -d --rm). */
  autoRemove?: boolean;
}

/** The one line the supervisor sends back on fd 3. */
const reportSchema = z.union([
  z.object({ started: z.literal(true), pid: z.number() }),
  z.object({ started: z.literal(false), exitCode: z.number(), message: z.string() }),
]);
export type SupervisorReport = z.infer<typeof reportSchema>;

/** Starts a container in the background; resolves once it runs, or with why it could not. */
export async function startDetached(store: LocalStore, id: string, opts: DetachOptions): Promise<SupervisorReport> {
  // held from here until the supervisor takes over, so prune and rm wait for the start
  claimContainer(store, id);
  const dir = containerDirOf(store, id);
  const errLog = join(dir, "supervisor.log");
  const errFd = fs.openSync(errLog, "w", 0o640);
  const [command, ...prefix] = opts.berth;
  if (!command) throw new BerthError("USAGE", "startDetached needs the command that runs berth");
  const args = [...prefix, "--root", resolve(store.root), "__supervise", id, ...(opts.autoRemove ? ["--rm"] : [])];
  // The report comes on fd 3, not stdout: once this process is gone (even killed) a late
  // write there fails quietly in the supervisor instead of ending it.
  const child = spawn(command, args, { detached: true, stdio: ["ignore", "ignore", errFd, "pipe"] });
  fs.closeSync(errFd);
  const channel = child.stdio[3] as Readable | null;
  let text = "";
  const line = await new Promise<string>((done) => {
    channel?.on("data", (d: Buffer) => {
      text += d.toString();
      if (text.includes("\n")) done(text.slice(0, text.indexOf("\n")));
    });
    child.on("close", () => done(text));
    child.on("error", (err) => done(JSON.stringify({ started: false, exitCode: 125, message: err.message })));
  });
  channel?.destroy();
  child.unref();
  try {
    return reportSchema.parse(JSON.parse(line));
  } catch {
    const why = fs.readFileSync(errLog, "utf8").trim().split("\n").pop() || "it exited without a word";
    throw new BerthError("STORE", `berth's supervisor for container ${id.slice(0, 12)} failed: ${why}`);
  }
}

/**
 * The supervisor's work: run the container, logging its output, until it ends. `report` gets
 * the one line `startDetached` waits for.
 */
export async function superviseContainer(
  store: LocalStore,
  id: string,
  report: (r: SupervisorReport) => void,
  opts: { autoRemove?: boolean } = {},
): Promise<void> {
  const dir = containerDirOf(store, id);
  let reported = false;
  // removed at the end only if it ran here: a supervisor that lost the race to start it
  // (another holder) must leave it alone
  let ran = false;
  try {
    const result = await launchContainer(store, id, {
      stdin: null,
      log: true,
      keepExitStatus: true,
      onStart: (pid) => {
        reported = true;
        report({ started: true, pid });
      },
    });
    ran = true;
    if (!reported) report({ started: false, exitCode: result.exitCode, message: result.message ?? "" });
  } catch (err) {
    if (!reported) report({ started: false, exitCode: 125, message: err instanceof Error ? err.message : String(err) });
    else throw err;
  } finally {
    if (opts.autoRemove && (ran || reported) && getContainer(store, id)) {
      removeContainerFiles(dir);
      deleteContainer(store, id);
    }
  }
}

/** The supervisor's side of the report channel (fd 3); a reader that went away is no error. */
export function reportOnFd3(r: SupervisorReport): void {
  try {
    fs.writeSync(3, `${JSON.stringify(r)}\n`);
    fs.closeSync(3);
  } catch {
    // the starting berth was killed: the container runs on regardless
  }
}

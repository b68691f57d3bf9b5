import * as fs from "node:fs";
import type { ProcessIdentity } from "./containers.js";

/**
 * Who holds a container: a pid and that process's start time. A pid alone is not enough once
 * the holder died: the kernel hands the number to a later process, and a container would look
 * held for ever.
 */

/** This process (or `pid`) as it can be recognised later; null when it does not exist. */
export function identify(pid: number = process.pid): ProcessIdentity | null {
  const start = startTime(pid);
  return start === null ? null : { pid, start };
}

/** Whether the process is still the one that was identified. */
export function isAlive(who: ProcessIdentity): boolean {
  return startTime(who.pid) === who.start;
}

/** Field 22 of /proc/PID/stat (clock ticks since boot); the command name may hold spaces or ")". */
function startTime(pid: number): string | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); a zombie has exited already
  if (fields[0] === "Z") return null;
  return fields[19] ?? null;
}

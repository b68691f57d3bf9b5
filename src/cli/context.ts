import type { Readable, Writable } from "node:stream";
import type { LocalStore } from "../store/local-store.js";

/** What a command needs from the outside world, read once at the edge and passed down. */
export interface CliContext {
  env: Readonly<Record<string, string | undefined>>;
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number; rows?: number };
  /** The store root chosen by --root, BERTH_ROOT or the default. */
  root(): string;
  /** Opens the store (once) for commands that need it. */
  store(): LocalStore;
  /** Sets the process exit code without exiting. */
  setExitCode(code: number): void;
}

export function write(out: Writable, text: string): void {
  out.write(text);
}

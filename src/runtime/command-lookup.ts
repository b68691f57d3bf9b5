import * as fs from "node:fs";
import { join, posix } from "node:path";
import { lstatOrNull, resolveInRoot } from "./scoped-path.js";

/**
 * Finds the program a container is about to run, in its root file system, before the runtime
 * starts: this is how berth tells "not found" (127) from "cannot be invoked" (126) without
 * reading the runtime's error text. The rules are Go's exec.LookPath, which runc applies
 * inside the container: a name without `/` is searched on PATH and only executable regular
 * files count; a path is taken as it is. A script's `#!` interpreter must exist too.
 */

export type Lookup = { ok: true; path: string } | { ok: false; exitCode: 126 | 127; message: string };

export interface LookupOptions {
  /** The container's PATH. */
  path: string;
  cwd: string;
  uid: number;
  gid: number;
  additionalGids?: readonly number[];
}

export function lookupCommand(rootfs: string, name: string, opts: LookupOptions): Lookup {
  if (!name.includes("/")) {
    for (const dir of opts.path.split(":")) {
      const candidate = posix.join(dir || ".", name);
      const found = inspect(rootfs, posix.resolve(opts.cwd, candidate), opts);
      if (found.kind === "ok") return checkInterpreter(rootfs, name, found.path, opts);
    }
    return { ok: false, exitCode: 127, message: `exec: "${name}": executable file not found in $PATH` };
  }
  const abs = posix.resolve(opts.cwd, name);
  const found = inspect(rootfs, abs, opts);
  if (found.kind === "missing") {
    return { ok: false, exitCode: 127, message: `exec: "${name}": stat ${name}: no such file or directory` };
  }
  if (found.kind === "denied") return { ok: false, exitCode: 126, message: `exec: "${name}": permission denied` };
  return checkInterpreter(rootfs, name, found.path, opts);
}

type Found = { kind: "ok"; path: string } | { kind: "missing" } | { kind: "denied" };

function inspect(rootfs: string, abs: string, opts: LookupOptions): Found {
  let rel: string;
  try {
    rel = resolveInRoot(rootfs, abs, { followFinal: true });
  } catch {
    return { kind: "missing" };
  }
  const st = lstatOrNull(join(rootfs, rel));
  if (!st) return { kind: "missing" };
  if (!st.isFile() || !executable(st, opts)) return { kind: "denied" };
  return { kind: "ok", path: `/${rel}` };
}

function executable(st: fs.Stats, opts: LookupOptions): boolean {
  if (opts.uid === 0) return (st.mode & 0o111) !== 0;
  if (st.uid === opts.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === opts.gid || opts.additionalGids?.includes(st.gid)) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/** A `#!` script whose interpreter is missing fails to exec with ENOENT: docker says 127. */
function checkInterpreter(rootfs: string, name: string, path: string, opts: LookupOptions): Lookup {
  let head = "";
  try {
    const fd = fs.openSync(join(rootfs, path), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      const buf = Buffer.alloc(256);
      head = buf.subarray(0, fs.readSync(fd, buf, 0, 256, 0)).toString("latin1");
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return { ok: true, path }; // unreadable to us: let the runtime try
  }
  if (!head.startsWith("#!")) return { ok: true, path };
  const interpreter = head.slice(2).split("\n")[0]?.trim().split(/\s+/)[0] ?? "";
  if (!interpreter.startsWith("/")) return { ok: true, path };
  const found = inspect(rootfs, interpreter, { ...opts, uid: 0 });
  if (found.kind === "missing") {
    return { ok: false, exitCode: 127, message: `exec: "${name}": ${interpreter}: no such file or directory` };
  }
  return { ok: true, path };
}

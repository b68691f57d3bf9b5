import * as fs from "node:fs";
import { join } from "node:path";
import { BerthError } from "../oci/errors.js";

/**
 * Paths inside a root file system, resolved the way the container will see them: as if the
 * root were `/` (chroot semantics). A symlink met on the way is followed *inside* the root,
 * an absolute target restarts at the root and `..` never climbs above it, so no name taken
 * from an image can reach a file outside the root (the same guarantee as Go's securejoin,
 * which docker and runc use).
 */

/** Linux gives up after 40 symlinks in one lookup (ELOOP); so do we. */
const MAX_LINKS = 40;

/**
 * Normalises a tar entry name to a path relative to the root ("" for the root itself).
 * A leading `/` or `./` is dropped, as GNU tar does; a name whose `..` components climb
 * above the root is refused, as docker refuses it ("invalid path").
 */
export function cleanEntryPath(name: string): string {
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) throw new BerthError("INVALID_ARCHIVE", `layer entry "${clip(name)}" escapes the root`);
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join("/");
}

export interface ResolveOptions {
  /** Follow a symlink in the last component too (false: the path names the link itself). */
  followFinal: boolean;
  /** Create missing directories on the way (mode 0755), as tar does for missing parents. */
  create?: boolean;
}

/**
 * Resolves `rel` under `root` with symlinks followed inside the root. Returns the resolved
 * path relative to the root ("" is the root). Components that do not exist are kept as they
 * are (or created, with `create`); a non-directory in the middle of the path is an error.
 */
export function resolveInRoot(root: string, rel: string, opts: ResolveOptions): string {
  const pending = rel.split("/");
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const last = !pending.some((p) => p !== "" && p !== ".");
    if (last && !opts.followFinal) {
      resolved.push(part);
      break;
    }
    const host = join(root, ...resolved, part);
    const st = lstatOrNull(host);
    if (st?.isSymbolicLink()) {
      if (++links > MAX_LINKS) {
        throw new BerthError("INVALID_ARCHIVE", `too many levels of symbolic links resolving "${clip(rel)}"`);
      }
      const target = fs.readlinkSync(host);
      if (target.startsWith("/")) resolved.length = 0;
      pending.unshift(...target.split("/"));
      continue;
    }
    if (!last || opts.create) {
      if (!st) {
        if (!opts.create) {
          // Nothing below a missing directory exists either: keep the rest as it is.
          resolved.push(part, ...pending.filter((p) => p !== "" && p !== "."));
          break;
        }
        fs.mkdirSync(host, { mode: 0o755 });
      } else if (!st.isDirectory()) {
        throw new BerthError("INVALID_ARCHIVE", `"${clip(rel)}": /${[...resolved, part].join("/")} is not a directory`);
      }
    }
    resolved.push(part);
  }
  return resolved.join("/");
}

export function lstatOrNull(path: string): fs.Stats | null {
  try {
    return fs.lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw err;
  }
}

function clip(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

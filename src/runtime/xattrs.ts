import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import { delimiter, join } from "node:path";
import { extract } from "tar-stream";
import { BerthError } from "../oci/errors.js";
import { cleanEntryPath } from "./scoped-path.js";

/**
 * Extended attributes. Node has no xattr calls, so this borrows two programs:
 *
 * - reading uses GNU tar (Essential in Debian, so always there): `--xattrs --no-recursion`
 *   over a list of directories reads their attributes without reading any file's content.
 *   Only directories are read this way; that is where overlayfs keeps the opaque marker.
 * - writing uses `setfattr` from Debian's `attr` package when it is installed; without it,
 *   attributes are skipped and the caller is told.
 *
 * Values travel as text: tar-stream decodes PAX records as UTF-8, so a binary value (such as
 * security.capability) cannot survive the trip and is skipped rather than written corrupted.
 */

export type XattrMap = Record<string, string>;

/** The attributes of each of `dirs` (paths relative to `root`; "" is the root). */
export async function readDirXattrs(root: string, dirs: readonly string[]): Promise<Map<string, XattrMap>> {
  const out = new Map<string, XattrMap>();
  if (dirs.length === 0) return out;
  const child = spawn(
    "tar",
    ["--xattrs", "--xattrs-include=*", "--no-recursion", "--null", "-C", root, "-cf", "-", "-T", "-"],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin.end(dirs.map((d) => `./${d}\0`).join(""));
  const parser = extract();
  const parsed = (async () => {
    for await (const entry of parser) {
      const pax = (entry.header as { pax?: Record<string, string> | null }).pax;
      if (pax) {
        const attrs: XattrMap = {};
        for (const [k, v] of Object.entries(pax)) {
          if (k.startsWith("SCHILY.xattr.")) attrs[k.slice("SCHILY.xattr.".length)] = v;
        }
        if (Object.keys(attrs).length > 0) out.set(cleanEntryPath(entry.header.name), attrs);
      }
      entry.resume();
    }
  })();
  child.stdout.pipe(parser);
  const code = await new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c) => resolve(c ?? 1));
  });
  await parsed;
  if (code !== 0) {
    throw new BerthError("STORE", `reading extended attributes under ${root} with tar failed: ${stderr.trim()}`);
  }
  return out;
}

/** Finds `setfattr` on PATH, or null. */
export function findSetfattr(path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, "setfattr");
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Sets one attribute on `path` itself (a symlink is not followed). */
export function setXattr(setfattr: string, path: string, name: string, value: string): void {
  execFileSync(setfattr, ["-h", "-n", name, "-v", `0s${Buffer.from(value).toString("base64")}`, "--", path], {
    stdio: ["ignore", "ignore", "pipe"],
  });
}

/** True when a PAX-decoded value lost bytes to UTF-8 decoding (it was binary). */
export function isMangled(value: string): boolean {
  return value.includes("\uFFFD");
}

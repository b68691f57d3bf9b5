import { spawn } from "node:child_process";
import { Duplex, PassThrough } from "node:stream";
import { createGunzip } from "node:zlib";
import { BerthError } from "../oci/errors.js";
import type { Compression } from "../oci/media-types.js";

/**
 * zstd as a stream, through the `zstd` program (Debian's package, installed by setup). Node 20's
 * zlib has no zstd (it comes in 22.15), and the napi binding must be compiled from source here
 * (its prebuilt download is unreachable), which costs every fresh install a native build for
 * a codec berth only meets in some pulled images. The program streams at the same speed.
 */
function zstdProcess(args: readonly string[], what: string): Duplex {
  const child = spawn("zstd", ["-q", "-c", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  // the output ends only once zstd has exited well, so a reader never takes the output of
  // bad data for a whole (shorter) stream
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  child.stdout.pipe(out, { end: false });
  const duplex = Duplex.from({ writable: child.stdin, readable: out });
  child.on("error", (err: NodeJS.ErrnoException) => {
    duplex.destroy(
      err.code === "ENOENT"
        ? new BerthError("UNSUPPORTED", `${what}: the zstd program is missing (apt-get install zstd)`)
        : err,
    );
  });
  child.on("close", (code) => {
    if (code === 0) out.end();
    else {
      duplex.destroy(
        new BerthError(
          "INVALID_ARCHIVE",
          `${what}: bad zstd data (${stderr.trim().split("\n").pop() || `exit ${code}`})`,
        ),
      );
    }
  });
  // a reader that gives up (a bad digest upstream) must not leave the process behind
  duplex.on("close", () => {
    if (child.exitCode === null) child.kill();
  });
  return duplex;
}

export function zstdDecompress(what: string): Duplex {
  return zstdProcess(["-d"], what);
}

/** Level 3 (zstd's default) on all cores: what BuildKit and containerd write. */
export function zstdCompress(what: string): Duplex {
  return zstdProcess(["-3", "-T0"], what);
}

/** The stream that undoes a layer's compression, or undefined for a plain tar. */
export function inflater(compression: Compression, what: string): Duplex | undefined {
  if (compression === "gzip") return createGunzip();
  if (compression === "zstd") return zstdDecompress(what);
  return undefined;
}

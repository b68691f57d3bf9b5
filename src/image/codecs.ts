import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { delimiter, join } from "node:path";
import { Duplex, PassThrough } from "node:stream";
import { createGunzip } from "node:zlib";
import { BerthError } from "../oci/errors.js";
import type { Compression } from "../oci/media-types.js";

/** An executable named `name` on `path` (PATH's syntax), or null. */
export function findProgram(name: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * A codec program (`zstd`, `igzip`) as a duplex stream: bytes written go to its stdin, its
 * stdout comes out. The output ends only once the program has exited well, so a reader never
 * takes the output of bad data for a whole (shorter) stream.
 */
function programStream(program: string, args: readonly string[], what: string, codec: string, pkg: string): Duplex {
  const child = spawn(program, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  child.stdout.pipe(out, { end: false });
  const duplex = Duplex.from({ writable: child.stdin, readable: out });
  child.on("error", (err: NodeJS.ErrnoException) => {
    duplex.destroy(
      err.code === "ENOENT"
        ? new BerthError("UNSUPPORTED", `${what}: the ${program} program is missing (apt-get install ${pkg})`)
        : err,
    );
  });
  child.on("close", (code) => {
    if (code === 0) out.end();
    else {
      const detail = stderr.trim().split("\n").pop() || `exit ${code}`;
      duplex.destroy(new BerthError("INVALID_ARCHIVE", `${what}: bad ${codec} data (${detail})`));
    }
  });
  // a reader that gives up (a bad digest upstream) must not leave the process behind
  duplex.on("close", () => {
    if (child.exitCode === null) child.kill();
  });
  return duplex;
}

/*
 * zstd goes through the `zstd` program (Debian's package, installed by setup). Node 20's zlib
 * has no zstd (it comes in 22.15), and the napi binding must be compiled from source here
 * (its prebuilt download is unreachable), which costs every fresh install a native build for
 * a codec berth only meets in some pulled images. The program streams at the same speed.
 */
export function zstdDecompress(what: string): Duplex {
  return programStream("zstd", ["-q", "-c", "-d"], what, "zstd", "zstd");
}

/** Level 3 (zstd's default) on all cores: what BuildKit and containerd write. */
export function zstdCompress(what: string): Duplex {
  return programStream("zstd", ["-q", "-c", "-3", "-T0"], what, "zstd", "zstd");
}

/**
 * Below this many compressed bytes a program's start (a few ms) costs more than its speed
 * saves: zlib inflates it in process.
 */
const PROGRAM_WORTH = 1 << 20;

let igzipPath: string | null | undefined;

/**
 * `igzip` (Intel's ISA-L, Debian's `isal`), when installed and not refused by
 * `BERTH_GUNZIP=zlib`. Why a program: a pull checks every layer's diffID, which means
 * inflating it, and that inflation is the pull's floor. igzip inflates a 277 MB gzip'd layer
 * in 1.0 s here against zlib's 2.1 s (node's createGunzip, one thread, no faster way in
 * process), and it runs on the other core while node hashes and writes.
 */
export function igzip(): string | null {
  if (process.env.BERTH_GUNZIP === "zlib") return null;
  if (igzipPath === undefined) igzipPath = findProgram("igzip");
  return igzipPath;
}

/**
 * gunzip as a stream: igzip for anything large (or of unknown size) when it is there, zlib
 * otherwise. Both read multi-member files as one stream. Errors are INVALID_ARCHIVE, or
 * zlib's own error for the caller to word.
 */
export function gunzip(what: string, compressedSize?: number): Duplex {
  const program = igzip();
  if (program && (compressedSize === undefined || compressedSize >= PROGRAM_WORTH)) {
    return programStream(program, ["-d", "-c", "-q"], what, "gzip", "isal");
  }
  return createGunzip({ chunkSize: 64 << 10 });
}

/** gzip through igzip at `level` (0–3) as a stream: one member for all that is written. */
export function igzipCompress(program: string, level: number, what: string): Duplex {
  return programStream(program, [`-${level}`, "-c", "-n", "-q"], what, "gzip", "isal");
}

/** The stream that undoes a layer's compression, or undefined for a plain tar. */
export function inflater(compression: Compression, what: string, compressedSize?: number): Duplex | undefined {
  if (compression === "gzip") return gunzip(what, compressedSize);
  if (compression === "zstd") return zstdDecompress(what);
  return undefined;
}

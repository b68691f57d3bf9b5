import { cpus } from "node:os";
import { Transform, type TransformCallback } from "node:stream";
import { promisify } from "node:util";
// a namespace import: zlib.crc32 is node 20.15's, and a named import of it would fail to link before
import * as zlib from "node:zlib";
import type { Compression } from "../oci/media-types.js";
import { igzip, igzipCompress, zstdCompress } from "./codecs.js";

const gzipBlock = promisify(zlib.gzip);

/** zlib's default level: what docker, containerd and BuildKit write. Fixed, so output is deterministic. */
export const GZIP_LEVEL = 6;
/**
 * igzip's highest level. On layers of text it makes files as small as zlib's level 6 (271 MB
 * against 277 MB for 500 MiB of words here) about five times faster (2.9 s against 15.8 s on
 * one core), so a first push is no longer bound by its compression.
 */
const IGZIP_LEVEL = 3;
/** Input per gzip member: large enough that the per-member header and restart cost nothing measurable. */
const BLOCK = 4 << 20;
/** Input per member through igzip: fewer, larger members, so its start (a process) is paid rarely. */
const IGZIP_BLOCK = 32 << 20;
/** What is tried first of each block, to tell data that will not compress. */
const SAMPLE = 128 << 10;

/** A member's input or output: pieces in order, never joined (joining 500 MiB cost ~0.4 s of copying). */
type Pieces = Buffer[];

/** Runs a stream compressor over the pieces and gives back its output pieces. */
function compressPieces(z: NodeJS.ReadWriteStream, input: Pieces): Promise<Pieces> {
  return new Promise((resolve, reject) => {
    const out: Pieces = [];
    z.on("data", (c: Buffer) => out.push(c));
    z.on("error", reject);
    z.on("end", () => resolve(out));
    (async () => {
      for (const piece of input) {
        if (!z.write(piece)) await new Promise((r) => z.once("drain", r));
      }
      z.end();
    })().catch(reject);
  });
}

/** The first `n` bytes of the pieces (a copy only when the first piece is shorter). */
function head(block: Pieces, n: number): Buffer {
  const first = block[0] ?? Buffer.alloc(0);
  if (first.length >= n) return first.subarray(0, n);
  return Buffer.concat(block).subarray(0, n);
}

/**
 * One member: a block whose first 128 KiB do not shrink at level 1 (random, or already
 * compressed, data) is stored (deflate's stored blocks) instead of spending time to gain
 * nothing: zlib takes ~5 s per 200 MiB of random bytes here, stored blocks take next to none (the same trick as
 * klauspost's compressor, which skopeo uses). The choice depends only on the bytes. Other
 * blocks go through igzip when it is installed, else zlib at level 6. zlib runs as a stream on
 * libuv's thread pool, with 1 MiB output pieces.
 */
async function member(block: Pieces, size: number, level: number, program: string | null): Promise<Pieces> {
  let chosen = level;
  if (level > 0 && size >= SAMPLE) {
    const probe = await gzipBlock(head(block, SAMPLE), { level: 1 });
    if (probe.length >= SAMPLE * 0.98) chosen = 0;
  }
  if (program && chosen > 0) return compressPieces(igzipCompress(program, IGZIP_LEVEL, "a layer"), block);
  // zlib.crc32 is node 20.15's; before it, zlib writes the stored blocks
  if (chosen === 0 && typeof zlib.crc32 === "function") return storedMember(block, size, zlib.crc32);
  return compressPieces(zlib.createGzip({ level: chosen, chunkSize: 1 << 20 }), block);
}

/** Deflate's stored blocks hold at most this many bytes (RFC 1951 §3.2.4). */
const STORED_MAX = 65_535;
/** gzip's header with no name, no mtime, and unix as the system (what zlib writes): RFC 1952 §2.3. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0x03]);

/**
 * A gzip member of stored deflate blocks, written here rather than by zlib at level 0: its
 * output is 5-byte block headers between slices of the input, so nothing is copied or
 * allocated per byte (zlib copied 500 MiB into fresh 1 MiB buffers on the thread pool, and
 * the garbage collector then took ~0.3 s of the main thread; this took ~0.2 s less CPU per
 * push). The CRC is zlib's. Same layout as zlib's stored blocks, so every reader takes it.
 */
function storedMember(block: Pieces, size: number, crc32: (data: Uint8Array, value?: number) => number): Pieces {
  const out: Pieces = [GZIP_HEADER];
  let crc = 0;
  let left = size;
  let seg: Buffer[] = [];
  let segLen = 0;
  const emit = () => {
    left -= segLen;
    const h = Buffer.allocUnsafe(5);
    h[0] = left === 0 ? 1 : 0;
    h.writeUInt16LE(segLen, 1);
    h.writeUInt16LE(~segLen & 0xffff, 3);
    out.push(h, ...seg);
    seg = [];
    segLen = 0;
  };
  for (const piece of block) {
    crc = crc32(piece, crc);
    for (let at = 0; at < piece.length; ) {
      const n = Math.min(piece.length - at, STORED_MAX - segLen);
      seg.push(piece.subarray(at, at + n));
      segLen += n;
      at += n;
      if (segLen === STORED_MAX) emit();
    }
  }
  if (segLen > 0 || size === 0) emit();
  const trailer = Buffer.allocUnsafe(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size >>> 0, 4);
  out.push(trailer);
  return out;
}

/**
 * gzip as concatenated members of 4 MiB input each (32 MiB through igzip), compressed as many
 * at a time as there are cores (zlib's on libuv's thread pool, igzip's as processes). One zlib
 * stream runs on one core (~21 MB/s on text here, as slow as docker push); members in parallel
 * use them all, as pigz and skopeo's pgzip do, and every gzip reader (Go's, zlib's, node's)
 * reads a multi-member file as one stream. The bytes depend only on the input and the
 * compressor (igzip's or zlib's version): the same layer compresses to the same digest on a
 * machine, and the store keeps the copy a push made, so a re-push sends the same digest.
 * (pigz was measured here too: no faster than zlib's members on 2 cores.)
 */
export function parallelGzip(
  level = GZIP_LEVEL,
  parallel = Math.max(1, cpus().length),
  program: string | null = level === GZIP_LEVEL ? igzip() : null,
): Transform {
  const block = program ? IGZIP_BLOCK : BLOCK;
  const pending: Pieces = [];
  let pendingBytes = 0;
  const inFlight: Promise<Pieces>[] = [];
  // Members hold exactly BLOCK bytes of input (the last one the rest), whatever the sizes of
  // the chunks that arrive: an inflated or piped source chunks by timing, and the output must not.
  const launch = (size: number): void => {
    const take: Pieces = [];
    let taken = 0;
    while (taken < size) {
      const piece = pending.shift() as Buffer;
      const n = Math.min(piece.length, size - taken);
      take.push(n === piece.length ? piece : piece.subarray(0, n));
      if (n < piece.length) pending.unshift(piece.subarray(n));
      taken += n;
    }
    pendingBytes -= size;
    inFlight.push(member(take, size, level, program));
  };
  const drain = async (self: Transform, keep: number): Promise<void> => {
    while (inFlight.length > keep) for (const piece of await (inFlight.shift() as Promise<Pieces>)) self.push(piece);
  };
  return new Transform({
    highWaterMark: 1 << 20,
    transform(this: Transform, chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < block) return cb();
      while (pendingBytes >= block) launch(block);
      // wait for the oldest only once all cores are busy: memory stays ~2 blocks per core
      drain(this, parallel - 1).then(() => cb(), cb);
    },
    flush(this: Transform, cb: TransformCallback) {
      // an empty layer is still one (empty) member, so the output is a valid gzip file
      if (pendingBytes > 0 || inFlight.length === 0) launch(pendingBytes);
      drain(this, 0).then(() => cb(), cb);
    },
  });
}

/** The stream that compresses a plain tar layer as `compression` says (never "none"). */
export function compressor(
  compression: Exclude<Compression, "none">,
  what: string,
): Transform | NodeJS.ReadWriteStream {
  return compression === "gzip" ? parallelGzip() : zstdCompress(what);
}

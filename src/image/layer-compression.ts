import * as fs from "node:fs";
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
  const chosen = await levelFor(block, size, level);
  // zlib.crc32 is node 20.15's; before it, zlib writes the stored blocks
  if (chosen === 0 && typeof zlib.crc32 === "function") return storedMember(block, size, zlib.crc32);
  return compressed(block, chosen, program);
}

/** The level a member of `size` bytes starting with `block` is written at: 0 (stored) or `level`. */
async function levelFor(block: Pieces, size: number, level: number): Promise<number> {
  if (level > 0 && size >= SAMPLE) {
    const probe = await gzipBlock(head(block, SAMPLE), { level: 1 });
    if (probe.length >= SAMPLE * 0.98) return 0;
  }
  return level;
}

function compressed(block: Pieces, level: number, program: string | null): Promise<Pieces> {
  if (program && level > 0) return compressPieces(igzipCompress(program, IGZIP_LEVEL, "a layer"), block);
  return compressPieces(zlib.createGzip({ level, chunkSize: 1 << 20 }), block);
}

/**
 * A member made ahead of its turn may fail before its turn comes: its rejection is awaited
 * then, in order, and must not count as unhandled meanwhile (node would end the process).
 */
function settledLater<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return work;
}

/** Input bytes per member: the member layout, so the output's bytes, depend on it. */
function memberInput(program: string | null): number {
  return program ? IGZIP_BLOCK : BLOCK;
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
    out.push(storedBlockHeader(Buffer.allocUnsafe(5), segLen, left === 0), ...seg);
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
  out.push(gzipTrailer(crc, size));
  return out;
}

/** A stored block's 5-byte header (RFC 1951 §3.2.4) for `n` bytes, written into `into`. */
function storedBlockHeader(into: Buffer, n: number, last: boolean): Buffer {
  into[0] = last ? 1 : 0;
  into.writeUInt16LE(n, 1);
  into.writeUInt16LE(~n & 0xffff, 3);
  return into;
}

/** gzip's trailer: the CRC-32 and the input's size modulo 2^32 (RFC 1952 §2.3.1). */
function gzipTrailer(crc: number, size: number): Buffer {
  const trailer = Buffer.allocUnsafe(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size >>> 0, 4);
  return trailer;
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
  const block = memberInput(program);
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
    inFlight.push(settledLater(member(take, size, level, program)));
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

/** Where gzipFileInto writes: memory to read into (`region`, `filled`) or bytes to copy (`update`). */
export interface GzipSink {
  update(bytes: Uint8Array): Promise<void>;
  region(max: number): Buffer;
  filled(n: number): Promise<void> | undefined;
}

/** Whether gzipFileInto can run here: it frames stored members itself, with node 20.15's zlib.crc32. */
export function canGzipFileInto(): boolean {
  return typeof zlib.crc32 === "function";
}

/**
 * The bytes `parallelGzip()` makes of the file at `path` (`size` bytes), written into `sink`:
 * the same members, chosen the same way, so the same digest. It reads the file itself, so a
 * stored member's input is read straight into the sink's memory between 5-byte block headers,
 * with no piece of it allocated, copied or passed through a stream (for 524 MB of random
 * bytes the stream path made ~16,000 pieces and ~0.2 s of garbage collection per push).
 * Compressible members are compressed as parallelGzip does, `parallel` ahead of the writing.
 */
export async function gzipFileInto(
  path: string,
  size: number,
  sink: GzipSink,
  onRead: (n: number) => void,
  parallel = Math.max(1, cpus().length),
  program: string | null = igzip(),
): Promise<void> {
  const crc32 = zlib.crc32;
  if (typeof crc32 !== "function") throw new Error("gzipFileInto needs zlib.crc32 (node 20.15)");
  const block = memberInput(program);
  const count = Math.max(1, Math.ceil(size / block));
  const fd = fs.openSync(path, "r");
  try {
    const plan = async (i: number): Promise<Pieces | "stored"> => {
      const at = i * block;
      const length = Math.min(block, size - at);
      const sample = readAt(fd, at, Math.min(length, SAMPLE));
      const level = await levelFor([sample], length, GZIP_LEVEL);
      if (level === 0) return "stored";
      // the compressors take pieces: the rest is read beside the sample, not joined to it
      const rest = length > sample.length ? [readAt(fd, at + sample.length, length - sample.length)] : [];
      return compressed([sample, ...rest], level, program);
    };
    const planned: (Promise<Pieces | "stored"> | undefined)[] = [];
    for (let i = 0, next = 0; i < count; i++) {
      while (next < count && next < i + parallel) planned[next] = settledLater(plan(next++));
      const p = await (planned[i] as Promise<Pieces | "stored">);
      planned[i] = undefined;
      const at = i * block;
      const length = Math.min(block, size - at);
      if (p === "stored") await storedInto(fd, at, length, sink, crc32, onRead);
      else await piecesInto(p, length, sink, onRead);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A compressed member's pieces into the sink. The `length` input bytes it stands for are
 * counted as its pieces go, in proportion, so a push's progress moves through a 32 MiB member
 * as the socket takes it rather than in one step at its end.
 */
async function piecesInto(pieces: Pieces, length: number, sink: GzipSink, onRead: (n: number) => void): Promise<void> {
  const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
  let written = 0;
  let counted = 0;
  for (const piece of pieces) {
    await sink.update(piece);
    written += piece.length;
    const upTo = Math.floor((length * written) / total);
    if (upTo > counted) {
      onRead(upTo - counted);
      counted = upTo;
    }
  }
  if (counted < length) onRead(length - counted);
}

/** `length` bytes of the file at `position` (fewer is an error: the store's file changed). */
function readAt(fd: number, position: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  readFully(fd, out, position);
  return out;
}

function readFully(fd: number, into: Buffer, position: number): void {
  for (let got = 0; got < into.length; ) {
    const n = fs.readSync(fd, into, got, into.length - got, position + got);
    if (n === 0) throw new Error(`the layer file ends before byte ${position + into.length}`);
    got += n;
  }
}

/** storedMember's layout, with the file read straight into the sink between the block headers. */
async function storedInto(
  fd: number,
  position: number,
  size: number,
  sink: GzipSink,
  crc32: (data: Uint8Array, value?: number) => number,
  onRead: (n: number) => void,
): Promise<void> {
  await sink.update(GZIP_HEADER);
  const header = Buffer.allocUnsafe(5);
  let crc = 0;
  let at = position;
  for (let left = size; left > 0; ) {
    const n = Math.min(STORED_MAX, left);
    left -= n;
    await sink.update(storedBlockHeader(header, n, left === 0));
    for (let k = 0; k < n; ) {
      const region = sink.region(n - k);
      readFully(fd, region, at);
      crc = crc32(region, crc);
      onRead(region.length);
      at += region.length;
      k += region.length;
      const full = sink.filled(region.length);
      if (full) await full;
    }
  }
  await sink.update(gzipTrailer(crc, size));
}

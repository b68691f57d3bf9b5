import { cpus } from "node:os";
import { Transform, type TransformCallback } from "node:stream";
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import type { Compression } from "../oci/media-types.js";
import { zstdCompress } from "./codecs.js";

const gzipBlock = promisify(gzipCallback);

/** zlib's default level: what docker, containerd and BuildKit write. Fixed, so output is deterministic. */
export const GZIP_LEVEL = 6;
/** Input per gzip member: large enough that the per-member header and restart cost nothing measurable. */
const BLOCK = 4 << 20;
/** What is tried first of each block, to tell data that will not compress. */
const SAMPLE = 128 << 10;

/**
 * One member: a block whose first 128 KiB do not shrink at level 1 (random, or already
 * compressed, data) is stored (level 0) instead of spending level 6's time to gain nothing:
 * zlib takes ~5 s per 200 MiB of random bytes here, stored blocks take next to none (the same
 * trick as klauspost's compressor, which skopeo uses). The choice depends only on the bytes.
 */
async function member(block: Buffer, level: number): Promise<Buffer> {
  if (level > 0 && block.length >= SAMPLE) {
    const probe = await gzipBlock(block.subarray(0, SAMPLE), { level: 1 });
    if (probe.length >= SAMPLE * 0.98) return gzipBlock(block, { level: 0 });
  }
  return gzipBlock(block, { level });
}

/**
 * gzip as concatenated members of 4 MiB input each, compressed on libuv's thread pool as many
 * at a time as there are cores. One zlib stream runs on one core (~21 MB/s on text here, as
 * slow as docker push); members in parallel use them all, as pigz and skopeo's pgzip do, and
 * every gzip reader (Go's, zlib's, node's) reads a multi-member file as one stream. The bytes
 * depend only on the input and zlib's version: the same layer compresses to the same digest.
 * (pigz was measured here too: no faster than this on 2 cores, and one more program to need.)
 */
export function parallelGzip(level = GZIP_LEVEL, parallel = Math.max(1, cpus().length)): Transform {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const inFlight: Promise<Buffer>[] = [];
  // Members hold exactly BLOCK bytes of input (the last one the rest), whatever the sizes of
  // the chunks that arrive: an inflated or piped source chunks by timing, and the output must not.
  const launch = (size: number): void => {
    const all = Buffer.concat(pending, pendingBytes);
    const rest = all.subarray(size);
    pending = rest.length > 0 ? [rest] : [];
    pendingBytes = rest.length;
    inFlight.push(member(all.subarray(0, size), level));
  };
  const drain = async (self: Transform, keep: number): Promise<void> => {
    while (inFlight.length > keep) self.push(await (inFlight.shift() as Promise<Buffer>));
  };
  return new Transform({
    highWaterMark: 1 << 20,
    transform(this: Transform, chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < BLOCK) return cb();
      while (pendingBytes >= BLOCK) launch(BLOCK);
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

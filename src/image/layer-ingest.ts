import { finished, PassThrough, type Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Digest, digestFromHash, newHash } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import type { Compression } from "../oci/media-types.js";
import type { ByteSource, Expected, Measured } from "../oci/verify.js";
import { inflater } from "./codecs.js";
import { LayerStats } from "./layer-stats.js";

/** Where ingested bytes go: the local store's Lease, or any sink that verifies the same way. */
export interface BlobWriter {
  ingest(src: ByteSource, expected: Expected, what: string, observers?: readonly Writable[]): Promise<Measured>;
}

/** What ingesting a blob that may be a layer learns about it. */
export interface StagedBlob {
  digest: Digest;
  size: number;
  compression: Compression;
  /** sha256 of the uncompressed bytes: the diffID when the blob is a layer. */
  diffId: Digest | null;
  /** docker's layer size, or null when the bytes are not a tar. */
  layerSize: number | null;
}

export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return "none";
}

/**
 * Hashes the uncompressed bytes and measures them as a layer tar. Bytes that are not a tar
 * (a config, a manifest) just leave layerSize null; nothing here throws on content.
 */
class LayerProbe extends Writable {
  /** Null when the bytes are the blob itself (uncompressed): its digest is the diffID already. */
  private readonly hash: ReturnType<typeof newHash> | null;
  private readonly stats = new LayerStats();
  private tarOk = true;
  /** The write waiting for the tar walk to drain; released early if the walk fails. */
  private waiting: (() => void) | undefined;
  diffId: Digest | null = null;
  layerSize: number | null = null;

  constructor(hashIt = true) {
    super({ highWaterMark: 1 << 20 });
    this.hash = hashIt ? newHash() : null;
    this.stats.on("error", () => {
      this.tarOk = false;
      this.release();
    });
    this.stats.on("drain", () => this.release());
  }

  private release(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.hash?.update(chunk);
    if (this.tarOk && !this.stats.write(chunk) && this.tarOk) {
      this.waiting = () => cb();
      return;
    }
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.hash) this.diffId = digestFromHash("sha256", this.hash);
    if (!this.tarOk) {
      cb();
      return;
    }
    finished(this.stats, () => {
      if (this.tarOk && this.stats.entries > 0) this.layerSize = this.stats.size;
      cb();
    });
    this.stats.end();
  }
}

/**
 * Ingests a blob through `lease`, learning its compression, diffID and docker layer size
 * on the way in one pass. `expected` is checked as in Lease.ingest.
 */
export async function ingestLayer(
  lease: BlobWriter,
  src: ByteSource,
  expected: { digest?: Digest; size?: number },
  what: string,
): Promise<StagedBlob> {
  const head = await peek(src);
  const compression = detectCompression(head.bytes);
  const probe = new LayerProbe(compression !== "none");
  let observer: Writable = probe;
  let inflated: Promise<void> = Promise.resolve();
  const inflate = inflater(compression, what, expected.size);
  if (inflate) {
    inflate.pipe(probe);
    observer = tolerant(inflate);
    inflated = new Promise((resolve, reject) => {
      probe.on("finish", resolve);
      inflate.on("error", (err) =>
        reject(
          err instanceof BerthError
            ? err
            : new BerthError("INVALID_ARCHIVE", `${what}: bad ${compression} data (${err.message})`),
        ),
      );
    });
  } else {
    inflated = new Promise((resolve) => probe.on("finish", resolve));
  }
  // Awaited after the ingest: a blob whose bytes are wrong fails its digest check first (the
  // real fault), and a bad stream of the right digest fails here. Never left unhandled meanwhile.
  inflated.catch(() => undefined);
  const measured = await lease.ingest(head.stream, expected, what, [observer]);
  await inflated;
  return {
    digest: measured.digest,
    size: measured.size,
    compression,
    diffId: compression === "none" ? measured.digest : probe.diffId,
    layerSize: probe.layerSize,
  };
}

/**
 * A stored layer blob as the plain tar it holds, measured on the way: a consumer (an unpack)
 * reads `stream`, and once it has read it all, `measured()` gives the diffID and docker's size
 * of what went through. One inflate serves both the unpack and the check of a pulled layer.
 */
export function measuredTar(
  src: Readable,
  what: string,
  compressedSize?: number,
): { stream: Readable; measured: () => Promise<{ diffId: Digest; layerSize: number | null }> } {
  const probe = new LayerProbe(true);
  const tap = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      if (probe.write(chunk)) cb(null, chunk);
      else probe.once("drain", () => cb(null, chunk));
    },
    flush(cb) {
      probe.end(() => cb());
    },
  });
  const opened = (async () => {
    const head = await peek(src);
    const compression = detectCompression(head.bytes);
    const inflate = inflater(compression, what, compressedSize);
    return { s: inflate ? head.stream.pipe(inflate) : head.stream, compression };
  })();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  opened.then(
    ({ s, compression }) => {
      s.on("error", (err) =>
        out.destroy(
          err instanceof BerthError
            ? err
            : new BerthError("INVALID_ARCHIVE", `${what}: bad ${compression} data (${err.message})`),
        ),
      );
      s.pipe(tap).pipe(out);
    },
    (err: Error) => out.destroy(err),
  );
  return {
    stream: out,
    measured: async () => {
      if (!probe.writableFinished) throw new BerthError("INVALID_ARCHIVE", `${what}: read only in part`);
      return { diffId: probe.diffId as Digest, layerSize: probe.layerSize };
    },
  };
}

/**
 * Reads a stored layer blob through once, without storing anything: its diffID and docker's
 * size of it (null when it is not a tar). What a pull left unchecked is checked with this.
 */
export async function measureLayer(
  src: Readable,
  what: string,
  compressedSize?: number,
): Promise<{ diffId: Digest; layerSize: number | null }> {
  const tar = measuredTar(src, what, compressedSize);
  try {
    await pipeline(tar.stream, new Writable({ write: (_chunk, _enc, cb) => cb() }));
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw new BerthError("INVALID_ARCHIVE", `${what}: ${(err as Error).message}`);
  }
  return tar.measured();
}

/**
 * Forwards to `inner` until it fails, then drops what comes: a decompressor that hits bad data
 * must not stall the copy that is still hashing the blob (its error is reported by its owner).
 */
function tolerant(inner: Writable): Writable {
  let failed = false;
  inner.on("error", () => {
    failed = true;
  });
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      if (failed || inner.write(chunk)) {
        cb();
        return;
      }
      const go = () => {
        inner.off("drain", go);
        inner.off("error", go);
        cb();
      };
      inner.once("drain", go);
      inner.once("error", go);
    },
    final(cb) {
      if (!failed) inner.end();
      cb();
    },
  });
}

/** Reads the first bytes of a stream and gives back a stream that still starts with them. */
export async function peek(src: ByteSource): Promise<{ bytes: Buffer; stream: Readable }> {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const iterator = src[Symbol.asyncIterator]();
  const first = await iterator.next();
  const bytes = first.done ? Buffer.alloc(0) : (first.value as Buffer);
  (async () => {
    try {
      if (!first.done) {
        if (!out.write(bytes)) await new Promise((r) => out.once("drain", r));
        for (;;) {
          const next = await iterator.next();
          if (next.done) break;
          if (!out.write(next.value as Buffer)) await new Promise((r) => out.once("drain", r));
        }
      }
      out.end();
    } catch (err) {
      out.destroy(err as Error);
    }
  })();
  return { bytes, stream: out };
}

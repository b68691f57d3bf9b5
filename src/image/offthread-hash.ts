import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { Worker } from "node:worker_threads";
import type { DigestAlgorithm } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { type Hasher, nodeHasher } from "../oci/verify.js";

/**
 * A hash computed on a worker thread. A download of a large blob is bound by node's one
 * thread: hashing took ~40% of a pull's main-thread time (228 ms of CPU for 265 MB here),
 * beside the socket reads and file writes. On a worker it runs on the other core.
 *
 * The bytes go through a ring of 1 MiB slots in shared memory: the producer fills a free slot
 * (copying into it, or letting the socket read straight into it: `region`/`filled`) and counts
 * it in a shared counter the worker sleeps on; the worker hashes it, appends it to the file
 * when there is one, and marks it free.
 *
 * Measured on the way here: a message per slot cost the main thread ~0.25 ms each (127 ms per
 * 500 MiB); transferring a fresh ArrayBuffer per batch cost 215 ms per 265 MB in allocating and
 * faulting in pages, as much as the hash itself, where the reused ring costs ~30 ms; slots of
 * 4 MiB were slower than 1 MiB ones (1.1 s against 0.5 s for 524 MB read from a socket, hashed
 * and written). A worker takes ~22 ms to come up, so this is for blobs of tens of MB and more,
 * and a pull starts one early (warmHashWorker).
 */
const SOURCE = `
const { parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const crypto = require("node:crypto");
// started ahead of need (warmHashWorker), it waits for its ring
parentPort.once("message", ({ algorithm, ring, slots, slotSize, file }) => {
const hash = crypto.createHash(algorithm);
const data = new Uint8Array(ring, 0, slots * slotSize);
const busy = new Int32Array(ring, slots * slotSize, slots);
const lengths = new Int32Array(ring, slots * slotSize + slots * 4, slots);
const posted = new Int32Array(ring, slots * slotSize + slots * 8, 1);
let fd = -1;
let written = 0;
let failed = null;
// an optional copy (push's compressed copy, a cache) that could not be written: the hash goes on
let copyError = null;
const fail = (err) => {
  if (!failed) parentPort.postMessage({ error: String(err && err.message || err), code: err && err.code });
  failed = err;
};
if (file) {
  try {
    fd = fs.openSync(file.path, "r+");
    // what an earlier, interrupted download left is hashed first, then appended to
    const buf = Buffer.allocUnsafe(1 << 20);
    while (written < file.have) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, file.have - written), written);
      if (n === 0) throw new Error("the partial file is shorter than " + file.have + " bytes");
      hash.update(buf.subarray(0, n));
      written += n;
    }
  } catch (err) {
    fail(err);
  }
}
// Slots come in order; the producer counts them in posted[0] and this thread sleeps on it
// (a futex, far cheaper per slot than a message). The timeout lets terminate() in.
for (let taken = 0; ; taken++) {
  while (Atomics.load(posted, 0) === taken) Atomics.wait(posted, 0, taken, 100);
  const slot = taken % slots;
  const length = lengths[slot];
  if (length < 0) break;
  try {
    if (!failed) {
      const view = data.subarray(slot * slotSize, slot * slotSize + length);
      hash.update(view);
      if (!copyError) {
        try {
          if (fd >= 0 && !file.producerWrites) {
            for (let o = 0; o < length; ) o += fs.writeSync(fd, view, o, length - o, written + o);
          }
          written += length;
        } catch (err) {
          if (!file.optional) throw err;
          copyError = err;
        }
      }
    }
  } catch (err) {
    fail(err);
  }
  Atomics.store(busy, slot, 0);
  Atomics.notify(busy, slot);
}
if (fd >= 0) fs.closeSync(fd);
if (!failed) {
  const copy = copyError && { message: String(copyError.message || copyError), code: copyError.code };
  parentPort.postMessage({ hex: hash.digest("hex"), written, ...(copy ? { copyError: copy } : {}) });
}
});
`;
/** Atomics.waitAsync (V8 has it since Node 16; TypeScript's es2022 lib does not list it). */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      a: Int32Array,
      index: number,
      value: number,
      timeout: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;
const SLOT = 1 << 20;
const SLOTS = 16;
const ANNOUNCE_EVERY = 4;

function startWorker(): Worker {
  return new Worker(SOURCE, { eval: true });
}

let spare: Worker | undefined;

/**
 * Starts a hash worker ahead of need, for the next OffThreadHash to take. A worker takes ~22 ms
 * to come up here: started when the first large block is asked for, the socket filled the
 * ring in ~16 ms and then waited for it. A pull starts one as soon as its manifest names a
 * large layer. Unused, it does not keep the process alive.
 */
export function warmHashWorker(): void {
  if (spare) return;
  spare = startWorker();
  spare.unref();
  spare.on("error", () => {
    spare = undefined;
  });
}

function takeSpare(): Worker | undefined {
  const w = spare;
  spare = undefined;
  return w;
}

/** Above this many bytes a copy is hashed on a worker thread. */
export const OFFTHREAD_HASH_MIN = 32 << 20;

/** The hash for a copy of `size` bytes: on a worker thread when large, else node's own. */
export function hasherFor(size: number | undefined): (algorithm: DigestAlgorithm) => Hasher {
  return size !== undefined && size >= OFFTHREAD_HASH_MIN ? (alg) => new OffThreadHash(alg) : nodeHasher;
}

/** Takes a slot's bytes; calls `giveBack` once it no longer reads them. */
export type Lend = (bytes: Buffer, giveBack: () => void) => void;

/** Why an optional copy was not kept (a full disk): its message and errno code. */
export interface CopyError {
  message: string;
  code?: string;
}

/** What hashing a copy ends with: the digest, the bytes the file holds, and a lost optional copy. */
export interface HashedCopy {
  hex: string;
  written: number;
  copyError?: CopyError;
}

type WorkerAnswer = HashedCopy | { error: string; code?: string };

export class OffThreadHash implements Hasher, HashedFile {
  private readonly worker: Worker;
  private readonly slots: Buffer[];
  private readonly busy: Int32Array;
  private readonly lengths: Int32Array;
  private readonly posted: Int32Array;
  private slot = 0;
  private used = 0;
  private unannounced = 0;
  /** With producerWrites: the file, and where the next slot goes in it. */
  private readonly fd: number | undefined;
  private position = 0;
  private fileClosed = false;
  private failure: Error | undefined;
  private answer: Promise<HashedCopy>;
  /** With `lend`: slots the consumer still holds, and what to wake when one is given back. */
  private readonly lent = new Uint8Array(SLOTS);
  private returned: (() => void) | undefined;
  private readonly lend: Lend | undefined;

  /**
   * With `file`, every byte is also written to `file.path` after its first `file.have` bytes,
   * which the worker hashes first (a download resumed from a partial file). The worker writes
   * them, or with `producerWrites` this thread does, as it hands each slot over. An `optional`
   * file (a cache) that cannot be written is given up, not the hash: `finish` says why.
   *
   * With `lend`, each slot handed to the worker is also lent to a consumer (a socket sending
   * the same bytes), and is not filled again until both the worker is done with it and the
   * consumer has given it back: the bytes go to the file, the hash and the network from one
   * copy in memory.
   */
  constructor(
    algorithm: DigestAlgorithm,
    file?: { path: string; have: number; producerWrites?: boolean; optional?: boolean },
    lend?: Lend,
  ) {
    this.lend = lend;
    if (file?.producerWrites) {
      this.fd = fs.openSync(file.path, "r+");
      this.position = file.have;
    }
    const ring = new SharedArrayBuffer(SLOTS * SLOT + SLOTS * 8 + 4);
    this.slots = Array.from({ length: SLOTS }, (_, i) => Buffer.from(ring, i * SLOT, SLOT));
    this.busy = new Int32Array(ring, SLOTS * SLOT, SLOTS);
    this.lengths = new Int32Array(ring, SLOTS * SLOT + SLOTS * 4, SLOTS);
    this.posted = new Int32Array(ring, SLOTS * SLOT + SLOTS * 8, 1);
    this.worker = takeSpare() ?? startWorker();
    this.worker.ref();
    this.worker.postMessage({ algorithm, ring, slots: SLOTS, slotSize: SLOT, file });
    this.answer = new Promise((resolve, reject) => {
      this.worker.on("message", (m: WorkerAnswer) => {
        if ("hex" in m) resolve(m);
        else {
          // the worker could not read or write the file (a full disk): the store's fault
          // its code (ENOSPC) goes along, for the CLI to say what to do about a full disk
          const cause = Object.assign(new Error(m.error), { code: m.code });
          this.failure = new BerthError("STORE", `${file ? `${file.path}: ` : ""}${m.error}`, { cause });
          reject(this.failure);
          this.wakeAll();
          void this.worker.terminate(); // nothing more to do: it must not keep the process alive
        }
      });
      this.worker.on("error", (err) => {
        this.failure = err;
        reject(err);
        this.wakeAll();
      });
    });
    this.answer.catch(() => undefined); // seen through `failure` until someone awaits it
  }

  /** A producer waiting for a slot the dead worker will never free sees the failure. */
  private wakeAll(): void {
    for (let i = 0; i < SLOTS; i++) Atomics.notify(this.busy, i);
    this.wakeReturned();
  }

  /** Wakes a producer waiting for a lent slot to come back (it looks again at its slot). */
  private wakeReturned(): void {
    const wake = this.returned;
    this.returned = undefined;
    wake?.();
  }

  async update(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      if (this.failure) throw this.failure;
      const n = Math.min(chunk.length - at, SLOT - this.used);
      this.slots[this.slot]?.set(chunk.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
      if (this.used === SLOT) await this.submit();
    }
  }

  /**
   * The free part of the current slot, at most `max` bytes: a producer may write into it
   * directly (a socket reading into it), then says how much with `filled`.
   */
  region(max: number): Buffer {
    const slot = this.slots[this.slot] as Buffer;
    return slot.subarray(this.used, Math.min(SLOT, this.used + max));
  }

  /**
   * `n` bytes were written at the start of `region()`. Undefined when the producer may go on
   * at once; else a promise for when the next slot is free (the producer pauses until then).
   */
  filled(n: number): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    this.used += n;
    if (this.used < SLOT) return undefined;
    this.post();
    return this.free();
  }

  /** Undefined when `region()` may be written now; else a promise for when its slot is free. */
  ready(): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    return this.free();
  }

  private post(): void {
    if (this.used === 0) return;
    this.hand(this.used);
    this.slot = (this.slot + 1) % SLOTS;
    this.used = 0;
  }

  /** Gives the current slot to the worker: `length` bytes, or the end (-1). */
  private hand(length: number): void {
    if (this.fd !== undefined && length > 0) {
      const slot = this.slots[this.slot] as Buffer;
      try {
        for (let o = 0; o < length; ) o += fs.writeSync(this.fd, slot, o, length - o, this.position + o);
      } catch (err) {
        this.failure = new BerthError("STORE", `writing the download: ${(err as Error).message}`, { cause: err });
        throw this.failure;
      }
      this.position += length;
    }
    Atomics.store(this.busy, this.slot, 1);
    this.lengths[this.slot] = length;
    Atomics.add(this.posted, 0, 1);
    if (this.lend && length > 0) {
      const slot = this.slot;
      this.lent[slot] = 1;
      this.lend((this.slots[slot] as Buffer).subarray(0, length), () => {
        this.lent[slot] = 0;
        this.wakeReturned();
      });
    }
    if (length < 0 || ++this.unannounced >= ANNOUNCE_EVERY) this.announce();
  }

  /**
   * Wakes the worker. Waking a sleeping thread cost ~0.3 ms here (150 ms per 500 MiB when done
   * for every slot), so it is told every few slots, and whenever the producer must wait.
   */
  private announce(): void {
    this.unannounced = 0;
    Atomics.notify(this.posted, 0);
  }

  /** Undefined when the current slot is free; else a promise for when it is. */
  private free(): Promise<void> | undefined {
    if (Atomics.load(this.busy, this.slot) !== 1 && this.lent[this.slot] === 0) return undefined;
    this.announce();
    return (async () => {
      while (Atomics.load(this.busy, this.slot) === 1) {
        if (this.failure) throw this.failure;
        const wait = waitAsync(this.busy, this.slot, 1, 1000);
        if (wait.async) await wait.value;
      }
      while (this.lent[this.slot] === 1) {
        if (this.failure) throw this.failure;
        await new Promise<void>((resolve) => {
          this.returned = resolve;
        });
      }
    })();
  }

  /** Hands the current slot to the worker, then waits until the next one is free. */
  private async submit(): Promise<void> {
    this.post();
    await this.free();
  }

  async digest(): Promise<string> {
    return (await this.finish()).hex;
  }

  /** The digest, and with a file how many bytes it holds now; the worker ends. */
  async finish(): Promise<HashedCopy> {
    try {
      if (this.failure) throw this.failure;
      this.post();
      await this.free(); // the end marker takes a slot too
      this.hand(-1);
      const answer = await this.answer;
      return this.fd === undefined ? answer : { ...answer, written: this.position };
    } finally {
      this.closeFile();
      await this.worker.terminate();
    }
  }

  /** Stops the worker without a digest (the copy failed); settles once it has stopped writing. */
  async dispose(): Promise<void> {
    this.closeFile();
    await this.worker.terminate();
  }

  private closeFile(): void {
    if (this.fd === undefined || this.fileClosed) return;
    this.fileClosed = true;
    fs.closeSync(this.fd);
  }
}

/** Bytes hashed and written to a new file as they come: on a worker thread when large, else inline. */
export interface HashedFile {
  /** A promise when the caller must wait before the next update. */
  update(chunk: Uint8Array): Promise<void> | undefined;
  /** The digest (hex), how many bytes the file holds, and why an optional file was given up. */
  finish(): Promise<HashedCopy>;
  dispose(): Promise<void> | undefined;
}

/**
 * A HashedFile at `path` (created empty), for about `size` bytes. An `optional` file (a cache)
 * that cannot be written is given up, and the hash goes on (OffThreadHash's `optional`).
 */
export function hashedFile(
  algorithm: DigestAlgorithm,
  path: string,
  size: number | undefined,
  opts: { optional?: boolean } = {},
): HashedFile {
  if (size !== undefined && size >= OFFTHREAD_HASH_MIN) {
    fs.writeFileSync(path, ""); // the worker appends to it
    return new OffThreadHash(algorithm, { path, have: 0, optional: opts.optional === true });
  }
  const hash = createHash(algorithm);
  const fd = fs.openSync(path, "w");
  let written = 0;
  let open = true;
  let copyError: CopyError | undefined;
  const close = () => {
    if (open) fs.closeSync(fd);
    open = false;
  };
  return {
    update: (chunk) => {
      hash.update(chunk);
      if (copyError) return undefined;
      try {
        for (let o = 0; o < chunk.length; ) o += fs.writeSync(fd, chunk, o, chunk.length - o);
        written += chunk.length;
      } catch (err) {
        if (!opts.optional) throw err;
        const e = err as NodeJS.ErrnoException;
        copyError = { message: e.message, ...(e.code ? { code: e.code } : {}) };
      }
      return undefined;
    },
    finish: async () => {
      close();
      return { hex: hash.digest("hex"), written, ...(copyError ? { copyError } : {}) };
    },
    dispose: () => {
      close();
      return undefined;
    },
  };
}

import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { DigestAlgorithm } from "../oci/digest.js";
import { type Hasher, nodeHasher } from "../oci/verify.js";

/**
 * A hash computed on a worker thread. A download of a large blob is bound by node's one
 * thread: hashing took ~40% of a pull's main-thread time (228 ms of CPU for 265 MB here),
 * beside the socket reads and file writes. On a worker it runs on the other core.
 *
 * The bytes go through a ring of 1 MiB slots in shared memory: the main thread copies into a
 * free slot and posts its number; the worker hashes it and marks it free. (Transferring a
 * fresh ArrayBuffer per batch was tried first: allocating and faulting in those pages cost the
 * main thread 215 ms per 265 MB, as much as the hash itself; the reused ring costs ~30 ms.)
 * A worker takes ~10 ms to start, so this is for blobs of tens of MB and more.
 */
const SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const hash = require("node:crypto").createHash(workerData.algorithm);
const data = new Uint8Array(workerData.ring, 0, workerData.slots * workerData.slotSize);
const busy = new Int32Array(workerData.ring, workerData.slots * workerData.slotSize, workerData.slots);
parentPort.on("message", (m) => {
  if (m === null) return parentPort.postMessage(hash.digest("hex"));
  const [slot, length] = m;
  const at = slot * workerData.slotSize;
  hash.update(data.subarray(at, at + length));
  Atomics.store(busy, slot, 0);
  Atomics.notify(busy, slot);
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

/** Above this many bytes a copy is hashed on a worker thread. */
export const OFFTHREAD_HASH_MIN = 32 << 20;

/** The hash for a copy of `size` bytes: on a worker thread when large, else node's own. */
export function hasherFor(size: number | undefined): (algorithm: DigestAlgorithm) => Hasher {
  return size !== undefined && size >= OFFTHREAD_HASH_MIN ? (alg) => new OffThreadHash(alg) : nodeHasher;
}

export class OffThreadHash implements Hasher {
  private readonly worker: Worker;
  private readonly data: Uint8Array;
  private readonly busy: Int32Array;
  private slot = 0;
  private used = 0;
  private failure: Error | undefined;

  constructor(algorithm: DigestAlgorithm) {
    const ring = new SharedArrayBuffer(SLOTS * SLOT + SLOTS * 4);
    this.data = new Uint8Array(ring, 0, SLOTS * SLOT);
    this.busy = new Int32Array(ring, SLOTS * SLOT, SLOTS);
    this.worker = new Worker(SOURCE, { eval: true, workerData: { algorithm, ring, slots: SLOTS, slotSize: SLOT } });
    this.worker.on("error", (err) => {
      this.failure = err;
    });
  }

  async update(chunk: Uint8Array): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      if (this.failure) throw this.failure;
      const n = Math.min(chunk.length - at, SLOT - this.used);
      this.data.set(chunk.subarray(at, at + n), this.slot * SLOT + this.used);
      this.used += n;
      at += n;
      if (this.used === SLOT) await this.submit();
    }
  }

  /** Hands the current slot to the worker, then waits until the next one is free. */
  private async submit(): Promise<void> {
    if (this.used > 0) {
      Atomics.store(this.busy, this.slot, 1);
      this.worker.postMessage([this.slot, this.used]);
      this.slot = (this.slot + 1) % SLOTS;
      this.used = 0;
    }
    while (Atomics.load(this.busy, this.slot) === 1) {
      const wait = waitAsync(this.busy, this.slot, 1, 1000);
      if (wait.async) await wait.value;
      if (this.failure) throw this.failure;
    }
  }

  async digest(): Promise<string> {
    try {
      await this.submit();
      this.worker.postMessage(null);
      const [hex] = (await once(this.worker, "message")) as [string];
      return hex;
    } finally {
      await this.worker.terminate();
    }
  }

  /** Stops the worker without a digest (the copy failed). */
  dispose(): void {
    void this.worker.terminate();
  }
}

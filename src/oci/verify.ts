import { createHash } from "node:crypto";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { type Digest, type DigestAlgorithm, digestAlgorithm } from "./digest.js";
import { BerthError } from "./errors.js";

export interface Expected {
  digest?: Digest;
  size?: number;
}

export interface Measured {
  digest: Digest;
  size: number;
}

/** A running hash: node's own (synchronous), or one computed elsewhere (image/offthread-hash.ts). */
export interface Hasher {
  /** A promise when the hash cannot take more yet (the caller waits before the next update). */
  update(data: Uint8Array): void | Promise<void>;
  digest(): string | Promise<string>;
  /** Releases what the hash holds when the copy fails before its digest. */
  dispose?(): void;
}

export function nodeHasher(algorithm: DigestAlgorithm): Hasher {
  const hash = createHash(algorithm);
  return {
    update: (data) => {
      hash.update(data);
    },
    digest: () => hash.digest("hex"),
  };
}

/**
 * The one place where bytes from outside are measured: streams `src` into `sink` (and any
 * observers), hashing and counting on the way, and fails as soon as the size runs past what
 * was expected, or at the end when the digest or size differ. `what` names the object in errors.
 */
/** Any byte source: node streams, streamx streams (tar-stream entries), async generators. */
export type ByteSource = AsyncIterable<unknown> & { destroy?: (err?: Error) => unknown };

export async function copyVerified(
  src: ByteSource,
  sink: Writable,
  expected: Expected,
  what: string,
  observers: readonly Writable[] = [],
  makeHasher: (algorithm: DigestAlgorithm) => Hasher = nodeHasher,
): Promise<Measured> {
  const algorithm: DigestAlgorithm = expected.digest ? digestAlgorithm(expected.digest) : "sha256";
  const hash = makeHasher(algorithm);
  let size = 0;
  const targets = [sink, ...observers];
  try {
    for await (const chunk of src) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (expected.size !== undefined && size > expected.size) {
        throw new BerthError("SIZE_MISMATCH", `${what}: more than the expected ${expected.size} bytes`);
      }
      const hashing = hash.update(buf);
      if (hashing) await hashing;
      const waits: Promise<unknown>[] = [];
      for (const t of targets) if (!t.write(buf)) waits.push(once(t, "drain"));
      if (waits.length) await Promise.all(waits);
    }
    await Promise.all(
      targets.map(
        (t) =>
          new Promise<void>((resolve, reject) => {
            t.once("error", reject);
            t.end(() => resolve());
          }),
      ),
    );
  } catch (err) {
    for (const t of targets) t.destroy();
    src.destroy?.();
    hash.dispose?.();
    throw err;
  }
  return checkMeasured({ digest: `${algorithm}:${await hash.digest()}` as Digest, size }, expected, what);
}

/** Fails unless what was measured is what was expected; else returns it. */
export function checkMeasured(measured: Measured, expected: Expected, what: string): Measured {
  if (expected.size !== undefined && measured.size !== expected.size) {
    throw new BerthError("SIZE_MISMATCH", `${what}: got ${measured.size} bytes, expected ${expected.size}`);
  }
  if (expected.digest && measured.digest !== expected.digest) {
    throw new BerthError(
      "DIGEST_MISMATCH",
      `${what}: content has digest ${measured.digest}, expected ${expected.digest}`,
    );
  }
  return measured;
}

/** Checks bytes held in memory against an expected digest and size. */
export function verifyBytes(bytes: Uint8Array, expected: Expected, what: string): Measured {
  const algorithm: DigestAlgorithm = expected.digest ? digestAlgorithm(expected.digest) : "sha256";
  const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}` as Digest;
  return checkMeasured({ digest, size: bytes.length }, expected, what);
}

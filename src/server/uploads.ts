import { type Hash, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Digest, type DigestAlgorithm, digestAlgorithm, digestFromHash, newHash } from "../oci/digest.js";
import { processAlive } from "../store/local-store.js";
import type { BlobStorage } from "./blob-storage.js";
import type { LinkResult, RegistryMetadata, UploadSession } from "./metadata.js";
import { RegistryError } from "./registry-error.js";

/** A hash that has seen exactly the first `offset` bytes of an upload. */
interface HashState {
  readonly algorithm: DigestAlgorithm;
  readonly hash: Hash;
  offset: number;
}

/** This process, apart from an earlier one that had the same pid (a restarted container's pid 1). */
const PROCESS_TOKEN = randomUUID();
/** How long a request waits for a session another process is writing before it gives up. */
const CLAIM_WAIT_MS = 60_000;

/**
 * Upload sessions (spec "Pushing blobs"): bytes are appended in order and hashed on the way;
 * the session's state is the stored bytes plus a metadata row, so an upload survives a
 * restart. The running hash is only a cache: when it is missing (another process, a restart)
 * or out of step (an aborted request), the stored bytes are hashed again.
 */
export class Uploads {
  private readonly hashes = new Map<string, HashState>();
  private readonly locks = new Map<string, Promise<void>>();
  /** Who holds a session's cross-process lock: `pid:process token:instance`. */
  private readonly owner = `${process.pid}:${PROCESS_TOKEN}:${randomUUID()}`;

  constructor(
    private readonly storage: BlobStorage,
    private readonly metadata: RegistryMetadata,
  ) {}

  async start(repository: string, algorithm: DigestAlgorithm = "sha256"): Promise<UploadSession> {
    const session: UploadSession = { id: randomUUID(), repository, algorithm, createdAt: Date.now() };
    await this.storage.createUpload(session.id);
    await this.metadata.createUpload(session);
    this.hashes.set(session.id, { algorithm, hash: newHash(algorithm), offset: 0 });
    return session;
  }

  /** The session `id` of `repository` and its size; BLOB_UPLOAD_UNKNOWN otherwise. */
  async get(repository: string, id: string): Promise<{ session: UploadSession; size: number }> {
    const session = /^[0-9a-f-]{36}$/.test(id) ? await this.metadata.getUpload(id) : undefined;
    // a session belongs to one repository: access was checked against the URL's name
    const size = session && session.repository === repository ? await this.storage.uploadSize(id) : undefined;
    if (!session || size === undefined) {
      throw new RegistryError("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", { detail: { uuid: id } });
    }
    return { session, size };
  }

  /**
   * Runs `fn` alone for this upload: concurrent PATCHes of one session take turns, within this
   * process (a promise chain) and across processes (`berth serve --workers`, or two servers on
   * one root: the session row's lock, taken and freed in write transactions). Two requests
   * appending at once would write the same offsets of one file.
   */
  async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    let release = () => {};
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const chained = previous.then(() => current);
    this.locks.set(id, chained);
    await previous;
    try {
      const claimed = await this.claim(id);
      try {
        return await fn();
      } finally {
        if (claimed) await this.metadata.releaseUpload(id, this.owner);
      }
    } finally {
      release();
      if (this.locks.get(id) === chained) this.locks.delete(id);
    }
  }

  /** Takes the session's row lock, waiting while another live process writes it; false when there is no session. */
  private async claim(id: string): Promise<boolean> {
    const deadline = Date.now() + CLAIM_WAIT_MS;
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      const r = await this.metadata.claimUpload(id, this.owner, (holder) => this.stale(holder));
      if (r !== "busy") return r === "claimed";
      if (Date.now() > deadline) {
        throw new RegistryError("BLOB_UPLOAD_INVALID", "the upload is being written by another request", {
          status: 409,
        });
      }
      await sleep(pause);
    }
  }

  /** A holder that can no longer release: its process is gone, or was an earlier process with our pid. */
  private stale(holder: string): boolean {
    const [pid, token, instance] = holder.split(":");
    // our own instance: the promise chain above already makes us the only writer here
    if (token === PROCESS_TOKEN) return `${pid}:${token}:${instance}` === this.owner;
    return Number(pid) === process.pid || !processAlive(Number(pid));
  }

  /**
   * Appends a request body at `offset` (the current size). With `atomic` (a chunk with
   * Content-Range) a body that does not arrive whole is cut off again, so the chunk can be
   * resent; a streamed body keeps what arrived, and the client resumes from the status Range.
   */
  async append(session: UploadSession, offset: number, body: AsyncIterable<Buffer>, atomic: boolean): Promise<number> {
    // claiming the session (every PATCH and PUT) marked it active for GC
    const state = await this.hashAt(session, offset);
    try {
      const written = await this.storage.append(session.id, offset, body, (chunk) => state.hash.update(chunk));
      state.offset = offset + written;
      return state.offset;
    } catch (err) {
      // the hash may have seen bytes the store did not keep: rebuild it from the store next time
      this.hashes.delete(session.id);
      if (atomic) await this.storage.truncateUpload(session.id, offset).catch(() => {});
      throw err;
    }
  }

  /**
   * Closes the upload as blob `expected`: hashes it (with the running hash when it is of the
   * same algorithm), and only when the digest matches moves the bytes into place and links the
   * blob. A mismatch deletes the session: nothing unverified is kept.
   */
  async finish(session: UploadSession, size: number, expected: Digest): Promise<LinkResult> {
    const algorithm = digestAlgorithm(expected);
    const state =
      algorithm === session.algorithm
        ? await this.hashAt(session, size)
        : await this.rehash({ ...session, algorithm }, size);
    const actual = digestFromHash(algorithm, state.hash);
    this.hashes.delete(session.id);
    if (actual !== expected) {
      await this.cancel(session.id);
      throw new RegistryError("DIGEST_INVALID", "provided digest did not match uploaded content", {
        detail: { expected, actual },
      });
    }
    const result = await this.metadata.linkUploadedBlob(session.repository, expected, size, () =>
      this.storage.commitUploadSync(session.id, expected),
    );
    await this.metadata.deleteUpload(session.id);
    // gone already when it became the blob; a duplicate of an existing blob is dropped here
    await this.storage.deleteUpload(session.id);
    return result;
  }

  async cancel(id: string): Promise<void> {
    this.hashes.delete(id);
    await this.metadata.deleteUpload(id);
    await this.storage.deleteUpload(id);
  }

  private async hashAt(session: UploadSession, offset: number): Promise<HashState> {
    const state = this.hashes.get(session.id);
    if (state && state.offset === offset && state.algorithm === session.algorithm) return state;
    return this.rehash(session, offset);
  }

  private async rehash(session: UploadSession, offset: number): Promise<HashState> {
    const hash = newHash(session.algorithm);
    let seen = 0;
    for await (const chunk of this.storage.readUpload(session.id)) {
      const buf = chunk as Buffer;
      const take = Math.min(buf.length, offset - seen);
      hash.update(take === buf.length ? buf : buf.subarray(0, take));
      seen += take;
      if (seen >= offset) break;
    }
    const state: HashState = { algorithm: session.algorithm, hash, offset };
    this.hashes.set(session.id, state);
    return state;
  }
}

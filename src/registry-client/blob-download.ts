import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { type BlobWriter, ingestLayer, type StagedBlob } from "../image/layer-ingest.js";
import { hasherFor, OFFTHREAD_HASH_MIN, OffThreadHash } from "../image/offthread-hash.js";
import { type Digest, digestAlgorithm, digestHex } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { checkMeasured, copyVerified, verifyBytes } from "../oci/verify.js";
import { type Lease, processAlive } from "../store/local-store.js";
import { type RegistryClient, readLimited } from "./registry-client.js";
import { isTransientNetworkError } from "./transport.js";

export interface DownloadOptions {
  client: RegistryClient;
  repo: string;
  digest: Digest;
  size: number;
  lease: Lease;
  what: string;
  /** Reconnections allowed after the body breaks off (each resumes where it stopped). */
  attempts: number;
  backoffMs: number;
  /** Bytes received from the network (not those already on disk). */
  onBytes?: (n: number) => void;
  /** Told how many bytes an earlier, interrupted pull left. */
  onResume?: (have: number) => void;
  /**
   * Store the blob checked against its digest only, learning nothing else (a compressed
   * layer whose diffID is checked when it is first used; store/pending-layers.ts).
   */
  digestOnly?: boolean;
}

/** Errors that mean the bytes themselves are wrong: a partial file holding them must go. */
const BAD_CONTENT = new Set(["DIGEST_MISMATCH", "SIZE_MISMATCH", "INVALID_ARCHIVE"]);

/** What a download learnt: diffID and docker's size are null when it checked the digest only. */
export type Downloaded = Omit<StagedBlob, "compression">;

/**
 * Downloads a layer blob into the store, resumably: the bytes go to a partial file named by
 * the digest (`tmp/partial-<alg>-<hex>`), so an interrupted pull (the registry went away,
 * berth was stopped) continues with a Range request where it stopped, in this process or
 * the next. The bytes already on disk are read again through the same hash and layer probe,
 * so the blob enters the store only when all of it matches its digest, and (unless
 * `digestOnly`) its diffID and layer size are known.
 */
export async function downloadLayer(opts: DownloadOptions): Promise<Downloaded> {
  const store = opts.lease.store;
  const tmp = join(store.root, "tmp");
  const key = `partial-${digestAlgorithm(opts.digest)}-${digestHex(opts.digest)}`;
  const partial = join(tmp, key);
  // Claim the partial file by renaming it to a name with our pid (so a concurrent pull of the
  // same blob starts its own, and prune's sweep leaves it alone while we live). A pull killed
  // outright (kill -9) left its claim under its dead pid: that one is taken over too.
  const claimed = join(tmp, `${process.pid}-${key}-${randomBytes(4).toString("hex")}`);
  const leftover = [partial, ...deadClaims(tmp, key)];
  if (!leftover.some((path) => tryRename(path, claimed))) fs.writeFileSync(claimed, "");
  let have = fs.statSync(claimed).size;
  if (have > opts.size) {
    fs.truncateSync(claimed, 0);
    have = 0;
  }
  if (have > 0) opts.onResume?.(have);
  try {
    if (opts.digestOnly && opts.size >= OFFTHREAD_HASH_MIN) {
      const direct = await downloadDirect(claimed, have, opts);
      if (direct) return direct;
      have = fs.statSync(claimed).size; // declined: the stream path goes on from what is on disk
    }
    const writer = writerFor(claimed, have, opts);
    const src = source(claimed, have, opts);
    const expected = { digest: opts.digest, size: opts.size };
    const staged: Downloaded = opts.digestOnly
      ? { ...(await writer.ingest(src, expected, opts.what)), diffId: null, layerSize: null }
      : await ingestLayer(writer, src, expected, opts.what);
    fs.rmSync(claimed, { force: true });
    return staged;
  } catch (err) {
    const bad = err instanceof BerthError && BAD_CONTENT.has(err.code);
    if (bad) {
      fs.rmSync(claimed, { force: true });
      // The fault may lie in bytes an earlier run left: try once more from nothing.
      if (have > 0) return downloadLayer(opts);
    } else {
      try {
        fs.renameSync(claimed, partial);
      } catch {
        fs.rmSync(claimed, { force: true });
      }
    }
    throw err;
  }
}

/**
 * A large layer checked against its digest only (a compressed layer of a pull): the socket
 * reads the body straight into a shared ring (direct-get.ts), where a worker hashes it and
 * appends it to the partial file. Reconnects with Range as `source` does. Undefined when the
 * registry's answer needs undici (a redirect, a new token, an error): what was received is
 * in the file, and the stream path goes on from there.
 */
async function downloadDirect(claimed: string, have: number, opts: DownloadOptions): Promise<Downloaded | undefined> {
  const algorithm = digestAlgorithm(opts.digest);
  // this thread writes each slot as it hands it over (the socket leaves it time; the worker,
  // which hashes, is the slower of the two): words pull 413 -> 397 ms, 10 pairs
  const sink = new OffThreadHash(algorithm, { path: claimed, have, producerWrites: true });
  let pos = have;
  let failures = 0;
  let finished = false;
  const received = (n: number) => {
    pos += n;
    opts.onBytes?.(n);
  };
  try {
    while (pos < opts.size) {
      try {
        const outcome = await opts.client.directBlob(opts.repo, opts.digest, pos, opts.size, sink, received);
        if (outcome.kind === "declined") {
          finished = true;
          await sink.finish(); // every byte received is in the file
          return undefined;
        }
      } catch (err) {
        if ((err as { transient?: boolean }).transient !== true || ++failures >= opts.attempts) throw err;
        await sleep(opts.backoffMs * 2 ** (failures - 1));
      }
    }
    finished = true;
    const { hex, written } = await sink.finish();
    const measured = checkMeasured(
      { digest: `${algorithm}:${hex}` as Digest, size: written },
      { digest: opts.digest, size: opts.size },
      opts.what,
    );
    opts.lease.adoptVerified(claimed, measured.digest);
    return { ...measured, diffId: null, layerSize: null };
  } finally {
    if (!finished) await sink.dispose();
  }
}

function tryRename(from: string, to: string): boolean {
  try {
    fs.renameSync(from, to);
    return true;
  } catch {
    return false;
  }
}

/** Partial files of this blob claimed by processes that no longer run, largest first. */
function deadClaims(tmp: string, key: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return [];
  }
  const out: { path: string; size: number }[] = [];
  for (const name of names) {
    const m = /^(\d+)-(.+)-[0-9a-f]{8}$/.exec(name);
    if (!m || m[2] !== key || processAlive(Number(m[1]))) continue;
    const path = join(tmp, name);
    try {
      out.push({ path, size: fs.statSync(path).size });
    } catch {
      // taken by another pull meanwhile
    }
  }
  return out.sort((a, b) => b.size - a.size).map((c) => c.path);
}

/** Verifies as Lease.ingest does, but into our own partial file, which is then adopted. */
function writerFor(claimed: string, have: number, opts: DownloadOptions): BlobWriter {
  return {
    ingest: async (src, expected, what, observers = []) => {
      const measured = await copyVerified(
        src,
        appendAfter(claimed, have),
        expected,
        what,
        observers,
        hasherFor(opts.size),
      );
      opts.lease.adoptVerified(claimed, measured.digest);
      return measured;
    },
  };
}

/** A sink that skips the first `skip` bytes (already in the file) and appends the rest. */
function appendAfter(path: string, skip: number): Writable {
  const file = fs.createWriteStream(path, { flags: "a", highWaterMark: 1 << 20 });
  const sink = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        cb();
        return;
      }
      const rest = skip > 0 ? chunk.subarray(skip) : chunk;
      skip = 0;
      if (file.write(rest)) cb();
      else file.once("drain", () => cb());
    },
    final(cb) {
      file.end(() => cb());
    },
    destroy(err, cb) {
      file.destroy();
      cb(err);
    },
  });
  file.on("error", (err) => sink.destroy(err));
  return sink;
}

const BATCH = 1 << 20;

/** The bytes on disk, then the rest from the registry, reconnecting with Range when the body breaks off. */
async function* source(claimed: string, have: number, opts: DownloadOptions): AsyncGenerator<Buffer> {
  if (have > 0) {
    for await (const c of fs.createReadStream(claimed, { end: have - 1, highWaterMark: 1 << 20 })) yield c as Buffer;
  }
  let pos = have;
  let failures = 0;
  // The socket gives 64 KiB at a time; the hash, the file and the observers downstream each
  // cost per chunk, so they get 1 MiB batches (one copy): 265 MB took ~4,000 trips through
  // the pipeline instead of ~265.
  let batch: Buffer[] = [];
  let batched = 0;
  const take = (): Buffer => {
    const out = batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    return out;
  };
  while (pos < opts.size) {
    let skip = 0;
    try {
      const { body, start } = await opts.client.openBlob(opts.repo, opts.digest, pos, opts.what);
      skip = pos - start; // a server that ignored Range sends from 0
      for await (const c of body) {
        let chunk = c as Buffer;
        if (skip > 0) {
          if (skip >= chunk.length) {
            skip -= chunk.length;
            continue;
          }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        pos += chunk.length;
        opts.onBytes?.(chunk.length);
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= BATCH) yield take();
      }
      if (batched > 0) yield take();
      if (pos < opts.size) throw Object.assign(new Error("the registry ended the blob early"), { code: "ECONNRESET" });
    } catch (err) {
      if (batched > 0) yield take(); // received whole before the break: the file keeps them
      const transient = (err as { transient?: boolean }).transient === true || isTransientNetworkError(err);
      if (!transient || ++failures >= opts.attempts) throw err;
      await sleep(opts.backoffMs * 2 ** (failures - 1));
    }
  }
}

/** A small blob (config) fetched into memory and verified before anyone reads it. */
export async function fetchSmallBlob(
  client: RegistryClient,
  repo: string,
  digest: Digest,
  size: number,
  what: string,
): Promise<Buffer> {
  if (size > 64 << 20) throw new BerthError("REGISTRY", `${what}: ${size} bytes is too large for an image config`);
  const { body } = await client.openBlob(repo, digest, 0, what);
  const bytes = await readLimited(body, size, what).catch((err: unknown) => {
    throw err instanceof BerthError
      ? new BerthError("SIZE_MISMATCH", `${what}: more than the ${size} bytes the manifest says`)
      : err;
  });
  verifyBytes(bytes, { digest, size }, what);
  return bytes;
}

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { Digest } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { z } from "../oci/zod.js";
import { pullScope, pushScope, type RegistryClient } from "./registry-client.js";
import { RegistryError, registryError, registryErrorOf } from "./registry-error.js";
import { type HttpResponse, header, isTransientNetworkError } from "./transport.js";

export interface UploadOptions {
  client: RegistryClient;
  repo: string;
  digest: Digest;
  size: number;
  /** The blob's bytes from `start` up to (not including) `end`. */
  open: (start: number, end: number) => Readable;
  /** Repositories of the same registry that may hold the blob already (cross-repository mount). */
  mountFrom: readonly string[];
  /** Where upload locations are remembered, so a later run resumes an interrupted upload. */
  journalDir: string;
  /** Blobs up to this size go in one PUT; larger ones in PATCH chunks of chunkSize. */
  monolithicMax: number;
  chunkSize: number;
  attempts: number;
  backoffMs: number;
  onBytes?: (n: number) => void;
  /** Told the offset an interrupted upload resumes from. */
  onResume?: (offset: number) => void;
}

export type UploadOutcome = { kind: "exists" } | { kind: "mounted"; from: string } | { kind: "pushed" };

const journalSchema = z.object({ location: z.string() });

/**
 * Puts one blob into a repository (distribution spec §Pushing blobs): nothing when it is
 * there already (HEAD), a mount when another repository of the registry has it, else an
 * upload: one PUT for small blobs, PATCH chunks for large ones. After a chunk fails, the
 * registry is asked how much it has (GET on the upload) and the upload continues from there;
 * the upload's location is kept on disk between chunks, so a rerun resumes it too.
 */
export async function uploadBlob(opts: UploadOptions): Promise<UploadOutcome> {
  const { client, repo, digest } = opts;
  const existing = await client.blobSize(repo, digest, [pushScope(repo)]);
  if (existing !== undefined && existing === opts.size) return { kind: "exists" };
  const journal = journalPath(opts);

  let failures = 0;
  let upload = await resumeFromJournal(opts, journal);
  for (;;) {
    try {
      if (!upload) {
        const started = await startUpload(opts);
        if (started.kind === "mounted") return started;
        upload = { location: started.location, offset: 0 };
      }
      if (upload.offset === 0 && opts.size <= opts.monolithicMax) {
        await finish(
          client,
          repo,
          digest,
          upload.location,
          `blob ${digest}`,
          opts.size > 0 ? { open: () => counted(opts.open(0, opts.size), opts), size: opts.size } : undefined,
        );
      } else {
        while (upload.offset < opts.size) {
          const end = Math.min(upload.offset + opts.chunkSize, opts.size);
          upload = await patchChunk(opts, upload, end);
          writeJournal(journal, upload.location);
        }
        await finish(client, repo, digest, upload.location, `blob ${digest}`);
      }
      fs.rmSync(journal, { force: true });
      return { kind: "pushed" };
    } catch (err) {
      if (!retriableUpload(err) || ++failures >= opts.attempts) throw err;
      await sleep(opts.backoffMs * 2 ** (failures - 1));
      // Ask the registry what it kept; a refused or unknown upload starts again from nothing.
      upload = upload ? await uploadStatus(opts, upload.location).catch(() => undefined) : undefined;
      if (upload) opts.onResume?.(upload.offset);
    }
  }
}

/** Whether a failed upload is worth starting again (5xx, 429, a reset connection). */
export function retriableUpload(err: unknown): boolean {
  if (err instanceof RegistryError)
    return (
      err.status >= 500 ||
      err.status === 429 ||
      err.registryCode === "BLOB_UPLOAD_INVALID" ||
      err.registryCode === "BLOB_UPLOAD_UNKNOWN"
    );
  if (err instanceof BerthError) return (err as { transient?: boolean }).transient === true;
  return isTransientNetworkError(err);
}

interface UploadState {
  location: string;
  offset: number;
}

function journalPath(opts: UploadOptions): string {
  const key = createHash("sha256").update(`${opts.client.host}/${opts.repo}@${opts.digest}`).digest("hex").slice(0, 32);
  return join(opts.journalDir, `upload-${key}.json`);
}

function writeJournal(path: string, location: string): void {
  const tmp = `${path}.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify({ location }));
  fs.renameSync(tmp, path);
}

async function resumeFromJournal(opts: UploadOptions, journal: string): Promise<UploadState | undefined> {
  let location: string;
  try {
    location = journalSchema.parse(JSON.parse(fs.readFileSync(journal, "utf8"))).location;
  } catch {
    return undefined;
  }
  const state = await uploadStatus(opts, location).catch(() => undefined);
  if (!state || state.offset > opts.size) {
    fs.rmSync(journal, { force: true });
    return undefined;
  }
  opts.onResume?.(state.offset);
  return state;
}

/** GET on an upload (spec §Resuming an upload): `Range: 0-<last>` says how many bytes it holds. */
async function uploadStatus(opts: UploadOptions, location: string): Promise<UploadState> {
  const res = await opts.client.request({
    method: "GET",
    path: opts.client.url(location),
    scopes: [pushScope(opts.repo)],
  });
  if (res.status !== 204 && res.status !== 200)
    throw await registryError(res, `resuming the upload of blob ${opts.digest}`);
  await res.body.dump().catch(() => undefined);
  return { location: nextLocation(opts.client, res, location), offset: rangeEnd(res) };
}

/** The offset after `Range: 0-<last>`; a registry that holds nothing sends `0-0` or no Range. */
function rangeEnd(res: HttpResponse): number {
  const m = /^(?:bytes=)?0-(\d+)$/.exec(header(res.headers, "range") ?? "");
  if (!m) return 0;
  const last = Number(m[1]);
  return last === 0 ? 0 : last + 1;
}

/** The upload's next location: the one the registry sent, resolved against the previous, or the previous. */
function nextLocation(client: RegistryClient, res: Pick<HttpResponse, "headers">, previous: string): string {
  const loc = header(res.headers, "location");
  return loc ? client.url(new URL(loc, client.url(previous))).toString() : previous;
}

async function startUpload(
  opts: UploadOptions,
): Promise<{ kind: "mounted"; from: string } | { kind: "upload"; location: string }> {
  const { client, repo, digest } = opts;
  // Mount from the first repository that may have it; a 202 instead of 201 is a plain upload.
  const from = opts.mountFrom.find((r) => r !== repo);
  if (from) {
    const url = client.url(`${repo}/blobs/uploads/`);
    url.searchParams.set("mount", digest);
    url.searchParams.set("from", from);
    const res = await client.request({
      method: "POST",
      path: url,
      scopes: [pushScope(repo), pullScope(from)],
      idempotent: true,
    });
    if (res.status === 201) {
      await res.body.dump().catch(() => undefined);
      return { kind: "mounted", from };
    }
    if (res.status === 202 && header(res.headers, "location")) {
      await res.body.dump().catch(() => undefined);
      return { kind: "upload", location: nextLocation(client, res, url.toString()) };
    }
    await res.body.dump().catch(() => undefined); // a refused mount is not fatal: upload instead
  }
  const url = client.url(`${repo}/blobs/uploads/`);
  const res = await client.request({ method: "POST", path: url, scopes: [pushScope(repo)], idempotent: true });
  if (res.status !== 202 || !header(res.headers, "location"))
    throw await registryError(res, `starting the upload of blob ${digest}`);
  await res.body.dump().catch(() => undefined);
  return { kind: "upload", location: nextLocation(client, res, url.toString()) };
}

async function patchChunk(opts: UploadOptions, upload: UploadState, end: number): Promise<UploadState> {
  const start = upload.offset;
  const res = await opts.client.request({
    method: "PATCH",
    path: opts.client.url(upload.location),
    scopes: [pushScope(opts.repo)],
    headers: {
      "content-type": "application/octet-stream",
      "content-range": `${start}-${end - 1}`,
      "content-length": String(end - start),
    },
    body: () => counted(opts.open(start, end), opts),
    idempotent: false,
  });
  if (res.status !== 202) throw await registryError(res, `uploading blob ${opts.digest}`);
  await res.body.dump().catch(() => undefined);
  const confirmed = rangeEnd(res);
  // The registry says how much it holds; trust it only when it is what we sent.
  if (header(res.headers, "range") && confirmed !== end) {
    return { location: nextLocation(opts.client, res, upload.location), offset: confirmed };
  }
  return { location: nextLocation(opts.client, res, upload.location), offset: end };
}

/** The closing PUT with `?digest=` (and the bytes, for a one-request upload), checked against the registry's digest. */
async function finish(
  client: RegistryClient,
  repo: string,
  digest: Digest,
  location: string,
  what: string,
  body?: { open: () => Readable; size: number },
): Promise<void> {
  const url = client.url(location);
  url.searchParams.set("digest", digest);
  const res = await client.request({
    method: "PUT",
    path: url,
    scopes: [pushScope(repo)],
    headers: {
      "content-type": "application/octet-stream",
      "content-length": body ? String(body.size) : "0",
    },
    ...(body ? { body: body.open } : {}),
    idempotent: false,
  });
  if (res.status !== 201 && res.status !== 204) throw await registryError(res, `finishing the upload of ${what}`);
  await res.body.dump().catch(() => undefined);
  const announced = header(res.headers, "docker-content-digest");
  if (announced && announced !== digest) {
    throw new BerthError("DIGEST_MISMATCH", `blob ${digest}: the registry stored it as ${announced}`);
  }
}

/** Reports bytes as the request body reads them (pulled by the socket, so backpressure holds). */
function counted(stream: Readable, opts: UploadOptions): Readable {
  const onBytes = opts.onBytes;
  if (!onBytes) return stream;
  return Readable.from(
    (async function* () {
      for await (const c of stream) {
        onBytes((c as Buffer).length);
        yield c as Buffer;
      }
    })(),
    { objectMode: false, highWaterMark: 1 << 20 },
  );
}

export interface StreamedUploadOptions {
  client: RegistryClient;
  repo: string;
  /** The blob as it is being made (compressed on the way): read once, to its end. */
  body: Readable;
  /** The blob's digest, asked once the body has ended. */
  digest: () => Digest | Promise<Digest>;
  /** For messages: the blob is not named by a digest until it is whole. */
  what: string;
}

/**
 * Uploads a blob whose digest is known only at its end (distribution spec §Streamed upload, as
 * docker pushes a layer it compresses): POST, one PATCH carrying the whole stream, then the
 * closing PUT with the digest, which the registry checks against what it received. Nothing
 * is resumable, since the bytes exist nowhere else yet: the caller starts over on failure.
 */
export async function uploadStreamed(opts: StreamedUploadOptions): Promise<Digest> {
  const { client, repo } = opts;
  const location = await beginUpload(client, repo, opts.what);
  let sent = false;
  const patched = await client.request({
    method: "PATCH",
    path: client.url(location),
    scopes: [pushScope(repo)],
    headers: { "content-type": "application/octet-stream" },
    body: () => {
      // a stream can be sent only once; a second try (a token refresh) restarts the whole upload
      if (sent) throw Object.assign(new Error(`${opts.what}: the upload stream was already sent`), { code: "EPIPE" });
      sent = true;
      return opts.body;
    },
    idempotent: false,
  });
  if (patched.status !== 202) throw await registryError(patched, `uploading ${opts.what}`);
  await patched.body.dump().catch(() => undefined);
  const digest = await opts.digest();
  await finish(client, repo, digest, nextLocation(client, patched, location), digest);
  return digest;
}

/** POST (spec §Streamed upload): where the upload's PATCH goes. */
async function beginUpload(client: RegistryClient, repo: string, what: string): Promise<string> {
  await client.ping(); // the base URL (https, or http where allowed) is known only after it
  const start = client.url(`${repo}/blobs/uploads/`);
  const posted = await client.request({ method: "POST", path: start, scopes: [pushScope(repo)], idempotent: true });
  if (posted.status !== 202 || !header(posted.headers, "location"))
    throw await registryError(posted, `starting the upload of ${what}`);
  await posted.body.dump().catch(() => undefined);
  return nextLocation(client, posted, start.toString());
}

export interface LentUploadOptions {
  client: RegistryClient;
  repo: string;
  /**
   * Makes the blob, handing each piece of it to `lend` (which gives it back once sent), and
   * resolves with its digest once every piece has been handed over.
   */
  produce: (lend: (bytes: Buffer, giveBack: () => void) => void) => Promise<Digest>;
  what: string;
}

/**
 * uploadStreamed's requests, with the PATCH written from lent memory (direct-upload.ts).
 * Undefined when the registry puts the upload on another host: the caller streams it instead.
 */
export async function uploadLent(opts: LentUploadOptions): Promise<Digest | undefined> {
  const { client, repo } = opts;
  const location = await beginUpload(client, repo, opts.what);
  const sender = await client.patchSender(new URL(location), repo);
  if (!sender) return undefined;
  await sender.opened;
  let digest: Digest;
  try {
    digest = await opts.produce(sender.send);
  } catch (err) {
    sender.abort();
    throw err;
  }
  const answer = await sender.end();
  if (answer.status !== 202) throw registryErrorOf(answer.status, answer.text, `uploading ${opts.what}`);
  await finish(client, repo, digest, nextLocation(client, answer, location), digest);
  return digest;
}

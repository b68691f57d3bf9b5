import * as net from "node:net";
import * as tls from "node:tls";
import { BerthError } from "../oci/errors.js";

/**
 * A blob GET whose body the socket reads straight into the caller's memory (the shared ring
 * of image/offthread-hash.ts, where a worker hashes and writes it), for the large layers of a
 * pull.
 *
 * Why by hand, beside undici: undici's parser copies every 64 KiB read through WebAssembly
 * memory and hands out a fresh buffer per read. For a 524 MB layer on loopback that cost
 * ~150 ms over a bare socket (473 against 323 ms, body discarded), and with the copy into the
 * ring, the hash and the file write on one thread a pull took ~0.9 s where curl took 0.5.
 * With `onread` the kernel writes into the ring and the main thread only counts: 0.48–0.50 s,
 * hashed and on disk.
 *
 * It handles only the plain case: one request, `Connection: close`, a 200 or 206 with a
 * Content-Length of exactly the bytes wanted and no transfer or content coding. Anything
 * else (a redirect, a 401 for a new token, an error, chunked encoding) is declined before a
 * body byte is taken, and the caller asks again through undici, which handles it all.
 */

export interface DirectGet {
  url: URL;
  headers: Readonly<Record<string, string>>;
  /** For https: the same roots and client certificate undici's agent uses. */
  tls: tls.ConnectionOptions | undefined;
  /** Where the body starts (a Range request when > 0). */
  offset: number;
  /** How many body bytes are wanted: the blob's size less `offset`. */
  length: number;
  /** Idle time after which the connection counts as broken. */
  timeoutMs: number;
}

/** Where the body goes: `region` gives memory to read into, `filled` takes what was read. */
export interface BodySink {
  region(max: number): Buffer;
  /** A promise when the sink is full for now: reading pauses until it settles. */
  filled(n: number): Promise<void> | undefined;
  /** Copies bytes in, waiting for room. */
  update(bytes: Uint8Array): Promise<void>;
  /** Undefined when `region` may be written now; else a promise for when it may. */
  ready(): Promise<void> | undefined;
}

/** "complete": all `length` bytes are in the sink. "declined": none were taken; ask through undici. */
export type DirectOutcome = { kind: "complete" } | { kind: "declined"; why: string };

/** What one read of the response head, or one read while the sink is full, may take. */
const SCRATCH = 16 << 10;
/** The largest response head read before giving up on this path. */
const HEAD_MAX = 64 << 10;

/**
 * Runs one GET. Resolves "complete" or "declined"; rejects with a network error (code
 * ECONNRESET, ETIMEDOUT, …) when the connection breaks, after which the sink holds the body
 * bytes received so far, in order.
 */
export async function directGet(req: DirectGet, sink: BodySink, onBytes: (n: number) => void): Promise<DirectOutcome> {
  // a connection that broke while waiting for a busy slot leaves the next one to wait for it
  try {
    await sink.ready();
  } catch (err) {
    throw sinkError(err);
  }
  return new Promise((resolve, reject) => {
    let remaining = req.length;
    let head: Buffer | undefined = Buffer.alloc(0);
    const scratch = Buffer.allocUnsafe(SCRATCH);
    let settled = false;
    const finish = (err: Error | undefined, outcome?: DirectOutcome) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else resolve(outcome as DirectOutcome);
    };
    // While the sink's next slot is busy the socket is paused, but a TLS socket still hands
    // over what it has already decrypted (node's TLS wrap drains OpenSSL in a loop): those
    // reads land in `spill`, never in the busy slot, and are copied in once it is free. (Before
    // this, they overwrote the slot the worker was hashing: a wrong digest over TLS.) The first
    // read after a resume lands there too, as the socket took its buffer before the pause.
    const spill = Buffer.allocUnsafe(SCRATCH);
    const spilled: Buffer[] = [];
    let waiting = false;
    const wait = (p: Promise<void>) => {
      waiting = true;
      socket.pause();
      p.then(async () => {
        for (let chunk = spilled.shift(); chunk; chunk = spilled.shift()) await sink.update(chunk);
        waiting = false;
        if (settled) return;
        if (remaining === 0) finish(undefined, { kind: "complete" });
        else socket.resume();
      }).catch((err: unknown) => finish(sinkError(err)));
    };
    /** The sink takes `n` bytes written into its region: a promise when it is full for now. */
    const fill = (n: number): Promise<void> | undefined => {
      try {
        return sink.filled(n);
      } catch (err) {
        finish(sinkError(err));
        return undefined;
      }
    };
    /** A read straight into the sink's region. */
    const body = (n: number) => {
      remaining -= n;
      onBytes(n);
      const full = fill(n);
      if (settled) return;
      if (remaining === 0) finish(undefined, { kind: "complete" });
      else if (full) wait(full);
    };
    /** Bytes read elsewhere (into `spill`, or with the head): into the ring now, or once it has room. */
    const accept = (bytes: Buffer) => {
      remaining -= bytes.length;
      onBytes(bytes.length);
      if (waiting) {
        spilled.push(Buffer.from(bytes));
        return;
      }
      for (let at = 0; at < bytes.length; ) {
        const k = bytes.copy(sink.region(bytes.length - at), 0, at);
        at += k;
        const full = fill(k);
        if (settled) return;
        if (full) {
          if (at < bytes.length) spilled.push(Buffer.from(bytes.subarray(at)));
          wait(full);
          return;
        }
      }
      if (remaining === 0) finish(undefined, { kind: "complete" });
    };
    const readHead = (bytes: Uint8Array) => {
      head = Buffer.concat([head as Buffer, bytes]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > HEAD_MAX) finish(undefined, { kind: "declined", why: "a response head over 64 KiB" });
        return;
      }
      const why = unusable(head.subarray(0, end).toString("latin1"), req);
      if (why) {
        finish(undefined, { kind: "declined", why });
        return;
      }
      const first = head.subarray(end + 4, end + 4 + remaining);
      head = undefined;
      if (first.length > 0) accept(first);
    };
    const onread = {
      buffer: () => (head ? scratch : waiting ? spill : sink.region(remaining)),
      callback: (n: number, buf: Uint8Array): boolean => {
        if (settled) return false;
        // the spill is not cut to the length wanted, as the ring's region is
        if (!head && buf === spill) accept(spill.subarray(0, Math.min(n, remaining)));
        else if (!head) body(n);
        else readHead(buf.subarray(0, n));
        return !settled && !waiting;
      },
    };
    const host = req.url.hostname.replace(/^\[|\]$/g, "");
    const port = Number(req.url.port) || (req.url.protocol === "https:" ? 443 : 80);
    const socket: net.Socket = req.tls
      ? // node's tls.connect takes onread as net.connect does (documented; @types/node omits it)
        tls.connect({
          ...req.tls,
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          onread,
        } as tls.ConnectionOptions)
      : net.connect({ host, port, onread });
    socket.setTimeout(req.timeoutMs, () =>
      finish(Object.assign(new Error("the registry stopped sending"), { code: "ETIMEDOUT" })),
    );
    socket.on("error", (err) => finish(err));
    socket.on("close", () =>
      finish(Object.assign(new Error("the registry ended the blob early"), { code: "ECONNRESET" })),
    );
    const lines = [
      `GET ${req.url.pathname}${req.url.search} HTTP/1.1`,
      `host: ${req.url.host}`,
      "connection: close",
      "accept-encoding: identity",
      ...(req.offset > 0 ? [`range: bytes=${req.offset}-`] : []),
      ...Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`),
    ];
    if (lines.some((l) => /[\r\n]/.test(l))) {
      finish(undefined, { kind: "declined", why: "a header with a line break" });
      return;
    }
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  });
}

/** Why this response is not the plain body asked for, or undefined when it is. */
function unusable(head: string, req: DirectGet): string | undefined {
  const [statusLine = "", ...rest] = head.split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
  const headers = new Map<string, string[]>();
  for (const line of rest) {
    const colon = line.indexOf(":");
    if (colon <= 0) return "an unreadable response header";
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  const wanted = req.offset > 0 ? "206" : "200";
  if (status !== wanted) return `HTTP ${status ?? "?"}`;
  if (headers.has("transfer-encoding")) return "a transfer coding";
  const coding = headers.get("content-encoding");
  if (coding?.some((c) => c.toLowerCase() !== "identity")) return "a content coding";
  const length = headers.get("content-length");
  if (length?.length !== 1 || !/^\d+$/.test(length[0] as string) || Number(length[0]) !== req.length)
    return "a length other than the blob's";
  if (req.offset > 0) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(headers.get("content-range")?.[0] ?? "");
    if (!range || Number(range[1]) !== req.offset || Number(range[2]) !== req.offset + req.length - 1)
      return "a range other than the one asked for";
  }
  return undefined;
}

/** The sink failed (the worker could not write: a full disk): the store's fault, not the network's. */
function sinkError(err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  return new BerthError("STORE", `writing the download: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

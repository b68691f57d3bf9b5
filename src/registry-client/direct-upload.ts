import * as fs from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import { sendFileOnSocket, sendfileAddon } from "../image/native-sendfile.js";

/**
 * A blob upload's PATCH written straight to a socket, chunk by chunk from memory the caller
 * lends (the shared ring of image/offthread-hash.ts, where a worker hashes and writes the same
 * bytes to the store), for the first push of a large layer.
 *
 * Why by hand, beside undici: undici takes a stream, and a stream's chunks cannot be lent. Each
 * must be memory of its own until the socket is done with it, which nothing tells the producer,
 * so every chunk was a fresh buffer: for 524 MB of random bytes, ~16,000 pieces through four
 * stream stages, and ~0.2 s of the main thread in garbage collection. Here a write's callback
 * says when the socket has taken a chunk, and the ring's slot is given back then.
 *
 * One request on its own connection (`Connection: close`), chunked, since a compressed size is
 * known only at the end. The caller turns anything but a 202 into an error and may start over.
 *
 * `directFilePatch` sends one chunk of a stored blob the same way: from the file, through
 * sendfile(2) on plain HTTP (the bytes never enter node), else read into a few reused buffers.
 * undici took the same chunk as a file stream turned into fresh buffers, copied into the socket
 * on node's thread, while the registry wanted that core to hash what it received.
 */

export interface DirectPatch {
  url: URL;
  headers: Readonly<Record<string, string>>;
  /** For https: the same roots and client certificate undici's agent uses. */
  tls: tls.ConnectionOptions | undefined;
  /** Idle time after which the connection counts as broken. */
  timeoutMs: number;
}

export interface PatchAnswer {
  status: number;
  headers: Readonly<Record<string, string>>;
  /** The body, as text (an error's JSON): at most BODY_MAX bytes of it. */
  text: string;
}

export interface PatchSender {
  /** Sends `bytes` as one chunk; `giveBack` is called once the socket no longer reads them. */
  send(bytes: Buffer, giveBack: () => void): void;
  /** Ends the body and resolves with the registry's answer; rejects when the connection broke. */
  end(): Promise<PatchAnswer>;
  /** Closes the connection (an abandoned upload); everything lent is given back. */
  abort(): void;
}

const HEAD_MAX = 64 << 10;
const BODY_MAX = 64 << 10;

/** One request on its own connection, and the registry's answer to it. */
interface Exchange {
  socket: net.Socket;
  /** Whether the answer (or a failure) has come: nothing more need be sent. */
  settled(): boolean;
  /** The body is all sent: an answer now is the answer (before, a success means a cut body). */
  ended(): void;
  /** Ends the exchange with `err`, unless an answer or a failure came first. */
  stop(err: Error): void;
  /** The registry's answer; rejects when the connection broke first. */
  answer(): Promise<PatchAnswer>;
}

/** Connects, writes the request's head, and reads the answer. */
function exchange(req: DirectPatch, head: readonly string[], onStop: () => void): Exchange {
  const lines = [
    `PATCH ${req.url.pathname}${req.url.search} HTTP/1.1`,
    `host: ${req.url.host}`,
    "connection: close",
    "content-type: application/octet-stream",
    ...head,
    ...Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`),
  ];
  if (lines.some((l) => /[\r\n]/.test(l))) throw new Error("a request header holds a line break");

  const host = req.url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(req.url.port) || (req.url.protocol === "https:" ? 443 : 80);
  const socket: net.Socket = req.tls
    ? tls.connect({ ...req.tls, host, port, servername: net.isIP(host) ? undefined : host })
    : net.connect({ host, port });
  socket.setNoDelay(true);

  let received = Buffer.alloc(0);
  let ended = false;
  let answer: PatchAnswer | undefined;
  let failure: Error | undefined;
  let settle: (() => void) | undefined;
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const stop = (err: Error | undefined) => {
    if (!answer && !failure)
      failure = err ?? Object.assign(new Error("the registry closed the upload"), { code: "ECONNRESET" });
    onStop();
    socket.destroy();
    settle?.();
  };
  socket.setTimeout(req.timeoutMs, () =>
    stop(Object.assign(new Error("the registry stopped taking the upload"), { code: "ETIMEDOUT" })),
  );
  socket.on("error", (err) => stop(err));
  socket.on("close", () => stop(undefined));
  socket.on("data", (chunk: Buffer) => {
    if (answer || failure) return;
    received = Buffer.concat([received, chunk]);
    let parsed = parseAnswer(received);
    // an interim answer (100 Continue) is not the answer: the one after it is
    while (typeof parsed === "object" && parsed.status < 200) {
      received = received.subarray(received.indexOf("\r\n\r\n") + 4);
      parsed = parseAnswer(received);
    }
    if (parsed === "more") return;
    if (parsed === "bad") {
      stop(Object.assign(new Error("the registry's answer to the upload is not HTTP"), { code: "EPROTO" }));
      return;
    }
    // An answer before the body's end ends the upload as well: a refusal is reported as it is,
    // but a success for a body cut short would leave the registry with part of the blob.
    if (!ended && parsed.status < 300) {
      stop(Object.assign(new Error("the registry answered before the upload's end"), { code: "ECONNRESET" }));
      return;
    }
    answer = parsed;
    stop(undefined);
  });
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  return {
    socket,
    settled: () => answer !== undefined || failure !== undefined,
    ended: () => {
      ended = true;
    },
    stop,
    async answer() {
      await done;
      if (answer) return answer;
      throw failure;
    },
  };
}

/** Opens the PATCH. Headers must not hold line breaks (the caller's values are checked). */
export function directPatch(req: DirectPatch): PatchSender {
  // Lent chunks the socket has not finished with: all given back when it fails or closes.
  const held = new Set<() => void>();
  const x = exchange(req, ["transfer-encoding: chunked"], () => {
    for (const g of held) g();
    held.clear();
  });
  const socket = x.socket;
  return {
    send(bytes, giveBack) {
      if (x.settled() || bytes.length === 0) {
        giveBack();
        return;
      }
      let given = false;
      const once = () => {
        if (given) return;
        given = true;
        held.delete(once);
        giveBack();
      };
      held.add(once);
      socket.cork();
      socket.write(`${bytes.length.toString(16)}\r\n`);
      socket.write(bytes, once);
      socket.write("\r\n");
      socket.uncork();
    },
    end() {
      x.ended();
      if (!x.settled()) socket.write("0\r\n\r\n");
      return x.answer();
    },
    abort() {
      x.stop(Object.assign(new Error("upload abandoned"), { code: "ECONNABORTED" }));
    },
  };
}

/** Bytes `start` up to (not including) `end` of an open file. */
export interface FileRange {
  fd: number;
  start: number;
  end: number;
}

/** sendfile's slice: the progress a transfer reports moves by this much. */
const SENDFILE_SLICE = 16 << 20;
/** A read's size, and how many reads may wait in the socket, where the bytes go through node. */
const READ_SLICE = 1 << 20;
const READS_QUEUED = 4;

/**
 * One PATCH of a chunk of a stored blob (`Content-Range`, `Content-Length`), its body from the
 * file. Resolves with the registry's answer (a refusal may come before the body's end); rejects
 * when the connection broke. `onBytes` counts what the socket has taken.
 */
export async function directFilePatch(
  req: DirectPatch,
  file: FileRange,
  onBytes: (n: number) => void,
): Promise<PatchAnswer> {
  const count = file.end - file.start;
  const waiter: Waiter = { wake: undefined };
  const x = exchange(req, [`content-length: ${count}`, `content-range: ${file.start}-${file.end - 1}`], () =>
    waiter.wake?.(),
  );
  // With a length the registry knows where the body ends, and its answer's Range says what it
  // holds (the caller checks it): a 202 may come before sendfile's thread has told us it is done.
  x.ended();
  const body = (
    !req.tls && sendfileAddon() ? sendSlices(x, file, onBytes) : writeFromFile(x, file, waiter, onBytes)
  ).catch((err: unknown) => {
    // The registry gone from the socket: it may have answered first (a refusal, then a close),
    // and the socket's own end says which. Anything else is ours (a file cut short): stop.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ECONNRESET" && code !== "EPIPE") x.stop(err as Error);
  });
  // an answer ends the exchange even while a slice is still with sendfile's thread (it stops
  // when the registry closes the connection, or at its own stall limit)
  await Promise.race([body, x.answer().catch(() => undefined)]);
  return x.answer();
}

async function sendSlices(x: Exchange, file: FileRange, onBytes: (n: number) => void): Promise<void> {
  for (let at = file.start; at < file.end && !x.settled(); ) {
    const n = Math.min(SENDFILE_SLICE, file.end - at);
    const sent = await sendFileOnSocket(x.socket, file.fd, at, n);
    if (sent !== n) throw Object.assign(new Error("the blob's file ended early"), { code: "EIO" });
    at += n;
    onBytes(n);
  }
}

/** Where a wait for the socket parks; the exchange's end wakes it too. */
interface Waiter {
  wake: (() => void) | undefined;
}

/** The file's bytes read into a few buffers, each used again once the socket has taken it. */
async function writeFromFile(
  x: Exchange,
  file: FileRange,
  waiter: Waiter,
  onBytes: (n: number) => void,
): Promise<void> {
  const free = Array.from({ length: READS_QUEUED }, () => Buffer.allocUnsafe(READ_SLICE));
  const wait = () => new Promise<void>((r) => (waiter.wake = r));
  let failed: Error | undefined;
  for (let at = file.start; at < file.end && !x.settled(); ) {
    while (free.length === 0 && !x.settled()) await wait();
    const buf = free.pop();
    if (!buf || x.settled()) break;
    const n = fs.readSync(file.fd, buf, 0, Math.min(READ_SLICE, file.end - at), at);
    if (n === 0) throw Object.assign(new Error("the blob's file ended early"), { code: "EIO" });
    at += n;
    x.socket.write(buf.subarray(0, n), (err) => {
      if (err) failed = err;
      else onBytes(n);
      free.push(buf);
      waiter.wake?.();
    });
  }
  // every write taken (or the exchange over) before the body counts as sent
  while (free.length < READS_QUEUED && !x.settled()) await wait();
  if (failed) throw failed;
}

/** The answer when all of it has come, "more" while it has not, "bad" when it is not HTTP/1.1. */
function parseAnswer(bytes: Buffer): PatchAnswer | "more" | "bad" {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return bytes.length > HEAD_MAX ? "bad" : "more";
  const [statusLine = "", ...rest] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
  if (!status) return "bad";
  const headers: Record<string, string> = {};
  for (const line of rest) {
    const colon = line.indexOf(":");
    if (colon <= 0) return "bad";
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = bytes.subarray(end + 4);
  const length = headers["content-length"];
  if (length !== undefined) {
    if (!/^\d+$/.test(length)) return "bad";
    const want = Math.min(Number(length), BODY_MAX);
    if (body.length < want) return "more";
    return { status: Number(status), headers, text: body.subarray(0, want).toString("utf8") };
  }
  // no length (chunked or until close): the head says enough; an error's text is best effort
  return { status: Number(status), headers, text: "" };
}

import * as net from "node:net";
import * as tls from "node:tls";

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
  /**
   * Settles once the request's head has gone to the kernel (or the connection failed, which
   * `end` reports). The first bytes are made from the file synchronously, a ring's worth at a
   * time: started before this, they held the head back ~7 ms, and with it the registry.
   */
  readonly opened: Promise<void>;
  /** Sends `bytes` as one chunk; `giveBack` is called once the socket no longer reads them. */
  send(bytes: Buffer, giveBack: () => void): void;
  /** Ends the body and resolves with the registry's answer; rejects when the connection broke. */
  end(): Promise<PatchAnswer>;
  /** Closes the connection (an abandoned upload); everything lent is given back. */
  abort(): void;
}

const HEAD_MAX = 64 << 10;
const BODY_MAX = 64 << 10;

/** Opens the PATCH. Headers must not hold line breaks (the caller's values are checked). */
export function directPatch(req: DirectPatch): PatchSender {
  const lines = [
    `PATCH ${req.url.pathname}${req.url.search} HTTP/1.1`,
    `host: ${req.url.host}`,
    "connection: close",
    "content-type: application/octet-stream",
    "transfer-encoding: chunked",
    ...Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`),
  ];
  if (lines.some((l) => /[\r\n]/.test(l))) throw new Error("a request header holds a line break");

  const host = req.url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(req.url.port) || (req.url.protocol === "https:" ? 443 : 80);
  const socket: net.Socket = req.tls
    ? tls.connect({ ...req.tls, host, port, servername: net.isIP(host) ? undefined : host })
    : net.connect({ host, port });
  socket.setNoDelay(true);

  // Lent chunks the socket has not finished with: all given back when it fails or closes.
  const held = new Set<() => void>();
  const giveBackAll = () => {
    for (const g of held) g();
    held.clear();
  };
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
    giveBackAll();
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
  const headSent = new Promise<void>((resolve) => {
    socket.write(`${lines.join("\r\n")}\r\n\r\n`, () => resolve());
  });
  // a connection that fails may never call the write back: its end settles this too
  const opened = Promise.race([headSent, done]);

  return {
    opened,
    send(bytes, giveBack) {
      if (answer || failure || bytes.length === 0) {
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
    async end() {
      ended = true;
      if (!answer && !failure) socket.write("0\r\n\r\n");
      await done;
      if (answer) return answer;
      throw failure;
    },
    abort() {
      stop(Object.assign(new Error("upload abandoned"), { code: "ECONNABORTED" }));
    },
  };
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

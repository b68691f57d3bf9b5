import type * as fs from "node:fs";
import type { ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { Socket } from "node:net";

/**
 * Blob bytes through sendfile(2) (native/sendfile): from the page cache to the socket in the
 * kernel, on a thread of the addon's, instead of a read into node and a write out again on the
 * event loop. Node has no sendfile of its own; this is what closes most of the gap to
 * Distribution on large blob GETs. Where the addon was not built (no compiler at install), or
 * the socket has no descriptor, `canSendFile` answers false and the caller streams as before.
 */

interface SendfileAddon {
  send(
    socketFd: number,
    fileFd: number,
    offset: number,
    count: number,
    done: (errno: number, sent: number) => void,
  ): void;
}

let addon: SendfileAddon | null | undefined;

function sendfileAddon(): SendfileAddon | null {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)("berth-sendfile/build/Release/berth_sendfile.node") as SendfileAddon;
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** Bytes each response sent past node (the request log counts socket bytes, which miss them). */
export const bytesSentOutside = new WeakMap<ServerResponse, number>();

/** The socket's file descriptor: node keeps it on the TCP handle (not a public API; checked). */
function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/** Whether `sendFile` can answer on this response's connection. */
export function canSendFile(res: ServerResponse): boolean {
  return sendfileAddon() !== null && res.socket !== null && socketFd(res.socket) !== undefined;
}

/**
 * Sends the headers already written to `res` and then `count` bytes of `file` from `offset`, and
 * ends the response. Only after `canSendFile(res)`.
 */
export async function sendFile(
  res: ServerResponse,
  file: fs.promises.FileHandle,
  offset: number,
  count: number,
): Promise<void> {
  const native = sendfileAddon();
  const socket = res.socket;
  if (!native || !socket) throw new Error("sendFile without canSendFile");
  // the headers go through node first; the file's bytes must follow them, so wait until
  // node has handed everything it queued to the kernel
  res.flushHeaders();
  while (socket.writableLength > 0 && !socket.destroyed) await new Promise((r) => setImmediate(r));
  const fd = socketFd(socket);
  if (socket.destroyed || fd === undefined) throw Object.assign(new Error("aborted"), { code: "ECONNRESET" });
  const sent = await new Promise<number>((resolve, reject) => {
    native.send(fd, file.fd, offset, count, (errno, n) => {
      if (errno === 0) return resolve(n);
      // EPIPE, ECONNRESET: the client went away (an abort, as a stream would report it)
      const gone = errno === 32 || errno === 104;
      reject(Object.assign(new Error(`sendfile: errno ${errno}`), { code: gone ? "ECONNRESET" : "EIO" }));
    });
  });
  bytesSentOutside.set(res, sent);
  // the body went past node: its Content-Length is already satisfied on the wire
  res.end();
}

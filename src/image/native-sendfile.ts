import { createRequire } from "node:module";
import type { Socket } from "node:net";

/**
 * sendfile(2) through native/sendfile: bytes go from the page cache to a socket in the kernel,
 * on a thread of the addon's, instead of being read into node and written out again. Node has
 * none of its own. `berth serve` answers blob GETs this way; push sends stored blobs this way.
 * Where the addon was not built (no compiler at install) `sendfileAddon()` is null and callers
 * stream through node as before.
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

export function sendfileAddon(): SendfileAddon | null {
  if (addon === undefined) {
    try {
      addon = createRequire(import.meta.url)("berth-sendfile/build/Release/berth_sendfile.node") as SendfileAddon;
    } catch {
      addon = null;
    }
  }
  return addon;
}

/** The socket's file descriptor: node keeps it on the TCP handle (not a public API; checked). */
export function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/**
 * Sends `count` bytes of the file `fileFd` from `offset` on `socket`, after whatever node has
 * queued on it (the request's or response's head). Resolves with the bytes sent; rejects with
 * code ECONNRESET when the peer went away, EIO otherwise. Only when `sendfileAddon()` is not null.
 */
export async function sendFileOnSocket(socket: Socket, fileFd: number, offset: number, count: number): Promise<number> {
  const native = sendfileAddon();
  if (!native) throw new Error("sendFileOnSocket without the sendfile addon");
  // the file's bytes must follow what node queued: wait until it has all gone to the kernel
  while ((socket.writableLength > 0 || socket.connecting) && !socket.destroyed)
    await new Promise((r) => setImmediate(r));
  const fd = socketFd(socket);
  if (socket.destroyed || fd === undefined) throw Object.assign(new Error("aborted"), { code: "ECONNRESET" });
  return new Promise<number>((resolve, reject) => {
    native.send(fd, fileFd, offset, count, (errno, n) => {
      if (errno === 0) return resolve(n);
      // EPIPE, ECONNRESET: the peer went away (an abort, as a stream would report it)
      const gone = errno === 32 || errno === 104;
      reject(Object.assign(new Error(`sendfile: errno ${errno}`), { code: gone ? "ECONNRESET" : "EIO" }));
    });
  });
}

import type * as fs from "node:fs";
import type { ServerResponse } from "node:http";
import { sendFileOnSocket, sendfileAddon, socketFd } from "../image/native-sendfile.js";

/**
 * Blob bytes through sendfile(2) (image/native-sendfile.ts): from the page cache to the socket
 * in the kernel, instead of a read into node and a write out again on the event loop. This is
 * what closes most of the gap to Distribution on large blob GETs. Where the addon was not built
 * (no compiler at install), or the socket has no descriptor, `canSendFile` answers false and
 * the caller streams as before.
 */

/** Bytes each response sent past node (the request log counts socket bytes, which miss them). */
export const bytesSentOutside = new WeakMap<ServerResponse, number>();

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
  const socket = res.socket;
  if (!socket) throw new Error("sendFile without canSendFile");
  // the headers go through node first; the file's bytes follow them
  res.flushHeaders();
  const sent = await sendFileOnSocket(socket, file.fd, offset, count);
  bytesSentOutside.set(res, sent);
  // the body went past node: its Content-Length is already satisfied on the wire
  res.end();
}

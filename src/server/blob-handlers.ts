import { pipeline } from "node:stream/promises";
import type { Digest } from "../oci/digest.js";
import { authorize, type Call, unknown } from "./call.js";
import { API_VERSION_HEADER, send } from "./http.js";
import { requestDigest } from "./names.js";
import { resolveRange } from "./range.js";
import { RegistryError } from "./registry-error.js";
import { canSendFile, sendFile } from "./send-file.js";

/** GET/HEAD /v2/<name>/blobs/<digest> (end-2), with a single-range `Range` (RFC 9110 §14). */
export async function getBlob(call: Call, name: string, digestText: string): Promise<void> {
  const digest = requestDigest(digestText);
  await authorize(call, name, ["pull"]);
  const { metadata, storage, blobCache } = call.registry;
  const size = await metadata.blobSize(name, digest);
  if (size === undefined) {
    // a manifest is content-addressed too: Distribution serves it through the blob endpoint
    const m = await metadata.getManifest(name, { digest });
    if (m) return sendBytes(call, digest, m.content);
    throw await blobUnknown(call, name, digest);
  }
  if (size <= blobCache.maxEntryBytes) {
    let bytes = blobCache.get(digest);
    if (bytes === undefined) {
      bytes = await storage.readAll(digest);
      if (bytes === undefined) throw await blobUnknown(call, name, digest);
      blobCache.set(digest, bytes);
    }
    return sendBytes(call, digest, bytes);
  }
  const range = resolveRange(call.req.headers.range, size);
  if (range.kind === "unsatisfiable") {
    send(call.res, 416, { "Content-Range": `bytes */${size}` });
    return;
  }
  const headers = blobHeaders(digest);
  if (call.req.method === "HEAD") {
    call.res.writeHead(200, { ...headers, "Content-Length": size });
    call.res.end();
    return;
  }
  const start = range.kind === "partial" ? range.start : 0;
  const count = range.kind === "partial" ? range.end - range.start + 1 : size;
  const writeHead = () =>
    range.kind === "partial"
      ? call.res.writeHead(206, {
          ...headers,
          "Content-Length": count,
          "Content-Range": `bytes ${range.start}-${range.end}/${size}`,
        })
      : call.res.writeHead(200, { ...headers, "Content-Length": size });
  // the kernel copies the file to the socket where it can (send-file.ts), else node streams it
  const file = canSendFile(call.res) ? await storage.openFile?.(digest) : undefined;
  if (file) {
    try {
      writeHead();
      await sendFile(call.res, file, start, count);
    } finally {
      await file.close();
    }
    return;
  }
  const stream = await storage.read(digest, range.kind === "partial" ? range : undefined);
  if (!stream) throw await blobUnknown(call, name, digest);
  writeHead();
  await pipeline(stream, call.res);
}

/** DELETE /v2/<name>/blobs/<digest> (end-10): unlinks it from the repository; GC reclaims the bytes. */
export async function deleteBlob(call: Call, name: string, digestText: string): Promise<void> {
  const digest = requestDigest(digestText);
  await authorize(call, name, ["delete"]);
  if (!(await call.registry.metadata.unlinkBlob(name, digest))) throw await blobUnknown(call, name, digest);
  send(call.res, 202, { "Docker-Content-Digest": digest });
}

function blobHeaders(digest: Digest): Record<string, string> {
  return {
    ...API_VERSION_HEADER,
    "Content-Type": "application/octet-stream",
    "Docker-Content-Digest": digest,
    "Accept-Ranges": "bytes",
    ETag: `"${digest}"`,
    // content-addressed: never changes
    "Cache-Control": "max-age=31536000",
  };
}

/** A blob held in memory, with the same Range rules as a streamed one. */
function sendBytes(call: Call, digest: Digest, bytes: Buffer): void {
  const range = resolveRange(call.req.headers.range, bytes.length);
  if (range.kind === "unsatisfiable") {
    send(call.res, 416, { "Content-Range": `bytes */${bytes.length}` });
  } else if (range.kind === "partial") {
    send(
      call.res,
      206,
      { ...blobHeaders(digest), "Content-Range": `bytes ${range.start}-${range.end}/${bytes.length}` },
      bytes.subarray(range.start, range.end + 1),
    );
  } else {
    send(call.res, 200, blobHeaders(digest), bytes);
  }
}

function blobUnknown(call: Call, name: string, digest: Digest): Promise<RegistryError> {
  return unknown(call, name, new RegistryError("BLOB_UNKNOWN", "blob unknown to registry", { detail: { digest } }));
}

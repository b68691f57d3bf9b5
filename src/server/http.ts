import type { IncomingMessage, ServerResponse } from "node:http";
import { errorBody } from "../oci/distribution.js";
import { RegistryError } from "./registry-error.js";

/** Sent on every answer: Docker clients look for it on /v2/ (spec "Legacy Docker support HTTP headers"). */
export const API_VERSION_HEADER = { "Docker-Distribution-API-Version": "registry/2.0" } as const;

export type Headers = Record<string, string | number>;

/** A complete answer with a body in memory (or none). HEAD gets the headers and length only. */
export function send(res: ServerResponse, status: number, headers: Headers, body?: Buffer | string): void {
  const bytes = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { ...API_VERSION_HEADER, "Content-Length": bytes?.length ?? 0, ...headers });
  if (bytes === undefined || res.req.method === "HEAD") res.end();
  else res.end(bytes);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Headers = {}): void {
  send(res, status, { "Content-Type": "application/json", ...headers }, JSON.stringify(value));
}

export function sendError(res: ServerResponse, err: RegistryError): void {
  sendJson(res, err.status, errorBody(err.code, err.message, err.detail), err.headers);
}

/** Whether the request carries a body (a declared length above zero, or chunked transfer). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  if (length !== undefined) return Number(length) > 0;
  return req.headers["transfer-encoding"] !== undefined;
}

/**
 * Reads a small body (a manifest) into memory, refusing more than `limit` bytes with 413. A
 * body up to 4x the limit is read to its end and dropped first, so the client, still sending,
 * gets the answer rather than a reset connection; a larger one is refused at once.
 */
export async function readBody(req: IncomingMessage, limit: number, tooLarge: () => RegistryError): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > 4 * limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 4 * limit) throw tooLarge();
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  if (size > limit) throw tooLarge();
  return Buffer.concat(chunks, size);
}

/**
 * The body as an async iterable that must yield exactly `expected` bytes (a chunk with a
 * Content-Range): more or fewer is SIZE_INVALID, raised before the surplus is written.
 */
export async function* exactly(body: AsyncIterable<unknown>, expected: number): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > expected)
      throw new RegistryError("SIZE_INVALID", `chunk is longer than its Content-Range (${expected} bytes)`);
    yield buf;
  }
  if (size !== expected) {
    throw new RegistryError("SIZE_INVALID", `chunk has ${size} bytes, its Content-Range says ${expected}`);
  }
}

/** `/v2/<name>/tags/list?n=…&last=…`-style pagination parameters. */
export function pageParams(query: URLSearchParams, max: number): { n: number | undefined; last: string | undefined } {
  const nText = query.get("n");
  let n: number | undefined;
  if (nText !== null) {
    if (!/^\d{1,9}$/.test(nText)) {
      throw new RegistryError("UNSUPPORTED", "query parameter n must be a non-negative integer", { status: 400 });
    }
    n = Math.min(Number(nText), max);
  }
  const last = query.get("last") ?? undefined;
  return { n, last: last === "" ? undefined : last };
}

/** RFC 5988 `Link` to the next page (spec "Listing Tags"); `keep` are query parameters the next page keeps (a filter). */
export function nextLink(path: string, n: number, last: string, keep: Record<string, string> = {}): string {
  const extra = Object.entries(keep).map(([k, v]) => `&${k}=${encodeURIComponent(v)}`);
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}${extra.join("")}>; rel="next"`;
}

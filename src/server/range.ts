/**
 * Byte ranges: the `Range` request header of blob GETs (RFC 9110 §14, one range) and the
 * `Content-Range` of chunked uploads (spec "Pushing a blob in chunks": `<start>-<end>`,
 * inclusive; `bytes <start>-<end>/<total>` accepted too, as some clients send it).
 */
export type RangeResult =
  | { readonly kind: "full" }
  | { readonly kind: "partial"; readonly start: number; readonly end: number }
  | { readonly kind: "unsatisfiable" };

/**
 * Resolves a `Range` header against a blob of `size` bytes. Headers we do not understand, and
 * multi-range requests, are ignored (a full 200 answer is always allowed by the RFC).
 */
export function resolveRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: "full" };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return { kind: "full" };
  const [, a = "", b = ""] = m;
  if (a === "" && b === "") return { kind: "full" };
  if (a === "") {
    // suffix: the last N bytes
    const n = Number(b);
    if (n === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (start >= size) return { kind: "unsatisfiable" };
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (end < start) return { kind: "unsatisfiable" };
  return { kind: "partial", start, end };
}

/** Parses an upload chunk's Content-Range into inclusive offsets; undefined when malformed. */
export function parseContentRange(header: string): { start: number; end: number } | undefined {
  const m = /^\s*(?:bytes\s+)?(\d+)-(\d+)(?:\/(?:\d+|\*))?\s*$/.exec(header);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  return { start, end };
}

/** The upload status `Range` header: `0-<last byte>`; Distribution sends `0-0` for an empty upload. */
export function uploadRange(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}

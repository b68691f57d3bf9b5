/**
 * The one error class berth throws on purpose. `code` is stable and is what callers branch
 * on; the message is for people and says what went wrong, to which object, and what to do.
 */
export type ErrorCode =
  | "INVALID_REFERENCE"
  | "INVALID_DIGEST"
  | "INVALID_JSON"
  | "INVALID_ARCHIVE"
  | "DIGEST_MISMATCH"
  | "SIZE_MISMATCH"
  | "BLOB_UNKNOWN"
  | "IMAGE_UNKNOWN"
  | "IMAGE_IN_USE"
  | "CONFLICT"
  | "NOT_FOUND"
  | "USAGE"
  | "BUILD_FAILED"
  | "UNSUPPORTED"
  | "REGISTRY"
  | "NETWORK"
  | "STORE";

export class BerthError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BerthError";
    this.code = code;
  }
}

/** Rethrows `err` with `context` in front of its message, keeping its code. */
export function withContext(context: string, err: unknown): BerthError {
  if (err instanceof BerthError) return new BerthError(err.code, `${context}: ${err.message}`, { cause: err });
  const msg = err instanceof Error ? err.message : String(err);
  return new BerthError("STORE", `${context}: ${msg}`, { cause: err });
}

/** `err` and the errors it wraps (`cause`), outermost first, at most 8 deep. */
export function causeChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && out.length < 8; e = (e as Error).cause) out.push(e);
  return out;
}

/** Whether a full disk (or quota) is behind `err`, anywhere in its chain of causes. */
export function isDiskFull(err: unknown): boolean {
  return causeChain(err).some((e) => {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL";
  });
}

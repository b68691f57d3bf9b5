import type { DistributionErrorCode } from "../oci/distribution.js";

/**
 * An error the API answers with the distribution spec's JSON body. The HTTP status comes from
 * one table (the spec's endpoint table and Distribution's choices where the spec leaves it
 * open); a few answers override it (413 for oversized manifests, 416 for chunk order).
 */
export class RegistryError extends Error {
  readonly code: DistributionErrorCode;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly detail: unknown;
  constructor(
    code: DistributionErrorCode,
    message: string,
    options: { status?: number; headers?: Record<string, string>; detail?: unknown } = {},
  ) {
    super(message);
    this.name = "RegistryError";
    this.code = code;
    this.status = options.status ?? STATUS[code];
    this.headers = options.headers ?? {};
    this.detail = options.detail;
  }
}

const STATUS: Record<DistributionErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
};

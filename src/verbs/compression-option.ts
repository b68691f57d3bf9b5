import { BerthError } from "../oci/errors.js";
import type { Compression } from "../oci/media-types.js";

/**
 * `--compression`'s value, or one line saying what it takes. Its own module so the CLI checks
 * it without loading the registry client (undici) before the push starts.
 */
export function parseCompression(value: string): Compression {
  if (value === "gzip" || value === "zstd" || value === "none") return value;
  throw new BerthError("USAGE", `invalid --compression "${value}": use gzip, zstd or none`);
}

import { createHash, type Hash } from "node:crypto";
import { BerthError } from "./errors.js";

/** A content digest such as `sha256:<64 hex>`. Made only by parsing or hashing. */
export type Digest = string & { readonly __brand: "Digest" };

export type DigestAlgorithm = "sha256" | "sha512";

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/** Parses and validates a digest string; throws INVALID_DIGEST naming what is wrong. */
export function parseDigest(text: string): Digest {
  const colon = text.indexOf(":");
  if (colon < 0) throw new BerthError("INVALID_DIGEST", `invalid digest "${clip(text)}": expected algorithm:hex`);
  const algorithm = text.slice(0, colon);
  const encoded = text.slice(colon + 1);
  if (algorithm !== "sha256" && algorithm !== "sha512") {
    throw new BerthError(
      "INVALID_DIGEST",
      `invalid digest "${clip(text)}": unsupported algorithm "${clip(algorithm)}"`,
    );
  }
  if (encoded.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(encoded)) {
    throw new BerthError(
      "INVALID_DIGEST",
      `invalid digest "${clip(text)}": ${algorithm} needs ${HEX_LENGTH[algorithm]} lowercase hex digits`,
    );
  }
  return text as Digest;
}

export function isDigest(text: string): text is Digest {
  try {
    parseDigest(text);
    return true;
  } catch {
    return false;
  }
}

export function digestAlgorithm(d: Digest): DigestAlgorithm {
  return d.slice(0, d.indexOf(":")) as DigestAlgorithm;
}

/** The hex part of a digest. */
export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(":") + 1);
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}` as Digest;
}

export function newHash(algorithm: DigestAlgorithm = "sha256"): Hash {
  return createHash(algorithm);
}

export function digestFromHash(algorithm: DigestAlgorithm, hash: Hash): Digest {
  return `${algorithm}:${hash.digest("hex")}` as Digest;
}

/** docker's short image ID: the first 12 hex digits. */
export function shortId(d: Digest): string {
  return digestHex(d).slice(0, 12);
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

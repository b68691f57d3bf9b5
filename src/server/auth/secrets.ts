import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";

/**
 * Passwords and long-lived tokens are stored only as argon2id hashes (OWASP's parameters:
 * 19 MiB, 2 passes, 1 lane), in PHC strings that carry their own salt and parameters.
 */

type Argon2 = typeof import("@node-rs/argon2");

let argon2: Argon2 | undefined;
/** A native addon, loaded on first use as better-sqlite3 is (the CLI bundle cannot hold it). */
function load(): Argon2 {
  argon2 ??= createRequire(import.meta.url)("@node-rs/argon2") as Argon2;
  return argon2;
}

// @node-rs/argon2's default algorithm is argon2id (tests check the `$argon2id$` prefix); the
// enum is a const enum, which isolated modules cannot name.
const OPTIONS = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

export function hashSecret(secret: string): Promise<string> {
  return load().hash(secret, OPTIONS);
}

export async function verifySecret(hash: string, secret: string): Promise<boolean> {
  try {
    return await load().verify(hash, secret);
  } catch {
    return false; // a malformed stored hash proves nothing
  }
}

/**
 * A credential token: `berth_` + 16 hex characters naming its row + `_` + 43 characters of
 * secret (256 bits). The id lets the server find the one hash to check instead of trying all;
 * the prefix lets a login tell a token from a password and lets secret scanners spot leaks.
 */
const TOKEN = /^berth_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface TokenParts {
  readonly id: string;
  readonly secret: string;
}

export function newToken(): TokenParts & { readonly text: string } {
  const id = randomBytes(8).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  return { id, secret, text: `berth_${id}_${secret}` };
}

export function parseToken(text: string): TokenParts | undefined {
  const m = TOKEN.exec(text);
  return m ? { id: m[1] as string, secret: m[2] as string } : undefined;
}

/** A password for a user added without one: 24 characters, 144 bits. */
export function newPassword(): string {
  return randomBytes(18).toString("base64url");
}

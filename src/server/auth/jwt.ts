import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import { BerthError } from "../../oci/errors.js";
import { z } from "../../oci/zod.js";

/**
 * The registry's bearer tokens: JWTs per Docker's token spec (docs/spec/auth/jwt.md), signed
 * ES256 with a key generated on first start and kept at `<root>/auth-key.pem` (mode 0600). The
 * token endpoint and the registry are one process, so only this key is trusted.
 */

const KEY_FILE = "auth-key.pem";

/** One entry of the `access` claim: a resource and the actions granted on it. */
export interface AccessEntry {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

export interface TokenClaims {
  readonly sub: string;
  readonly access: readonly AccessEntry[];
  /** The robot or refresh credential the token was issued against, so revoking it revokes the token. */
  readonly credential: string | undefined;
  readonly exp: number;
  /**
   * When the subject's account was made (ms): a user removed and added again under the same
   * name is another account, and the old one's tokens must not pass for it.
   */
  readonly userCreatedAt: number | undefined;
}

const payloadSchema = z.object({
  sub: z.string(),
  exp: z.number(),
  nbf: z.number(),
  iat: z.number(),
  jti: z.string().min(1),
  access: z.array(z.object({ type: z.string(), name: z.string(), actions: z.array(z.string()) })),
  berth_credential: z.string().optional(),
  berth_user_created: z.number().optional(),
});

/**
 * Docker's libtrust key ID: the SHA-256 of the DER public key, its first 240 bits in base32,
 * in groups of four joined by `:`. Distribution matches a token's `kid` in this form, so a
 * Distribution could trust this token service too.
 */
function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  const bytes = createHash("sha256").update(der).digest().subarray(0, 30);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return (out.match(/.{4}/g) as string[]).join(":");
}

/** Reads the signing key, creating it on first start; two processes starting at once agree on one. */
function loadOrCreateKey(root: string): KeyObject {
  const file = join(root, KEY_FILE);
  if (!fs.existsSync(file)) {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const tmp = join(root, `.${KEY_FILE}.${process.pid}.${randomBytes(4).toString("hex")}`);
    fs.writeFileSync(tmp, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    try {
      fs.linkSync(tmp, file); // fails if another process made one first: then use theirs
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  try {
    return createPrivateKey(fs.readFileSync(file));
  } catch (err) {
    throw new BerthError(
      "STORE",
      `cannot read the token signing key ${file}: ${(err as Error).message}; remove it to have a new one made (issued tokens stop working)`,
    );
  }
}

export class TokenSigner {
  readonly keyId: string;
  private readonly publicKey: KeyObject;

  private constructor(
    private readonly privateKey: KeyObject,
    readonly issuer: string,
    readonly audience: string,
  ) {
    this.publicKey = createPublicKey(privateKey);
    this.keyId = libtrustKeyId(this.publicKey);
  }

  /**
   * The public key as a JSON Web Key Set, so another registry (Distribution 3's
   * `auth.token.jwks`, any JWT library) can trust this token service without a certificate.
   */
  jwks(): { keys: Record<string, unknown>[] } {
    const jwk = this.publicKey.export({ format: "jwk" });
    return { keys: [{ ...jwk, kid: this.keyId, alg: "ES256", use: "sig" }] };
  }

  static open(root: string, issuer: string, audience: string): TokenSigner {
    return new TokenSigner(loadOrCreateKey(root), issuer, audience);
  }

  /** A token valid from `now` for `ttlSeconds`. */
  sign(
    sub: string,
    access: readonly AccessEntry[],
    ttlSeconds: number,
    opts: { credential?: string; userCreatedAt?: number; now?: number } = {},
  ): Promise<string> {
    const now = Math.floor((opts.now ?? Date.now()) / 1000);
    const payload: Record<string, unknown> = { access: access.map((a) => ({ ...a, actions: [...a.actions] })) };
    if (opts.credential !== undefined) payload.berth_credential = opts.credential;
    if (opts.userCreatedAt !== undefined) payload.berth_user_created = opts.userCreatedAt;
    return new SignJWT(payload)
      .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: this.keyId })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(sub)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttlSeconds)
      .setJti(randomBytes(16).toString("base64url"))
      .sign(this.privateKey);
  }

  /**
   * The claims of a token this service signed and that is valid now; throws otherwise (bad
   * signature, another key, `alg` other than ES256 — `none` included — expired, not yet
   * valid, another issuer or audience, a malformed claim).
   */
  async verify(token: string): Promise<TokenClaims> {
    const header = decodeProtectedHeader(token);
    if (header.kid !== this.keyId) throw new Error("the token was signed by another key");
    const { payload } = await jwtVerify(token, this.publicKey, {
      algorithms: ["ES256"],
      issuer: this.issuer,
      audience: this.audience,
      requiredClaims: ["exp", "nbf", "iat", "jti", "sub"],
      clockTolerance: 5,
    });
    const claims = payloadSchema.parse(payload);
    return {
      sub: claims.sub,
      access: claims.access,
      credential: claims.berth_credential,
      exp: claims.exp,
      userCreatedAt: claims.berth_user_created,
    };
  }
}

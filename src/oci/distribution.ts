import { z } from "./zod.js";

/**
 * The vocabulary the registry client and the registry server share: the distribution spec's
 * error codes and error body, Docker token-auth scopes, and `WWW-Authenticate` challenges.
 * Kept in the model layer so that both sides read and write exactly the same grammar.
 */

/** Error codes of the OCI distribution spec (v1.1), plus TOOMANYREQUESTS which Docker Hub and Distribution send. */
export const DISTRIBUTION_ERROR_CODES = [
  "BLOB_UNKNOWN",
  "BLOB_UPLOAD_INVALID",
  "BLOB_UPLOAD_UNKNOWN",
  "DIGEST_INVALID",
  "MANIFEST_BLOB_UNKNOWN",
  "MANIFEST_INVALID",
  "MANIFEST_UNKNOWN",
  "NAME_INVALID",
  "NAME_UNKNOWN",
  "SIZE_INVALID",
  "UNAUTHORIZED",
  "DENIED",
  "UNSUPPORTED",
  "TOOMANYREQUESTS",
] as const;
export type DistributionErrorCode = (typeof DISTRIBUTION_ERROR_CODES)[number];

/** `{"errors":[{"code","message","detail"}]}`; registries send codes outside the spec too, so `code` is any string. */
export const errorBodySchema = z.looseObject({
  errors: z.array(
    z.looseObject({
      code: z.string(),
      message: z.string().optional(),
      detail: z.unknown().optional(),
    }),
  ),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

export function errorBody(code: DistributionErrorCode, message: string, detail?: unknown): ErrorBody {
  return { errors: [detail === undefined ? { code, message } : { code, message, detail }] };
}

/** One scope of Docker's token auth: `repository:library/nginx:pull,push`, `registry:catalog:*`. */
export interface Scope {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/**
 * Parses one scope. The name may itself contain `:` (a registry host with a port), so the
 * type is up to the first colon and the actions after the last one.
 */
export function parseScope(text: string): Scope | undefined {
  const first = text.indexOf(":");
  const last = text.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  const type = text.slice(0, first);
  const name = text.slice(first + 1, last);
  const actions = text
    .slice(last + 1)
    .split(",")
    .filter((a) => a.length > 0);
  if (name.length === 0) return undefined;
  return { type, name, actions };
}

export function formatScope(scope: Scope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(",")}`;
}

/** A `WWW-Authenticate` challenge: the scheme and its auth-params, names lower-cased. */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235): one or more challenges, each a scheme and
 * comma-separated `name=value` params whose values may be quoted strings with `\` escapes.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && (header[i] === " " || header[i] === "\t")) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i] as string)) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipSpace();
    while (i < n && header[i] === ",") {
      i++;
      skipSpace();
    }
    const scheme = token();
    if (scheme.length === 0) break;
    const params: Record<string, string> = {};
    for (;;) {
      skipSpace();
      const save = i;
      const name = token();
      skipSpace();
      if (name.length === 0 || header[i] !== "=") {
        i = save;
        break;
      }
      i++;
      skipSpace();
      let value = "";
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === "\\" && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        value = token();
      }
      params[name.toLowerCase()] = value;
      skipSpace();
      if (header[i] === ",") i++;
      else break;
    }
    out.push({ scheme, params });
  }
  return out;
}

/** Formats a challenge with every param quoted, as Distribution does. */
export function formatChallenge(challenge: Challenge): string {
  const params = Object.entries(challenge.params).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`,
  );
  return params.length === 0 ? challenge.scheme : `${challenge.scheme} ${params.join(",")}`;
}

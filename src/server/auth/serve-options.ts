import { BerthError } from "../../oci/errors.js";
import { TOKEN_PATH, type TokenAccessOptions } from "./token-access-policy.js";

/**
 * What `berth serve --auth token` derives from its flags and environment (read at the edge and
 * passed in): the realm clients are sent to for tokens, the service name, and the first admin.
 */
export function tokenAccessOptions(input: {
  root: string;
  /** The address the server listens on, as `HOST:PORT` (`[::1]:5000` for IPv6). */
  listen: string;
  realm?: string;
  service?: string;
  env: Readonly<Record<string, string | undefined>>;
  notice?: (line: string) => void;
}): TokenAccessOptions {
  const host = input.listen.replace(/:\d+$/, "");
  let realm = input.realm;
  if (realm === undefined) {
    // a wildcard address names no host a client could reach: the realm must be said
    if (["0.0.0.0", "[::]", "::", ""].includes(host)) {
      throw new BerthError(
        "USAGE",
        `--auth token on ${input.listen} needs --auth-realm, the URL clients reach the token endpoint at (e.g. https://registry.example.com${TOKEN_PATH})`,
      );
    }
    realm = `http://${input.listen}${TOKEN_PATH}`;
  } else if (!/^https?:\/\/[^/]+/.test(realm)) {
    throw new BerthError(
      "USAGE",
      `invalid --auth-realm "${realm}": give an absolute http(s) URL ending in ${TOKEN_PATH}`,
    );
  }
  if (realm.startsWith("http://") && !/^(127\.|localhost$|\[::1\]$)/.test(host)) {
    input.notice?.(
      `WARNING: the token endpoint ${realm} is plain http: passwords and tokens cross the network in clear; serve it behind TLS and pass --auth-realm https://…`,
    );
  }
  const password = input.env.BERTH_ADMIN_PASSWORD;
  return {
    root: input.root,
    realm,
    service: input.service ?? input.listen,
    ...(input.notice ? { notice: input.notice } : {}),
    ...(password ? { bootstrapAdmin: { name: input.env.BERTH_ADMIN_USER ?? "admin", password } } : {}),
  };
}

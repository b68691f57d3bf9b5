import { BerthError } from "../oci/errors.js";
import { DEFAULT_DOMAIN, parseReference } from "../oci/reference.js";
import { type Credential, CredentialStore } from "../registry-client/credentials.js";
import { Registries } from "../registry-client/registries.js";
import { credentialKey, type RegistryConfig } from "../registry-client/registry-config.js";
import { RegistryError, registryError } from "../registry-client/registry-error.js";

export interface LoginResult {
  /** The key the login is stored under in config.json. */
  serverKey: string;
  /** Where it went: config.json in plain (base64) text, or a credential helper. */
  storedIn: "config" | "helper";
  configPath: string;
}

/**
 * The registry a login names, as docker reads it: nothing is Docker Hub, and so are its
 * index and registry hosts; a URL's scheme and path are dropped.
 */
export function loginDomain(server: string | undefined): string {
  if (!server) return DEFAULT_DOMAIN;
  const host = server.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  if (host === "index.docker.io" || host === "registry-1.docker.io" || host === DEFAULT_DOMAIN) return DEFAULT_DOMAIN;
  // validate as a registry host: the reference grammar's domain part
  parseReference(`${host}/x`);
  return host;
}

/**
 * `docker login`: checks the credentials against the registry (Basic on `/v2/`, or a token
 * from its realm) and stores them where docker does, so both tools share the login. A
 * refresh token the realm hands out is stored instead of the password, as docker does.
 */
export async function login(
  server: string | undefined,
  credential: { username: string; password: string },
  opts: { registry: RegistryConfig },
): Promise<LoginResult> {
  const domain = loginDomain(server);
  if (!credential.username) throw new BerthError("USAGE", "login needs a username (-u)");
  if (!credential.password) throw new BerthError("USAGE", "login needs a password (-p or --password-stdin)");
  const registries = new Registries(opts.registry);
  try {
    const client = registries.client(domain, credential);
    await client.ping();
    let stored: Credential = credential;
    if (client.auth.scheme === "bearer") {
      await client.auth.authorization([], true).catch((err: unknown) => {
        throw err instanceof RegistryError
          ? new BerthError(
              "REGISTRY",
              `login to ${domain} failed: ${err.registryCode}: incorrect username or password (the token server refused them)`,
            )
          : err;
      });
      if (client.auth.refreshToken) stored = { username: credential.username, identityToken: client.auth.refreshToken };
    } else if (client.auth.scheme === "basic") {
      const res = await client.request({ method: "GET", path: "", scopes: [] });
      if (res.status !== 200) {
        const err = await registryError(res, `login to ${domain} failed`);
        throw new BerthError(
          "REGISTRY",
          err.status === 401 ? `login to ${domain} failed: UNAUTHORIZED: incorrect username or password` : err.message,
        );
      }
      await res.body.dump().catch(() => undefined);
    }
    const key = credentialKey(domain);
    registries.credentials.store(key, stored);
    return {
      serverKey: key,
      storedIn: registries.credentials.storesInPlainText(key) ? "config" : "helper",
      configPath: registries.credentials.path,
    };
  } finally {
    await registries.close();
  }
}

/** `docker logout`: forgets the login; false when there was none. */
export function logout(
  server: string | undefined,
  opts: { registry: RegistryConfig },
): { serverKey: string; removed: boolean } {
  const key = credentialKey(loginDomain(server));
  return { serverKey: key, removed: new CredentialStore(opts.registry.dockerConfigDir).erase(key) };
}

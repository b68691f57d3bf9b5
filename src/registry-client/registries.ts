import { type Credential, CredentialStore } from "./credentials.js";
import { RegistryClient } from "./registry-client.js";
import { credentialKey, type RegistryConfig } from "./registry-config.js";
import { type RetryListener, Transport } from "./transport.js";

/**
 * The clients of one command: one transport (connection pools, TLS) and one client per
 * registry, logins read from docker's config as each registry is first used.
 */
export class Registries {
  readonly transport: Transport;
  readonly credentials: CredentialStore;
  private readonly clients = new Map<string, RegistryClient>();

  constructor(
    readonly config: RegistryConfig,
    onRetry?: RetryListener,
  ) {
    this.transport = new Transport(config, onRetry);
    this.credentials = new CredentialStore(config.dockerConfigDir);
  }

  /** The client for a registry as references name it; `credential` overrides the stored login. */
  client(domain: string, credential?: Credential): RegistryClient {
    const key = credential ? undefined : domain;
    const cached = key ? this.clients.get(key) : undefined;
    if (cached) return cached;
    let stored: Credential | undefined | null = null;
    const lookup = () => {
      if (credential) return credential;
      if (stored === null) stored = this.credentials.get(credentialKey(domain));
      return stored;
    };
    const client = new RegistryClient(domain, this.transport, this.config, lookup);
    if (key) this.clients.set(key, client);
    return client;
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}

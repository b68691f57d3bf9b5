import type { BerthError } from "../oci/errors.js";
import { DEFAULT_DOMAIN } from "../oci/reference.js";
import { type Credential, CredentialStore } from "./credentials.js";
import { RegistryClient } from "./registry-client.js";
import { credentialKey, parseMirror, type RegistryConfig } from "./registry-config.js";
import { type RetryListener, Transport } from "./transport.js";

/**
 * The clients of one command: one transport (connection pools, TLS) and one client per
 * registry, logins read from docker's config as each registry is first used.
 */
export class Registries {
  readonly transport: Transport;
  readonly credentials: CredentialStore;
  private readonly clients = new Map<string, RegistryClient>();

  readonly config: RegistryConfig;
  /** Docker Hub's mirrors, read once: their hosts, or why one is not a mirror (told when a pull would use it). */
  private readonly mirrors: { host: string; plainHttp: boolean }[] | BerthError;

  constructor(config: RegistryConfig, onRetry?: RetryListener) {
    try {
      this.mirrors = (config.mirrors ?? []).map(parseMirror);
    } catch (err) {
      this.mirrors = err as BerthError;
    }
    // an http:// mirror is a registry the user allowed plain HTTP for, as dockerd takes it
    const plain = Array.isArray(this.mirrors) ? this.mirrors.filter((m) => m.plainHttp).map((m) => m.host) : [];
    this.config = plain.length > 0 ? { ...config, insecure: [...config.insecure, ...plain] } : config;
    this.transport = new Transport(this.config, onRetry);
    this.credentials = new CredentialStore(this.config.dockerConfigDir);
  }

  /**
   * Where a pull from `domain` asks, in order: for Docker Hub its mirrors first (dockerd's
   * registry-mirrors), then Hub itself; for any other registry, that registry. A mirror is a
   * registry of its own, with its own login: Docker Hub's is not sent to it.
   */
  pullClients(domain: string): RegistryClient[] {
    if (domain !== DEFAULT_DOMAIN) return [this.client(domain)];
    if (!Array.isArray(this.mirrors)) throw this.mirrors;
    return [...this.mirrors.map((m) => this.client(m.host)), this.client(domain)];
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

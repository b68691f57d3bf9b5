import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { BerthError } from "../oci/errors.js";
import { z } from "../oci/zod.js";

/**
 * Logins shared with docker: `config.json` in docker's config directory, with `auths`
 * (base64 `auth`, or an `identitytoken` for OAuth refresh), `credsStore` (one helper for all
 * registries) and `credHelpers` (a helper per registry), through the `docker-credential-*`
 * programs' get/store/erase protocol. Unknown fields of config.json are kept as they are.
 */
export interface Credential {
  readonly username: string;
  readonly password?: string;
  /** An OAuth2 refresh token the token server gave at login (docker's identitytoken). */
  readonly identityToken?: string;
}

const authEntrySchema = z.looseObject({
  auth: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  identitytoken: z.string().optional(),
});

const configSchema = z.looseObject({
  auths: z.record(z.string(), authEntrySchema).optional(),
  credsStore: z.string().optional(),
  credHelpers: z.record(z.string(), z.string()).optional(),
});
type DockerConfig = z.infer<typeof configSchema>;

const helperReplySchema = z.looseObject({ Username: z.string(), Secret: z.string() });

export class CredentialStore {
  constructor(private readonly dir: string) {}

  get path(): string {
    return join(this.dir, "config.json");
  }

  private read(): DockerConfig {
    let text: string;
    try {
      text = fs.readFileSync(this.path, "utf8");
    } catch {
      return {};
    }
    let json: unknown;
    try {
      json = JSON.parse(text || "{}");
    } catch {
      json = undefined;
    }
    const parsed = configSchema.safeParse(json);
    if (!parsed.success) {
      throw new BerthError("USAGE", `${this.path} is not a valid docker config file: fix or remove it`);
    }
    return parsed.data;
  }

  private write(config: DockerConfig): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString("hex")}`;
    fs.writeFileSync(tmp, `${JSON.stringify(config, null, "\t")}\n`, { mode: 0o600 });
    fs.renameSync(tmp, this.path);
  }

  /** The helper that holds `key`'s login, if any: credHelpers first, then credsStore. */
  helperFor(key: string): string | undefined {
    const config = this.read();
    return config.credHelpers?.[key] ?? config.credsStore;
  }

  /** The login for a registry (docker's key: host[:port], or Docker Hub's v1 URL). */
  get(key: string): Credential | undefined {
    const config = this.read();
    const helper = config.credHelpers?.[key] ?? config.credsStore;
    if (helper) {
      const fromHelper = helperGet(helper, key);
      if (fromHelper) return fromHelper;
    }
    const entry = findAuth(config.auths ?? {}, key);
    if (!entry) return undefined;
    let username = entry.username ?? "";
    let password = entry.password;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) throw new BerthError("USAGE", `${this.path}: the login for ${key} is malformed; log in again`);
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
    if (entry.identitytoken) return { username, identityToken: entry.identitytoken };
    if (!username && password === undefined) return undefined;
    return { username, ...(password !== undefined ? { password } : {}) };
  }

  /** Saves a login, in the helper when one is configured (as docker does), else in auths. */
  store(key: string, cred: Credential): void {
    this.locked(() => this.storeLocked(key, cred));
  }

  private storeLocked(key: string, cred: Credential): void {
    const config = this.read();
    const helper = config.credHelpers?.[key] ?? config.credsStore;
    if (helper) {
      helperRun(
        helper,
        "store",
        JSON.stringify({
          ServerURL: key,
          Username: cred.identityToken ? "<token>" : cred.username,
          Secret: cred.identityToken ?? cred.password ?? "",
        }),
      );
      const auths = { ...(config.auths ?? {}) };
      auths[key] = {}; // docker leaves an empty entry so `docker info` lists the registry
      this.write({ ...config, auths });
      return;
    }
    const auths = { ...(config.auths ?? {}) };
    auths[key] = cred.identityToken
      ? { auth: Buffer.from(`${cred.username}:`).toString("base64"), identitytoken: cred.identityToken }
      : { auth: Buffer.from(`${cred.username}:${cred.password ?? ""}`).toString("base64") };
    this.write({ ...config, auths });
  }

  /** Forgets a login; false when there was none. */
  erase(key: string): boolean {
    return this.locked(() => this.eraseLocked(key));
  }

  private eraseLocked(key: string): boolean {
    const config = this.read();
    const helper = config.credHelpers?.[key] ?? config.credsStore;
    let found = false;
    if (helper && helperGet(helper, key)) {
      helperRun(helper, "erase", key);
      found = true;
    }
    const auths = { ...(config.auths ?? {}) };
    const existing = Object.keys(auths).find((k) => normaliseKey(k) === normaliseKey(key));
    if (existing !== undefined) {
      delete auths[existing];
      this.write({ ...config, auths });
      found = true;
    }
    return found;
  }

  /**
   * Runs a read-modify-write of config.json holding `config.json.lock`. Without it, two logins
   * at once (CI jobs logging in to two registries) each wrote back what it had read, and one
   * login was lost; with a credential helper, whose store takes a while, every time. docker
   * has that race; berth does not (docker itself does not take this lock, so a docker login at
   * the same instant still can). A lock whose process is gone is taken over.
   */
  private locked<T>(fn: () => T): T {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const lock = `${this.path}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        fs.writeFileSync(lock, String(process.pid), { flag: "wx", mode: 0o600 });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = lockHolder(lock);
      if (holder === "gone") {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new BerthError(
          "USAGE",
          `${this.path} is locked by process ${holder}: wait for it, or remove ${lock} if that process is gone`,
        );
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    try {
      return fn();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }

  /** Whether the entry would be stored in plain text (docker warns about that). */
  storesInPlainText(key: string): boolean {
    return this.helperFor(key) === undefined;
  }
}

/** How long a login waits for another's hold on config.json. */
const LOCK_WAIT_MS = 30_000;

/**
 * Who holds a lock file: its pid, or "gone" when that process no longer runs (or when the file
 * has said nobody for over 5 s: a holder is between creating it and writing its pid only briefly).
 */
function lockHolder(lock: string): number | "gone" {
  let text: string;
  let ageMs: number;
  try {
    text = fs.readFileSync(lock, "utf8");
    ageMs = Date.now() - fs.statSync(lock).mtimeMs;
  } catch {
    return "gone"; // released meanwhile: try again
  }
  const pid = Number.parseInt(text, 10);
  if (!Number.isInteger(pid) || pid <= 0) return ageMs > 5000 ? "gone" : 0;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM" ? pid : "gone";
  }
}

/** docker matches `https://host/`, `http://host/v1/` and plain `host` entries alike. */
function normaliseKey(key: string): string {
  if (key === "https://index.docker.io/v1/") return key;
  return key.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
}

function findAuth(auths: Record<string, z.infer<typeof authEntrySchema>>, key: string) {
  if (auths[key]) return auths[key];
  const want = normaliseKey(key);
  for (const [k, v] of Object.entries(auths)) if (normaliseKey(k) === want) return v;
  return undefined;
}

function helperGet(helper: string, key: string): Credential | undefined {
  const r = spawnSync(`docker-credential-${helper}`, ["get"], { input: key, encoding: "utf8" });
  if (r.error) {
    throw new BerthError(
      "USAGE",
      `credential helper docker-credential-${helper} cannot be run (${(r.error as NodeJS.ErrnoException).code}): install it or remove it from config.json`,
    );
  }
  // helpers answer "credentials not found in native keychain" with a non-zero exit
  if (r.status !== 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    throw new BerthError("USAGE", `credential helper docker-credential-${helper} answered something that is not JSON`);
  }
  const reply = helperReplySchema.safeParse(json);
  if (!reply.success) {
    throw new BerthError("USAGE", `credential helper docker-credential-${helper} answered without Username/Secret`);
  }
  if (reply.data.Username === "<token>") return { username: "", identityToken: reply.data.Secret };
  return { username: reply.data.Username, password: reply.data.Secret };
}

function helperRun(helper: string, action: "store" | "erase", input: string): void {
  const r = spawnSync(`docker-credential-${helper}`, [action], { input, encoding: "utf8" });
  if (r.error || r.status !== 0) {
    const why = r.error ? (r.error as NodeJS.ErrnoException).code : (r.stdout || r.stderr).trim();
    throw new BerthError("USAGE", `credential helper docker-credential-${helper} ${action} failed: ${why}`);
  }
}

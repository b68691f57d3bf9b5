import * as fs from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { BerthError } from "../../oci/errors.js";
import { z } from "../../oci/zod.js";
import { openSqlite } from "../sqlite-metadata.js";
import type { Role, Visibility } from "./permissions.js";
import type { CredentialRecord, CredentialScope, NamespaceRecord, TenancyStore, UserRecord } from "./tenancy-store.js";

/**
 * TenancyStore in `<root>/auth.db` (SQLite, WAL). Apart from the registry's own metadata so
 * the admin CLI can change users and visibility while `berth serve` runs: both processes open
 * the same file, SQLite serialises the writers, and the server reads on every request (no
 * cache to go stale), so a change applies to the next request.
 */

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE namespaces (
     name TEXT PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('user', 'org')),
     default_visibility TEXT NOT NULL CHECK (default_visibility IN ('public', 'private')),
     created_at INTEGER NOT NULL
   );
   CREATE TABLE users (
     name TEXT PRIMARY KEY REFERENCES namespaces(name) ON DELETE CASCADE,
     password_hash TEXT,
     admin INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE members (
     org TEXT NOT NULL REFERENCES namespaces(name) ON DELETE CASCADE,
     user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
     role TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
     PRIMARY KEY (org, user)
   );
   CREATE TABLE repositories (
     name TEXT PRIMARY KEY,
     visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private'))
   );
   CREATE TABLE credentials (
     id TEXT PRIMARY KEY,
     user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
     kind TEXT NOT NULL CHECK (kind IN ('robot', 'refresh')),
     secret_hash TEXT NOT NULL,
     scopes TEXT,
     expires_at INTEGER,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX credentials_user ON credentials(user, kind, created_at);`,
];

const userRow = z.object({
  name: z.string(),
  admin: z.number(),
  password_hash: z.string().nullable(),
  created_at: z.number(),
});
const namespaceRow = z.object({
  name: z.string(),
  kind: z.enum(["user", "org"]),
  default_visibility: z.enum(["public", "private"]),
});
const scopesColumn = z.array(z.object({ repository: z.string(), actions: z.array(z.string()) }));
const credentialRow = z.object({
  id: z.string(),
  user: z.string(),
  kind: z.enum(["robot", "refresh"]),
  secret_hash: z.string(),
  scopes: z.string().nullable(),
  expires_at: z.number().nullable(),
  created_at: z.number(),
});
const roleValue = z.enum(["read", "write", "admin"]);
const visibilityValue = z.enum(["public", "private"]);

function toUser(row: unknown): UserRecord {
  const r = userRow.parse(row);
  return { name: r.name, admin: r.admin !== 0, passwordHash: r.password_hash ?? undefined, createdAt: r.created_at };
}

function toCredential(row: unknown): CredentialRecord {
  const r = credentialRow.parse(row);
  const scopes: CredentialScope[] | undefined =
    r.scopes === null ? undefined : scopesColumn.parse(JSON.parse(r.scopes));
  return {
    id: r.id,
    user: r.user,
    kind: r.kind,
    secretHash: r.secret_hash,
    scopes,
    expiresAt: r.expires_at ?? undefined,
    createdAt: r.created_at,
  };
}

export class SqliteTenancyStore implements TenancyStore {
  /** Statements by SQL, prepared once: the server reads users, namespaces and roles on every request. */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(private readonly db: Database.Database) {}

  private prepare(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Opens (creating when missing) `<root>/auth.db`. */
  static open(root: string): SqliteTenancyStore {
    try {
      fs.mkdirSync(root, { recursive: true });
    } catch (err) {
      throw new BerthError(
        "STORE",
        `cannot use registry root ${root}: ${(err as Error).message}; pass a writable --root`,
      );
    }
    const file = join(root, "auth.db");
    // the database holds password hashes: its owner's only, and SQLite gives its -wal and -shm
    // files the same mode
    fs.closeSync(fs.openSync(file, "a", 0o600));
    fs.chmodSync(file, 0o600);
    const db = openSqlite(file);
    db.pragma("foreign_keys = ON");
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version < MIGRATIONS.length) {
      db.transaction(() => {
        const current = db.pragma("user_version", { simple: true }) as number;
        for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] as string);
        db.pragma(`user_version = ${MIGRATIONS.length}`);
      }).immediate();
    }
    return new SqliteTenancyStore(db);
  }

  async user(name: string): Promise<UserRecord | undefined> {
    const row = this.prepare("SELECT name, admin, password_hash, created_at FROM users WHERE name = ?").get(name);
    return row === undefined ? undefined : toUser(row);
  }

  async users(): Promise<UserRecord[]> {
    return this.prepare("SELECT name, admin, password_hash, created_at FROM users ORDER BY name").all().map(toUser);
  }

  async namespace(name: string): Promise<NamespaceRecord | undefined> {
    const row = this.prepare("SELECT name, kind, default_visibility FROM namespaces WHERE name = ?").get(name);
    if (row === undefined) return undefined;
    const r = namespaceRow.parse(row);
    return { name: r.name, kind: r.kind, defaultVisibility: r.default_visibility };
  }

  async role(org: string, user: string): Promise<Role | undefined> {
    const row = this.prepare("SELECT role FROM members WHERE org = ? AND user = ?").pluck().get(org, user);
    return row === undefined ? undefined : roleValue.parse(row);
  }

  async members(org: string): Promise<{ user: string; role: Role }[]> {
    return this.prepare("SELECT user, role FROM members WHERE org = ? ORDER BY user")
      .all(org)
      .map((row) => z.object({ user: z.string(), role: roleValue }).parse(row));
  }

  async repositoryVisibility(name: string): Promise<Visibility | undefined> {
    const row = this.prepare("SELECT visibility FROM repositories WHERE name = ?").pluck().get(name);
    return row === undefined ? undefined : visibilityValue.parse(row);
  }

  async credential(id: string): Promise<CredentialRecord | undefined> {
    const row = this.prepare("SELECT * FROM credentials WHERE id = ?").get(id);
    return row === undefined ? undefined : toCredential(row);
  }

  async credentials(user: string): Promise<CredentialRecord[]> {
    return this.prepare("SELECT * FROM credentials WHERE user = ? ORDER BY created_at").all(user).map(toCredential);
  }

  async addUser(user: UserRecord, defaultVisibility: Visibility): Promise<boolean> {
    return this.db
      .transaction(() => {
        const taken = this.prepare("SELECT 1 FROM namespaces WHERE name = ?").get(user.name);
        if (taken !== undefined) return false;
        this.prepare(
          "INSERT INTO namespaces (name, kind, default_visibility, created_at) VALUES (?, 'user', ?, ?)",
        ).run(user.name, defaultVisibility, user.createdAt);
        this.prepare("INSERT INTO users (name, password_hash, admin, created_at) VALUES (?, ?, ?, ?)").run(
          user.name,
          user.passwordHash ?? null,
          user.admin ? 1 : 0,
          user.createdAt,
        );
        return true;
      })
      .immediate();
  }

  async removeUser(name: string): Promise<boolean> {
    // the namespace row cascades to the user, their memberships and credentials
    return this.prepare("DELETE FROM namespaces WHERE name = ? AND kind = 'user'").run(name).changes > 0;
  }

  async setPassword(name: string, passwordHash: string): Promise<boolean> {
    return this.prepare("UPDATE users SET password_hash = ? WHERE name = ?").run(passwordHash, name).changes > 0;
  }

  async createOrg(name: string, defaultVisibility: Visibility, createdAt: number): Promise<boolean> {
    const r = this.prepare(
      "INSERT INTO namespaces (name, kind, default_visibility, created_at) VALUES (?, 'org', ?, ?) ON CONFLICT DO NOTHING",
    ).run(name, defaultVisibility, createdAt);
    return r.changes > 0;
  }

  async setMember(org: string, user: string, role: Role): Promise<void> {
    this.prepare(
      "INSERT INTO members (org, user, role) VALUES (?, ?, ?) ON CONFLICT (org, user) DO UPDATE SET role = ?",
    ).run(org, user, role, role);
  }

  async removeMember(org: string, user: string): Promise<boolean> {
    return this.prepare("DELETE FROM members WHERE org = ? AND user = ?").run(org, user).changes > 0;
  }

  async setRepositoryVisibility(name: string, visibility: Visibility): Promise<void> {
    this.prepare(
      "INSERT INTO repositories (name, visibility) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET visibility = ?",
    ).run(name, visibility, visibility);
  }

  async ensureRepository(name: string, visibility: Visibility): Promise<Visibility> {
    this.prepare("INSERT INTO repositories (name, visibility) VALUES (?, ?) ON CONFLICT DO NOTHING").run(
      name,
      visibility,
    );
    return (await this.repositoryVisibility(name)) ?? visibility;
  }

  async setNamespaceVisibility(name: string, visibility: Visibility): Promise<boolean> {
    return (
      this.prepare("UPDATE namespaces SET default_visibility = ? WHERE name = ?").run(visibility, name).changes > 0
    );
  }

  async addCredential(c: CredentialRecord): Promise<void> {
    this.prepare(
      "INSERT INTO credentials (id, user, kind, secret_hash, scopes, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).run(
      c.id,
      c.user,
      c.kind,
      c.secretHash,
      c.scopes === undefined ? null : JSON.stringify(c.scopes),
      c.expiresAt ?? null,
      c.createdAt,
    );
  }

  async removeCredential(id: string): Promise<boolean> {
    return this.prepare("DELETE FROM credentials WHERE id = ?").run(id).changes > 0;
  }

  async pruneCredentials(user: string, kind: CredentialRecord["kind"], keep: number): Promise<void> {
    this.prepare(
      `DELETE FROM credentials WHERE user = ? AND kind = ? AND id NOT IN
           (SELECT id FROM credentials WHERE user = ? AND kind = ? ORDER BY created_at DESC LIMIT ?)`,
    ).run(user, kind, user, kind, keep);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

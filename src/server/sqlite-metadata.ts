import { createRequire } from "node:module";
import { join } from "node:path";
import type Database from "better-sqlite3";
import type { Digest } from "../oci/digest.js";
import type {
  LinkResult,
  NewManifest,
  PutManifestResult,
  ReferrerDescriptor,
  RegistryMetadata,
  StoredManifest,
  UploadSession,
} from "./metadata.js";
import type { ManifestRef } from "./names.js";

/**
 * Tables are created with IF NOT EXISTS (no user_version; a column added later is checked for
 * by name). The tenancy tables live apart, in auth.db with a schema version of their own.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS repositories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
  digest TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS repository_blobs (
  repository_id INTEGER NOT NULL REFERENCES repositories(id),
  digest TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (repository_id, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repository_blobs_digest ON repository_blobs(digest);
CREATE TABLE IF NOT EXISTS manifests (
  id INTEGER PRIMARY KEY,
  repository_id INTEGER NOT NULL REFERENCES repositories(id),
  digest TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  content BLOB NOT NULL,
  subject TEXT,
  artifact_type TEXT,
  annotations TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (repository_id, digest)
);
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repository_id, subject) WHERE subject IS NOT NULL;
CREATE TABLE IF NOT EXISTS manifest_refs (
  repository_id INTEGER NOT NULL,
  manifest_digest TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (repository_id, manifest_digest, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_refs_digest ON manifest_refs(digest);
CREATE TABLE IF NOT EXISTS tags (
  repository_id INTEGER NOT NULL REFERENCES repositories(id),
  name TEXT NOT NULL,
  digest TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (repository_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_digest ON tags(repository_id, digest);
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY,
  repository TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** Garbage: no manifest names it, and neither it nor any repository's link is younger than the cutoff. */
const GARBAGE_WHERE = `b.created_at < @cutoff
  AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.digest = b.digest)
  AND NOT EXISTS (SELECT 1 FROM repository_blobs l WHERE l.digest = b.digest AND l.created_at >= @cutoff)`;

export function openSqlite(path: string): Database.Database {
  const Sqlite = createRequire(import.meta.url)("better-sqlite3") as typeof Database;
  // A long busy timeout: `berth registry gc` and admin commands write from other processes.
  const db = new Sqlite(path, { timeout: 30_000 });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  return db;
}

/** Registry metadata in SQLite (WAL: readers never wait; one writer at a time, across processes). */
export class SqliteMetadata implements RegistryMetadata {
  readonly db: Database.Database;
  private readonly q;

  constructor(db: Database.Database) {
    this.db = db;
    db.exec(SCHEMA);
    // added after the first release: a registry.db made before it lacks the column
    const columns = db.pragma("table_info(uploads)") as { name: string }[];
    if (!columns.some((c) => c.name === "lock_owner")) db.exec("ALTER TABLE uploads ADD COLUMN lock_owner TEXT");
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      repoId: p("SELECT id FROM repositories WHERE name = ?").pluck(),
      insertRepo: p("INSERT INTO repositories (name, created_at) VALUES (?, ?)"),
      listRepos: p("SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?").pluck(),
      blobSize: p(
        `SELECT b.size FROM repositories r JOIN repository_blobs l ON l.repository_id = r.id
           JOIN blobs b ON b.digest = l.digest WHERE r.name = ? AND l.digest = ?`,
      ).pluck(),
      upsertBlob: p(
        `INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)
           ON CONFLICT (digest) DO UPDATE SET created_at = excluded.created_at`,
      ),
      upsertLink: p(
        `INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)
           ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at`,
      ),
      hasLink: p("SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?").pluck(),
      deleteLink: p("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?"),
      manifestByDigest: p(
        `SELECT m.digest, m.media_type mediaType, m.content FROM repositories r
           JOIN manifests m ON m.repository_id = r.id WHERE r.name = ? AND m.digest = ?`,
      ),
      manifestByTag: p(
        `SELECT m.digest, m.media_type mediaType, m.content FROM repositories r
           JOIN tags t ON t.repository_id = r.id
           JOIN manifests m ON m.repository_id = r.id AND m.digest = t.digest
          WHERE r.name = ? AND t.name = ?`,
      ),
      hasManifest: p("SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?").pluck(),
      insertManifest: p(
        `INSERT INTO manifests (repository_id, digest, media_type, size, content, subject, artifact_type, annotations, created_at)
           VALUES (@repo, @digest, @mediaType, @size, @content, @subject, @artifactType, @annotations, @now)
           ON CONFLICT (repository_id, digest) DO NOTHING`,
      ),
      insertRef: p("INSERT OR IGNORE INTO manifest_refs (repository_id, manifest_digest, digest) VALUES (?, ?, ?)"),
      upsertTag: p(
        `INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
      ),
      deleteManifest: p("DELETE FROM manifests WHERE repository_id = ? AND digest = ?"),
      deleteRefs: p("DELETE FROM manifest_refs WHERE repository_id = ? AND manifest_digest = ?"),
      deleteTagsOf: p("DELETE FROM tags WHERE repository_id = ? AND digest = ?"),
      deleteTag: p("DELETE FROM tags WHERE repository_id = ? AND name = ?"),
      listTags: p("SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?").pluck(),
      referrers: p(
        `SELECT m.media_type mediaType, m.digest, m.size, m.artifact_type artifactType, m.annotations
           FROM repositories r JOIN manifests m ON m.repository_id = r.id
          WHERE r.name = @name AND m.subject = @subject AND (@artifactType IS NULL OR m.artifact_type = @artifactType)
            AND m.digest > @after
          ORDER BY m.digest LIMIT @limit`,
      ),
      insertUpload: p(
        "INSERT INTO uploads (id, repository, algorithm, created_at, updated_at) VALUES (@id, @repository, @algorithm, @createdAt, @createdAt)",
      ),
      getUpload: p("SELECT id, repository, algorithm, created_at createdAt FROM uploads WHERE id = ?"),
      uploadOwner: p("SELECT lock_owner FROM uploads WHERE id = ?"),
      claimUpload: p("UPDATE uploads SET lock_owner = ?, updated_at = ? WHERE id = ?"),
      releaseUpload: p("UPDATE uploads SET lock_owner = NULL WHERE id = ? AND lock_owner = ?"),
      deleteUpload: p("DELETE FROM uploads WHERE id = ?"),
      staleUploads: p("SELECT id FROM uploads WHERE updated_at < ?").pluck(),
      garbage: p(`SELECT b.digest FROM blobs b WHERE ${GARBAGE_WHERE} ORDER BY b.digest`).pluck(),
      isGarbage: p(`SELECT 1 FROM blobs b WHERE b.digest = @digest AND ${GARBAGE_WHERE}`).pluck(),
      deleteLinksOf: p("DELETE FROM repository_blobs WHERE digest = ?"),
      deleteBlob: p("DELETE FROM blobs WHERE digest = ?"),
      blobKnown: p("SELECT 1 FROM blobs WHERE digest = ?").pluck(),
    };
  }

  static open(root: string): SqliteMetadata {
    return new SqliteMetadata(openSqlite(join(root, "registry.db")));
  }

  /** BEGIN IMMEDIATE: take the write lock up front, so checks and writes see one state. */
  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  private repoId(name: string): number | undefined {
    return this.q.repoId.get(name) as number | undefined;
  }

  private ensureRepo(name: string, now: number): { id: number; created: boolean } {
    const id = this.repoId(name);
    if (id !== undefined) return { id, created: false };
    return { id: Number(this.q.insertRepo.run(name, now).lastInsertRowid), created: true };
  }

  async repositoryExists(name: string): Promise<boolean> {
    return this.repoId(name) !== undefined;
  }

  async listRepositories(after: string | undefined, limit: number): Promise<string[]> {
    return this.q.listRepos.all(after ?? "", limit) as string[];
  }

  async blobSize(repository: string, digest: Digest): Promise<number | undefined> {
    return this.q.blobSize.get(repository, digest) as number | undefined;
  }

  async linkUploadedBlob(repository: string, digest: Digest, size: number, place: () => void): Promise<LinkResult> {
    return this.write(() => {
      const now = Date.now();
      place();
      const repo = this.ensureRepo(repository, now);
      this.q.upsertBlob.run(digest, size, now);
      this.q.upsertLink.run(repo.id, digest, now);
      return { repositoryCreated: repo.created };
    });
  }

  async mountBlob(from: string, repository: string, digest: Digest): Promise<LinkResult & { linked: boolean }> {
    return this.write(() => {
      const source = this.repoId(from);
      if (source === undefined || !this.q.hasLink.get(source, digest))
        return { linked: false, repositoryCreated: false };
      const now = Date.now();
      const repo = this.ensureRepo(repository, now);
      this.q.upsertLink.run(repo.id, digest, now);
      return { linked: true, repositoryCreated: repo.created };
    });
  }

  async unlinkBlob(repository: string, digest: Digest): Promise<boolean> {
    return this.write(() => {
      const repo = this.repoId(repository);
      return repo !== undefined && this.q.deleteLink.run(repo, digest).changes > 0;
    });
  }

  async getManifest(repository: string, ref: ManifestRef): Promise<StoredManifest | undefined> {
    const row =
      "digest" in ref
        ? this.q.manifestByDigest.get(repository, ref.digest)
        : this.q.manifestByTag.get(repository, ref.tag);
    return row as StoredManifest | undefined;
  }

  async putManifest(repository: string, m: NewManifest, tag: string | undefined): Promise<PutManifestResult> {
    return this.write(() => {
      const existing = this.repoId(repository);
      const missing: Digest[] = [];
      for (const d of m.blobs) {
        if (existing === undefined || !this.q.hasLink.get(existing, d)) missing.push(d);
      }
      for (const d of m.manifests) {
        // an index may also name plain blobs (artifacts); either kind in the repository will do
        if (existing === undefined || !(this.q.hasManifest.get(existing, d) || this.q.hasLink.get(existing, d)))
          missing.push(d);
      }
      if (missing.length > 0) return { missing, repositoryCreated: false };
      const now = Date.now();
      const repo = this.ensureRepo(repository, now);
      const inserted = this.q.insertManifest.run({
        repo: repo.id,
        digest: m.digest,
        mediaType: m.mediaType,
        size: m.content.length,
        content: m.content,
        subject: m.subject ?? null,
        artifactType: m.artifactType ?? null,
        annotations: m.annotations ? JSON.stringify(m.annotations) : null,
        now,
      });
      if (inserted.changes > 0) {
        for (const d of [...m.blobs, ...m.manifests]) this.q.insertRef.run(repo.id, m.digest, d);
      }
      if (tag !== undefined) this.q.upsertTag.run(repo.id, tag, m.digest, now);
      return { missing: [], repositoryCreated: repo.created };
    });
  }

  async deleteManifest(repository: string, digest: Digest): Promise<boolean> {
    return this.write(() => {
      const repo = this.repoId(repository);
      if (repo === undefined) return false;
      const deleted = this.q.deleteManifest.run(repo, digest).changes > 0;
      this.q.deleteRefs.run(repo, digest);
      this.q.deleteTagsOf.run(repo, digest);
      return deleted;
    });
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    return this.write(() => {
      const repo = this.repoId(repository);
      return repo !== undefined && this.q.deleteTag.run(repo, tag).changes > 0;
    });
  }

  async listTags(repository: string, last: string | undefined, limit: number): Promise<string[] | undefined> {
    const repo = this.repoId(repository);
    if (repo === undefined) return undefined;
    return this.q.listTags.all(repo, last ?? "", limit) as string[];
  }

  async referrers(
    repository: string,
    digest: Digest,
    artifactType: string | undefined,
    page: { after: string | undefined; limit: number },
  ): Promise<ReferrerDescriptor[]> {
    const rows = this.q.referrers.all({
      name: repository,
      subject: digest,
      artifactType: artifactType ?? null,
      after: page.after ?? "",
      limit: page.limit,
    }) as {
      mediaType: string;
      digest: Digest;
      size: number;
      artifactType: string | null;
      annotations: string | null;
    }[];
    return rows.map((r) => ({
      mediaType: r.mediaType,
      digest: r.digest,
      size: r.size,
      ...(r.artifactType !== null ? { artifactType: r.artifactType } : {}),
      ...(r.annotations !== null ? { annotations: JSON.parse(r.annotations) as Record<string, string> } : {}),
    }));
  }

  async createUpload(session: UploadSession): Promise<void> {
    this.write(() => this.q.insertUpload.run(session));
  }

  async getUpload(id: string): Promise<UploadSession | undefined> {
    return this.q.getUpload.get(id) as UploadSession | undefined;
  }

  async claimUpload(
    id: string,
    owner: string,
    isStale: (holder: string) => boolean,
  ): Promise<"claimed" | "busy" | "unknown"> {
    return this.write(() => {
      const row = this.q.uploadOwner.get(id) as { lock_owner: string | null } | undefined;
      if (!row) return "unknown";
      if (row.lock_owner !== null && row.lock_owner !== owner && !isStale(row.lock_owner)) return "busy";
      this.q.claimUpload.run(owner, Date.now(), id);
      return "claimed";
    });
  }

  async releaseUpload(id: string, owner: string): Promise<void> {
    this.write(() => this.q.releaseUpload.run(id, owner));
  }

  async deleteUpload(id: string): Promise<void> {
    this.write(() => this.q.deleteUpload.run(id));
  }

  async garbageBlobs(cutoff: number): Promise<Digest[]> {
    return this.q.garbage.all({ cutoff }) as Digest[];
  }

  async removeGarbageBlobs(candidates: readonly Digest[], cutoff: number): Promise<Digest[]> {
    return this.write(() => {
      const removed: Digest[] = [];
      for (const digest of candidates) {
        if (!this.q.isGarbage.get({ digest, cutoff })) continue;
        this.q.deleteLinksOf.run(digest);
        this.q.deleteBlob.run(digest);
        removed.push(digest);
      }
      return removed;
    });
  }

  async blobKnown(digest: Digest): Promise<boolean> {
    return this.q.blobKnown.get(digest) !== undefined;
  }

  async removeIfOrphan(digest: Digest, remove: () => void): Promise<boolean> {
    return this.write(() => {
      if (this.q.blobKnown.get(digest)) return false;
      remove();
      return true;
    });
  }

  async staleUploads(cutoff: number): Promise<string[]> {
    return this.q.staleUploads.all(cutoff) as string[];
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import Database from "better-sqlite3";
import { type Digest, digestAlgorithm, digestHex, parseDigest } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { MediaType } from "../oci/media-types.js";
import type { ImageConfig, Manifest } from "../oci/schema.js";
import { type ByteSource, copyVerified, type Expected, type Measured, verifyBytes } from "../oci/verify.js";
import { MIGRATIONS } from "./schema.sql.js";

/**
 * The local content-addressed store.
 *
 * On disk (the root is also a valid OCI image layout, so skopeo's `oci:ROOT:NAME` and umoci
 * read it directly):
 *
 *   ROOT/oci-layout            {"imageLayoutVersion":"1.0.0"}
 *   ROOT/index.json            every stored image; tagged ones carry their name as
 *                              org.opencontainers.image.ref.name. Rewritten atomically under
 *                              the database's write lock, so it always matches the database.
 *   ROOT/blobs/<alg>/<hex>     verified content, immutable, shared by all images
 *   ROOT/berth.db              SQLite (WAL): images, tags, layers, leases, containers
 *   ROOT/tmp/<pid>-<rand>      blobs being written; renamed into blobs/ only once verified
 *
 * Crash safety: a blob is visible only after its bytes matched its digest (rename is atomic);
 * a tag is written in the same transaction as its image row, after all its blobs exist.
 * Concurrency: SQLite serialises writers; an ingest first records its digest in a lease, so
 * a concurrent prune never removes a blob that a load is about to reference.
 */
export class LocalStore {
  readonly root: string;
  readonly db: Database.Database;
  private readonly tmpDir: string;

  private constructor(root: string, db: Database.Database) {
    this.root = root;
    this.db = db;
    this.tmpDir = join(root, "tmp");
  }

  /** Opens (creating when missing) the store under `root`. */
  static open(root: string): LocalStore {
    try {
      fs.mkdirSync(join(root, "blobs", "sha256"), { recursive: true });
      fs.mkdirSync(join(root, "tmp"), { recursive: true });
      const layoutFile = join(root, "oci-layout");
      if (!fs.existsSync(layoutFile)) writeAtomic(root, layoutFile, '{"imageLayoutVersion":"1.0.0"}');
    } catch (err) {
      throw new BerthError(
        "STORE",
        `cannot use store root ${root}: ${(err as Error).message}; pass --root or set BERTH_ROOT to a writable directory`,
      );
    }
    const { Sqlite, nativeBinding } = loadSqlite();
    const db = new Sqlite(join(root, "berth.db"), { timeout: 120_000, ...(nativeBinding ? { nativeBinding } : {}) });
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    const store = new LocalStore(root, db);
    store.migrate();
    if (!fs.existsSync(join(root, "index.json"))) store.write(() => undefined);
    return store;
  }

  close(): void {
    this.db.close();
  }

  private migrate(): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    if (version >= MIGRATIONS.length) return;
    this.db
      .transaction(() => {
        const current = this.db.pragma("user_version", { simple: true }) as number;
        for (let v = current; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v] as string);
        this.db.pragma(`user_version = ${MIGRATIONS.length}`);
      })
      .immediate();
  }

  /**
   * Runs `fn` in a write transaction (holding SQLite's write lock) and rewrites index.json
   * before committing, so that the layout index follows the same order as the database.
   */
  write<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn(); // nested: the outermost write rewrites the index once
    return this.db
      .transaction(() => {
        const result = fn();
        this.writeLayoutIndex();
        return result;
      })
      .immediate();
  }

  /**
   * A write transaction for metadata index.json does not show (containers, the build cache):
   * the same lock as write, without rewriting the layout index.
   */
  update<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    return this.db.transaction(fn).immediate();
  }

  private writeLayoutIndex(): void {
    const rows = this.db
      .prepare(
        `SELECT i.id, i.manifest, i.manifest_media_type mt, i.manifest_size size, t.name
           FROM images i LEFT JOIN tags t ON t.image_id = i.id
          ORDER BY t.name IS NULL, t.name, i.id`,
      )
      .all() as { id: string; manifest: string; mt: string; size: number; name: string | null }[];
    const manifests = rows.map((r) => ({
      mediaType: r.mt,
      digest: r.manifest,
      size: r.size,
      ...(r.name
        ? { annotations: { "io.containerd.image.name": r.name, "org.opencontainers.image.ref.name": r.name } }
        : {}),
    }));
    const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
    writeAtomic(this.root, join(this.root, "index.json"), `${JSON.stringify(index)}\n`);
  }

  // ---- blobs

  blobPath(digest: Digest): string {
    return join(this.root, "blobs", digestAlgorithm(digest), digestHex(digest));
  }

  hasBlob(digest: Digest): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  blobSize(digest: Digest): number {
    const size = this.storedSize(digest);
    if (size === undefined)
      throw new BerthError("BLOB_UNKNOWN", `blob ${digest} is missing from the store at ${this.root}`);
    return size;
  }

  /** The blob file's size, or undefined when there is none. */
  storedSize(digest: Digest): number | undefined {
    return sizeOf(this.blobPath(digest));
  }

  /** Reads a (small) blob and checks it against its digest. */
  readBlob(digest: Digest): Buffer {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(this.blobPath(digest));
    } catch {
      throw new BerthError("BLOB_UNKNOWN", `blob ${digest} is missing from the store at ${this.root}`);
    }
    verifyBytes(bytes, { digest }, `stored blob ${digest}`);
    return bytes;
  }

  /**
   * A stored manifest or config, parsed. Not validated again: every JSON document was
   * validated when it entered the store, and readBlob checks its bytes against its digest,
   * so what it parses is what was validated. (Re-validating cost ~7 ms per command.)
   */
  readManifest(digest: Digest): Manifest {
    return JSON.parse(this.readBlob(digest).toString("utf8")) as Manifest;
  }

  readConfig(digest: Digest): ImageConfig {
    return JSON.parse(this.readBlob(digest).toString("utf8")) as ImageConfig;
  }

  openBlob(digest: Digest): Readable {
    const path = this.blobPath(digest);
    if (!fs.existsSync(path))
      throw new BerthError("BLOB_UNKNOWN", `blob ${digest} is missing from the store at ${this.root}`);
    return fs.createReadStream(path, { highWaterMark: 1 << 20 });
  }

  /** Every blob file present, by digest. */
  listBlobs(): Digest[] {
    const out: Digest[] = [];
    for (const alg of ["sha256", "sha512"]) {
      let names: string[];
      try {
        names = fs.readdirSync(join(this.root, "blobs", alg));
      } catch {
        continue;
      }
      for (const n of names) {
        try {
          out.push(parseDigest(`${alg}:${n}`));
        } catch {
          // not a blob name: something else put it there; leave it alone
        }
      }
    }
    return out;
  }

  // ---- leases: protect blobs between their ingest and the image that references them

  /** Runs `fn` with a lease; blobs ingested through it survive prune until the lease ends. */
  async withLease<T>(fn: (lease: Lease) => Promise<T>): Promise<T> {
    const id = Number(
      this.db.prepare("INSERT INTO leases(pid, started_ms) VALUES (?, ?)").run(process.pid, Date.now()).lastInsertRowid,
    );
    const lease = new Lease(this, id);
    let result: T;
    try {
      result = await fn(lease);
    } catch (err) {
      this.endLeaseAfter(lease);
      throw err;
    }
    this.endLease(lease);
    return result;
  }

  /** withLease for work that is synchronous (small blobs written with putBytes). */
  withLeaseSync<T>(fn: (lease: Lease) => T): T {
    const id = Number(
      this.db.prepare("INSERT INTO leases(pid, started_ms) VALUES (?, ?)").run(process.pid, Date.now()).lastInsertRowid,
    );
    const lease = new Lease(this, id);
    let result: T;
    try {
      result = fn(lease);
    } catch (err) {
      this.endLeaseAfter(lease);
      throw err;
    }
    this.endLease(lease);
    return result;
  }

  /**
   * Ends a lease whose work failed. Should the end fail too (a full disk refuses the database's
   * write as well), the first error is the one that says what happened: it is not masked, and
   * the lease row is swept once this process is gone (sweepDead).
   */
  private endLeaseAfter(lease: Lease): void {
    try {
      this.endLease(lease);
    } catch {
      // its temp files went first, before the write that failed
    }
  }

  private endLease(lease: Lease): void {
    lease.cleanup();
    // Blobs this operation brought in that no image came to reference (it failed, or the
    // source carried extra files) go now rather than waiting for a prune. Only blobs no image
    // names go, so index.json (the images) stays as it is: no rewrite (and its two fsyncs).
    this.update(() => {
      const mine = this.db
        .prepare("SELECT digest FROM lease_blobs WHERE lease_id = ?")
        .pluck()
        .all(lease.id) as string[];
      this.db.prepare("DELETE FROM leases WHERE id = ?").run(lease.id);
      this.deleteUnreferenced(mine);
    });
  }

  /** @internal used by Lease */
  tempPath(): string {
    return join(this.tmpDir, `${process.pid}-${randomBytes(8).toString("hex")}`);
  }

  /**
   * Removes leases and temporary files left by processes that no longer run (a crash or
   * kill -9). Must run inside a write transaction.
   */
  sweepDead(): { leases: number; tmpFiles: number } {
    const leases = this.db.prepare("SELECT id, pid FROM leases").all() as { id: number; pid: number }[];
    let removedLeases = 0;
    for (const l of leases) {
      if (!processAlive(l.pid)) {
        this.db.prepare("DELETE FROM leases WHERE id = ?").run(l.id);
        removedLeases++;
      }
    }
    let tmpFiles = 0;
    for (const name of safeReaddir(this.tmpDir)) {
      const pid = Number.parseInt(name.split("-")[0] ?? "", 10);
      if (!Number.isFinite(pid) || !processAlive(pid)) {
        fs.rmSync(join(this.tmpDir, name), { force: true, recursive: true });
        tmpFiles++;
      }
    }
    return { leases: removedLeases, tmpFiles };
  }

  /** Digests that an image or a live lease references. Call inside a write transaction. */
  referencedBlobs(): Set<string> {
    const set = new Set<string>();
    for (const r of this.db.prepare("SELECT DISTINCT digest FROM image_blobs").pluck().all() as string[]) set.add(r);
    for (const r of this.db.prepare("SELECT DISTINCT digest FROM lease_blobs").pluck().all() as string[]) set.add(r);
    // a compressed copy of a layer (made by push) lives as long as an image holds the layer
    for (const r of this.db.prepare(KEPT_COMPRESSIONS).pluck().all() as string[]) set.add(r);
    return set;
  }

  /**
   * Deletes the given blobs when nothing references them any more. Call inside a write
   * transaction. Returns the bytes freed.
   */
  deleteUnreferenced(candidates: Iterable<string>): { removed: Digest[]; bytes: number } {
    const stillUsed = this.db.prepare(
      `SELECT 1 FROM image_blobs WHERE digest = ? UNION ALL SELECT 1 FROM lease_blobs WHERE digest = ?
       UNION ALL SELECT 1 FROM layer_compressions c JOIN image_layers l ON l.diff_id = c.diff_id
        WHERE c.digest = ? LIMIT 1`,
    );
    const forget = this.db.prepare("DELETE FROM layer_compressions WHERE digest = ?");
    const removed: Digest[] = [];
    let bytes = 0;
    for (const d of candidates) {
      if (stillUsed.get(d, d, d)) continue;
      const digest = d as Digest;
      const path = this.blobPath(digest);
      forget.run(d); // no row may name a compressed copy whose file is gone
      try {
        bytes += fs.statSync(path).size;
        fs.unlinkSync(path);
        removed.push(digest);
      } catch {
        // already gone
      }
    }
    return { removed, bytes };
  }
}

/** Compressed layer copies whose layer some image still holds (see layer_compressions). */
const KEPT_COMPRESSIONS = `SELECT DISTINCT c.digest FROM layer_compressions c
  WHERE c.diff_id IN (SELECT diff_id FROM image_layers)`;

/** Ingests blobs for one operation; see LocalStore.withLease. */
export class Lease {
  private readonly temps = new Set<string>();
  constructor(
    readonly store: LocalStore,
    readonly id: number,
  ) {}

  /** Records that this operation uses `digest`, so prune leaves it alone. */
  protect(digest: Digest): void {
    this.store.db.prepare("INSERT OR IGNORE INTO lease_blobs(lease_id, digest) VALUES (?, ?)").run(this.id, digest);
  }

  /**
   * Streams `src` into the store, verifying it against `expected` (digest and size when
   * known). Observers see every byte (to compute a diffID or layer size on the way).
   * The blob becomes visible only when whole and verified.
   */
  async ingest(
    src: ByteSource,
    expected: Expected,
    what: string,
    observers: readonly Writable[] = [],
  ): Promise<Measured> {
    const tmp = this.store.tempPath();
    this.temps.add(tmp);
    try {
      // Opened synchronously so the file exists (and is removed below) even when the source
      // fails before the stream's own open would have finished.
      const out = fs.createWriteStream(tmp, { fd: fs.openSync(tmp, "w"), highWaterMark: 1 << 20 });
      const measured = await copyVerified(src, out, expected, what, observers);
      this.commit(tmp, measured.digest);
      return measured;
    } finally {
      fs.rmSync(tmp, { force: true });
      this.temps.delete(tmp);
    }
  }

  /** Writes bytes held in memory as a blob, verifying them when `expected` is given. */
  putBytes(bytes: Uint8Array, expected: Expected = {}, what = "blob"): Measured {
    const measured = verifyBytes(bytes, expected, what);
    this.protect(measured.digest);
    const dest = this.store.blobPath(measured.digest);
    if (!fs.existsSync(dest)) {
      const tmp = this.store.tempPath();
      this.temps.add(tmp);
      try {
        fs.writeFileSync(tmp, bytes);
        fs.mkdirSync(join(dest, ".."), { recursive: true });
        fs.renameSync(tmp, dest);
      } finally {
        fs.rmSync(tmp, { force: true });
        this.temps.delete(tmp);
      }
    }
    return measured;
  }

  /**
   * Moves a file the caller wrote and verified against `digest` (a resumable download keeps
   * its own partial file) into the store, as ingest does with its temp file. The file is the
   * store's after this: moved in, or removed when the store holds the blob already (another
   * process pulled it meanwhile; its copy was left in tmp/ before, 40 MiB per loser).
   */
  adoptVerified(path: string, digest: Digest): void {
    this.commit(path, digest);
    fs.rmSync(path, { force: true });
  }

  private commit(tmp: string, digest: Digest): void {
    // Lease first, then look: a prune that ran before the lease row may have removed an
    // older copy, and one that runs after it sees the lease.
    this.protect(digest);
    const dest = this.store.blobPath(digest);
    // an existing file of the verified size is the same blob; one of another size is damage
    // (a copy cut short), which the verified file replaces
    if (sizeOf(dest) === sizeOf(tmp)) return;
    fs.mkdirSync(join(dest, ".."), { recursive: true });
    fs.renameSync(tmp, dest);
  }

  /** @internal */
  cleanup(): void {
    for (const t of this.temps) fs.rmSync(t, { force: true });
  }
}

/**
 * better-sqlite3 with the path of its addon when it can be resolved: given that, it skips the
 * `bindings` package's search for it (a stack trace and a dozen stats, ~3 ms of every command),
 * and the addon loads when the first database opens (a command that opens no store never loads
 * it). Its JavaScript is in the CLI's bundle, under the bundle's code cache: loaded by node from
 * its dozen files it cost every command that opens a store ~5 ms more (`berth images`, 8 pairs:
 * 49 against 55 ms).
 */
function loadSqlite(): { Sqlite: typeof Database; nativeBinding?: string } {
  const require = createRequire(import.meta.url);
  try {
    return { Sqlite: Database, nativeBinding: require.resolve("better-sqlite3/build/Release/better_sqlite3.node") };
  } catch {
    // its addon elsewhere: the package as installed finds it itself (the bundled copy cannot)
    return { Sqlite: require("better-sqlite3") as typeof Database };
  }
}

function writeAtomic(root: string, path: string, text: string): void {
  const tmp = join(root, "tmp", `${process.pid}-${randomBytes(8).toString("hex")}`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, path);
}

/** Whether a process with this pid runs (a lease or temp file of a dead one may go). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function sizeOf(path: string): number | undefined {
  try {
    return fs.statSync(path).size;
  } catch {
    return undefined;
  }
}

import type { Digest } from "../oci/digest.js";
import type { BlobStorage } from "./blob-storage.js";
import { FsBlobStorage } from "./fs-blob-storage.js";
import type { RegistryMetadata } from "./metadata.js";
import { SqliteMetadata } from "./sqlite-metadata.js";

export interface GcOptions {
  /** List what would go, remove nothing. */
  readonly dryRun?: boolean;
  /**
   * Blobs younger than this are kept even when no manifest names them yet: a push uploads its
   * blobs first and its manifest last, and this is the time it has to do so.
   */
  readonly graceMs?: number;
  /** Upload sessions untouched for this long are abandoned. */
  readonly uploadGraceMs?: number;
  readonly now?: number;
  /**
   * Called after a batch's rows are committed and before its files are deleted. Only tests use
   * it (`berth registry gc` wires it to BERTH_TEST_GC_PAUSE), to kill -9 GC at exactly the
   * point where the two steps are apart and show that what is left is harmless.
   */
  readonly betweenSteps?: () => Promise<void>;
}

export interface GcResult {
  /** Blobs removed (or, with dryRun, that would be), by full digest. */
  readonly blobs: Digest[];
  readonly uploads: string[];
}

export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;
export const DEFAULT_UPLOAD_GRACE_MS = 24 * 60 * 60 * 1000;
const BATCH = 200;

/**
 * Online garbage collection. A blob goes when no manifest in any repository names it and
 * neither the blob nor any repository's link to it is younger than the grace period. Each
 * batch is re-checked and its rows removed inside one write transaction, and a finishing upload
 * links its blob inside one too, so a push racing with GC either sees its blob kept or writes
 * it again; a manifest naming a blob GC took is refused (MANIFEST_BLOB_UNKNOWN), never stored
 * broken. Safe while `berth serve` runs: SQLite's lock is shared between processes.
 *
 * Rows go first, committed, and the files after, each under the write lock only while no row
 * knows the digest (an upload of the same bytes in between keeps the file it found). A crash
 * in between leaves a file no row knows, which the next run's orphan sweep removes; the other
 * order could leave a row whose file is gone, and HEAD, answered from the row, would say 200
 * for a blob GET cannot serve.
 */
export async function collectGarbage(
  storage: BlobStorage,
  metadata: RegistryMetadata,
  options: GcOptions = {},
): Promise<GcResult> {
  const now = options.now ?? Date.now();
  const cutoff = now - (options.graceMs ?? DEFAULT_GC_GRACE_MS);
  const uploadCutoff = now - (options.uploadGraceMs ?? DEFAULT_UPLOAD_GRACE_MS);
  const candidates = await metadata.garbageBlobs(cutoff);
  const blobs: Digest[] = [];
  const uploads: string[] = [];
  if (options.dryRun) {
    blobs.push(...candidates);
  } else {
    for (let i = 0; i < candidates.length; i += BATCH) {
      const removed = await metadata.removeGarbageBlobs(candidates.slice(i, i + BATCH), cutoff);
      await options.betweenSteps?.();
      for (const d of removed) await metadata.removeIfOrphan(d, () => storage.deleteSync(d));
      blobs.push(...removed);
    }
  }
  // files no row knows (a crash between rename and commit), old enough not to be a commit in progress
  const taken = new Set<string>(blobs);
  for await (const { digest, mtimeMs } of storage.listBlobs()) {
    // a read first: the write lock (shared with the server) is taken only for real orphans
    if (mtimeMs >= cutoff || taken.has(digest) || (await metadata.blobKnown(digest))) continue;
    const orphan = options.dryRun || (await metadata.removeIfOrphan(digest, () => storage.deleteSync(digest)));
    if (orphan) blobs.push(digest);
  }
  const stale = new Set(await metadata.staleUploads(uploadCutoff));
  for await (const { id, mtimeMs } of storage.listUploads()) {
    const known = await metadata.getUpload(id);
    if (known ? !stale.has(id) : mtimeMs >= uploadCutoff) continue;
    uploads.push(id);
  }
  for (const id of stale) if (!uploads.includes(id)) uploads.push(id);
  if (!options.dryRun) {
    for (const id of uploads) {
      await metadata.deleteUpload(id);
      await storage.deleteUpload(id);
    }
  }
  return { blobs, uploads };
}

/** GC of the embedded registry under `root` (what `berth registry --root DIR gc` runs). */
export async function collectRegistryGarbage(root: string, options: GcOptions = {}): Promise<GcResult> {
  const metadata = SqliteMetadata.open(root);
  try {
    return await collectGarbage(new FsBlobStorage(root), metadata, options);
  } finally {
    await metadata.close();
  }
}

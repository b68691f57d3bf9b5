import type { Digest } from "../oci/digest.js";
import type { ManifestRef } from "./names.js";

/**
 * What the registry knows besides blob bytes: repositories, manifests, tags, which blobs each
 * repository may serve, what each manifest references (for GC), and upload sessions. The
 * embedded default is SQLite; PostgreSQL can implement the same calls for replicas.
 *
 * Operations that must not interleave with GC (linking a freshly written blob, checking a
 * manifest's references and recording them) are single calls, each one transaction.
 */
export interface RegistryMetadata {
  repositoryExists(name: string): Promise<boolean>;
  /** Repository names after `after` in byte order, at most `limit`. */
  listRepositories(after: string | undefined, limit: number): Promise<string[]>;

  /** The size of a blob the repository may serve (uploaded or mounted into it). */
  blobSize(repository: string, digest: Digest): Promise<number | undefined>;
  /**
   * Records a verified blob in the repository. `place` puts the bytes in storage and runs
   * inside the write transaction, so GC sees either no blob or a blob with its link.
   */
  linkUploadedBlob(repository: string, digest: Digest, size: number, place: () => void): Promise<LinkResult>;
  /** Links a blob `from` serves into `repository`; `linked` is false when `from` has no such blob. */
  mountBlob(from: string, repository: string, digest: Digest): Promise<LinkResult & { linked: boolean }>;
  /** Removes the blob from the repository (its bytes go with GC when nothing else uses them). */
  unlinkBlob(repository: string, digest: Digest): Promise<boolean>;

  getManifest(repository: string, ref: ManifestRef): Promise<StoredManifest | undefined>;
  /**
   * Stores a manifest (and points `tag` at it) after checking, in the same transaction, that
   * every blob and child manifest it names is in the repository. When some are not, nothing
   * is written and they are returned in `missing`.
   */
  putManifest(repository: string, manifest: NewManifest, tag: string | undefined): Promise<PutManifestResult>;
  /** Deletes a manifest and every tag pointing at it. */
  deleteManifest(repository: string, digest: Digest): Promise<boolean>;
  deleteTag(repository: string, tag: string): Promise<boolean>;
  /** Tags after `last` in byte order, at most `limit`; undefined when the repository does not exist. */
  listTags(repository: string, last: string | undefined, limit: number): Promise<string[] | undefined>;
  /**
   * Manifests in the repository whose `subject` is `digest`, as referrers descriptors, in digest
   * order: at most `limit`, those after `after` (the paging cursor).
   */
  referrers(
    repository: string,
    digest: Digest,
    artifactType: string | undefined,
    page: { after: string | undefined; limit: number },
  ): Promise<ReferrerDescriptor[]>;

  createUpload(session: UploadSession): Promise<void>;
  getUpload(id: string): Promise<UploadSession | undefined>;
  /**
   * Takes the session's cross-process lock for `owner` and marks it active (GC keeps uploads
   * touched within the grace period), in one write transaction: "claimed" when it was free or
   * its holder is stale (`isStale(holder)`, e.g. a dead process), "busy" when another live
   * holder has it, "unknown" when there is no session.
   */
  claimUpload(id: string, owner: string, isStale: (holder: string) => boolean): Promise<"claimed" | "busy" | "unknown">;
  /** Frees the lock if `owner` still holds it. */
  releaseUpload(id: string, owner: string): Promise<void>;
  deleteUpload(id: string): Promise<void>;

  /** Blobs GC may remove: referenced by no manifest, and neither the blob nor any link is newer than `cutoff`. */
  garbageBlobs(cutoff: number): Promise<Digest[]>;
  /**
   * Re-checks each candidate inside one write transaction and removes the rows of those still
   * garbage (the blob and every link to it), committed before any bytes go: a crash after it
   * leaves an orphan file, which `removeIfOrphan` sweeps, never a row without its file.
   * Returns the digests whose rows were removed.
   */
  removeGarbageBlobs(candidates: readonly Digest[], cutoff: number): Promise<Digest[]>;
  /** Whether a row knows this blob. */
  blobKnown(digest: Digest): Promise<boolean>;
  /**
   * Runs `remove` (deleting the bytes) inside the write lock when no row knows the blob: the
   * second step of removing garbage, and the sweep of files left by a crash between rename
   * and commit. Under the lock, an upload of the same digest cannot link it meanwhile.
   */
  removeIfOrphan(digest: Digest, remove: () => void): Promise<boolean>;
  /** Upload sessions untouched since `cutoff`. */
  staleUploads(cutoff: number): Promise<string[]>;
  close(): Promise<void>;
}

export interface LinkResult {
  readonly repositoryCreated: boolean;
}

export interface StoredManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly content: Buffer;
}

export interface NewManifest extends StoredManifest {
  readonly subject: Digest | undefined;
  /** The referrers API's artifactType: the manifest's own, else (image manifests) its config's media type. */
  readonly artifactType: string | undefined;
  readonly annotations: Readonly<Record<string, string>> | undefined;
  /** Blobs it names (config, layers) that must be in the repository. */
  readonly blobs: readonly Digest[];
  /** Manifests it names (an index's entries) that must be in the repository. */
  readonly manifests: readonly Digest[];
}

export interface PutManifestResult extends LinkResult {
  readonly missing: readonly Digest[];
}

export interface ReferrerDescriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

export interface UploadSession {
  readonly id: string;
  readonly repository: string;
  /** The hash computed while bytes arrive; a closing digest of another algorithm rehashes. */
  readonly algorithm: "sha256" | "sha512";
  readonly createdAt: number;
}

import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { Digest } from "../oci/digest.js";

/**
 * Where blob bytes live. The API never touches files: the filesystem driver is the embedded
 * default and an object store (S3) can implement the same calls. Blobs are shared by all
 * repositories (deduplicated by digest); which repository may see which blob is metadata.
 *
 * Uploads are append-only byte sequences named by a session id. `commitUpload` is only called
 * after the caller hashed the bytes and found the digest right, so nothing unverified ever
 * becomes a blob.
 */
export interface BlobStorage {
  /** The blob's size, or undefined when it is absent. */
  stat(digest: Digest): Promise<number | undefined>;
  /** Streams `[start, end]` (inclusive; the whole blob without a range); undefined when absent. */
  read(digest: Digest, range?: { start: number; end: number }): Promise<Readable | undefined>;
  /**
   * The blob as an open local file, for sendfile(2); only storage on a local filesystem has
   * this (an object store streams through `read`). Undefined when absent.
   */
  openFile?(digest: Digest): Promise<FileHandle | undefined>;
  /** Reads a whole blob into memory (small blobs, served from a cache); undefined when absent. */
  readAll(digest: Digest): Promise<Buffer | undefined>;

  createUpload(id: string): Promise<void>;
  /** Bytes received so far, or undefined when the upload does not exist. */
  uploadSize(id: string): Promise<number | undefined>;
  /**
   * Appends `source` at `offset` (which must be the current size); each chunk goes to `observe`
   * (the hash) before it is written. Resolves to the bytes written. On failure the bytes that
   * reached the store stay there (the caller decides whether to truncate).
   */
  append(id: string, offset: number, source: AsyncIterable<Buffer>, observe: (chunk: Buffer) => void): Promise<number>;
  /** Cuts an upload back to `size` bytes (a chunk that did not arrive whole). */
  truncateUpload(id: string, size: number): Promise<void>;
  /** Streams the upload's bytes from the start (to rebuild a hash after a restart). */
  readUpload(id: string): Readable;
  /**
   * Makes the verified upload the blob `digest`; when the blob exists already (content
   * addressing makes them equal) the upload is left for deleteUpload. Synchronous so that it
   * can run inside the metadata's write transaction, which is what makes it safe against a
   * concurrent GC.
   */
  commitUploadSync(id: string, digest: Digest): void;
  deleteUpload(id: string): Promise<void>;

  /** Removes a blob; synchronous for the same reason as commitUploadSync. */
  deleteSync(digest: Digest): void;
  /** Every stored blob with its modification time (ms), for GC's sweep of orphans. */
  listBlobs(): AsyncIterable<{ digest: Digest; mtimeMs: number }>;
  /** Every upload with its modification time (ms). */
  listUploads(): AsyncIterable<{ id: string; mtimeMs: number }>;
}

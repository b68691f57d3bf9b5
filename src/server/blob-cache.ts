import type { Digest } from "../oci/digest.js";

/**
 * Small blobs (configs, tiny layers) kept in memory, least recently used out first. Safe to
 * cache without invalidation: a digest names one content forever, and whether a repository
 * may still serve it is asked of the metadata on every request, before the cache.
 */
export class BlobCache {
  private readonly entries = new Map<Digest, Buffer>();
  private bytes = 0;

  constructor(
    readonly maxEntryBytes = 256 * 1024,
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  get(digest: Digest): Buffer | undefined {
    const buf = this.entries.get(digest);
    if (buf !== undefined) {
      // re-insert: Map keeps insertion order, so the first key is the least recently used
      this.entries.delete(digest);
      this.entries.set(digest, buf);
    }
    return buf;
  }

  set(digest: Digest, buf: Buffer): void {
    if (buf.length > this.maxEntryBytes || this.entries.has(digest)) return;
    this.entries.set(digest, buf);
    this.bytes += buf.length;
    for (const [key, value] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= value.length;
    }
  }
}

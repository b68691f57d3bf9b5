import type { Digest } from "../oci/digest.js";
import type { Compression } from "../oci/media-types.js";
import type { LocalStore } from "./local-store.js";

/** A compressed copy of a layer, made by a push and kept in the store as a blob. */
export interface CompressedLayer {
  digest: Digest;
  size: number;
}

/**
 * The stored compressed copy of layer `diffId`, or undefined when there is none or its file is
 * gone or the wrong size (then the caller compresses again, and its record replaces this one).
 */
export function findCompressedLayer(
  store: LocalStore,
  diffId: Digest,
  compression: Exclude<Compression, "none">,
): CompressedLayer | undefined {
  const row = store.db
    .prepare("SELECT digest, size FROM layer_compressions WHERE diff_id = ? AND compression = ?")
    .get(diffId, compression) as { digest: string; size: number } | undefined;
  // a copy whose file is not the recorded size (cut short on a full disk) is made anew
  if (!row || store.storedSize(row.digest as Digest) !== row.size) return undefined;
  return { digest: row.digest as Digest, size: row.size };
}

/**
 * Records a compressed copy. Call while the blob is protected by a lease: the row keeps it
 * (as long as an image holds the layer) once the lease ends.
 */
export function recordCompressedLayer(
  store: LocalStore,
  diffId: Digest,
  compression: Exclude<Compression, "none">,
  layer: CompressedLayer,
): void {
  store.update(() => {
    store.db
      .prepare("INSERT OR REPLACE INTO layer_compressions(diff_id, compression, digest, size) VALUES (?, ?, ?, ?)")
      .run(diffId, compression, layer.digest, layer.size);
  });
}

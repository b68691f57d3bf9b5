import { measureLayer } from "../image/layer-ingest.js";
import type { Digest } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { imageSize, UNKNOWN_SIZE } from "./image-records.js";
import type { LocalStore } from "./local-store.js";

/**
 * Layers a pull stored without inflating them, as containerd's content store keeps them: the
 * blob was checked against its digest on the way in, but the diffID an image config gives it
 * is only the registry's word until the blob is inflated and hashed, which is also what
 * measures docker's size of it. Inflating is the slowest part of a pull (a 277 MB gzip'd
 * layer takes ~1 s of igzip here, twice that in zlib, more than the download), and a pull
 * that is pushed on or saved never needs it; one that is run inflates the layer anyway.
 *
 * So the check is made before the first use that depends on the claim: unpacking the layer
 * (snapshots, a container's root file system, an exported file system), or showing its size
 * (images, inspect, history, system df). A claim that proves false is an error naming the
 * layer, every time, and nothing is unpacked from it.
 */

export interface LayerClaim {
  /** The stored blob, compressed. */
  digest: Digest;
  /** What an image config says the blob unpacks to. */
  diffId: Digest;
}

/** Whether this claim is still unchecked. */
export function isPending(store: LocalStore, claim: LayerClaim): boolean {
  return (
    store.db
      .prepare("SELECT 1 FROM pending_layers WHERE digest = ? AND diff_id = ?")
      .get(claim.digest, claim.diffId) !== undefined
  );
}

/** The unchecked claims of these images (all images' when `ids` is undefined). */
export function pendingOfImages(store: LocalStore, ids?: readonly Digest[]): LayerClaim[] {
  const rows = store.db
    .prepare(
      `SELECT DISTINCT p.digest, p.diff_id AS diffId, b.image_id AS imageId FROM pending_layers p
         JOIN image_blobs b ON b.digest = p.digest
         JOIN image_layers l ON l.image_id = b.image_id AND l.diff_id = p.diff_id`,
    )
    .all() as (LayerClaim & { imageId: string })[];
  const wanted = ids ? new Set<string>(ids) : undefined;
  const seen = new Set<string>();
  const out: LayerClaim[] = [];
  for (const r of rows) {
    const key = `${r.digest} ${r.diffId}`;
    if ((wanted && !wanted.has(r.imageId)) || seen.has(key)) continue;
    seen.add(key);
    out.push({ digest: r.digest, diffId: r.diffId });
  }
  return out;
}

/**
 * Checks each claim by inflating its blob: a true one is recorded as checked, with the
 * layer's size (and the sizes of the images it completes); a false one throws. Two processes
 * checking the same claim at once both read the blob and record the same thing.
 */
async function settleClaims(store: LocalStore, claims: readonly LayerClaim[]): Promise<void> {
  for (const c of claims) {
    const what = `layer ${c.digest}`;
    const size = store.blobSize(c.digest);
    const measured = await measureLayer(store.openBlob(c.digest), what, size);
    recordSettled(store, c, checkClaim(c, measured));
  }
}

/** Throws unless the measured layer is what the claim says; returns docker's size of it. */
export function checkClaim(claim: LayerClaim, measured: { diffId: Digest; layerSize: number | null }): number {
  const what = `layer ${claim.digest}`;
  if (measured.diffId !== claim.diffId) {
    throw new BerthError(
      "DIGEST_MISMATCH",
      `${what} unpacks to ${measured.diffId}, but its image config says ${claim.diffId}: the image is damaged; remove it (berth rmi) and pull it again`,
    );
  }
  if (measured.layerSize === null) throw new BerthError("INVALID_ARCHIVE", `${what} is not a tar archive`);
  return measured.layerSize;
}

/** Records a claim proven true (by settleClaims, or by an unpack that hashed the layer on the way). */
export function recordSettled(store: LocalStore, claim: LayerClaim, layerSize: number): void {
  store.write(() => {
    const db = store.db;
    db.prepare("DELETE FROM pending_layers WHERE digest = ? AND diff_id = ?").run(claim.digest, claim.diffId);
    db.prepare("UPDATE layers SET size = ? WHERE diff_id = ? AND size < 0").run(layerSize, claim.diffId);
    // the images this layer completes: their size is the sum of their layers' now
    const images = db
      .prepare(
        `SELECT i.id FROM images i JOIN image_layers l ON l.image_id = i.id
          WHERE l.diff_id = ? AND i.size = ?`,
      )
      .pluck()
      .all(claim.diffId, UNKNOWN_SIZE) as string[];
    for (const id of images) {
      const size = imageSize(store, store.readConfig(id as Digest).rootfs.diff_ids);
      if (size >= 0) db.prepare("UPDATE images SET size = ? WHERE id = ?").run(size, id);
    }
  });
}

/** Checks what is unchecked among these images' layers (every image's when `ids` is undefined). */
export async function settleImages(store: LocalStore, ids?: readonly Digest[]): Promise<void> {
  await settleClaims(store, pendingOfImages(store, ids));
}

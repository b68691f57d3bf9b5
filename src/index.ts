/**
 * berth's library API: the verbs the CLI is a thin layer over.
 *
 *   import { openStore, load, save, images, inspectImage } from "berth";
 *   const store = openStore("/var/lib/berth");
 */
export { BerthError, type ErrorCode } from "./oci/errors.js";
export { type Digest, parseDigest, sha256 } from "./oci/digest.js";
export { MediaType } from "./oci/media-types.js";
export { type Reference, parseReference, formatReference, familiarName } from "./oci/reference.js";
export type { Descriptor, ImageConfig, ImageIndex, Manifest, Platform } from "./oci/schema.js";
export { LocalStore } from "./store/local-store.js";
export type { ImageRecord } from "./store/image-records.js";
export { load, type LoadResult } from "./verbs/load.js";
export { save } from "./verbs/save.js";
export { importImage, type ImportOptions } from "./verbs/import.js";
export { tag } from "./verbs/tag.js";
export { removeImage, type RemoveResult } from "./verbs/rmi.js";
export { images, type ImageRow, type ListOptions } from "./verbs/images.js";
export { inspectImage, type ImageInspect } from "./verbs/inspect.js";
export { history, type HistoryRow } from "./verbs/history.js";
export { pruneImages, pruneSystem, pruneContainers, diskUsage, type PruneResult, type DiskUsage } from "./verbs/prune.js";
export { defaultRoot } from "./store/default-root.js";

import { LocalStore } from "./store/local-store.js";
/** Opens the store at `root` (see defaultRoot for docker-like defaults). */
export function openStore(root: string): LocalStore {
  return LocalStore.open(root);
}

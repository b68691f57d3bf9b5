import type { Digest } from "../oci/digest.js";
import type { ImageConfig, Manifest } from "../oci/schema.js";
import { type ImageRecord, resolveImage } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";

/** A stored image with its manifest and config read and checked. */
export interface StoredImage {
  record: ImageRecord;
  manifest: Manifest;
  config: ImageConfig;
  configBytes: Buffer;
}

export function readStoredImage(store: LocalStore, record: ImageRecord): StoredImage {
  const manifest = store.readManifest(record.manifest);
  const configBytes = store.readBlob(record.id as Digest);
  const config = JSON.parse(configBytes.toString("utf8")) as ImageConfig; // validated on entry (LocalStore.readConfig)
  return { record, manifest, config, configBytes };
}

/** Resolves a user's name or ID and reads the image. */
export function openImage(store: LocalStore, nameOrId: string): StoredImage {
  return readStoredImage(store, resolveImage(store, nameOrId).image);
}

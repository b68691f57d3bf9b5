import type { Readable } from "node:stream";
import { readArchive } from "../archive/archive-reader.js";
import type { Digest } from "../oci/digest.js";
import { withContext } from "../oci/errors.js";
import { formatReference } from "../oci/reference.js";
import { registerImage, type TagChange } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";
import { hostPlatform } from "./platform.js";

export interface LoadedImage {
  id: Digest;
  /** Full tag names, e.g. docker.io/library/busybox:latest. */
  tags: string[];
}

export interface LoadResult {
  images: LoadedImage[];
  /** Tags that moved here from another image. */
  moved: TagChange[];
}

/**
 * `docker load`: reads a docker-archive or OCI layout tar (gzip'd or not) into the store.
 * All or nothing: every blob is verified first, then all images and tags are recorded in one
 * transaction; a failure leaves the store as it was.
 */
export async function load(store: LocalStore, src: Readable): Promise<LoadResult> {
  try {
    return await store.withLease(async (lease) => {
      const images = await readArchive(src, lease, hostPlatform());
      const moved: TagChange[] = [];
      store.write(() => {
        for (const img of images) moved.push(...registerImage(store, img.image, img.tags));
      });
      return {
        images: images.map((i) => ({
          id: i.image.manifest.config.digest,
          tags: i.tags.map((t) => formatReference({ ...t, tag: t.tag ?? "latest" })),
        })),
        moved: moved.filter((m) => m.previous),
      };
    });
  } catch (err) {
    throw withContext("loading image", err);
  }
}

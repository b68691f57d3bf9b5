import type { Digest } from "../oci/digest.js";
import { shortId } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { childrenOf, containersUsing, deleteImageRow, removeTag, resolveImage } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";

/** What removing one image did, in docker's words: Untagged and Deleted lines. */
export interface RemoveResult {
  untagged: string[];
  deleted: Digest[];
  bytes: number;
}

/**
 * `docker rmi`: removing a name untags it, and deletes the image when that was its last
 * name; removing by ID deletes the image, refusing (unless `force`) when it has names in
 * several repositories. An image a container uses is never deleted without `force`, and
 * then only its names go, as docker does.
 */
export function removeImage(store: LocalStore, nameOrId: string, opts: { force?: boolean } = {}): RemoveResult {
  return store.write(() => {
    const resolved = resolveImage(store, nameOrId);
    const image = resolved.image;
    const result: RemoveResult = { untagged: [], deleted: [], bytes: 0 };
    const users = containersUsing(store, image.id);
    const named = resolved.tag ?? resolved.repoDigest;
    const also = named ? digestsLeftBehind(named, image) : [];
    const remaining = [...image.tags, ...image.repoDigests].filter((n) => n !== named && !also.includes(n));
    if (named && (remaining.length > 0 || (users.length > 0 && opts.force))) {
      if (users.length > 0 && !opts.force && remaining.length === 0) {
        throw inUse(named, users[0]?.id ?? "", image.id);
      }
      for (const n of [named, ...also]) untag(store, n, result);
      return result;
    }
    if (!named && !opts.force) {
      const repos = new Set(image.tags.map((t) => t.slice(0, t.lastIndexOf(":"))));
      if (repos.size > 1) {
        throw new BerthError(
          "CONFLICT",
          `conflict: unable to delete ${shortId(image.id)} (must be forced) - image is referenced in multiple repositories`,
        );
      }
    }
    if (users.length > 0) {
      const user = users[0];
      if (!opts.force) throw inUse(named ?? shortId(image.id), user?.id ?? "", image.id);
      for (const t of [...image.tags, ...image.repoDigests]) untag(store, t, result);
      return result;
    }
    if (childrenOf(store, image.id).length > 0) {
      if (named) {
        untag(store, named, result);
        return result;
      }
      throw new BerthError(
        "CONFLICT",
        `conflict: unable to delete ${shortId(image.id)} (cannot be forced) - image has dependent child images`,
      );
    }
    for (const t of [...image.tags, ...image.repoDigests]) untag(store, t, result);
    const freed = deleteImageRow(store, image.id);
    result.deleted.push(image.id, ...freed.removed.filter((d) => d !== image.id));
    result.bytes = freed.bytes;
    return result;
  });
}

/**
 * docker's rule: removing the last tag of a repository also removes that repository's digest
 * references (`name@sha256:...`, which a pull by tag records), so `rmi name:tag` of a pulled
 * image deletes it rather than leaving it as `name <none>`.
 */
function digestsLeftBehind(named: string, image: { tags: string[]; repoDigests: string[] }): string[] {
  if (named.includes("@")) return [];
  const repo = named.slice(0, named.lastIndexOf(":"));
  if (image.tags.some((t) => t !== named && t.slice(0, t.lastIndexOf(":")) === repo)) return [];
  return image.repoDigests.filter((d) => d.slice(0, d.indexOf("@")) === repo);
}

function untag(store: LocalStore, name: string, result: RemoveResult): void {
  if (name.includes("@")) store.db.prepare("DELETE FROM repo_digests WHERE name = ?").run(name);
  else removeTag(store, name);
  result.untagged.push(name);
}

function inUse(name: string, container: string, id: Digest): BerthError {
  return new BerthError(
    "IMAGE_IN_USE",
    `conflict: unable to remove repository reference "${name}" (must force) - container ${container.slice(0, 12)} is using its referenced image ${shortId(id)}`,
  );
}

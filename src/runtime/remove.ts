import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BerthError } from "../oci/errors.js";
import type { LocalStore } from "../store/local-store.js";
import { type ContainerRecord, deleteContainer, getContainer } from "./containers.js";
import { findRuntimes, hostFacts } from "./oci-runtime.js";
import { containerDirOf, removeContainerFiles } from "./rootfs.js";

/**
 * `docker rm`: a container's files (unmounted first) and its record. Its image is free for
 * `rmi` afterwards.
 */

/** Finds a container by full ID, name, or a unique ID prefix, as docker does. */
export function findContainer(store: LocalStore, nameOrId: string): ContainerRecord {
  const db = store.db;
  const exact = db.prepare("SELECT id FROM containers WHERE id = ? OR name = ?").pluck().get(nameOrId, nameOrId) as
    | string
    | undefined;
  let id = exact;
  if (!id && /^[a-f0-9]{1,63}$/.test(nameOrId)) {
    const ids = db
      .prepare("SELECT id FROM containers WHERE id >= ? AND id < ? LIMIT 2")
      .pluck()
      .all(nameOrId, `${nameOrId}g`) as string[];
    if (ids.length > 1)
      throw new BerthError("CONFLICT", `multiple containers found with prefix ${nameOrId}: give more of the ID`);
    id = ids[0];
  }
  const found = id ? getContainer(store, id) : undefined;
  if (!found) throw new BerthError("USAGE", `No such container: ${nameOrId}`);
  return found;
}

export interface RemoveContainerOptions {
  /** -f: remove a running container too, killing it first. */
  force?: boolean;
  /** The runtimes' state directory the container was run with (see RunOptions.stateRoot). */
  stateRoot?: string;
}

/** Removes one container; returns its ID. */
export function removeContainer(store: LocalStore, nameOrId: string, opts: RemoveContainerOptions = {}): string {
  const c = findContainer(store, nameOrId);
  if (c.state === "running") {
    if (!opts.force) {
      throw new BerthError(
        "CONFLICT",
        `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`,
      );
    }
    // `delete --force` kills the container's processes and forgets it.
    const stateRoot = opts.stateRoot ?? "/run/berth";
    for (const rt of findRuntimes(hostFacts(), c.spec.runtime).candidates) {
      spawnSync(rt.path, ["--root", join(stateRoot, rt.name), "delete", "--force", c.id], { stdio: "ignore" });
    }
  }
  removeContainerFiles(containerDirOf(store, c.id));
  deleteContainer(store, c.id);
  return c.id;
}

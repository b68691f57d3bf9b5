import { BerthError } from "../oci/errors.js";
import type { LocalStore } from "../store/local-store.js";
import { deleteFromRuntime, refreshContainer, signalContainer } from "./container-state.js";
import { type ContainerRecord, deleteContainer, getContainer } from "./containers.js";
import { isAlive } from "./process-identity.js";
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
  if (!found) throw new BerthError("NOT_FOUND", `No such container: ${nameOrId}`);
  return found;
}

export interface RemoveContainerOptions {
  /** -f: remove a running container too, killing it first. */
  force?: boolean;
}

/** Removes one container; returns its ID. */
export function removeContainer(store: LocalStore, nameOrId: string, opts: RemoveContainerOptions = {}): string {
  const c = refreshContainer(store, findContainer(store, nameOrId));
  const held = c.spec.holder && isAlive(c.spec.holder) && c.spec.holder.pid !== process.pid;
  if (c.state !== "running" && held && !opts.force) {
    throw new BerthError(
      "CONFLICT",
      `container ${c.name} is being created or started by berth process ${c.spec.holder?.pid}: wait for it, or remove it with -f`,
    );
  }
  if (c.state === "running") {
    if (!opts.force) {
      throw new BerthError(
        "CONFLICT",
        `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`,
      );
    }
    // SIGKILL, then give its holder a moment to record the end and unmount, as docker's
    // rm -f waits for the exit; `delete --force` clears whatever is left either way.
    signalContainer(c, "SIGKILL");
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const now = getContainer(store, c.id);
      if (!now || refreshContainer(store, now).state !== "running") break;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
    deleteFromRuntime(c);
  }
  removeContainerFiles(containerDirOf(store, c.id));
  deleteContainer(store, c.id);
  return c.id;
}

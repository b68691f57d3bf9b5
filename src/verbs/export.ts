import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { withContext } from "../oci/errors.js";
import { refreshContainer } from "../runtime/container-state.js";
import type { ContainerRecord } from "../runtime/containers.js";
import { tarTree } from "../runtime/diff.js";
import { isMountPoint } from "../runtime/mount.js";
import { containerDirOf, openRootfs, prepareRootfs, releaseRootfs } from "../runtime/rootfs.js";
import { getImage } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";

/**
 * `docker export`: the container's file system as one plain tar, its layers flattened (no
 * whiteouts, no history), as the container sees it minus the files mounted over it
 * (/etc/hosts, /etc/hostname, /etc/resolv.conf are there empty, as in docker's export).
 * A running container is read through its own mount; a stopped one is mounted for the time
 * of the export. `out` is written, not ended (it may be stdout).
 */
export async function exportContainer(store: LocalStore, container: ContainerRecord, out: Writable): Promise<void> {
  const c = refreshContainer(store, container);
  const dir = containerDirOf(store, c.id);
  const live = openRootfs(dir, c.spec.driver);
  try {
    if (c.state === "running" && (c.spec.driver === "copy" || isMountPoint(live.path))) {
      await copyInto(await tarTree(live.path), out);
      return;
    }
    const image = getImage(store, c.imageId);
    if (!image) throw new Error(`its image ${c.imageId} is gone`);
    const rootfs = await prepareRootfs(
      store,
      { manifest: store.readManifest(image.manifest), config: store.readConfig(image.id) },
      dir,
      c.spec.driver,
    );
    try {
      await copyInto(await tarTree(rootfs.path), out);
    } finally {
      releaseRootfs(rootfs);
    }
  } catch (err) {
    throw withContext(`exporting container ${c.name}`, err);
  }
}

async function copyInto(src: Readable, out: Writable): Promise<void> {
  for await (const chunk of src) {
    if (!out.write(chunk)) await once(out, "drain");
  }
}

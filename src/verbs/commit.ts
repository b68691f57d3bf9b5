import { applyChanges } from "../image/config-changes.js";
import { ingestLayer } from "../image/layer-ingest.js";
import type { Digest } from "../oci/digest.js";
import { BerthError, withContext } from "../oci/errors.js";
import { MediaType } from "../oci/media-types.js";
import { parseReference } from "../oci/reference.js";
import type { ContainerConfig, ImageConfig } from "../oci/schema.js";
import { pauseContainer, refreshContainer, resumeContainer } from "../runtime/container-state.js";
import type { ContainerRecord } from "../runtime/containers.js";
import { containerDirOf, diffRootfs, openRootfs } from "../runtime/rootfs.js";
import { getImage, layerSizes } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";
import { recordNewImage } from "./stored-image.js";

export interface CommitOptions {
  /** REPOSITORY[:TAG] for the new image. */
  reference?: string;
  /** -m: the history comment. */
  message?: string;
  /** -a: the author. */
  author?: string;
  /** -c/--change: Dockerfile instructions applied to the config. */
  changes?: readonly string[];
  /** -p (docker's default): freeze the container while its changes are read. */
  pause?: boolean;
  /** The creation time; default now. */
  created?: Date;
}

/** docker's EmptyLayer: the diffID of a tar with no entries. */
const EMPTY_LAYER = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/**
 * `docker commit`: a new image on top of the container's image whose top layer is the
 * container's read/write layer (as a changeset, whiteouts included), and whose config is the
 * container's (its env, command, working directory, user) with --change applied. A container
 * that changed nothing gets a history entry and no layer, as docker gives it.
 */
export async function commitContainer(
  store: LocalStore,
  container: ContainerRecord,
  opts: CommitOptions = {},
): Promise<Digest> {
  const ref = opts.reference ? parseReference(opts.reference) : undefined;
  if (ref?.digest)
    throw new BerthError("INVALID_REFERENCE", `commit needs REPOSITORY[:TAG], not a digest: ${opts.reference}`);
  const c = refreshContainer(store, container);
  const containerConfig = (c.spec.config ?? {}) as ContainerConfig;
  // bad --change instructions fail before anything is read or written
  const config = applyChanges(containerConfig, opts.changes ?? []);
  const parent = getImage(store, c.imageId);
  if (!parent) throw new BerthError("IMAGE_UNKNOWN", `the image of container ${c.name} is gone: ${c.imageId}`);
  const base = store.readConfig(parent.id);
  const baseManifest = store.readManifest(parent.manifest);
  const paused = c.state === "running" && opts.pause !== false && pauseContainer(c);
  try {
    return await store.withLease(async (lease) => {
      // whiteouts as docker's overlay2 differ writes them (mode 0600), so layers list alike
      const diff = await diffRootfs(openRootfs(containerDirOf(store, c.id), c.spec.driver), { whiteoutMode: 0o600 });
      const layer = await ingestLayer(lease, diff, {}, `the changes of container ${c.name}`);
      const empty = layer.diffId === null || layer.diffId === EMPTY_LAYER;
      const created = (opts.created ?? new Date()).toISOString();
      const cmd = Array.isArray(containerConfig.Cmd) ? containerConfig.Cmd : [];
      const image: ImageConfig = {
        ...base,
        ...(opts.author ? { author: opts.author } : { author: undefined }),
        created,
        ...(opts.message ? { comment: opts.message } : { comment: undefined }),
        config,
        container: c.id,
        container_config: containerConfig,
        rootfs: {
          type: "layers",
          diff_ids: empty ? base.rootfs.diff_ids : [...base.rootfs.diff_ids, layer.diffId as Digest],
        },
        history: [
          ...(base.history ?? []),
          {
            created,
            ...(opts.author ? { author: opts.author } : {}),
            created_by: cmd.join(" "),
            ...(opts.message ? { comment: opts.message } : {}),
            ...(empty ? { empty_layer: true } : {}),
          },
        ],
      };
      const diffIds = image.rootfs.diff_ids;
      const sizes = layerSizes(store, diffIds);
      if (!empty) sizes[sizes.length - 1] = layer.layerSize ?? 0;
      return recordNewImage(
        store,
        lease,
        image,
        [
          ...baseManifest.layers,
          ...(empty ? [] : [{ mediaType: MediaType.ociLayer, digest: layer.digest, size: layer.size }]),
        ],
        diffIds.map((diffId, i) => ({ diffId, size: sizes[i] ?? 0 })),
        { parent: parent.id, ref },
      );
    });
  } catch (err) {
    throw withContext(`committing container ${c.name}`, err);
  } finally {
    if (paused) resumeContainer(c);
  }
}

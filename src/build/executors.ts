/**
 * What executes a build step that is not cached: the runtime (RUN's container, the rootfs and
 * its snapshots, mounts, the diff), the COPY executor and the layer writer. build.ts loads this
 * module with `await import` in the first step that runs, so a build whose steps are all cached
 * evaluates none of it (nor the zod schemas the runtime's state files use).
 */
export { detectCompression, ingestLayer, peek } from "../image/layer-ingest.js";
export { writeLayer } from "../image/layer-writer.js";
export { applyLayer } from "../runtime/apply-layer.js";
export { normalizeUpper } from "../runtime/normalize-upper.js";
export { removeContainer } from "../runtime/remove.js";
export {
  containerDirOf,
  defaultStorageDriver,
  diffRootfs,
  mountImageView,
  openRootfs,
  prepareRootfs,
  releaseRootfs,
  removeContainerFiles,
} from "../runtime/rootfs.js";
export { runContainer } from "../runtime/run.js";
export { adoptSnapshot, chainIds, pruneSnapshots, snapshotRoot } from "../runtime/snapshots.js";
export { resolveUser } from "../runtime/users.js";
export { copyInto, planCopy } from "./copy.js";
export { assertCanRun } from "./emulation.js";

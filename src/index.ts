/**
 * berth's library API: the verbs the CLI is a thin layer over.
 *
 *   import { openStore, load, save, images, inspectImage } from "berth";
 *   const store = openStore("/var/lib/berth");
 */

export { type Digest, parseDigest, sha256 } from "./oci/digest.js";
export { BerthError, type ErrorCode } from "./oci/errors.js";
export { MediaType } from "./oci/media-types.js";
export { familiarName, formatReference, parseReference, type Reference } from "./oci/reference.js";
export type { Descriptor, ImageConfig, ImageIndex, Manifest, Platform } from "./oci/schema.js";
export { type RegistryConfig, registryConfigFromEnv } from "./registry-client/registry-config.js";
export { removeContainer } from "./runtime/remove.js";
export { type CreateResult, createContainer, type RunOptions, type RunResult, runContainer } from "./runtime/run.js";
export { type AccessPolicy, openAccess } from "./server/access.js";
export { SqliteTenancyStore } from "./server/auth/sqlite-tenancy-store.js";
export { TenancyAdmin } from "./server/auth/tenancy-admin.js";
export type { TenancyStore } from "./server/auth/tenancy-store.js";
export { type TokenAccessOptions, TokenAccessPolicy } from "./server/auth/token-access-policy.js";
export { collectGarbage, collectRegistryGarbage, type GcOptions, type GcResult } from "./server/gc.js";
export { createRegistry, type RegistryOptions, type RunningRegistry, startRegistry } from "./server/server.js";
export { defaultRoot } from "./store/default-root.js";
export type { ImageRecord } from "./store/image-records.js";
export { LocalStore } from "./store/local-store.js";
export { type CommitOptions, commitContainer } from "./verbs/commit.js";
export {
  findContainer,
  kill,
  type LogsOptions,
  logs,
  startContainer,
  stop,
} from "./verbs/container-control.js";
export { type ContainerListOptions, type ContainerSummary, containers, inspectContainer } from "./verbs/containers.js";
export { exportContainer } from "./verbs/export.js";
export { type HistoryRow, history } from "./verbs/history.js";
export { type ImageRow, images, type ListOptions } from "./verbs/images.js";
export { type ImportOptions, importImage } from "./verbs/import.js";
export { type ImageInspect, inspectImage } from "./verbs/inspect.js";
export { type LoadResult, load } from "./verbs/load.js";
export { type LoginResult, login, logout } from "./verbs/login.js";
export {
  type DiskUsage,
  diskUsage,
  type PruneResult,
  pruneContainers,
  pruneImages,
  pruneSystem,
} from "./verbs/prune.js";
export { type PulledImage, type PullOptions, pull } from "./verbs/pull.js";
export { type PushedImage, type PushOptions, push } from "./verbs/push.js";
export { type RemoveResult, removeImage } from "./verbs/rmi.js";
export { save } from "./verbs/save.js";
export { tag } from "./verbs/tag.js";
export type { TransferEvent } from "./verbs/transfer-events.js";

import { LocalStore } from "./store/local-store.js";
/** Opens the store at `root` (see defaultRoot for docker-like defaults). */
export function openStore(root: string): LocalStore {
  return LocalStore.open(root);
}

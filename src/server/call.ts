import type { IncomingMessage, ServerResponse } from "node:http";
import type { AccessPolicy, Principal, RepositoryAction } from "./access.js";
import type { BlobCache } from "./blob-cache.js";
import type { BlobStorage } from "./blob-storage.js";
import type { RegistryMetadata } from "./metadata.js";
import { RegistryError } from "./registry-error.js";
import type { Uploads } from "./uploads.js";

/** The registry's parts, wired once at start (no module state). */
export interface Registry {
  readonly storage: BlobStorage;
  readonly metadata: RegistryMetadata;
  readonly uploads: Uploads;
  readonly policy: AccessPolicy;
  readonly blobCache: BlobCache;
}

/** One API request after routing and authentication. */
export interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly query: URLSearchParams;
  readonly principal: Principal;
  readonly registry: Registry;
}

/**
 * Asks the policy for `actions` on `name`. Lacking them, callers who could get more by
 * authenticating (anonymous, or a bearer token issued for other scopes) are challenged with
 * 401 so that Docker clients fetch a token for these scopes; a user who proved who they are
 * is refused with 403 DENIED.
 */
export async function authorize(call: Call, name: string, actions: readonly RepositoryAction[]): Promise<void> {
  const granted = await call.registry.policy.allowed(call.principal, name, actions);
  if (actions.every((a) => granted.has(a))) return;
  // Docker asks for pull with push: a push token must allow both
  const scopeActions = actions.includes("push") ? ["pull", ...actions.filter((a) => a !== "pull")] : actions;
  throw denial(call, [`repository:${name}:${scopeActions.join(",")}`]);
}

export function denial(call: Call, scopes: readonly string[]): RegistryError {
  if (call.principal.kind === "user") {
    return new RegistryError("DENIED", "requested access to the resource is denied", {
      detail: scopes.map((s) => ({ scope: s })),
    });
  }
  const challenge = call.registry.policy.challenge(scopes);
  return new RegistryError("UNAUTHORIZED", "authentication required", {
    ...(challenge !== undefined ? { headers: { "WWW-Authenticate": challenge } } : {}),
    detail: scopes.map((s) => ({ scope: s })),
  });
}

/** NAME_UNKNOWN when the repository does not exist, else `otherwise` (a missing manifest or blob). */
export async function unknown(call: Call, name: string, otherwise: RegistryError): Promise<RegistryError> {
  if (await call.registry.metadata.repositoryExists(name)) return otherwise;
  return new RegistryError("NAME_UNKNOWN", "repository name not known to registry", { detail: { name } });
}

/** Tells the policy about a repository a push just created (its namespace's default visibility applies). */
export async function created(call: Call, name: string, repositoryCreated: boolean): Promise<void> {
  if (repositoryCreated) await call.registry.policy.repositoryCreated(name, call.principal);
}

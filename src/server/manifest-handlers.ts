import { type DigestAlgorithm, digestAlgorithm, digestFromHash, newHash } from "../oci/digest.js";
import { authorize, type Call, created, unknown } from "./call.js";
import { readBody, send } from "./http.js";
import { parseManifest } from "./manifest-parse.js";
import { parseManifestRef } from "./names.js";
import { RegistryError } from "./registry-error.js";

/** Spec "Pushing Manifests": registries should take at least 4 MB; more is 413. */
export const MANIFEST_MAX = 4 * 1024 * 1024;

/** GET/HEAD /v2/<name>/manifests/<reference> (end-3): the bytes exactly as pushed, with their media type. */
export async function getManifest(call: Call, name: string, reference: string): Promise<void> {
  const ref = parseManifestRef(reference);
  await authorize(call, name, ["pull"]);
  const m = await call.registry.metadata.getManifest(name, ref);
  if (!m) throw await manifestUnknown(call, name, reference);
  send(
    call.res,
    200,
    { "Content-Type": m.mediaType, "Docker-Content-Digest": m.digest, ETag: `"${m.digest}"` },
    m.content,
  );
}

/** PUT /v2/<name>/manifests/<reference> (end-7). */
export async function putManifest(call: Call, name: string, reference: string): Promise<void> {
  const ref = parseManifestRef(reference);
  await authorize(call, name, ["push"]);
  const content = await readBody(
    call.req,
    MANIFEST_MAX,
    () =>
      new RegistryError("MANIFEST_INVALID", `manifest is larger than ${MANIFEST_MAX} bytes`, {
        status: 413,
        detail: { limit: MANIFEST_MAX },
      }),
  );
  const parsed = parseManifest(content, call.req.headers["content-type"]);
  const algorithm: DigestAlgorithm = "digest" in ref ? digestAlgorithm(ref.digest) : "sha256";
  const digest = digestFromHash(algorithm, newHash(algorithm).update(content));
  if ("digest" in ref && ref.digest !== digest) {
    throw new RegistryError("DIGEST_INVALID", "provided digest did not match uploaded content", {
      detail: { expected: ref.digest, actual: digest },
    });
  }
  const result = await call.registry.metadata.putManifest(
    name,
    { ...parsed, digest, content },
    "tag" in ref ? ref.tag : undefined,
  );
  if (result.missing.length > 0) {
    throw new RegistryError(
      "MANIFEST_BLOB_UNKNOWN",
      `manifest references ${result.missing.length === 1 ? "a blob" : "blobs"} unknown to this repository: ${result.missing.join(", ")}`,
      { detail: result.missing.map((d) => ({ digest: d })) },
    );
  }
  await created(call, name, result.repositoryCreated);
  send(call.res, 201, {
    Location: `/v2/${name}/manifests/${digest}`,
    "Docker-Content-Digest": digest,
    // spec "Pushing Manifests with Subject": tells the client the referrers API saw the subject
    ...(parsed.subject !== undefined ? { "OCI-Subject": parsed.subject } : {}),
  });
}

/** DELETE /v2/<name>/manifests/<reference> (end-9): a tag removes the tag, a digest the manifest and its tags. */
export async function deleteManifest(call: Call, name: string, reference: string): Promise<void> {
  const ref = parseManifestRef(reference);
  await authorize(call, name, ["delete"]);
  const metadata = call.registry.metadata;
  const deleted =
    "digest" in ref ? await metadata.deleteManifest(name, ref.digest) : await metadata.deleteTag(name, ref.tag);
  if (!deleted) throw await manifestUnknown(call, name, reference);
  send(call.res, 202, {});
}

function manifestUnknown(call: Call, name: string, reference: string): Promise<RegistryError> {
  return unknown(
    call,
    name,
    new RegistryError("MANIFEST_UNKNOWN", "manifest unknown to registry", { detail: { name, reference } }),
  );
}

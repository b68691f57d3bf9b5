import { type DigestAlgorithm, digestAlgorithm } from "../oci/digest.js";
import { authorize, type Call, created } from "./call.js";
import { exactly, hasBody, send } from "./http.js";
import type { UploadSession } from "./metadata.js";
import { isRepositoryName, requestDigest } from "./names.js";
import { parseContentRange, uploadRange } from "./range.js";
import { RegistryError } from "./registry-error.js";

const EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/**
 * POST /v2/<name>/blobs/uploads/ (end-4a, end-4b, end-11): a mount when `from` may be read
 * and has the blob, a single-request upload with `?digest=` and a body, else a new session.
 */
export async function startUpload(call: Call, name: string): Promise<void> {
  await authorize(call, name, ["push"]);
  const { query, registry } = call;
  const mount = query.get("mount");
  if (mount !== null) {
    const digest = requestDigest(mount, "mount");
    const from = query.get("from");
    // spec "Mounting a blob": a registry unable to mount answers 202 with a session; so does a
    // caller who may not read `from` (the blob's existence there is not revealed)
    if (from !== null && isRepositoryName(from)) {
      const readable = await registry.policy.allowed(call.principal, from, ["pull"]);
      if (readable.has("pull")) {
        const r = await registry.metadata.mountBlob(from, name, digest);
        if (r.linked) {
          await created(call, name, r.repositoryCreated);
          send(call.res, 201, { Location: `/v2/${name}/blobs/${digest}`, "Docker-Content-Digest": digest });
          return;
        }
      }
    }
    return sendSession(call, name, await registry.uploads.start(name));
  }
  const algorithm = digestAlgorithmParam(query.get("digest-algorithm"));
  const digestText = query.get("digest");
  if (digestText !== null) {
    const digest = requestDigest(digestText);
    // a single-POST upload; without a body (and not the empty blob) it is a session to PUT into
    if (hasBody(call.req) || digest === EMPTY_SHA256) {
      // hash with the digest's own algorithm from the first byte (no second pass for sha512)
      const session = await registry.uploads.start(name, digestAlgorithm(digest));
      try {
        const size = await registry.uploads.append(session, 0, call.req as AsyncIterable<Buffer>, true);
        const r = await registry.uploads.finish(session, size, digest);
        await created(call, name, r.repositoryCreated);
      } catch (err) {
        await registry.uploads.cancel(session.id).catch(() => {});
        throw err;
      }
      send(call.res, 201, { Location: `/v2/${name}/blobs/${digest}`, "Docker-Content-Digest": digest });
      return;
    }
  }
  sendSession(call, name, await registry.uploads.start(name, algorithm));
}

/** GET /v2/<name>/blobs/uploads/<id> (end-13): where the upload stands. */
export async function uploadStatus(call: Call, name: string, id: string): Promise<void> {
  await authorize(call, name, ["push"]);
  const { session, size } = await call.registry.uploads.get(name, id);
  send(call.res, 204, sessionHeaders(name, session, size));
}

/** PATCH /v2/<name>/blobs/uploads/<id> (end-5): a chunk with Content-Range, or a streamed body without. */
export function patchUpload(call: Call, name: string, id: string): Promise<void> {
  return withSession(call, name, id, async (session, size) => {
    const newSize = await appendBody(call, name, session, size);
    send(call.res, 202, sessionHeaders(name, session, newSize));
  });
}

/** PUT /v2/<name>/blobs/uploads/<id>?digest= (end-6): the last chunk, if any, then verify and store. */
export function putUpload(call: Call, name: string, id: string): Promise<void> {
  return withSession(call, name, id, async (session, size) => {
    const digest = requestDigest(call.query.get("digest"));
    const finalSize = hasBody(call.req) ? await appendBody(call, name, session, size) : size;
    const r = await call.registry.uploads.finish(session, finalSize, digest);
    await created(call, name, r.repositoryCreated);
    send(call.res, 201, { Location: `/v2/${name}/blobs/${digest}`, "Docker-Content-Digest": digest });
  });
}

/** DELETE /v2/<name>/blobs/uploads/<id>: cancels the session. */
export function cancelUpload(call: Call, name: string, id: string): Promise<void> {
  return withSession(call, name, id, async (session) => {
    await call.registry.uploads.cancel(session.id);
    send(call.res, 204, {});
  });
}

/** With push access, runs `fn` on session `id` of `name` and its size, alone (uploads.exclusive). */
async function withSession(
  call: Call,
  name: string,
  id: string,
  fn: (session: UploadSession, size: number) => Promise<void>,
): Promise<void> {
  await authorize(call, name, ["push"]);
  const uploads = call.registry.uploads;
  await uploads.exclusive(id, async () => {
    const { session, size } = await uploads.get(name, id);
    await fn(session, size);
  });
}

/**
 * Appends the request body. A Content-Range must start where the upload ends (else 416, spec
 * "Pushing a blob in chunks") and the body must be exactly that long (else SIZE_INVALID, and
 * the chunk is cut off again).
 */
async function appendBody(call: Call, name: string, session: UploadSession, size: number): Promise<number> {
  const header = call.req.headers["content-range"];
  if (header === undefined)
    return call.registry.uploads.append(session, size, call.req as AsyncIterable<Buffer>, false);
  const range = parseContentRange(header);
  if (!range) throw new RegistryError("BLOB_UPLOAD_INVALID", `malformed Content-Range "${header.slice(0, 100)}"`);
  if (range.start !== size) {
    throw new RegistryError(
      "BLOB_UPLOAD_INVALID",
      `chunk starts at ${range.start}, but the upload has ${size} bytes: chunks must be sent in order`,
      { status: 416, headers: sessionHeaders(name, session, size) },
    );
  }
  const length = range.end - range.start + 1;
  const declared = call.req.headers["content-length"];
  if (declared !== undefined && Number(declared) !== length) {
    throw new RegistryError("SIZE_INVALID", `Content-Length ${declared} does not match Content-Range ${header}`);
  }
  return call.registry.uploads.append(session, size, exactly(call.req, length), true);
}

function sendSession(call: Call, name: string, session: UploadSession): void {
  send(call.res, 202, sessionHeaders(name, session, 0));
}

function sessionHeaders(name: string, session: UploadSession, size: number): Record<string, string> {
  return {
    Location: `/v2/${name}/blobs/uploads/${session.id}`,
    Range: uploadRange(size),
    "Docker-Upload-UUID": session.id,
  };
}

/** `?digest-algorithm=` (distribution-spec after 1.1): the hash to keep while bytes arrive. */
function digestAlgorithmParam(value: string | null): DigestAlgorithm {
  if (value === null || value === "sha256") return "sha256";
  if (value === "sha512") return "sha512";
  throw new RegistryError("DIGEST_INVALID", `unsupported digest algorithm "${value.slice(0, 50)}"`);
}

import type { Digest } from "../oci/digest.js";
import { isIndexMediaType, isManifestMediaType, MediaType } from "../oci/media-types.js";
import { type Descriptor, indexSchema, manifestSchema } from "../oci/schema.js";
import { RegistryError } from "./registry-error.js";

/** What the registry records about a pushed manifest besides its bytes. */
export interface ParsedManifest {
  readonly mediaType: string;
  readonly subject: Digest | undefined;
  readonly artifactType: string | undefined;
  readonly annotations: Record<string, string> | undefined;
  readonly blobs: Digest[];
  readonly manifests: Digest[];
}

/**
 * Validates a pushed manifest (spec "Pushing Manifests"): JSON of a type we serve (OCI image
 * manifest or index, Docker v2 schema 2 manifest or list), the `Content-Type` agreeing with
 * its `mediaType`, descriptors well formed. Pure: the bytes are stored as they came by the caller.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw invalid(`manifest is not JSON: ${(err as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw invalid("manifest is not a JSON object");
  const fields = json as Record<string, unknown>;
  if (fields.schemaVersion === 1) throw invalid("Docker schema 1 manifests are not supported; push schema 2 or OCI");
  const declared = typeof fields.mediaType === "string" ? fields.mediaType : undefined;
  const header = contentTypeOf(contentType);
  if (declared !== undefined && header !== undefined && declared !== header) {
    throw invalid(`Content-Type ${header} does not match the manifest's mediaType ${declared}`);
  }
  const mediaType =
    header ??
    declared ??
    (Array.isArray(fields.manifests) ? MediaType.ociIndex : fields.config !== undefined ? MediaType.ociManifest : "");
  if (isManifestMediaType(mediaType)) {
    const r = manifestSchema.safeParse(json);
    if (!r.success) throw invalid(`invalid image manifest: ${issue(r.error.issues)}`);
    const m = r.data;
    return {
      mediaType,
      subject: m.subject?.digest,
      // spec "Listing Referrers": an image manifest without artifactType is typed by its config
      artifactType: m.artifactType || m.config.mediaType,
      annotations: m.annotations,
      // layers fetched from elsewhere (foreign, `urls`) need not be in the registry
      blobs: [m.config, ...m.layers.filter((l) => !external(l))].map((d) => d.digest),
      manifests: [],
    };
  }
  if (isIndexMediaType(mediaType)) {
    const r = indexSchema.safeParse(json);
    if (!r.success) throw invalid(`invalid image index: ${issue(r.error.issues)}`);
    const m = r.data;
    return {
      mediaType,
      subject: m.subject?.digest,
      artifactType: m.artifactType || undefined,
      annotations: m.annotations,
      blobs: [],
      manifests: m.manifests.map((d) => d.digest),
    };
  }
  throw invalid(`unsupported manifest media type "${mediaType.slice(0, 200)}"`);
}

function external(d: Descriptor): boolean {
  return (d.urls !== undefined && d.urls.length > 0) || d.mediaType === MediaType.dockerForeignLayer;
}

/** The media type of a Content-Type header without parameters; generic types say nothing. */
function contentTypeOf(header: string | undefined): string | undefined {
  const t = header?.split(";")[0]?.trim().toLowerCase();
  if (!t || t === "application/octet-stream" || t === "application/json" || t === "text/plain") return undefined;
  return t;
}

function issue(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const first = issues[0];
  if (!first) return "invalid";
  const path = first.path.map(String).join(".");
  return path ? `${path}: ${first.message}` : first.message;
}

function invalid(message: string): RegistryError {
  return new RegistryError("MANIFEST_INVALID", message);
}

import type { Digest } from "./digest.js";
import { isDigest } from "./digest.js";
import { BerthError } from "./errors.js";
import { z } from "./zod.js";

/**
 * zod schemas for the JSON documents of the OCI image spec 1.1 and Docker v2 schema 2.
 * Validate a parsed copy; store and hash the raw bytes exactly as they came.
 */
export const digestSchema = z
  .string()
  .refine(isDigest, { message: "not a valid digest (algorithm:hex)" })
  .transform((s) => s as Digest);

const annotations = z.record(z.string(), z.string()).optional();

export const platformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  "os.version": z.string().optional(),
  "os.features": z.array(z.string()).optional(),
  variant: z.string().optional(),
});
export type Platform = z.infer<typeof platformSchema>;

export const descriptorSchema = z.looseObject({
  mediaType: z.string().min(1),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations,
  data: z.string().optional(),
  artifactType: z.string().optional(),
  platform: platformSchema.optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

export const manifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations,
});
export type Manifest = z.infer<typeof manifestSchema>;

export const indexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations,
});
export type ImageIndex = z.infer<typeof indexSchema>;

const stringMap = z.record(z.string(), z.string()).nullish();
const emptyObjectMap = z.record(z.string(), z.looseObject({})).nullish();

/** The runtime config inside an image config: docker's field names, OCI's subset plus docker's extras. */
export const containerConfigSchema = z.looseObject({
  User: z.string().optional(),
  ExposedPorts: emptyObjectMap,
  Env: z.array(z.string()).nullish(),
  Entrypoint: z.array(z.string()).nullish(),
  Cmd: z.array(z.string()).nullish(),
  Volumes: emptyObjectMap,
  WorkingDir: z.string().optional(),
  Labels: stringMap,
  StopSignal: z.string().optional(),
  ArgsEscaped: z.boolean().optional(),
  Healthcheck: z.looseObject({}).nullish(),
  OnBuild: z.array(z.string()).nullish(),
  Shell: z.array(z.string()).nullish(),
});
export type ContainerConfig = z.infer<typeof containerConfigSchema>;

export const historySchema = z.looseObject({
  created: z.string().optional(),
  created_by: z.string().optional(),
  author: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});
export type History = z.infer<typeof historySchema>;

export const imageConfigSchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  architecture: z.string(),
  os: z.string(),
  "os.version": z.string().optional(),
  "os.features": z.array(z.string()).optional(),
  variant: z.string().optional(),
  config: containerConfigSchema.nullish(),
  rootfs: z.looseObject({
    type: z.literal("layers"),
    diff_ids: z.array(digestSchema),
  }),
  history: z.array(historySchema).optional(),
  // docker's legacy fields, kept when present
  container: z.string().optional(),
  container_config: containerConfigSchema.nullish(),
  docker_version: z.string().optional(),
  comment: z.string().optional(),
});
export type ImageConfig = z.infer<typeof imageConfigSchema>;

/** docker-archive's manifest.json: one entry per image in the tar. */
export const archiveManifestSchema = z.array(
  z.looseObject({
    Config: z.string().min(1),
    RepoTags: z.array(z.string()).nullish(),
    Layers: z.array(z.string()),
    LayerSources: z.record(z.string(), descriptorSchema).nullish(),
  }),
);
export type ArchiveManifest = z.infer<typeof archiveManifestSchema>;

export const ociLayoutSchema = z.looseObject({ imageLayoutVersion: z.string() });

/**
 * Parses `bytes` as JSON and validates it against `schema`. A bad document throws
 * INVALID_JSON naming `what` and the first offending field path.
 */
export function parseJson<S extends z.ZodType>(schema: S, bytes: Uint8Array | string, what: string): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("utf8"));
  } catch (err) {
    throw new BerthError("INVALID_JSON", `invalid ${what}: not JSON (${(err as Error).message})`);
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue ? formatPath(issue.path) : "";
    throw new BerthError("INVALID_JSON", `invalid ${what}: ${path ? `${path}: ` : ""}${issue?.message ?? "invalid"}`);
  }
  return result.data;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

import { familiarString } from "../oci/reference.js";
import type { ContainerConfig } from "../oci/schema.js";
import type { LocalStore } from "../store/local-store.js";
import { openMeasuredImage } from "./stored-image.js";

/** The JSON `docker image inspect` prints, field for field. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container: string;
  ContainerConfig: Record<string, unknown>;
  DockerVersion: string;
  Author: string;
  Config: Record<string, unknown>;
  Architecture: string;
  Variant?: string;
  Os: string;
  OsVersion?: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Data: Record<string, string> | null; Name: string };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
  /** berth's addition: the manifest this image is stored as. */
  Descriptor: { mediaType: string; digest: string; size: number };
}

/**
 * docker's container config struct with every field present, as Go's encoding/json writes
 * it, so `--format '{{.Config.X}}'` and JSON consumers see what they see from docker.
 */
function dockerConfig(c: ContainerConfig | null | undefined): Record<string, unknown> {
  const src = c ?? {};
  const base: Record<string, unknown> = {
    // a committed container's image keeps the container's values, as docker's does
    Hostname: typeof src.Hostname === "string" ? src.Hostname : "",
    Domainname: typeof src.Domainname === "string" ? src.Domainname : "",
    User: src.User ?? "",
    AttachStdin: src.AttachStdin === true,
    AttachStdout: src.AttachStdout === true,
    AttachStderr: src.AttachStderr === true,
    ...(src.ExposedPorts ? { ExposedPorts: src.ExposedPorts } : {}),
    Tty: src.Tty === true,
    OpenStdin: src.OpenStdin === true,
    StdinOnce: src.StdinOnce === true,
    Env: src.Env ?? null,
    Cmd: src.Cmd ?? null,
    ...(src.Healthcheck ? { Healthcheck: src.Healthcheck } : {}),
    ...(src.ArgsEscaped ? { ArgsEscaped: src.ArgsEscaped } : {}),
    Image: (src as Record<string, unknown>).Image ?? "",
    Volumes: src.Volumes ?? null,
    WorkingDir: src.WorkingDir ?? "",
    Entrypoint: src.Entrypoint ?? null,
    OnBuild: src.OnBuild ?? null,
    Labels: src.Labels ?? null,
    ...(src.StopSignal ? { StopSignal: src.StopSignal } : {}),
    ...(src.Shell ? { Shell: src.Shell } : {}),
  };
  return base;
}

/** `docker image inspect NAME`. */
export async function inspectImage(store: LocalStore, nameOrId: string): Promise<ImageInspect> {
  const img = await openMeasuredImage(store, nameOrId);
  const { record, config } = img;
  const raw = config as Record<string, unknown>;
  return {
    Id: record.id,
    RepoTags: record.tags.map(familiarString),
    RepoDigests: record.repoDigests.map(familiarString),
    Parent: record.parent ?? "",
    Comment: (raw.comment as string | undefined) ?? "",
    Created: config.created ?? "0001-01-01T00:00:00Z",
    Container: config.container ?? "",
    ContainerConfig: dockerConfig(config.container_config),
    DockerVersion: config.docker_version ?? "",
    Author: config.author ?? "",
    Config: dockerConfig(config.config),
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    ...(config["os.version"] ? { OsVersion: config["os.version"] } : {}),
    Size: record.size,
    VirtualSize: record.size,
    GraphDriver: { Data: null, Name: "berth" },
    RootFS: { Type: config.rootfs.type, Layers: config.rootfs.diff_ids },
    Metadata: { LastTagTime: new Date(record.addedMs).toISOString() },
    Descriptor: { mediaType: record.manifestMediaType, digest: record.manifest, size: record.manifestSize },
  };
}

import type { Digest } from "./digest.js";
import type { Descriptor, Manifest } from "./schema.js";

/** Media types of the OCI image spec 1.1 and Docker's v2 schema 2. */
export const MediaType = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayerNondistributable: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  ociLayerNondistributableGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  ociEmpty: "application/vnd.oci.empty.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerLayerZstd: "application/vnd.docker.image.rootfs.diff.tar.zstd",
  dockerForeignLayer: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

export type Compression = "none" | "gzip" | "zstd";

export function isIndexMediaType(mt: string): boolean {
  return mt === MediaType.ociIndex || mt === MediaType.dockerManifestList;
}

export function isManifestMediaType(mt: string): boolean {
  return mt === MediaType.ociManifest || mt === MediaType.dockerManifest;
}

/** The compression a layer media type declares, or undefined when it is not a layer type we know. */
export function layerCompression(mt: string): Compression | undefined {
  switch (mt) {
    case MediaType.ociLayer:
    case MediaType.ociLayerNondistributable:
    case MediaType.dockerLayer:
      return "none";
    case MediaType.ociLayerGzip:
    case MediaType.ociLayerNondistributableGzip:
    case MediaType.dockerLayerGzip:
    case MediaType.dockerForeignLayer:
      return "gzip";
    case MediaType.ociLayerZstd:
    case MediaType.dockerLayerZstd:
      return "zstd";
    default:
      return undefined;
  }
}

/** The layer media type for a compression, in the OCI or Docker family. */
export function layerMediaType(compression: Compression, family: "oci" | "docker"): string {
  if (family === "docker") {
    return compression === "none"
      ? MediaType.dockerLayer
      : compression === "gzip"
        ? MediaType.dockerLayerGzip
        : MediaType.dockerLayerZstd;
  }
  return compression === "none"
    ? MediaType.ociLayer
    : compression === "gzip"
      ? MediaType.ociLayerGzip
      : MediaType.ociLayerZstd;
}

/**
 * An OCI image manifest of a config and its layers, as berth writes every image it makes (a
 * build, a load of a docker archive, an import, a commit). Layers keep their bytes and get the
 * OCI name of their compression: a build on a pulled Docker v2s2 base must not carry the
 * base's Docker media types into a manifest recorded as OCI.
 */
export function ociImageManifest(config: { digest: Digest; size: number }, layers: readonly Descriptor[]): Manifest {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
    layers: layers.map((l) => {
      const oci = DOCKER_LAYER_AS_OCI[l.mediaType];
      return oci ? { ...l, mediaType: oci } : l;
    }),
  };
}

/** Docker's layer media types and their OCI names (the same bytes). Foreign layers keep theirs. */
const DOCKER_LAYER_AS_OCI: Readonly<Record<string, string>> = {
  [MediaType.dockerLayer]: MediaType.ociLayer,
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  [MediaType.dockerLayerZstd]: MediaType.ociLayerZstd,
};

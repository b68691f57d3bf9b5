import * as fs from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { ingestLayer } from "../src/image/layer-ingest.js";
import type { Digest } from "../src/oci/digest.js";
import { MediaType } from "../src/oci/media-types.js";
import { parseReference } from "../src/oci/reference.js";
import type { ContainerConfig, ImageConfig } from "../src/oci/schema.js";
import type { LocalStore } from "../src/store/local-store.js";
import { recordNewImage } from "../src/verbs/stored-image.js";
import { BERTH, must, REPO } from "./helpers.js";

/** Registers an image made of the given layer tars (bottom first), as a build would. */
export async function registerLayeredImage(
  store: LocalStore,
  layers: readonly Buffer[],
  containerConfig: ContainerConfig,
  tag: string,
): Promise<Digest> {
  return store.withLease(async (lease) => {
    const staged = [];
    for (const [i, bytes] of layers.entries())
      staged.push(await ingestLayer(lease, Readable.from([bytes]), {}, `layer ${i}`));
    const created = "2024-01-01T00:00:00Z";
    const config: ImageConfig = {
      architecture: "amd64",
      os: "linux",
      created,
      config: containerConfig,
      rootfs: { type: "layers", diff_ids: staged.map((s) => s.diffId as Digest) },
      history: staged.map(() => ({ created, created_by: "test layer" })),
    };
    return recordNewImage(
      store,
      lease,
      config,
      staged.map((s) => ({ mediaType: MediaType.ociLayer, digest: s.digest, size: s.size })),
      staged.map((s) => ({ diffId: s.diffId as Digest, size: s.layerSize ?? 0 })),
      { ref: parseReference(tag) },
    );
  });
}

/** Makes sure bin/berth has its bundle (tests run from a fresh clone too). */
export function ensureCli(): string {
  if (!fs.existsSync(join(REPO, "dist", "cli.cjs")))
    must(process.execPath, ["scripts/build.mjs", "--no-types"], { cwd: REPO });
  return BERTH;
}

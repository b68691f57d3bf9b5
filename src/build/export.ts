import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { writeArchive } from "../archive/archive-writer.js";
import type { Digest } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { applyLayer } from "../runtime/apply-layer.js";
import { getImage } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";
import { settleImages } from "../store/pending-layers.js";

/** `--output type=local|tar|oci|docker[,dest=PATH]`, parsed. */
export interface OutputSpec {
  type: "local" | "tar" | "oci" | "docker";
  /** A path, or "-" for standard output (tar, oci, docker). */
  dest: string;
}

/** docker's forms: `-o DIR` (local), `type=tar,dest=out.tar`, `type=docker,dest=-`. */
export function parseOutput(spec: string): OutputSpec {
  if (!spec.includes("=")) return { type: "local", dest: spec };
  const fields = Object.fromEntries(spec.split(",").map((kv) => kv.split("=", 2) as [string, string]));
  const type = fields.type;
  if (type !== "local" && type !== "tar" && type !== "oci" && type !== "docker") {
    throw new BerthError("USAGE", `invalid --output "${spec}": type must be local, tar, oci or docker`);
  }
  const dest = fields.dest;
  if (!dest) throw new BerthError("USAGE", `invalid --output "${spec}": dest= is required`);
  if (type === "local" && dest === "-") throw new BerthError("USAGE", "--output type=local needs a directory, not -");
  return { type, dest };
}

/**
 * Exports a built image: its flattened file system as a directory (local) or a tar (tar), or
 * the image itself as a docker-archive / OCI layout tar (the same writer as `save`).
 */
export async function exportImage(
  store: LocalStore,
  id: Digest,
  tags: readonly string[],
  spec: OutputSpec,
  stdout: Writable,
): Promise<void> {
  const record = getImage(store, id);
  if (!record) throw new BerthError("IMAGE_UNKNOWN", `No such image: ${id}`);
  const manifest = store.readManifest(record.manifest);
  if (spec.type === "docker" || spec.type === "oci") {
    const image = {
      manifestDigest: record.manifest,
      manifestMediaType: record.manifestMediaType,
      manifest,
      tags: [...tags],
    };
    if (spec.dest === "-") await writeArchive(store, [image], stdout);
    else await writeArchive(store, [image], fs.createWriteStream(spec.dest));
    return;
  }
  const flatten = async (dir: string) => {
    await settleImages(store, [id]);
    for (const layer of manifest.layers) await applyLayer(dir, store.openBlob(layer.digest));
  };
  if (spec.type === "local") {
    fs.mkdirSync(spec.dest, { recursive: true });
    await flatten(spec.dest);
    return;
  }
  const tmp = fs.mkdtempSync(join(store.root, "tmp", `${process.pid}-export-`));
  try {
    await flatten(tmp);
    // GNU tar writes the flattened tree; sorted and numeric for a stable archive
    const args = ["-C", tmp, "--sort=name", "--numeric-owner", "-cf", spec.dest === "-" ? "-" : spec.dest, "."];
    const r = spawnSync("tar", args, {
      stdio: ["ignore", spec.dest === "-" ? "pipe" : "ignore", "pipe"],
      maxBuffer: 1 << 30,
    });
    if (r.status !== 0) throw new BerthError("STORE", `writing ${spec.dest}: ${r.stderr?.toString().trim()}`);
    if (spec.dest === "-") stdout.write(r.stdout);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

import type { Command } from "@commander-js/extra-typings";
import { collectRegistryGarbage } from "../../server/gc.js";
import type { CliContext } from "../context.js";
import { durationMs, registryDefaultRoot } from "./serve.js";

/**
 * `berth registry [--root DIR] gc [--dry-run]`: garbage collection of a registry's data, safe
 * while `berth serve` runs on it (the SQLite write lock is shared between processes).
 */
export function registerRegistryGc(registry: Command<[], { root?: string }>, ctx: CliContext): void {
  registry
    .command("gc")
    .description("remove blobs no manifest references, and abandoned uploads")
    .option("--dry-run", "list what would be removed, remove nothing")
    .option(
      "--grace <duration>",
      "keep blobs younger than this (pushes in flight upload blobs before their manifest)",
      "1h",
    )
    .option("--upload-grace <duration>", "keep uploads touched within this", "24h")
    .action(async (opts) => {
      const result = await collectRegistryGarbage(registry.opts().root ?? registryDefaultRoot(ctx), {
        dryRun: opts.dryRun === true,
        graceMs: durationMs(opts.grace, "--grace"),
        uploadGraceMs: durationMs(opts.uploadGrace, "--upload-grace"),
      });
      // one digest a line and nothing else on stdout: scripts read it
      ctx.stdout.write(result.blobs.map((d) => `${d}\n`).join(""));
      ctx.stderr.write(
        `${opts.dryRun ? "would remove" : "removed"} ${result.blobs.length} blob(s) and ${result.uploads.length} abandoned upload(s)\n`,
      );
    });
}

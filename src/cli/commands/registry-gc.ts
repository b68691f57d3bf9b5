import { writeFileSync } from "node:fs";
import type { Command } from "@commander-js/extra-typings";
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
      const { collectRegistryGarbage } = await import("../../server/gc.js");
      const result = await collectRegistryGarbage(registry.opts().root ?? registryDefaultRoot(ctx), {
        dryRun: opts.dryRun === true,
        graceMs: await durationMs(opts.grace, "--grace"),
        uploadGraceMs: await durationMs(opts.uploadGrace, "--upload-grace"),
        ...testPause(ctx.env.BERTH_TEST_GC_PAUSE),
      });
      // one digest a line and nothing else on stdout: scripts read it
      ctx.stdout.write(result.blobs.map((d) => `${d}\n`).join(""));
      ctx.stderr.write(
        `${opts.dryRun ? "would remove" : "removed"} ${result.blobs.length} blob(s) and ${result.uploads.length} abandoned upload(s)\n`,
      );
    });
}

/**
 * BERTH_TEST_GC_PAUSE=FILE, for the crash test only: after the first batch's rows are committed
 * GC creates FILE and waits there until it is killed, so the test can kill -9 it between the two
 * steps (a real process, since the point is what a crash leaves on disk and in registry.db).
 */
function testPause(file: string | undefined): { betweenSteps?: () => Promise<void> } {
  if (!file) return {};
  return {
    betweenSteps: async () => {
      writeFileSync(file, `${process.pid}\n`);
      await new Promise(() => setInterval(() => {}, 1 << 30));
    },
  };
}

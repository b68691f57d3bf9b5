import type { Command } from "@commander-js/extra-typings";
import type { PruneResult } from "../../verbs/prune.js";
import type { CliContext } from "../context.js";
import { collect } from "./options.js";

/** docker asks before pruning unless -f; an answer other than y/yes (or no answer) cancels. */
async function confirm(ctx: CliContext, warning: string): Promise<boolean> {
  ctx.stdout.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  const answer = await readLine(ctx);
  return /^\s*y(es)?\s*$/i.test(answer);
}

async function readLine(ctx: CliContext): Promise<string> {
  let text = "";
  for await (const chunk of ctx.stdin) {
    text += String(chunk);
    if (text.includes("\n")) break;
  }
  return text.split("\n")[0] ?? "";
}

/** The verbs (loaded when a prune runs), and docker's size format. */
const verbs = () => import("../../verbs/prune.js");
const units = () => import("../../format/units.js");

async function printImagesPruned(ctx: CliContext, r: PruneResult): Promise<void> {
  const [{ familiarString }, { humanSizeWithPrecision }] = await Promise.all([
    import("../../oci/reference.js"),
    units(),
  ]);
  let out = "";
  if (r.containers.length) out += `Deleted Containers:\n${r.containers.map((c) => `${c}\n`).join("")}\n`;
  if (r.untagged.length || r.deleted.length) {
    out += "Deleted Images:\n";
    for (const u of r.untagged) out += `untagged: ${familiarString(u)}\n`;
    for (const d of r.deleted) out += `deleted: ${d}\n`;
    out += "\n";
  }
  out += `Total reclaimed space: ${humanSizeWithPrecision(r.bytes, 4)}\n`;
  ctx.stdout.write(out);
}

/** `image prune [-a] [-f]` */
export function registerImagePrune(cmd: Command, ctx: CliContext): void {
  cmd
    .option("-a, --all", "remove all unused images, not just dangling ones")
    .option("-f, --force", "do not prompt for confirmation")
    .action(async (opts) => {
      const warning = opts.all
        ? "WARNING! This will remove all images without at least one container associated to them."
        : "WARNING! This will remove all dangling images.";
      if (!opts.force && !(await confirm(ctx, warning))) return;
      const { pruneImages } = await verbs();
      await printImagesPruned(ctx, pruneImages(ctx.store(), { all: opts.all === true }));
    });
}

/** `container prune [-f] [--filter until=|label=|label!=]` */
export function registerContainerPrune(cmd: Command, ctx: CliContext): void {
  cmd
    .option("-f, --force", "do not prompt for confirmation")
    .option("--filter <filter>", "only these: until=24h, label=KEY[=VALUE], label!=KEY[=VALUE]", collect, [])
    .action(async (opts) => {
      if (!opts.force && !(await confirm(ctx, "WARNING! This will remove all stopped containers."))) return;
      const [{ pruneStoppedContainers }, { humanSizeWithPrecision }] = await Promise.all([verbs(), units()]);
      const { ids, bytes } = pruneStoppedContainers(ctx.store(), { filters: opts.filter });
      let out = ids.length ? `Deleted Containers:\n${ids.map((i) => `${i}\n`).join("")}\n` : "";
      out += `Total reclaimed space: ${humanSizeWithPrecision(bytes, 4)}\n`;
      ctx.stdout.write(out);
    });
}

/** `system prune [-a] [-f]` */
export function registerSystemPrune(cmd: Command, ctx: CliContext): void {
  cmd
    .option("-a, --all", "remove all unused images, not just dangling ones")
    .option("-f, --force", "do not prompt for confirmation")
    .option("--volumes", "prune volumes (berth keeps none)")
    .action(async (opts) => {
      const lines = [
        "WARNING! This will remove:",
        "  - all stopped containers",
        opts.all ? "  - all images without at least one container associated to them" : "  - all dangling images",
        opts.all ? "  - all build cache" : "  - all dangling build cache",
        "",
      ];
      if (!opts.force && !(await confirm(ctx, lines.join("\n")))) return;
      const { pruneSystem } = await verbs();
      await printImagesPruned(ctx, pruneSystem(ctx.store(), { all: opts.all === true }));
    });
}

/** `system df`: TYPE TOTAL ACTIVE SIZE RECLAIMABLE */
export function registerSystemDf(cmd: Command, ctx: CliContext): void {
  cmd
    .option("--format <format>", "format output: table, json, or a Go template")
    .option("-v, --verbose", "show detailed information (accepted; same as default)")
    .action(async (opts) => {
      const [{ diskUsage }, { humanSizeWithPrecision }, { printFormatted }] = await Promise.all([
        verbs(),
        units(),
        import("../output.js"),
      ]);
      const du = await diskUsage(ctx.store());
      const rows = [
        ["Images", du.images],
        ["Containers", du.containers],
        ["Local Volumes", du.volumes],
        ["Build Cache", du.buildCache],
      ] as const;
      const items = rows.map(([type, u]) => ({
        Active: String(u.active),
        Reclaimable:
          u.size > 0
            ? `${humanSizeWithPrecision(u.reclaimable, 4)} (${Math.floor((u.reclaimable * 100) / u.size)}%)`
            : humanSizeWithPrecision(u.reclaimable, 4),
        Size: humanSizeWithPrecision(u.size, 4),
        TotalCount: String(u.total),
        Type: type,
      }));
      printFormatted(ctx, opts.format, items, "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}", {
        Type: "TYPE",
        TotalCount: "TOTAL",
        Active: "ACTIVE",
        Size: "SIZE",
        Reclaimable: "RECLAIMABLE",
      });
    });
}

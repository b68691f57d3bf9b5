import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";

const HEADERS = {
  ID: "IMAGE",
  CreatedSince: "CREATED",
  CreatedAt: "CREATED AT",
  CreatedBy: "CREATED BY",
  Size: "SIZE",
  Comment: "COMMENT",
};

/** `history IMAGE`: IMAGE CREATED CREATED BY SIZE COMMENT, newest first. */
export function registerHistory(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<image>", "image to show the history of")
    .option("-H, --human", "print sizes and dates in human readable format (-H=false for neither)", true)
    .option("--no-trunc", "do not truncate output")
    .option("-q, --quiet", "only show image IDs")
    .option("--format <format>", "format output: table, json, or a Go template")
    .action(async (image, opts) => {
      const [{ history }, { humanDuration, humanSize }, { printFormatted }] = await Promise.all([
        import("../../verbs/history.js"),
        import("../../format/units.js"),
        import("../output.js"),
      ]);
      const human = (opts.human as boolean) !== false;
      const trunc = opts.trunc !== false;
      const now = Date.now();
      const items = (await history(ctx.store(), image)).map((r) => {
        // docker's API carries Created in whole seconds; relative times count from that
        const ms = r.created ? Math.floor(Date.parse(r.created) / 1000) * 1000 : Number.NaN;
        const createdAt = Number.isNaN(ms) ? "" : new Date(ms).toISOString().replace(".000Z", "Z");
        const createdBy = r.createdBy.replace(/\t/g, " ");
        const id = r.id === "<missing>" || !trunc ? r.id : r.id.slice(7, 19);
        return {
          Comment: r.comment,
          CreatedAt: createdAt,
          CreatedBy: trunc ? ellipsis(createdBy, 45) : createdBy,
          CreatedSince: Number.isNaN(ms) ? "N/A" : human ? `${humanDuration(now - ms)} ago` : createdAt,
          ID: id,
          Size: human ? humanSize(r.size) : String(r.size),
        };
      });
      if (opts.quiet) {
        ctx.stdout.write(items.map((i) => `${i.ID}\n`).join(""));
        return;
      }
      printFormatted(
        ctx,
        opts.format,
        items,
        "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        HEADERS,
      );
    });
}

/** docker's stringutils.Ellipsis: cut to `max` characters, the last one an ellipsis. */
function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join("")}…`;
}

import type { Command } from "@commander-js/extra-typings";
import { Option } from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";
import { collect } from "./options.js";

const HEADERS = {
  Repository: "REPOSITORY",
  Tag: "TAG",
  Digest: "DIGEST",
  ID: "IMAGE ID",
  CreatedSince: "CREATED",
  CreatedAt: "CREATED AT",
  Size: "SIZE",
  VirtualSize: "VIRTUAL SIZE",
  SharedSize: "SHARED SIZE",
  UniqueSize: "UNIQUE SIZE",
  Containers: "CONTAINERS",
};

/** `images`, `image ls`, `image list`: REPOSITORY TAG IMAGE ID CREATED SIZE. */
export function registerImages(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("[repository]", "only images of this repository (and tag)")
    .option("-a, --all", "show all images (intermediate ones too)")
    .option("-q, --quiet", "only show image IDs")
    .option("--digests", "show digests")
    .option("--no-trunc", "do not truncate output")
    .addOption(
      new Option("-f, --filter <filter>", "filter output (dangling=, reference=, label=, before=, since=)")
        .argParser(collect)
        .default([] as string[]),
    )
    .option("--format <format>", "format output: table, json, or a Go template")
    .action(async (repository, opts) => {
      const [
        { images },
        { goTimeString, humanDuration, humanSize, humanSizeWithPrecision },
        { shortId },
        { printFormatted },
      ] = await Promise.all([
        import("../../verbs/images.js"),
        import("../../format/units.js"),
        import("../../oci/digest.js"),
        import("../output.js"),
      ]);
      const filters = [...opts.filter];
      if (repository) filters.push(`reference=${repository}`);
      const rows = await images(ctx.store(), {
        all: opts.all === true,
        filters,
        onWarning: (message) => ctx.stderr.write(`WARNING: ${message}\n`),
      });
      const now = Date.now();
      const items = rows.map((r) => {
        // docker's API carries Created in whole seconds; relative times count from that
        const createdMs = r.createdMs === null ? null : Math.floor(r.createdMs / 1000) * 1000;
        const created = createdMs === null ? null : new Date(createdMs);
        return {
          Containers: "N/A",
          CreatedAt: created ? goTimeString(created) : "",
          CreatedSince: created ? `${humanDuration(now - (createdMs as number))} ago` : "N/A",
          Digest: r.digest,
          ID: opts.trunc === false ? r.id : shortId(r.id),
          Repository: r.repository,
          SharedSize: "N/A",
          Size: humanSize(r.size),
          Tag: r.tag,
          UniqueSize: "N/A",
          VirtualSize: humanSizeWithPrecision(r.size, 4),
        };
      });
      if (opts.quiet) {
        ctx.stdout.write(items.map((i) => `${i.ID}\n`).join(""));
        return;
      }
      const table = opts.digests
        ? "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
        : "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
      printFormatted(ctx, opts.format, items, table, HEADERS);
    });
}

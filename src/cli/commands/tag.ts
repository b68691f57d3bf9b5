import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";

/** `tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]` */
export function registerTag(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<source>", "SOURCE_IMAGE[:TAG]")
    .argument("<target>", "TARGET_IMAGE[:TAG]")
    .action(async (source, target) => {
      const { tag } = await import("../../verbs/tag.js");
      tag(ctx.store(), source, target);
    });
}

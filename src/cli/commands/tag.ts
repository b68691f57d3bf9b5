import type { Command } from "@commander-js/extra-typings";
import { tag } from "../../verbs/tag.js";
import type { CliContext } from "../context.js";

/** `tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]` */
export function registerTag(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<source>", "SOURCE_IMAGE[:TAG]")
    .argument("<target>", "TARGET_IMAGE[:TAG]")
    .action((source, target) => {
      tag(ctx.store(), source, target);
    });
}

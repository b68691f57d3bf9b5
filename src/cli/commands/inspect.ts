import type { Command } from "@commander-js/extra-typings";
import { goJson } from "../../format/go-json.js";
import { compileTemplate } from "../../format/go-template.js";
import { BerthError } from "../../oci/errors.js";
import { inspectImage } from "../../verbs/inspect.js";
import type { CliContext } from "../context.js";

/** `inspect` / `image inspect`: docker's JSON array, or a Go template per image. */
export function registerInspect(cmd: Command, ctx: CliContext, noun: "object" | "image"): void {
  cmd
    .argument("<names...>", "images to inspect")
    .option("-f, --format <format>", "format the output using a Go template")
    .option("--type <type>", "only look for this type of object (image)")
    .option("-s, --size", "display total file sizes (accepted for compatibility)")
    .action((names, opts) => {
      if (opts.type && opts.type !== "image") {
        throw new BerthError("USAGE", `"${opts.type}" is not a type berth inspect knows yet: use --type image`);
      }
      const found: unknown[] = [];
      const errors: string[] = [];
      for (const name of names) {
        try {
          found.push(inspectImage(ctx.store(), name));
        } catch (err) {
          if (!(err instanceof BerthError) || err.code !== "IMAGE_UNKNOWN") throw err;
          errors.push(noun === "object" ? `No such object: ${name}` : err.message);
        }
      }
      if (opts.format !== undefined) {
        const template = compileTemplate(opts.format.replace(/\\t/g, "\t").replace(/\\n/g, "\n"));
        ctx.stdout.write(found.map((f) => `${template.execute(f)}\n`).join(""));
      } else {
        ctx.stdout.write(`${goJson(found, "    ")}\n`);
      }
      if (errors.length) {
        for (const e of errors) ctx.stderr.write(`Error: ${e}\n`);
        ctx.setExitCode(1);
      }
    });
}

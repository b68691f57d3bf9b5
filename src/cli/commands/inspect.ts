import type { Command } from "@commander-js/extra-typings";
import { BerthError } from "../../oci/errors.js";
import type { CliContext } from "../context.js";

/**
 * `inspect` / `image inspect` / `container inspect`: docker's JSON array, or a Go template per
 * object. Plain `inspect` looks for a container first, then an image, as docker does.
 */
export function registerInspect(cmd: Command, ctx: CliContext, noun: "object" | "image" | "container"): void {
  cmd
    .argument("<names...>", "objects to inspect")
    .option("-f, --format <format>", "format the output using a Go template")
    .option("--type <type>", "only look for this type of object (container or image)")
    .option("-s, --size", "display total file sizes (containers: SizeRw and SizeRootFs)")
    .action(async (names, opts) => {
      if (opts.type && opts.type !== "image" && opts.type !== "container") {
        throw new BerthError(
          "USAGE",
          `"${opts.type}" is not a type berth inspect knows: use --type container or image`,
        );
      }
      const type = noun === "object" ? opts.type : noun;
      const [{ goJson }, { compileTemplate }, { inspectImage }] = await Promise.all([
        import("../../format/go-json.js"),
        import("../../format/go-template.js"),
        import("../../verbs/inspect.js"),
      ]);
      // `image inspect` loads none of the container modules
      const inspectContainer = type === "image" ? undefined : await containerInspector(ctx, opts.size === true);
      const found: unknown[] = [];
      const errors: string[] = [];
      for (const name of names) {
        try {
          const inspected = inspectContainer?.(name);
          if (inspected) found.push(inspected);
          else if (type === "container") errors.push(`No such container: ${name}`);
          else found.push(await inspectImage(ctx.store(), name));
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

/** Inspects a container by name; undefined when no container has that name. */
async function containerInspector(ctx: CliContext, size: boolean): Promise<(name: string) => unknown> {
  const [{ findContainer }, { inspectContainer }] = await Promise.all([
    import("../../verbs/container-control.js"),
    import("../../verbs/containers.js"),
  ]);
  return (name) => {
    let container: ReturnType<typeof findContainer>;
    try {
      container = findContainer(ctx.store(), name);
    } catch (err) {
      if (err instanceof BerthError && err.code === "NOT_FOUND") return undefined;
      throw err;
    }
    return inspectContainer(ctx.store(), container, { size });
  };
}

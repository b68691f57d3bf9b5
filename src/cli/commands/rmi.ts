import type { Command } from "@commander-js/extra-typings";
import { BerthError } from "../../oci/errors.js";
import type { CliContext } from "../context.js";

/** `rmi [-f] IMAGE...`: prints Untagged:/Deleted: lines as docker does; carries on past errors. */
export function registerRmi(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<images...>", "images to remove")
    .option("-f, --force", "force removal of the image")
    .option("--no-prune", "do not delete untagged parents (accepted for compatibility)")
    .action(async (names, opts) => {
      const [{ removeImage }, { familiarString }] = await Promise.all([
        import("../../verbs/rmi.js"),
        import("../../oci/reference.js"),
      ]);
      let failed = false;
      for (const name of names) {
        try {
          const result = removeImage(ctx.store(), name, { force: opts.force === true });
          let out = "";
          for (const u of result.untagged) out += `Untagged: ${familiarString(u)}\n`;
          for (const d of result.deleted) out += `Deleted: ${d}\n`;
          ctx.stdout.write(out);
        } catch (err) {
          if (!(err instanceof BerthError)) throw err;
          ctx.stderr.write(`Error: ${err.message}\n`);
          failed = true;
        }
      }
      if (failed) ctx.setExitCode(1);
    });
}

/**
 * `rm [-f] [-v] CONTAINER...` removes containers; given an image that is no container, it says
 * so and points at rmi (the seed's `docker rm <image>:<tag>`).
 */
export function registerRm(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<containers...>", "containers to remove")
    .option("-f, --force", "force the removal of a running container (uses SIGKILL)")
    .option("-v, --volumes", "remove anonymous volumes (berth makes none: nothing more to remove)")
    .option("-l, --link", "remove a link (berth has no links)")
    .action(async (names, opts) => {
      const [{ removeContainer }, { tryResolve }] = await Promise.all([
        import("../../runtime/remove.js"),
        import("../../store/image-records.js"),
      ]);
      let failed = false;
      for (const name of names) {
        try {
          removeContainer(ctx.store(), name, { force: opts.force === true });
          ctx.stdout.write(`${name}\n`);
        } catch (err) {
          if (!(err instanceof BerthError)) throw err;
          failed = true;
          let image: unknown;
          try {
            image = err.code === "NOT_FOUND" ? tryResolve(ctx.store(), name) : undefined;
          } catch {
            image = undefined;
          }
          if (image) {
            ctx.stderr.write(
              `Error: "${name}" is an image, not a container: berth rm removes containers; to remove the image run: berth rmi ${name}\n`,
            );
          } else {
            ctx.stderr.write(`Error: ${err.message}\n`);
          }
        }
      }
      if (failed) ctx.setExitCode(1);
    });
}

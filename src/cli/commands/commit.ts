import * as fs from "node:fs";
import type { Command } from "@commander-js/extra-typings";
import { BerthError } from "../../oci/errors.js";
import type { CliContext } from "../context.js";
import { collect } from "./options.js";

/** `commit [-a AUTHOR] [-m MESSAGE] [-c CHANGE]... [-p] CONTAINER [REPOSITORY[:TAG]]`: prints the image ID. */
export function registerCommit(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<container>", "the container")
    .argument("[reference]", "REPOSITORY[:TAG] for the new image")
    .option("-a, --author <author>", 'author (e.g. "John Hannibal Smith <hannibal@a-team.com>")')
    .option("-m, --message <message>", "commit message")
    .option("-c, --change <instruction>", "apply a Dockerfile instruction to the image", collect, [])
    .option("-p, --pause", "pause the container during commit (the default)", true)
    .option("--no-pause", "do not pause the container during commit")
    .action(async (name, reference, opts) => {
      const [{ commitContainer }, { findContainer }] = await Promise.all([
        import("../../verbs/commit.js"),
        import("../../verbs/container-control.js"),
      ]);
      const store = ctx.store();
      const id = await commitContainer(store, findContainer(store, name), {
        reference,
        message: opts.message,
        author: opts.author,
        changes: opts.change,
        pause: opts.pause !== false,
      });
      ctx.stdout.write(`${id}\n`);
    });
}

/** `export [-o FILE] CONTAINER`: the file system as a tar, to FILE or to stdout (not a terminal). */
export function registerExport(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<container>", "the container")
    .option("-o, --output <file>", "write to a file instead of STDOUT")
    .action(async (name, opts) => {
      const [{ exportContainer }, { findContainer }] = await Promise.all([
        import("../../verbs/export.js"),
        import("../../verbs/container-control.js"),
      ]);
      const store = ctx.store();
      const c = findContainer(store, name);
      if (!opts.output) {
        if (ctx.stdout.isTTY) {
          throw new BerthError("USAGE", "cowardly refusing to save to a terminal. Use the -o flag or redirect");
        }
        await exportContainer(store, c, ctx.stdout);
        return;
      }
      // through a temp file: a failed export leaves no half-written tar under the name
      const tmp = `${opts.output}.${process.pid}.tmp`;
      try {
        const file = fs.createWriteStream(tmp);
        await exportContainer(store, c, file);
        await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
        fs.renameSync(tmp, opts.output);
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    });
}

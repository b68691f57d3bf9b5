import { createReadStream, createWriteStream, openSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { Option } from "@commander-js/extra-typings";
import { BerthError } from "../../oci/errors.js";
import type { CliContext } from "../context.js";
import { collect } from "./options.js";

/** `save [-o FILE] IMAGE...`: a tar to a file (written whole, then renamed) or to stdout. */
export function registerSave(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<images...>", "images to save")
    .option("-o, --output <file>", "write to a file instead of standard output")
    .action(async (names, opts) => {
      const { save } = await import("../../verbs/save.js");
      if (!opts.output) {
        if (ctx.stdout.isTTY) {
          throw new BerthError("USAGE", "cowardly refusing to save to a terminal. Use the -o flag or redirect");
        }
        await save(ctx.store(), names, ctx.stdout);
        return;
      }
      const tmp = join(dirname(opts.output), `.${basename(opts.output)}.${process.pid}.tmp`);
      try {
        await save(ctx.store(), names, createWriteStream(tmp));
        renameSync(tmp, opts.output);
      } finally {
        rmSync(tmp, { force: true });
      }
    });
}

/** `load [-i FILE] [-q]`: prints "Loaded image: NAME" (or "Loaded image ID: ID") per image. */
export function registerLoad(cmd: Command, ctx: CliContext): void {
  cmd
    .option("-i, --input <file>", "read from a tar archive file instead of standard input")
    .option("-q, --quiet", "suppress the load output")
    .action(async (opts) => {
      if (!opts.input && ctx.stdin.isTTY) {
        throw new BerthError(
          "USAGE",
          "requested load from stdin, but stdin is empty: pipe an archive in or use -i FILE",
        );
      }
      const [{ load }, { familiarString }] = await Promise.all([
        import("../../verbs/load.js"),
        import("../../oci/reference.js"),
      ]);
      const src = opts.input ? openInput(opts.input) : ctx.stdin;
      const result = await load(ctx.store(), src);
      let out = "";
      for (const m of result.moved) {
        out += `The image ${familiarString(m.name)} already exists, renaming the old one with ID ${m.previous} to empty string\n`;
      }
      for (const img of result.images) {
        if (img.tags.length === 0) out += `Loaded image ID: ${img.id}\n`;
        for (const t of img.tags) out += `Loaded image: ${familiarString(t)}\n`;
      }
      ctx.stdout.write(out);
    });
}

/** `import [-c CHANGE]... [-m MSG] FILE|- [REPOSITORY[:TAG]]`: prints the new image ID. */
export function registerImport(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<file>", "a tar archive of a file system, or - for standard input")
    .argument("[reference]", "REPOSITORY[:TAG] for the new image")
    .addOption(
      new Option("-c, --change <instruction>", "apply a Dockerfile instruction to the image")
        .argParser(collect)
        .default([] as string[]),
    )
    .option("-m, --message <message>", "set the commit message for the imported image")
    .option("--platform <platform>", "set the platform (only the host's is supported)")
    .action(async (file, reference, opts) => {
      const { importImage } = await import("../../verbs/import.js");
      const src = file === "-" ? ctx.stdin : openInput(file);
      const epoch = ctx.env.SOURCE_DATE_EPOCH;
      const created = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : undefined;
      const id = await importImage(ctx.store(), src, {
        ...(reference ? { reference } : {}),
        changes: opts.change,
        ...(opts.message !== undefined ? { message: opts.message } : {}),
        source: "-",
        ...(created ? { created } : {}),
      });
      ctx.stdout.write(`${id}\n`);
    });
}

function openInput(path: string) {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new BerthError(
      "USAGE",
      `cannot open ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`,
    );
  }
  return createReadStream(path, { fd, highWaterMark: 1 << 20 });
}

import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";
import { CONTENT_TRUST_FLAG, CONTENT_TRUST_HELP, refuseContentTrust } from "./options.js";

/** `push [-a] [-q] [--compression gzip|zstd|none] [--force-compression] NAME[:TAG]`, with docker's output. */
export function registerPush(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<name>", "NAME[:TAG]")
    .option("-a, --all-tags", "push all tags of the repository")
    .option("-q, --quiet", "suppress verbose output")
    .option("--compression <kind>", "compress plain tar layers on the way: gzip, zstd or none", "gzip")
    .option("--force-compression", "also recompress layers stored with another compression")
    .option(CONTENT_TRUST_FLAG, CONTENT_TRUST_HELP)
    .action(async (name, opts) => {
      refuseContentTrust(opts.disableContentTrust, ctx.env);
      // loaded when used: the registry client (undici) and the terminal view (log-update)
      // would cost every other command ~20-40 ms of start-up
      const [
        { push },
        { TransferView },
        { familiarName, parseReference },
        { registryConfigFromEnv },
        { parseCompression },
      ] = await Promise.all([
        import("../../verbs/push.js"),
        import("../transfer-view.js"),
        import("../../oci/reference.js"),
        import("../../registry-client/registry-config.js"),
        import("../../verbs/compression-option.js"),
      ]);
      const compression = parseCompression(opts.compression); // a bad value before any output
      const ref = parseReference(name);
      const view = await TransferView.open(ctx.stdout, opts.quiet);
      if (!ref.tag && !opts.allTags) view.line("Using default tag: latest");
      view.line(`The push refers to repository [${familiarName(ref)}]`);
      const pushed = await push(ctx.store(), name, {
        registry: registryConfigFromEnv(ctx.env),
        ...(opts.allTags ? { allTags: true } : {}),
        compression,
        ...(opts.forceCompression ? { forceCompression: true } : {}),
        onProgress: view.event,
        onWarning: (message) => ctx.stderr.write(`WARNING: ${message}\n`),
      });
      view.flush();
      let out = "";
      for (const p of pushed)
        out += opts.quiet ? `${p.reference}\n` : `${p.tag}: digest: ${p.digest} size: ${p.size}\n`;
      ctx.stdout.write(out);
    });
}

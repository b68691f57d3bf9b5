import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";
import { CONTENT_TRUST_FLAG, CONTENT_TRUST_HELP, refuseContentTrust } from "./options.js";

/** `pull [-a] [--platform P] [-q] NAME[:TAG|@DIGEST]`, with docker's output. */
export function registerPull(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<name>", "NAME[:TAG|@DIGEST]")
    .option("-a, --all-tags", "download all tagged images in the repository")
    .option("--platform <platform>", "set platform if server is multi-platform capable (os/arch[/variant])")
    .option("-q, --quiet", "suppress verbose output")
    .option(CONTENT_TRUST_FLAG, CONTENT_TRUST_HELP)
    .action(async (name, opts) => {
      refuseContentTrust(opts.disableContentTrust, ctx.env);
      // A large layer is hashed on a worker thread, which takes ~25 ms of CPU to come up, and
      // longer while the main thread starts too. Started once the manifest named a large layer,
      // it came online ~55 ms after the layer's first byte, and the download waited for it with
      // the ring full. Started now, it comes up while the registry client loads and the
      // registry answers the ping and the manifest; a pull that needs none ends it at exit.
      // (If it cannot start, the pull tries again where it needs one, and says why there.)
      void import("../../image/offthread-hash.js").then((m) => m.warmHashWorker()).catch(() => undefined);
      // loaded when used: the registry client (undici) and the terminal view (log-update)
      // would cost every other command ~20-40 ms of start-up
      const [{ pull }, { TransferView }, { familiarName, formatReference, parseReference }, { registryConfigFromEnv }] =
        await Promise.all([
          import("../../verbs/pull.js"),
          import("../transfer-view.js"),
          import("../../oci/reference.js"),
          import("../../registry-client/registry-config.js"),
        ]);
      const ref = parseReference(name);
      const view = await TransferView.open(ctx.stdout, opts.quiet);
      if (!ref.tag && !ref.digest && !opts.allTags) view.line("Using default tag: latest");
      const pulled = await pull(ctx.store(), name, {
        registry: registryConfigFromEnv(ctx.env),
        ...(opts.platform ? { platform: opts.platform } : {}),
        ...(opts.allTags ? { allTags: true } : {}),
        onProgress: view.event,
        onStart: (r) => view.line(`${r.digest ?? r.tag}: Pulling from ${r.path}`),
        // a layer's GET the transport will try again shows it on the layer's row, as docker does
        // (the config's has no row, in docker's view as in ours)
        onRetry: ({ url, delayMs }) => {
          const layer = /\/blobs\/sha256:([0-9a-f]{12})[0-9a-f]{52}$/.exec(url.pathname)?.[1];
          const seconds = Math.max(1, Math.round(delayMs / 1000));
          if (layer && view.has(layer))
            view.event({ id: layer, status: `Retrying in ${seconds} second${seconds === 1 ? "" : "s"}` });
        },
      });
      view.flush();
      const last = pulled[pulled.length - 1];
      if (!last) return;
      const shown = opts.allTags ? familiarName(ref) : formatReference(parseReference(last.reference), true);
      const fresh = pulled.some((p) => p.downloaded);
      let out = "";
      if (!opts.quiet) {
        out += `Digest: ${last.digest}\n`;
        out += `Status: ${fresh ? "Downloaded newer image" : "Image is up to date"} for ${shown}\n`;
      }
      out += `${opts.allTags ? `${ref.domain}/${ref.path}` : last.reference}\n`;
      ctx.stdout.write(out);
    });
}

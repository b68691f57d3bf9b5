import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "../context.js";

/**
 * `manifest push TARGET IMAGE...`: one multi-platform image from stored images of different
 * platforms, in one step (docker needs `manifest create` and the images pushed beforehand).
 */
export function registerManifestPush(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<target>", "NAME[:TAG] of the multi-platform image")
    .argument("<images...>", "stored images, one per platform")
    .option("-q, --quiet", "suppress verbose output")
    .action(async (target, images, opts) => {
      // loaded when used, as pull and push do: other commands need not pay for undici
      const [{ pushIndex }, { TransferView }, { familiarName, parseReference }, { registryConfigFromEnv }] =
        await Promise.all([
          import("../../verbs/push.js"),
          import("../transfer-view.js"),
          import("../../oci/reference.js"),
          import("../../registry-client/registry-config.js"),
        ]);
      const view = await TransferView.open(ctx.stdout, opts.quiet);
      view.line(`The push refers to repository [${familiarName(parseReference(target))}]`);
      const pushed = await pushIndex(ctx.store(), target, images, {
        registry: registryConfigFromEnv(ctx.env),
        onProgress: view.event,
      });
      view.flush();
      ctx.stdout.write(
        opts.quiet ? `${pushed.reference}\n` : `${pushed.tag}: digest: ${pushed.digest} size: ${pushed.size}\n`,
      );
    });
}

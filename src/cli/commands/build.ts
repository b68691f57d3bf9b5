import { writeFileSync } from "node:fs";
import type { Command } from "@commander-js/extra-typings";
import { Option } from "@commander-js/extra-typings";
import { BerthError } from "../../oci/errors.js";
import type { CliContext } from "../context.js";
import { CONTENT_TRUST_FLAG, CONTENT_TRUST_HELP, collect, refuseContentTrust } from "./options.js";

/** `build [OPTIONS] PATH`: docker's flags; progress and RUN output on stderr, -q prints the ID. */
export function registerBuild(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<context>", "the build context directory")
    .addOption(
      new Option("-t, --tag <name>", "name and optionally a tag (name:tag)").argParser(collect).default([] as string[]),
    )
    .option("-f, --file <dockerfile>", "name of the Dockerfile (default: PATH/Dockerfile)")
    .addOption(
      new Option("--build-arg <arg>", "set a build-time variable (KEY=VALUE or KEY)")
        .argParser(collect)
        .default([] as string[]),
    )
    .addOption(
      new Option("--label <label>", "set metadata on the image (KEY=VALUE)").argParser(collect).default([] as string[]),
    )
    .option("--target <stage>", "build this stage")
    .option("--no-cache", "do not use the cache")
    .option("-q, --quiet", "suppress the build output and print the image ID")
    .option("--iidfile <file>", "write the image ID to the file")
    .option("--platform <platform>", "target platform, e.g. linux/arm64 (default: the host's)")
    .option("--progress <mode>", "auto (tty on a terminal, else plain), plain, tty or quiet", "auto")
    .option("--network <mode>", "network for RUN steps: default (none), none or host")
    .addOption(
      new Option("--secret <spec>", "a secret for RUN --mount=type=secret: id=ID,src=FILE")
        .argParser(collect)
        .default([] as string[]),
    )
    .option("-o, --output <spec>", "also export the result: DIR, or type=local|tar|oci|docker,dest=PATH (- for stdout)")
    .option("--pull", "always pull the base images (else only those the store lacks)")
    .option(CONTENT_TRUST_FLAG, CONTENT_TRUST_HELP)
    .action(async (context, opts) => {
      refuseContentTrust(opts.disableContentTrust, ctx.env);
      const [{ build }, { formatPlatform, parsePlatform }, { humanSize }, exporter] = await Promise.all([
        import("../../build/build.js"),
        import("../../oci/platform.js"),
        import("../../format/units.js"),
        // -o only: the archive writer costs every other build start-up time
        opts.output ? import("../../build/export.js") : undefined,
      ]);
      if (opts.platform?.includes(",")) {
        throw new BerthError(
          "USAGE",
          `--platform ${opts.platform}: berth builds one platform at a time (run one build per platform)`,
        );
      }
      const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
      const buildArgs: Record<string, string> = {};
      for (const a of opts.buildArg) {
        const eq = a.indexOf("=");
        if (eq < 0) {
          const v = ctx.env[a];
          if (v !== undefined) buildArgs[a] = v;
        } else buildArgs[a.slice(0, eq)] = a.slice(eq + 1);
      }
      const labels: Record<string, string> = {};
      for (const l of opts.label) {
        const eq = l.indexOf("=");
        labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? "" : l.slice(eq + 1);
      }
      const secrets: Record<string, string> = {};
      for (const spec of opts.secret) {
        const fields = Object.fromEntries(spec.split(",").map((kv) => kv.split("=", 2) as [string, string]));
        const id = fields.id;
        const src = fields.src ?? fields.source;
        if (!id || !src) throw new BerthError("USAGE", `invalid --secret "${spec}": give id=ID,src=FILE`);
        secrets[id] = src;
      }
      const output = opts.output ? exporter?.parseOutput(opts.output) : undefined;
      if (opts.network && !["default", "none", "host"].includes(opts.network)) {
        throw new BerthError("USAGE", `--network ${opts.network}: berth builds with none (the default) or host`);
      }
      if (!["auto", "plain", "tty", "quiet"].includes(opts.progress)) {
        throw new BerthError("USAGE", `--progress ${opts.progress}: give auto, plain, tty or quiet`);
      }
      const quiet = opts.quiet === true || opts.progress === "quiet";
      // a terminal of no size (a bare pty) would show none of a redrawn view
      const tty =
        opts.progress === "tty" || (opts.progress === "auto" && ctx.stderr.isTTY === true && ctx.stderr.rows !== 0);
      // loaded only when shown: the terminal view (log-update) costs a quiet build start-up time
      const views = quiet ? undefined : await import("../build-progress.js");
      const progress = views && (tty ? views.ttyProgress(ctx.stderr) : views.plainProgress(ctx.stderr));
      const epochText = ctx.env.SOURCE_DATE_EPOCH;
      const epoch = epochText && /^\d+$/.test(epochText) ? Number(epochText) : 0;
      const result = await build(ctx.store(), {
        context,
        ...(context === "-" ? { contextStream: ctx.stdin } : {}),
        ...(opts.file ? { dockerfile: opts.file } : {}),
        tags: opts.tag,
        buildArgs,
        ...(opts.target ? { target: opts.target } : {}),
        noCache: opts.cache === false,
        labels,
        secrets,
        epoch,
        ...(platform ? { platform } : {}),
        pull: opts.pull === true,
        pullBase: async (name, wanted) => {
          // loaded when a base must be fetched: the registry client costs other builds' start-up
          const [{ pull }, { registryConfigFromEnv }] = await Promise.all([
            import("../../verbs/pull.js"),
            import("../../registry-client/registry-config.js"),
          ]);
          await pull(ctx.store(), name, { registry: registryConfigFromEnv(ctx.env), platform: formatPlatform(wanted) });
        },
        ...(opts.network === "host" ? { network: "host" as const } : {}),
        ...(progress ? { log: progress.log, output: progress.output } : {}),
      }).catch((err: unknown) => {
        progress?.done(false);
        // docker build exits 1 for a build that fails (a bad Dockerfile, a failing RUN);
        // 125 stays for berth's own usage errors, which commander reports before this.
        if (err instanceof BerthError && err.code === "USAGE")
          throw new BerthError("BUILD_FAILED", err.message, { cause: err });
        throw err;
      });
      progress?.done(true);
      if (opts.iidfile) writeFileSync(opts.iidfile, result.id);
      if (output) await exporter?.exportImage(ctx.store(), result.id, result.tags, output, ctx.stdout);
      if (quiet) {
        // with -q the ID is the output, unless the export already went to stdout
        if (output?.dest !== "-") ctx.stdout.write(`${result.id}\n`);
        return;
      }
      ctx.stderr.write(
        `berth: built ${result.id.slice(7, 19)}: ${humanSize(result.size)} in ${result.layers} layer${result.layers === 1 ? "" : "s"} (${result.cached}/${result.steps} steps cached)\n`,
      );
      for (const a of result.advice) ctx.stderr.write(`berth: hint: ${a.message}\n`);
    });
}

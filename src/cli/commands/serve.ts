import { join } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { parseGoDuration } from "../../dockerfile/duration.js";
import { BerthError } from "../../oci/errors.js";
import { type AccessPolicy, openAccess } from "../../server/access.js";
import { tokenAccessOptions } from "../../server/auth/serve-options.js";
import { TokenAccessPolicy } from "../../server/auth/token-access-policy.js";
import { JsonLinesLog } from "../../server/request-log.js";
import { startRegistry } from "../../server/server.js";
import type { CliContext } from "../context.js";

/** `berth serve --addr ADDR --root DIR`: the registry, in the foreground until SIGTERM/SIGINT. */
export function registerServe(cmd: Command, ctx: CliContext): void {
  cmd
    .option("--addr <addr>", "address to listen on, HOST:PORT", "127.0.0.1:5000")
    .option("--root <dir>", "the registry's data directory (default: the berth root's registry/)")
    .option("--auth <mode>", "none (an open registry: anyone pushes and pulls) or token (accounts)", "none")
    .option(
      "--auth-realm <url>",
      "with --auth token: the token endpoint's URL as clients reach it (default http://ADDR/token)",
    )
    .option("--auth-service <name>", "with --auth token: the service name in challenges and tokens (default ADDR)")
    .option("--log-file <file>", "append request logs (JSON lines) to FILE instead of standard error")
    .option("--no-access-log", "do not log requests")
    .option("--shutdown-timeout <duration>", "how long requests in flight may finish after SIGTERM", "10s")
    .action(async (opts) => {
      const root = opts.root ?? registryDefaultRoot(ctx);
      const { host, port } = parseAddr(opts.addr);
      const graceMs = durationMs(opts.shutdownTimeout, "--shutdown-timeout");
      const policy = await selectPolicy(opts.auth, root, ctx, opts);
      if (policy === openAccess && !isLoopback(host)) {
        ctx.stderr.write(
          `WARNING: an open registry on ${opts.addr}: anyone who can reach it can push, pull and delete. ` +
            "Use --auth token for accounts, or listen on 127.0.0.1.\n",
        );
      }
      const log = opts.accessLog
        ? opts.logFile
          ? JsonLinesLog.toFile(opts.logFile)
          : new JsonLinesLog(ctx.stderr)
        : undefined;
      const running = await startRegistry({ root, host, port, policy, ...(log ? { log: log.log } : {}) }).catch(
        (err: NodeJS.ErrnoException) => {
          throw new BerthError("USAGE", `cannot listen on ${opts.addr}: ${err.message}`);
        },
      );
      ctx.stderr.write(`berth serve: listening on ${running.url} (root ${root})\n`);
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once("SIGTERM", () => resolve("SIGTERM"));
        process.once("SIGINT", () => resolve("SIGINT"));
      });
      ctx.stderr.write(`berth serve: ${signal}: finishing requests in flight (up to ${opts.shutdownTimeout})\n`);
      await running.close(graceMs);
      await log?.close();
      ctx.stderr.write("berth serve: stopped\n");
    });
}

/**
 * The access policy for `--auth`. Tenancy (users, organisations, tokens) plugs in here: the
 * `token` case returns the policy of src/server/auth/, which keeps its state under `root`.
 */
async function selectPolicy(
  mode: string,
  root: string,
  ctx: CliContext,
  flags: { addr: string; authRealm?: string; authService?: string },
): Promise<AccessPolicy> {
  switch (mode) {
    case "none":
      return openAccess;
    case "token":
      return TokenAccessPolicy.open(
        tokenAccessOptions({
          root,
          listen: flags.addr,
          realm: flags.authRealm,
          service: flags.authService,
          env: ctx.env,
          notice: (line) => ctx.stderr.write(`berth serve: ${line}\n`),
        }),
      );
    default:
      throw new BerthError("USAGE", `unknown --auth mode "${mode}": use none or token`);
  }
}

/** Where a registry keeps its data without --root: beside, not inside, the local store's layout. */
export function registryDefaultRoot(ctx: Pick<CliContext, "root">): string {
  return join(ctx.root(), "registry");
}

/** HOST:PORT, [V6]:PORT or :PORT (all interfaces). */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new BerthError("USAGE", `invalid --addr "${addr}": expected HOST:PORT`);
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? "0.0.0.0" : host, port };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

export function durationMs(text: string, flag: string): number {
  try {
    const ns = parseGoDuration(text);
    if (ns < 0) throw new Error("negative");
    return ns / 1e6;
  } catch {
    throw new BerthError("USAGE", `invalid ${flag} "${text}": expected a duration such as 10s, 5m or 1h`);
  }
}

import { join } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { BerthError } from "../../oci/errors.js";
import type { AccessPolicy } from "../../server/access.js";
import type { CliContext } from "../context.js";

/**
 * `berth serve --addr ADDR --root DIR`: the registry, in the foreground until SIGTERM/SIGINT.
 * The server's modules are loaded when it starts: every other command starts without them.
 */
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
    .option(
      "--workers <n>",
      "server processes sharing the port (default 1; more measured no faster on 2 cores, see bench/RESULTS.md)",
    )
    .action(async (opts) => {
      const [{ openAccess }, { isServeWorker, workerStopRequested }, { JsonLinesLog }, { startRegistry }] =
        await Promise.all([
          import("../../server/access.js"),
          import("../../server/cluster.js"),
          import("../../server/request-log.js"),
          import("../../server/server.js"),
        ]);
      const root = opts.root ?? registryDefaultRoot(ctx);
      const { host, port } = parseAddr(opts.addr);
      const graceMs = await durationMs(opts.shutdownTimeout, "--shutdown-timeout");
      const workers = workerCount(opts.workers);
      const worker = isServeWorker();
      // at once: a primary that dies while this worker starts must not leave it serving
      const stopAsked = worker ? workerStopRequested() : undefined;
      // the primary opens the policy once (first start: signing key, first admin) before forking
      const notice = worker ? () => {} : (line: string) => ctx.stderr.write(`berth serve: ${line}\n`);
      const policy = await selectPolicy(opts.auth, root, ctx.env, notice, opts);
      if (policy === openAccess && !isLoopback(host) && !worker) {
        ctx.stderr.write(
          `WARNING: an open registry on ${opts.addr}: anyone who can reach it can push, pull and delete. ` +
            "Use --auth token for accounts, or listen on 127.0.0.1.\n",
        );
      }
      if (workers > 1 && !worker) {
        await policy.close?.();
        return servePrimary(ctx, { addr: opts.addr, root, workers, grace: opts.shutdownTimeout });
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
      if (stopAsked) {
        // the primary speaks for the workers; a stop is its message (or a signal sent to this pid)
        await Promise.race([stopAsked, stopSignal()]);
        await running.close(graceMs);
        await log?.close();
        process.disconnect?.();
        return;
      }
      ctx.stderr.write(`berth serve: listening on ${running.url} (root ${root})\n`);
      const signal = await stopSignal();
      ctx.stderr.write(`berth serve: ${signal}: finishing requests in flight (up to ${opts.shutdownTimeout})\n`);
      await running.close(graceMs);
      await log?.close();
      ctx.stderr.write("berth serve: stopped\n");
    });
}

function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
}

/** The primary of `--workers N`: forks the servers, speaks for them, and stops them on a signal. */
async function servePrimary(
  ctx: CliContext,
  o: { addr: string; root: string; workers: number; grace: string },
): Promise<void> {
  const notice = (line: string) => ctx.stderr.write(`berth serve: ${line}\n`);
  // the signal handlers go first: a SIGTERM while the workers start still stops them all
  const signal = stopSignal();
  const { startPrimary } = await import("../../server/cluster.js");
  const primary = await startPrimary({ workers: o.workers, notice }).catch((err: Error) => {
    throw new BerthError("USAGE", `cannot listen on ${o.addr}: ${err.message}`);
  });
  notice(
    `listening on http://${primary.address} (root ${o.root}); ${o.workers} workers, pids ${primary.pids.join(" ")}`,
  );
  const got = await signal;
  notice(`${got}: finishing requests in flight (up to ${o.grace})`);
  await primary.stop();
  notice("stopped");
}

/**
 * `--workers`: a positive integer, 1 by default. With sendfile, two processes measured no
 * faster than one on this 2-core machine and cost memory and latency (bench/RESULTS.md).
 */
function workerCount(text: string | undefined): number {
  if (text === undefined) return 1;
  if (!/^\d{1,3}$/.test(text) || Number(text) < 1) {
    throw new BerthError("USAGE", `invalid --workers "${text}": expected a whole number from 1`);
  }
  return Number(text);
}

/**
 * The access policy for `--auth`. Tenancy (users, organisations, tokens) plugs in here: the
 * `token` case returns the policy of src/server/auth/, which keeps its state under `root`.
 */
async function selectPolicy(
  mode: string,
  root: string,
  env: CliContext["env"],
  notice: (line: string) => void,
  flags: { addr: string; authRealm?: string; authService?: string },
): Promise<AccessPolicy> {
  switch (mode) {
    case "none":
      return (await import("../../server/access.js")).openAccess;
    case "token": {
      const [{ tokenAccessOptions }, { TokenAccessPolicy }] = await Promise.all([
        import("../../server/auth/serve-options.js"),
        import("../../server/auth/token-access-policy.js"),
      ]);
      return TokenAccessPolicy.open(
        tokenAccessOptions({
          root,
          listen: flags.addr,
          realm: flags.authRealm,
          service: flags.authService,
          env,
          notice,
        }),
      );
    }
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

export async function durationMs(text: string, flag: string): Promise<number> {
  const { parseGoDuration } = await import("../../dockerfile/duration.js");
  try {
    const ns = parseGoDuration(text);
    if (ns < 0) throw new Error("negative");
    return ns / 1e6;
  } catch {
    throw new BerthError("USAGE", `invalid ${flag} "${text}": expected a duration such as 10s, 5m or 1h`);
  }
}

import type { Command } from "@commander-js/extra-typings";
import { Option } from "@commander-js/extra-typings";
import { BerthError } from "../../oci/errors.js";
import type { CliContext } from "../context.js";
import { collect } from "./options.js";
import { berthCommand } from "./run.js";

/**
 * The container commands after `run`: ps, start, stop, kill, logs, and the hidden supervisor
 * that `run -d` and `start` leave behind. Output, flags and exit codes follow docker's CLI.
 * What runs them (verbs, runtime, formatting) is loaded by each action when it runs.
 */

/** The verbs every container command but ps uses. */
const control = () => import("../../verbs/container-control.js");

/** `ps`, `container ls`: CONTAINER ID IMAGE COMMAND CREATED STATUS PORTS NAMES. */
export function registerPs(cmd: Command, ctx: CliContext): void {
  cmd
    .option("-a, --all", "show all containers (default shows just running)")
    .option("-q, --quiet", "only display container IDs")
    .option("--no-trunc", "do not truncate output")
    .option("-s, --size", "display total file sizes")
    .option("-n, --last <n>", "show n last created containers (includes all states)")
    .option("-l, --latest", "show the latest created container (includes all states)")
    .addOption(
      new Option("-f, --filter <filter>", "filter output (id, name, label, status, exited, ancestor, before, since)")
        .argParser(collect)
        .default([] as string[]),
    )
    .option("--format <format>", "format output: table, json, or a Go template")
    .action(async (opts) => {
      const last = opts.latest ? 1 : opts.last === undefined ? undefined : Number(opts.last);
      if (last !== undefined && !Number.isInteger(last)) {
        throw new BerthError("USAGE", `invalid argument "${opts.last}" for "-n, --last" flag: give a number`);
      }
      const [{ containers }, { PS_HEADERS, psItem }, { printFormatted }] = await Promise.all([
        import("../../verbs/containers.js"),
        import("../ps-items.js"),
        import("../output.js"),
      ]);
      const trunc = opts.trunc !== false;
      const rows = containers(ctx.store(), {
        all: opts.all === true,
        last,
        size: opts.size === true || /\.Size\b/.test(opts.format ?? ""),
        filters: opts.filter,
      });
      const items = rows.map((r) => psItem(r, trunc));
      if (opts.quiet) {
        ctx.stdout.write(items.map((i) => `${i.ID}\n`).join(""));
        return;
      }
      const table = `{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}${opts.size ? "\t{{.Size}}" : ""}`;
      printFormatted(ctx, opts.format, items, table, PS_HEADERS);
    });
}

/** Runs `each` over the names, printing errors as docker does and exiting 1 if any failed. */
async function forEachContainer(
  ctx: CliContext,
  names: readonly string[],
  each: (name: string, index: number) => Promise<void> | void,
): Promise<void> {
  let failed = false;
  for (const [index, name] of names.entries()) {
    try {
      await each(name, index);
    } catch (err) {
      if (!(err instanceof BerthError)) throw err;
      ctx.stderr.write(`Error: ${err.message}\n`);
      failed = true;
    }
  }
  if (failed) ctx.setExitCode(1);
}

const PROXIED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2"];

/** `start [-a] [-i] CONTAINER...` */
export function registerStart(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<containers...>", "containers to start")
    .option("-a, --attach", "attach STDOUT/STDERR and forward signals")
    .option("-i, --interactive", "attach the container's STDIN")
    .action(async (names, opts) => {
      const store = ctx.store();
      if ((opts.attach || opts.interactive) && names.length > 1) {
        throw new BerthError("USAGE", "you cannot start and attach multiple containers at once");
      }
      const { findContainer, kill, logs, startAttached, startContainer } = await control();
      if (opts.interactive) {
        // stdin needs this process: the container runs in the foreground here, as `run -i` does
        const r = await startAttached(store, findContainer(store, names[0] as string), {
          stdin: ctx.stdin,
          stdout: opts.attach ? ctx.stdout : null,
          stderr: opts.attach ? ctx.stderr : null,
        });
        if (r.message) ctx.stderr.write(`Error: ${r.message}\n`);
        ctx.setExitCode(r.exitCode);
        return;
      }
      if (opts.attach) {
        const [{ getContainer }, { nowNano, timeNs }] = await Promise.all([
          import("../../runtime/containers.js"),
          import("../../runtime/json-log.js"),
        ]);
        const c = findContainer(store, names[0] as string);
        const since = timeNs(nowNano());
        const report = await startContainer(store, c, { berth: berthCommand() });
        if (!report.started) {
          ctx.stderr.write(`Error: ${report.message}\n`);
          ctx.setExitCode(report.exitCode);
          return;
        }
        // docker's --sig-proxy: a signal to this process goes on to the container
        const proxy = (sig: NodeJS.Signals) => {
          try {
            kill(store, c, sig);
          } catch {
            // it ended meanwhile
          }
        };
        for (const sig of PROXIED) process.on(sig, proxy);
        try {
          for await (const e of logs(store, c, { follow: true, sinceNs: since })) {
            (e.stream === "stdout" ? ctx.stdout : ctx.stderr).write(e.log);
          }
        } finally {
          for (const sig of PROXIED) process.off(sig, proxy);
        }
        ctx.setExitCode(getContainer(store, c.id)?.spec.exitCode ?? 0);
        return;
      }
      await forEachContainer(ctx, names, async (name) => {
        const report = await startContainer(store, findContainer(store, name), { berth: berthCommand() });
        if (!report.started) throw new BerthError("STORE", report.message);
        ctx.stdout.write(`${name}\n`);
      });
    });
}

/** stop's and restart's -t: whole seconds, or undefined for the default. */
function stopTimeout(value: string | undefined): number | undefined {
  const timeout = value === undefined ? undefined : Number(value);
  if (timeout !== undefined && !Number.isInteger(timeout)) {
    throw new BerthError("USAGE", `invalid argument "${value}" for "-t, --time" flag: give whole seconds`);
  }
  return timeout;
}

/** `stop [-t SECONDS] [-s SIGNAL] CONTAINER...` */
export function registerStop(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<containers...>", "containers to stop")
    .option("-t, --time <seconds>", "seconds to wait before killing the container (default 10)")
    .option("-s, --signal <signal>", "signal to send (default: the image's STOPSIGNAL, else SIGTERM)")
    .action(async (names, opts) => {
      const timeout = stopTimeout(opts.time);
      const { findContainer, stop } = await control();
      // all at once, as docker's CLI does: ten containers take one timeout, not ten
      const store = ctx.store();
      const stopping = names.map(async (name) =>
        stop(store, findContainer(store, name), { timeout, signal: opts.signal }),
      );
      const settled = await Promise.allSettled(stopping);
      await forEachContainer(ctx, names, (name, i) => {
        const r = settled[i];
        if (r?.status === "rejected") throw r.reason;
        ctx.stdout.write(`${name}\n`);
      });
    });
}

/** `kill [-s SIGNAL] CONTAINER...` */
export function registerKill(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<containers...>", "containers to kill")
    .option("-s, --signal <signal>", "signal to send", "KILL")
    .action(async (names, opts) => {
      const { findContainer, kill } = await control();
      await forEachContainer(ctx, names, (name) => {
        kill(ctx.store(), findContainer(ctx.store(), name), opts.signal);
        ctx.stdout.write(`${name}\n`);
      });
    });
}

/** docker's --since/--until: a Go duration back from now, Unix seconds, or an RFC 3339 time. */
async function timeArg(value: string, flag: string): Promise<bigint> {
  const [{ nowNano, timeNs }, { parseGoDuration }] = await Promise.all([
    import("../../runtime/json-log.js"),
    import("../../dockerfile/duration.js"),
  ]);
  if (/^\d+(\.\d{1,9})?$/.test(value)) {
    const [s, frac = ""] = value.split(".");
    return BigInt(s as string) * 1_000_000_000n + BigInt(frac.padEnd(9, "0"));
  }
  if (/^\d{4}-\d\d-\d\d/.test(value)) {
    const withZone = /T.*(Z|[+-]\d\d:\d\d)$/.test(value)
      ? value
      : `${value.includes("T") ? value : `${value}T00:00:00`}Z`;
    const ns = timeNs(withZone);
    if (ns === 0n) throw new BerthError("USAGE", `invalid time "${value}" for ${flag}: use 2006-01-02T15:04:05Z`);
    return ns;
  }
  try {
    return timeNs(nowNano()) - BigInt(Math.round(parseGoDuration(value)));
  } catch {
    throw new BerthError(
      "USAGE",
      `invalid value "${value}" for ${flag}: give a duration (10m), Unix seconds or a time`,
    );
  }
}

/** `logs [-f] [--tail N] [-t] [--since] [--until] CONTAINER` */
export function registerLogs(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<container>", "the container")
    .option("-f, --follow", "follow log output")
    .option("-n, --tail <n>", 'number of lines to show from the end of the logs ("all")', "all")
    .option("-t, --timestamps", "show timestamps")
    .option("--since <time>", "show logs since a time (2013-01-02T13:23:37Z) or a duration back (42m)")
    .option("--until <time>", "show logs before a time or a duration back")
    .option("--details", "show extra details (berth records none)")
    .action(async (name, opts) => {
      const tail = opts.tail === "all" ? undefined : Number(opts.tail);
      if (tail !== undefined && !(Number.isInteger(tail) && tail >= 0)) {
        throw new BerthError("USAGE", `invalid value "${opts.tail}" for --tail: give a number or "all"`);
      }
      const { findContainer, logs } = await control();
      const store = ctx.store();
      const c = findContainer(store, name);
      const entries = logs(store, c, {
        follow: opts.follow === true,
        ...(tail !== undefined ? { tail } : {}),
        ...(opts.since ? { sinceNs: await timeArg(opts.since, "--since") } : {}),
        ...(opts.until ? { untilNs: await timeArg(opts.until, "--until") } : {}),
      });
      for await (const e of entries) {
        const out = e.stream === "stdout" ? ctx.stdout : ctx.stderr;
        out.write(opts.timestamps ? `${e.time} ${e.log}` : e.log);
      }
    });
}

/** The hidden `__supervise ID`: what `run -d` and `start` leave running (see supervisor.ts). */
export function registerSupervise(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<id>", "the container")
    .option("--rm", "remove the container when it ends")
    .action(async (id, opts) => {
      const { reportOnFd3, superviseContainer } = await import("../../runtime/supervisor.js");
      await superviseContainer(ctx.store(), id, reportOnFd3, { autoRemove: opts.rm === true });
    });
}

/** `restart [-t SECONDS] CONTAINER...`: stop (as `stop` does), then start in the background. */
export function registerRestart(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<containers...>", "containers to restart")
    .option("-t, --time <seconds>", "seconds to wait for stop before killing the container (default 10)")
    .action(async (names, opts) => {
      const timeout = stopTimeout(opts.time);
      const { findContainer, startContainer, stop } = await control();
      const store = ctx.store();
      await forEachContainer(ctx, names, async (name) => {
        const c = findContainer(store, name);
        await stop(store, c, { timeout });
        const report = await startContainer(store, c, { berth: berthCommand() });
        if (!report.started) throw new BerthError("STORE", `Cannot restart container ${name}: ${report.message}`);
        ctx.stdout.write(`${name}\n`);
      });
    });
}

/** `wait CONTAINER...`: blocks until each stops, printing its exit code. */
export function registerWait(cmd: Command, ctx: CliContext): void {
  cmd.argument("<containers...>", "containers to wait for").action(async (names) => {
    const { findContainer, wait } = await control();
    const store = ctx.store();
    await forEachContainer(ctx, names, async (name) => {
      ctx.stdout.write(`${await wait(store, findContainer(store, name))}\n`);
    });
  });
}

/** `rename CONTAINER NEW_NAME` */
export function registerRename(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("<container>", "the container")
    .argument("<name>", "its new name")
    .action(async (name, newName) => {
      const { findContainer, rename } = await control();
      const store = ctx.store();
      rename(store, findContainer(store, name), newName);
    });
}

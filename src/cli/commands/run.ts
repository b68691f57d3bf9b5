import { isAbsolute } from "node:path";
import type { Command } from "@commander-js/extra-typings";
import { BerthError } from "../../oci/errors.js";
import type { BindMount, Limit } from "../../runtime/oci-spec.js";
import type { RunOptions } from "../../runtime/run.js";
import type { CliContext } from "../context.js";
import { CONTENT_TRUST_FLAG, CONTENT_TRUST_HELP, collect, refuseContentTrust } from "./options.js";

/**
 * `run [OPTIONS] IMAGE [COMMAND] [ARG...]`: runs a container in the foreground and exits with
 * its exit code (or with -d, under a supervisor in the background, printing its ID); berth's own failures exit 125, a command that cannot be invoked 126, one
 * that is not found 127, as docker's do.
 *
 * Everything after IMAGE belongs to the container (`berth run img ls -la`): that needs
 * `program.enablePositionalOptions()` in main.ts, so global options come before the command.
 */
export function registerRun(cmd: Command, ctx: CliContext): void {
  withRunFlags(cmd)
    .option("-d, --detach", "run in the background and print the container ID")
    .action(async (image, command, opts) => {
      try {
        const options = runOptions(command, opts, ctx);
        // the runtime is loaded when a container runs: other commands start without it
        const { createContainer, runContainer } = await import("../../runtime/run.js");
        if (opts.detach) {
          const { startDetached } = await import("../../runtime/supervisor.js");
          const store = ctx.store();
          const created = await createContainer(store, image, { ...options, detach: true });
          const report = await startDetached(store, created.id, { berth: berthCommand(), autoRemove: options.rm });
          if (!report.started) {
            ctx.stderr.write(`Error: ${report.message}\n`);
            ctx.setExitCode(report.exitCode);
            return;
          }
          ctx.stdout.write(`${created.id}\n`);
          return;
        }
        const tty = options.tty === true;
        const result = await runContainer(ctx.store(), image, {
          ...options,
          // A terminal is the runtime's to drive: it gets the real one.
          stdin: tty && opts.interactive ? "inherit" : opts.interactive ? ctx.stdin : null,
          stdout: tty ? "inherit" : ctx.stdout,
          stderr: tty ? "inherit" : ctx.stderr,
          log: !tty,
        });
        if (result.message) ctx.stderr.write(`Error: ${result.message}\n`);
        ctx.setExitCode(result.exitCode);
      } catch (err) {
        if (!(err instanceof BerthError)) throw err;
        ctx.stderr.write(`Error: ${err.message}\n`);
        ctx.setExitCode(125);
      }
    });
}

/** `create [OPTIONS] IMAGE [COMMAND] [ARG...]`: run's flags; prints the new container's ID. */
export function registerCreate(cmd: Command, ctx: CliContext): void {
  withRunFlags(cmd).action(async (image, command, opts) => {
    try {
      const { createContainer } = await import("../../runtime/run.js");
      const created = await createContainer(ctx.store(), image, runOptions(command, opts, ctx));
      ctx.stdout.write(`${created.id}\n`);
    } catch (err) {
      if (!(err instanceof BerthError)) throw err;
      ctx.stderr.write(`Error: ${err.message}\n`);
      ctx.setExitCode(125);
    }
  });
}

/**
 * How to run berth again, for the detached supervisor: this same Node with this same entry
 * script (bin/berth).
 */
export function berthCommand(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1] ?? "berth"];
}

function withRunFlags(cmd: Command) {
  return cmd
    .argument("<image>", "the image to run")
    .argument("[command...]", "the command and its arguments (default: the image's)")
    .passThroughOptions()
    .option("--rm", "remove the container when it exits")
    .option("-e, --env <KEY=VALUE>", "set an environment variable (KEY alone takes berth's own)", collect, [])
    .option("-w, --workdir <dir>", "working directory inside the container")
    .option("-u, --user <user[:group]>", "user name or UID, and optionally group name or GID")
    .option("--entrypoint <cmd>", 'override the image\'s ENTRYPOINT ("" clears it)')
    .option("-i, --interactive", "keep standard input open")
    .option("-t, --tty", "allocate a pseudo-TTY")
    .option("--name <name>", "name the container")
    .option("--network <mode>", "none (the default: berth has no bridge network) or host")
    .option("-v, --volume <src:dst[:ro]>", "bind-mount a host directory", collect, [])
    .option("--hostname <name>", "the container's host name")
    .option("--read-only", "mount the container's root file system read-only")
    .option("--ulimit <name=soft[:hard]>", "a resource limit (no higher than this host's hard limit)", collect, [])
    .option("--runtime <name>", "the OCI runtime: crun, runc or a path (default: the best that works here)")
    .option("--storage-driver <driver>", "overlay (default where available) or copy")
    .option(CONTENT_TRUST_FLAG, CONTENT_TRUST_HELP);
}

type RunFlags = ReturnType<ReturnType<typeof withRunFlags>["opts"]>;

/** The flags as RunOptions (streams aside), checked. */
function runOptions(command: string[], opts: RunFlags, ctx: CliContext): RunOptions {
  refuseContentTrust(opts.disableContentTrust, ctx.env);
  const network = opts.network ?? "none";
  if (network !== "none" && network !== "host") {
    throw new BerthError("USAGE", `network ${network} is not available: berth runs --network none or host`);
  }
  const driver = opts.storageDriver;
  if (driver !== undefined && driver !== "overlay" && driver !== "copy") {
    throw new BerthError("USAGE", `unknown storage driver ${driver}: use overlay or copy`);
  }
  return {
    cmd: command,
    entrypoint: opts.entrypoint === undefined ? undefined : opts.entrypoint === "" ? [] : [opts.entrypoint],
    env: opts.env.flatMap((e) => envEntry(e, ctx.env)),
    workdir: opts.workdir,
    user: opts.user,
    tty: opts.tty === true,
    interactive: opts.interactive === true,
    name: opts.name,
    network,
    volumes: opts.volume.map(parseVolume),
    hostname: opts.hostname,
    readOnly: opts.readOnly === true,
    ulimits: Object.fromEntries(opts.ulimit.map(parseUlimit)),
    rm: opts.rm === true,
    driver,
    runtime: opts.runtime,
  };
}

/** docker's -e: KEY=VALUE as it is; KEY alone takes berth's own value, or is dropped. */
function envEntry(e: string, env: Readonly<Record<string, string | undefined>>): string[] {
  if (e.includes("=")) return [e];
  const value = env[e];
  return value === undefined ? [] : [`${e}=${value}`];
}

function parseVolume(spec: string): BindMount {
  const [source = "", destination, mode, ...rest] = spec.split(":");
  if (!destination || rest.length > 0 || (mode !== undefined && mode !== "ro" && mode !== "rw")) {
    throw new BerthError("USAGE", `invalid volume specification "${spec}": use /host/path:/container/path[:ro]`);
  }
  if (!isAbsolute(source)) {
    throw new BerthError(
      "USAGE",
      `invalid volume "${spec}": named volumes are not supported; give an absolute host path`,
    );
  }
  if (!isAbsolute(destination))
    throw new BerthError("USAGE", `invalid volume "${spec}": the mount point must be absolute`);
  return { source, destination, readonly: mode === "ro" };
}

function parseUlimit(spec: string): [string, Limit] {
  const m = /^([a-z]+)=(\d+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new BerthError("USAGE", `invalid ulimit "${spec}": use name=soft[:hard], e.g. nofile=1024:4096`);
  const soft = Number(m[2]);
  return [m[1] as string, { soft, hard: m[3] === undefined ? soft : Number(m[3]) }];
}

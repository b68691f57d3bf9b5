import { CommanderError } from "@commander-js/extra-typings";
import { BerthError, causeChain, isDiskFull } from "../oci/errors.js";
import type { defaultRoot } from "../store/default-root.js";
import type { LocalStore } from "../store/local-store.js";
import { registerImport, registerLoad, registerSave } from "./commands/archive.js";
import { registerBuild } from "./commands/build.js";
import { registerCommit, registerExport } from "./commands/commit.js";
import {
  registerKill,
  registerLogs,
  registerPs,
  registerRename,
  registerRestart,
  registerStart,
  registerStop,
  registerSupervise,
  registerWait,
} from "./commands/containers.js";
import { registerHistory } from "./commands/history.js";
import { registerImages } from "./commands/images.js";
import { registerInspect } from "./commands/inspect.js";
import { registerLogin, registerLogout } from "./commands/login.js";
import { registerManifestPush } from "./commands/manifest.js";
import { registerContainerPrune, registerImagePrune, registerSystemDf, registerSystemPrune } from "./commands/prune.js";
import { registerPull } from "./commands/pull.js";
import { registerPush } from "./commands/push.js";
import { registerRegistryAdmin } from "./commands/registry-admin.js";
import { registerRegistryGc } from "./commands/registry-gc.js";
import { registerRm, registerRmi } from "./commands/rmi.js";
import { registerCreate, registerRun } from "./commands/run.js";
import { registerServe } from "./commands/serve.js";
import { registerTag } from "./commands/tag.js";
import type { CliContext } from "./context.js";
import { DockerCommand } from "./docker-command.js";

export const VERSION = "0.1.0";

export interface Io {
  argv: string[];
  env: Readonly<Record<string, string | undefined>>;
  stdin: CliContext["stdin"];
  stdout: CliContext["stdout"];
  stderr: CliContext["stderr"];
  uid: number;
}

/** Runs one berth command line; resolves to the exit code. */
export async function main(io: Io): Promise<number> {
  let exitCode = 0;
  let store: LocalStore | undefined;
  // The store's modules are loaded by the preAction hook, before any action runs: a command
  // that runs none (--help, --version) evaluates none of them, and ctx.root() and ctx.store()
  // stay synchronous.
  let stores: { defaultRoot: typeof defaultRoot; LocalStore: typeof LocalStore } | undefined;
  const loaded = () => {
    if (!stores) throw new Error("the store's modules are not loaded: ctx.root() and ctx.store() are for actions");
    return stores;
  };
  let rootOption: string | undefined;
  const ctx: CliContext = {
    env: io.env,
    // read when used: making process.stdin costs a few ms, and most commands never read it
    get stdin() {
      return io.stdin;
    },
    stdout: io.stdout,
    stderr: io.stderr,
    root: () => rootOption ?? loaded().defaultRoot(io.env, io.uid),
    store: () => {
      store ??= loaded().LocalStore.open(ctx.root());
      return store;
    },
    setExitCode: (code) => {
      exitCode = code;
    },
  };

  const program = new DockerCommand("berth")
    .enablePositionalOptions()
    .description("Docker images end to end: build, store, run, ship, host and inspect, with no daemon.")
    .version(VERSION, "-v, --version", "print the version")
    .option("--root <dir>", "the store's root directory (default: $BERTH_ROOT, /var/lib/berth as root)")
    .hook("preAction", async (cmd) => {
      rootOption = (cmd.optsWithGlobals() as { root?: string }).root ?? rootOption;
      if (!stores) {
        const [{ defaultRoot }, { LocalStore }] = await Promise.all([
          import("../store/default-root.js"),
          import("../store/local-store.js"),
        ]);
        stores = { defaultRoot, LocalStore };
      }
    });
  program.exitOverride();
  program.configureOutput({
    writeOut: (s) => io.stdout.write(s),
    writeErr: (s) => io.stderr.write(s),
    outputError: (s, write) => write(s.replace(/^error: /, "Error: ")),
  });
  program.showSuggestionAfterError(true);

  const imageCmd = program.command("image").description("manage images");
  registerImages(program.command("images").description("list images"), ctx);
  registerImages(imageCmd.command("ls").alias("list").description("list images"), ctx);
  registerTag(program.command("tag").description("create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"), ctx);
  registerTag(imageCmd.command("tag").description("create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"), ctx);
  registerRmi(program.command("rmi").description("remove one or more images"), ctx);
  registerRmi(imageCmd.command("rm").alias("remove").description("remove one or more images"), ctx);
  registerRm(program.command("rm").description("remove one or more containers"), ctx);
  registerBuild(program.command("build").description("build an image from a Dockerfile"), ctx);
  registerBuild(imageCmd.command("build").description("build an image from a Dockerfile"), ctx);
  registerRun(program.command("run").description("create and run a new container from an image"), ctx);
  registerInspect(program.command("inspect").description("return low-level information on objects"), ctx, "object");
  registerInspect(imageCmd.command("inspect").description("display detailed information on images"), ctx, "image");
  registerHistory(program.command("history").description("show the history of an image"), ctx);
  registerHistory(imageCmd.command("history").description("show the history of an image"), ctx);
  registerSave(program.command("save").description("save images to a tar archive"), ctx);
  registerSave(imageCmd.command("save").description("save images to a tar archive"), ctx);
  registerLoad(program.command("load").description("load images from a tar archive or standard input"), ctx);
  registerLoad(imageCmd.command("load").description("load images from a tar archive or standard input"), ctx);
  registerImport(program.command("import").description("import a file system tar as an image"), ctx);
  registerImport(imageCmd.command("import").description("import a file system tar as an image"), ctx);
  registerImagePrune(imageCmd.command("prune").description("remove unused images"), ctx);
  registerPull(program.command("pull").description("download an image from a registry"), ctx);
  registerPull(imageCmd.command("pull").description("download an image from a registry"), ctx);
  registerPush(program.command("push").description("upload an image to a registry"), ctx);
  registerPush(imageCmd.command("push").description("upload an image to a registry"), ctx);
  registerLogin(program.command("login").description("log in to a registry"), ctx);
  registerLogout(program.command("logout").description("log out from a registry"), ctx);
  registerManifestPush(
    program
      .command("manifest")
      .description("manage multi-platform images")
      .command("push")
      .description("push stored images of several platforms as one multi-platform image"),
    ctx,
  );
  const systemCmd = program.command("system").description("manage berth");
  registerSystemPrune(systemCmd.command("prune").description("remove unused data"), ctx);
  registerSystemDf(systemCmd.command("df").description("show disk usage"), ctx);
  const containerCmd = program.command("container").description("manage containers");
  registerContainerPrune(containerCmd.command("prune").description("remove all stopped containers"), ctx);
  // the container lifecycle, each at the top level and under `container`, as docker has them
  for (const [parent, top] of [
    [program, true],
    [containerCmd, false],
  ] as const) {
    registerPs(
      (top ? parent.command("ps") : parent.command("ls").alias("list").alias("ps")).description("list containers"),
      ctx,
    );
    registerCreate(parent.command("create").description("create a new container"), ctx);
    registerStart(parent.command("start").description("start one or more stopped containers"), ctx);
    registerStop(parent.command("stop").description("stop one or more running containers"), ctx);
    registerKill(parent.command("kill").description("kill one or more running containers"), ctx);
    registerLogs(parent.command("logs").description("fetch the logs of a container"), ctx);
    registerCommit(parent.command("commit").description("create a new image from a container's changes"), ctx);
    registerExport(parent.command("export").description("export a container's filesystem as a tar archive"), ctx);
    registerRestart(parent.command("restart").description("restart one or more containers"), ctx);
    registerWait(parent.command("wait").description("block until containers stop, then print their exit codes"), ctx);
    registerRename(parent.command("rename").description("rename a container"), ctx);
  }
  registerRun(containerCmd.command("run").description("create and run a new container from an image"), ctx);
  registerRm(containerCmd.command("rm").alias("remove").description("remove one or more containers"), ctx);
  registerInspect(
    containerCmd.command("inspect").description("display detailed information on containers"),
    ctx,
    "container",
  );
  registerSupervise(program.command("__supervise", { hidden: true }), ctx);
  registerServe(program.command("serve").description("run a registry (OCI distribution API)"), ctx);
  // one group for the registry's administration: tenancy (registry-admin.ts) and the server's gc
  const registryCmd = program
    .command("registry")
    .description("administer a berth serve registry (works while it runs)")
    .option("--root <dir>", "the registry's root directory, as given to berth serve --root");
  registerRegistryAdmin(registryCmd, ctx);
  registerRegistryGc(registryCmd, ctx);

  try {
    await program.parseAsync(io.argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") {
        return 0;
      }
      // docker answers bad flags and arguments with 125
      return 125;
    }
    const hint = isDiskFull(err) ? diskFullHint(store?.root ?? rootOption) : "";
    if (err instanceof BerthError) {
      // with BERTH_DEBUG=1, where it came from too (the error it wraps, and that one's stack)
      const message = io.env.BERTH_DEBUG === "1" ? unexpected(err, io.env) : `Error: ${err.message}`;
      io.stderr.write(`${message}${hint}\n`);
      return err.code === "USAGE" ? 125 : 1;
    }
    // the reader of our output went away (`berth save | head`): end quietly, as a Unix tool
    // killed by SIGPIPE would (128 + 13)
    if ((err as NodeJS.ErrnoException).code === "EPIPE") return 141;
    io.stderr.write(`${unexpected(err, io.env)}${hint}\n`);
    return 1;
  } finally {
    store?.close();
  }
  return exitCode;
}

/** What to do about it: the message names the file or write; this names the store and the way out. */
function diskFullHint(root: string | undefined): string {
  const where = root ? `the disk holding ${root}` : "the disk";
  return ` (${where} is full: free some space, or remove unused images with berth image prune, and run it again)`;
}

/**
 * An error berth did not expect, as one line (what failed, and how to see more); the stack
 * only with BERTH_DEBUG=1.
 */
export function unexpected(err: unknown, env: Readonly<Record<string, string | undefined>>): string {
  if (env.BERTH_DEBUG === "1") {
    return causeChain(err)
      .map((e, depth) => `${depth === 0 ? "Error: " : "Caused by: "}${(e as Error)?.stack ?? String(e)}`)
      .join("\n");
  }
  const message = (err instanceof Error ? err.message : String(err)).split("\n")[0];
  return `Error: ${message} (an internal error: run again with BERTH_DEBUG=1 for details, and report it)`;
}

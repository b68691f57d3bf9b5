import type { Command } from "@commander-js/extra-typings";
import { BerthError } from "../../oci/errors.js";
import type { CliContext } from "../context.js";
import { promptLine } from "../prompt.js";

/** `login [-u USER] [-p PASS | --password-stdin] [SERVER]`: prompts on a terminal, as docker does. */
export function registerLogin(cmd: Command, ctx: CliContext): void {
  cmd
    .argument("[server]", "the registry (default Docker Hub)")
    .option("-u, --username <username>", "username")
    .option("-p, --password <password>", "password")
    .option("--password-stdin", "take the password from stdin")
    .action(async (server, opts) => {
      let password = opts.password;
      let username = opts.username;
      if (opts.passwordStdin) {
        if (password !== undefined)
          throw new BerthError("USAGE", "--password and --password-stdin are mutually exclusive");
        if (!username) throw new BerthError("USAGE", "Must provide --username with --password-stdin");
        password = (await readAll(ctx.stdin)).replace(/\r?\n$/, "");
      } else if (password !== undefined) {
        ctx.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
      }
      const tty = ctx.stdin.isTTY === true;
      if (!username || password === undefined) {
        if (!tty) throw new BerthError("USAGE", "Cannot perform an interactive login from a non TTY device");
        username ||= (await promptLine(ctx.stdin, ctx.stdout, "Username: ", false)).trim();
        if (password === undefined) password = await promptLine(ctx.stdin, ctx.stdout, "Password: ", true);
      }
      // loaded when used: the registry client (undici) costs every other command start-up time
      const [{ login }, { registryConfigFromEnv }] = await Promise.all([
        import("../../verbs/login.js"),
        import("../../registry-client/registry-config.js"),
      ]);
      const result = await login(server, { username, password }, { registry: registryConfigFromEnv(ctx.env) });
      if (result.storedIn === "config") {
        ctx.stderr.write(
          `WARNING! Your password will be stored unencrypted in ${result.configPath}.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n`,
        );
      }
      ctx.stdout.write("Login Succeeded\n");
    });
}

/** `logout [SERVER]` */
export function registerLogout(cmd: Command, ctx: CliContext): void {
  cmd.argument("[server]", "the registry (default Docker Hub)").action(async (server) => {
    const [{ logout }, { registryConfigFromEnv }] = await Promise.all([
      import("../../verbs/login.js"),
      import("../../registry-client/registry-config.js"),
    ]);
    const result = logout(server, { registry: registryConfigFromEnv(ctx.env) });
    ctx.stdout.write(
      result.removed
        ? `Removing login credentials for ${result.serverKey}\n`
        : `Not logged in to ${result.serverKey}\n`,
    );
  });
}

async function readAll(stream: AsyncIterable<unknown>): Promise<string> {
  let text = "";
  for await (const c of stream) text += (c as Buffer).toString("utf8");
  return text;
}

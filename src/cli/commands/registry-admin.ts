import * as fs from "node:fs";
import { join } from "node:path";
import { type Command, Option } from "@commander-js/extra-typings";
import { BerthError } from "../../oci/errors.js";
import type { TenancyAdmin } from "../../server/auth/tenancy-admin.js";
import type { CliContext } from "../context.js";
import { collect } from "./options.js";
import { registryDefaultRoot } from "./serve.js";

/**
 * `berth registry --root DIR user|org|repo|namespace|token …`: tenancy administration of a
 * `berth serve` registry. It writes `<root>/auth.db` directly, so it works whether or not the
 * server runs; a running server reads the change on its next request. The server's auth modules
 * are loaded by the actions, when one runs.
 */

const tenancy = () => import("../../server/auth/tenancy-admin.js");

type AdminContext = CliContext & { registryRoot(): string };

/**
 * Runs `fn` on the registry's accounts. Only commands that create (`create`) may start a new
 * auth.db; the others refuse a root without one, so a mistyped --root leaves nothing behind.
 */
async function withAdmin<T>(
  ctx: AdminContext,
  fn: (admin: TenancyAdmin) => Promise<T>,
  opts: { create?: boolean } = {},
): Promise<T> {
  const root = ctx.registryRoot();
  if (!opts.create && !fs.existsSync(join(root, "auth.db"))) {
    throw new BerthError(
      "NOT_FOUND",
      `no registry accounts under ${root} (no auth.db): check --root, or start with user add`,
    );
  }
  const [{ SqliteTenancyStore }, { TenancyAdmin }] = await Promise.all([
    import("../../server/auth/sqlite-tenancy-store.js"),
    tenancy(),
  ]);
  const store = SqliteTenancyStore.open(root);
  try {
    return await fn(new TenancyAdmin(store));
  } finally {
    await store.close();
  }
}

/** The password piped in, without the line break `echo` adds (as docker login --password-stdin). */
async function readPassword(ctx: AdminContext): Promise<string> {
  if (ctx.stdin.isTTY)
    throw new BerthError("USAGE", "--password-stdin needs the password piped in: echo PASS | berth …");
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

function out(ctx: AdminContext, line: string): void {
  ctx.stdout.write(`${line}\n`);
}

function registerUser(cmd: Command, ctx: AdminContext): void {
  cmd
    .command("add")
    .description("add a user (who owns the namespace of their name); prints a new password unless --password-stdin")
    .argument("<name>", "user name")
    .option("--admin", "a registry admin (may do everything)")
    .option("--password-stdin", "read the password from standard input")
    .action(async (name, opts) => {
      const password = opts.passwordStdin ? await readPassword(ctx) : undefined;
      const { checkName, checkPassword } = await tenancy();
      // checked before the store is opened (and perhaps made)
      checkName("user", name);
      if (password !== undefined) checkPassword(name, password);
      const made = await withAdmin(ctx, (a) => a.addUser(name, { admin: opts.admin === true, password }), {
        create: true,
      });
      if (made.password === undefined) out(ctx, `added user ${name}${opts.admin ? " (admin)" : ""}`);
      else {
        // the password alone on the last line, for scripts; only its hash is kept
        out(ctx, `added user ${name}${opts.admin ? " (admin)" : ""}; its password (shown only now):`);
        out(ctx, made.password);
      }
    });
  cmd
    .command("rm")
    .description("remove a user with their namespace's ownership, memberships and tokens")
    .argument("<name>", "user name")
    .action(async (name) => {
      await withAdmin(ctx, (a) => a.removeUser(name));
      out(ctx, `removed user ${name}`);
    });
  cmd
    .command("passwd")
    .description("set a user's password from standard input")
    .argument("<name>", "user name")
    .action(async (name) => {
      const password = await readPassword(ctx);
      await withAdmin(ctx, (a) => a.setPassword(name, password));
      out(ctx, `changed the password of ${name}`);
    });
  cmd
    .command("ls")
    .description("list users")
    .action(async () => {
      const users = await withAdmin(ctx, (a) => a.store.users());
      for (const u of users) out(ctx, u.admin ? `${u.name}\tadmin` : u.name);
    });
}

function registerOrg(cmd: Command, ctx: AdminContext): void {
  cmd
    .command("create")
    .description("create an organisation (which owns the namespace of its name)")
    .argument("<org>", "organisation name")
    .action(async (org) => {
      const { checkName } = await tenancy();
      checkName("organisation", org);
      await withAdmin(ctx, (a) => a.createOrg(org), { create: true });
      out(ctx, `created organisation ${org}`);
    });
  cmd
    .command("add-member")
    .description("add a user to an organisation, or change their role")
    .argument("<org>", "organisation")
    .argument("<user>", "user")
    .addOption(
      new Option(
        "--role <role>",
        "read (pull), write (pull, push) or admin (pull, push, delete)",
      ).makeOptionMandatory(),
    )
    .action(async (org, user, opts) => {
      const { parseRole } = await tenancy();
      const role = parseRole(opts.role);
      await withAdmin(ctx, (a) => a.addMember(org, user, role));
      out(ctx, `${user} is a member of ${org} with role ${role}`);
    });
  cmd
    .command("rm-member")
    .description("remove a user from an organisation")
    .argument("<org>", "organisation")
    .argument("<user>", "user")
    .action(async (org, user) => {
      await withAdmin(ctx, (a) => a.removeMember(org, user));
      out(ctx, `${user} is no longer a member of ${org}`);
    });
  cmd
    .command("members")
    .description("list an organisation's members")
    .argument("<org>", "organisation")
    .action(async (org) => {
      const members = await withAdmin(ctx, (a) => a.store.members(org));
      for (const m of members) out(ctx, `${m.user}\t${m.role}`);
    });
}

function registerVisibility(cmd: Command, ctx: AdminContext, what: "repo" | "namespace"): void {
  cmd
    .command("visibility")
    .description(
      what === "repo"
        ? "make a repository public (anyone pulls) or private (members only)"
        : "set the visibility new repositories in a namespace start with",
    )
    .argument(what === "repo" ? "<repository>" : "<namespace>", what === "repo" ? "NS/REPO" : "user or organisation")
    .argument("<visibility>", "public or private")
    .action(async (name, visibilityText) => {
      const { parseVisibility } = await tenancy();
      const visibility = parseVisibility(visibilityText);
      await withAdmin(ctx, (a) =>
        what === "repo" ? a.setRepositoryVisibility(name, visibility) : a.setNamespaceVisibility(name, visibility),
      );
      out(ctx, what === "repo" ? `${name} is ${visibility}` : `new repositories in ${name} will be ${visibility}`);
    });
}

function registerToken(cmd: Command, ctx: AdminContext): void {
  cmd
    .command("create")
    .description("create an access token for CI, usable as a password; prints it alone on the last line")
    .addOption(new Option("--user <user>", "the user the token acts for").makeOptionMandatory())
    .addOption(
      new Option("--scope <REPO:ACTIONS>", "a repository and some of pull,push,delete (repeatable)")
        .argParser(collect)
        .default([] as string[]),
    )
    .option("--expires <duration>", "lifetime, e.g. 90m, 12h, 30d, 1y (default: none)")
    .action(async (opts) => {
      const [{ parseCredentialScope }, { parseExpiry }] = await Promise.all([
        tenancy(),
        import("../../server/auth/duration.js"),
      ]);
      const scopes = opts.scope.map(parseCredentialScope);
      const expires = opts.expires === undefined ? undefined : parseExpiry(opts.expires);
      const made = await withAdmin(ctx, (a) => a.createToken(opts.user, scopes, expires));
      const until = made.expiresAt === undefined ? "no expiry" : `expires ${new Date(made.expiresAt).toISOString()}`;
      out(
        ctx,
        `token ${made.id} for ${opts.user} (${scopes.map((s) => `${s.repository}:${s.actions.join(",")}`).join(" ")}; ${until}); shown only now:`,
      );
      out(ctx, made.token);
    });
  cmd
    .command("ls")
    .description("list a user's tokens (without their secrets)")
    .addOption(new Option("--user <user>", "whose tokens").makeOptionMandatory())
    .action(async (opts) => {
      const creds = await withAdmin(ctx, (a) => a.store.credentials(opts.user));
      for (const c of creds) {
        const scopes = c.scopes?.map((s) => `${s.repository}:${s.actions.join(",")}`).join(" ") ?? "(login)";
        const expiry = c.expiresAt === undefined ? "-" : new Date(c.expiresAt).toISOString();
        out(ctx, `${c.id}\t${c.kind}\t${scopes}\t${expiry}`);
      }
    });
  cmd
    .command("rm")
    .description("revoke a token (and the bearer tokens issued against it)")
    .argument("<id>", "token id (the 16 hex characters after berth_)")
    .action(async (id) => {
      await withAdmin(ctx, (a) => a.removeToken(id));
      out(ctx, `revoked token ${id}`);
    });
}

/**
 * The tenancy subcommands of `berth registry` (gc is the server's). The root is the group's own
 * `--root` (`berth registry --root DIR …`), else berth's global one.
 */
export function registerRegistryAdmin(registry: Command<[], { root?: string }>, cli: CliContext): void {
  // cli's properties through its prototype, not copied: a copy would read (and make) stdin now
  const ctx: AdminContext = Object.assign(Object.create(cli) as CliContext, {
    registryRoot: () => registry.opts().root ?? registryDefaultRoot(cli),
  });
  registerUser(registry.command("user").description("manage users"), ctx);
  registerOrg(registry.command("org").description("manage organisations and their members"), ctx);
  registerVisibility(registry.command("repo").description("manage repositories"), ctx, "repo");
  registerVisibility(registry.command("namespace").description("manage namespaces"), ctx, "namespace");
  registerToken(registry.command("token").description("manage access tokens for CI"), ctx);
}

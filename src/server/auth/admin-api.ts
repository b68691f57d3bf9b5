import type { IncomingMessage, ServerResponse } from "node:http";
import { BerthError } from "../../oci/errors.js";
import { z } from "../../oci/zod.js";
import { parseExpiry } from "./duration.js";
import { BodyTooLarge, readBody, sendError, sendJson } from "./http.js";
import { managesNamespace } from "./permissions.js";
import { parseCredentialScope, parseRole, parseVisibility, type TenancyAdmin } from "./tenancy-admin.js";

/**
 * The admin API: the `berth registry` commands over HTTP, under `/admin/v1/`. JSON in, JSON
 * out; errors are `{"errors":[{"code","message"}]}` with berth's error codes. The policy has
 * proved the caller (a password, not a robot token); here each route checks what the caller
 * may do: registry admins anything; a user their own password and access tokens, and the
 * settings of namespaces they manage (their own; organisations where they are admin).
 *
 *   GET    /admin/v1/users                               → [{name, admin}]
 *   POST   /admin/v1/users            {name, password?, admin?} → 201 {name, admin, password?}
 *   DELETE /admin/v1/users/NAME                          → 204
 *   PUT    /admin/v1/users/NAME/password {password}       → 204
 *   GET    /admin/v1/users/NAME/tokens                   → [{id, kind, scopes, expiresAt, createdAt}]
 *   POST   /admin/v1/orgs             {name}             → 201
 *   GET    /admin/v1/orgs/ORG/members                    → [{user, role}]
 *   PUT    /admin/v1/orgs/ORG/members/USER {role}        → 204
 *   DELETE /admin/v1/orgs/ORG/members/USER               → 204
 *   PUT    /admin/v1/namespaces/NS/visibility {visibility} → 204
 *   PUT    /admin/v1/repositories/NS/REPO/visibility {visibility} → 204
 *   POST   /admin/v1/tokens           {user, scopes: ["REPO:ACTIONS"], expires?: "30d"} → 201 {id, token, expiresAt}
 *   DELETE /admin/v1/tokens/ID                           → 204
 */

export const ADMIN_PREFIX = "/admin/v1/";

const STATUS: Partial<Record<BerthError["code"], number>> = { USAGE: 400, CONFLICT: 409, NOT_FOUND: 404 };

const userBody = z.strictObject({ name: z.string(), password: z.string().optional(), admin: z.boolean().optional() });
const passwordBody = z.strictObject({ password: z.string() });
const orgBody = z.strictObject({ name: z.string() });
const roleBody = z.strictObject({ role: z.string() });
const visibilityBody = z.strictObject({ visibility: z.string() });
const tokenBody = z.strictObject({
  user: z.string(),
  scopes: z.array(z.string()).min(1),
  expires: z.string().optional(),
});

async function json<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  let value: unknown;
  try {
    value = JSON.parse(await readBody(req));
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new BerthError("USAGE", err.message);
    throw new BerthError("USAGE", "the request body is not JSON: send a JSON object");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BerthError("USAGE", `invalid request body at "${issue?.path.join(".") ?? ""}": ${issue?.message}`);
  }
  return parsed.data;
}

/** The proven caller of an admin request. */
export interface AdminCaller {
  readonly name: string;
  readonly admin: boolean;
}

class Forbidden extends Error {}

/** Answers one admin request after checking the route is the caller's to use. */
export async function handleAdminRequest(
  admin: TenancyAdmin,
  caller: AdminCaller,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const onlyAdmins = () => {
    if (!caller.admin) throw new Forbidden("only registry admins may do this");
  };
  const self = (user: string) => {
    if (!caller.admin && user !== caller.name) throw new Forbidden(`only "${user}" or a registry admin may do this`);
  };
  const manager = async (namespace: string) => {
    const ns = await admin.store.namespace(namespace);
    const role = ns?.kind === "org" ? await admin.store.role(namespace, caller.name) : undefined;
    if (!managesNamespace(caller, ns, role)) {
      throw new Forbidden(`only those who manage "${namespace}" (its owner, its organisation's admins) may do this`);
    }
  };
  const url = new URL(req.url ?? "/", "http://localhost");
  let parts: string[];
  try {
    parts = url.pathname.slice(ADMIN_PREFIX.length).split("/").map(decodeURIComponent);
  } catch {
    return sendError(res, 400, "USAGE", `malformed percent-encoding in ${url.pathname.slice(0, 200)}`);
  }
  const route = `${req.method} ${parts[0] ?? ""}`;
  const n = parts.length;
  try {
    if (route === "GET users" && n === 1) {
      onlyAdmins();
      const users = await admin.store.users();
      return sendJson(
        res,
        200,
        users.map((u) => ({ name: u.name, admin: u.admin })),
      );
    }
    if (route === "POST users" && n === 1) {
      onlyAdmins();
      const body = await json(req, userBody);
      const made = await admin.addUser(body.name, { admin: body.admin ?? false, password: body.password });
      return sendJson(res, 201, { name: body.name, admin: body.admin ?? false, ...made });
    }
    if (route === "DELETE users" && n === 2) {
      onlyAdmins();
      await admin.removeUser(parts[1] as string);
      return done(res);
    }
    if (route === "PUT users" && n === 3 && parts[2] === "password") {
      self(parts[1] as string);
      await admin.setPassword(parts[1] as string, (await json(req, passwordBody)).password);
      return done(res);
    }
    if (route === "GET users" && n === 3 && parts[2] === "tokens") {
      self(parts[1] as string);
      const creds = await admin.store.credentials(parts[1] as string);
      return sendJson(
        res,
        200,
        creds.map((c) => ({
          id: c.id,
          kind: c.kind,
          scopes: c.scopes,
          expiresAt: c.expiresAt,
          createdAt: c.createdAt,
        })),
      );
    }
    if (route === "POST orgs" && n === 1) {
      onlyAdmins();
      const body = await json(req, orgBody);
      await admin.createOrg(body.name);
      return sendJson(res, 201, { name: body.name });
    }
    if (route === "GET orgs" && n === 3 && parts[2] === "members") {
      await manager(parts[1] as string);
      return sendJson(res, 200, await admin.store.members(parts[1] as string));
    }
    if (route === "PUT orgs" && n === 4 && parts[2] === "members") {
      await manager(parts[1] as string);
      const role = parseRole((await json(req, roleBody)).role);
      await admin.addMember(parts[1] as string, parts[3] as string, role);
      return done(res);
    }
    if (route === "DELETE orgs" && n === 4 && parts[2] === "members") {
      await manager(parts[1] as string);
      await admin.removeMember(parts[1] as string, parts[3] as string);
      return done(res);
    }
    if (route === "PUT namespaces" && n === 3 && parts[2] === "visibility") {
      await manager(parts[1] as string);
      const visibility = parseVisibility((await json(req, visibilityBody)).visibility);
      await admin.setNamespaceVisibility(parts[1] as string, visibility);
      return done(res);
    }
    if (route === "PUT repositories" && n >= 3 && parts[n - 1] === "visibility") {
      await manager(n === 3 ? "" : (parts[1] as string));
      const visibility = parseVisibility((await json(req, visibilityBody)).visibility);
      await admin.setRepositoryVisibility(parts.slice(1, -1).join("/"), visibility);
      return done(res);
    }
    if (route === "POST tokens" && n === 1) {
      const body = await json(req, tokenBody);
      self(body.user);
      const scopes = body.scopes.map(parseCredentialScope);
      const expires = body.expires === undefined ? undefined : parseExpiry(body.expires);
      const made = await admin.createToken(body.user, scopes, expires);
      return sendJson(res, 201, made);
    }
    if (route === "DELETE tokens" && n === 2) {
      const cred = await admin.store.credential(parts[1] as string);
      if (cred) self(cred.user);
      await admin.removeToken(parts[1] as string);
      return done(res);
    }
    sendError(res, 404, "NOT_FOUND", `no admin endpoint ${req.method} ${url.pathname}`);
  } catch (err) {
    if (err instanceof Forbidden) return sendError(res, 403, "DENIED", err.message);
    const status = err instanceof BerthError ? STATUS[err.code] : undefined;
    if (err instanceof BerthError && status !== undefined) return sendError(res, status, err.code, err.message);
    throw err;
  }
}

function done(res: ServerResponse): void {
  res.writeHead(204, { "Cache-Control": "no-store" });
  res.end();
}

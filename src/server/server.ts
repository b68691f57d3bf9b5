import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { type AccessPolicy, openAccess } from "./access.js";
import { BlobCache } from "./blob-cache.js";
import { deleteBlob, getBlob } from "./blob-handlers.js";
import type { BlobStorage } from "./blob-storage.js";
import type { Call, Registry } from "./call.js";
import { listCatalog, listReferrers, listTags } from "./discovery-handlers.js";
import { FsBlobStorage } from "./fs-blob-storage.js";
import { sendError, sendJson } from "./http.js";
import { deleteManifest, getManifest, putManifest } from "./manifest-handlers.js";
import type { RegistryMetadata } from "./metadata.js";
import { checkName } from "./names.js";
import { RegistryError } from "./registry-error.js";
import type { RequestLog } from "./request-log.js";
import { matchRoute, type Route } from "./routes.js";
import { bytesSentOutside } from "./send-file.js";
import { SqliteMetadata } from "./sqlite-metadata.js";
import { cancelUpload, patchUpload, putUpload, startUpload, uploadStatus } from "./upload-handlers.js";
import { Uploads } from "./uploads.js";

export interface RegistryOptions {
  /** Where blobs, uploads and registry.db live (the embedded default storage and metadata). */
  readonly root: string;
  /** Who may do what; the open registry when omitted. */
  readonly policy?: AccessPolicy;
  /** Other backends (S3, PostgreSQL) instead of the filesystem and SQLite under `root`. */
  readonly storage?: BlobStorage;
  readonly metadata?: RegistryMetadata;
  readonly log?: RequestLog;
}

export interface ListenOptions extends RegistryOptions {
  readonly host: string;
  readonly port: number;
}

export interface RunningRegistry {
  readonly server: http.Server;
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /**
   * Graceful stop: no new connections, idle ones closed, requests in flight get `graceMs` to
   * finish; whatever is still running then is cut (an upload cut keeps its bytes: resumable).
   */
  close(graceMs?: number): Promise<void>;
}

/** Opens the registry's storage and metadata and returns the request handler. */
export function createRegistry(options: RegistryOptions): { handler: http.RequestListener; registry: Registry } {
  const storage = options.storage ?? new FsBlobStorage(options.root);
  const metadata = options.metadata ?? SqliteMetadata.open(options.root);
  const registry: Registry = {
    storage,
    metadata,
    uploads: new Uploads(storage, metadata),
    policy: options.policy ?? openAccess,
    blobCache: new BlobCache(),
  };
  const log = options.log;
  const handler: http.RequestListener = (req, res) => {
    const started = performance.now();
    if (log) {
      // byte counts from the socket (headers included): a "data" listener would drain the body
      const socket = req.socket;
      const readBefore = socket.bytesRead;
      const writtenBefore = socket.bytesWritten;
      res.on("close", () => {
        log({
          time: new Date().toISOString(),
          method: req.method ?? "",
          path: req.url ?? "",
          status: res.statusCode,
          // sendfile's bytes go past node's count
          bytes: socket.bytesWritten - writtenBefore + (bytesSentOutside.get(res) ?? 0),
          bytesIn: socket.bytesRead - readBefore,
          ms: Math.round((performance.now() - started) * 100) / 100,
          remote: socket.remoteAddress,
          ...(res.writableFinished ? {} : { error: "connection closed before the answer was complete" }),
        });
      });
    }
    dispatch(registry, req, res).catch((err: unknown) => fail(res, err));
  };
  return { handler, registry };
}

/** Starts `berth serve`'s HTTP server. */
export async function startRegistry(options: ListenOptions): Promise<RunningRegistry> {
  const { handler, registry } = createRegistry(options);
  // 1 MiB socket buffers (node's default is 16 KiB): a blob stream writes 512 KiB pieces, and
  // with the default every piece waits for a drain before the next read is handed over
  const server = http.createServer({ keepAliveTimeout: 65_000, highWaterMark: 1 << 20 }, handler);
  // uploads of large layers take as long as they take; only the headers have a deadline
  server.requestTimeout = 0;
  // above keepAliveTimeout, as node advises, so an idle keep-alive connection is never cut by it
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: (graceMs = 10_000) => {
      closing ??= shutdown(server, registry, graceMs);
      return closing;
    },
  };
}

async function shutdown(server: http.Server, registry: Registry, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // keep-alive connections go idle as their requests finish: close them as they do
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearInterval(sweep);
  clearTimeout(timer);
  await registry.policy.close?.();
  await registry.metadata.close();
}

async function dispatch(registry: Registry, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const route = matchRoute(path);
  if (!route) {
    if (path === "/healthz") return health(registry, res);
    if (registry.policy.handle && (await registry.policy.handle(req, res))) return;
    throw new RegistryError("UNSUPPORTED", `no such endpoint: ${req.method} ${path.slice(0, 200)}`, { status: 404 });
  }
  // names are checked before auth: a malformed name reveals nothing and is always 400
  if (route.kind !== "base" && route.kind !== "catalog") checkName(route.name);
  const auth = await registry.policy.authenticate(req.headers.authorization);
  if (!auth.ok) {
    const challenge = registry.policy.challenge(scopesOf(route));
    throw new RegistryError("UNAUTHORIZED", auth.message, {
      ...(challenge !== undefined ? { headers: { "WWW-Authenticate": challenge } } : {}),
    });
  }
  const call: Call = {
    req,
    res,
    query: new URLSearchParams(q < 0 ? "" : url.slice(q + 1)),
    principal: auth.principal,
    registry,
  };
  const method = req.method ?? "GET";
  const read = method === "GET" || method === "HEAD";
  switch (route.kind) {
    case "base": {
      // end-1; in a mode with accounts, anonymous callers are sent to log in (how docker login learns the realm)
      const challenge = auth.principal.kind === "anonymous" ? registry.policy.challenge([]) : undefined;
      if (challenge !== undefined) {
        throw new RegistryError("UNAUTHORIZED", "authentication required", {
          headers: { "WWW-Authenticate": challenge },
        });
      }
      if (read) return sendJson(res, 200, {});
      break;
    }
    case "catalog":
      if (read) return listCatalog(call);
      break;
    case "tags":
      if (read) return listTags(call, route.name);
      break;
    case "referrers":
      if (read) return listReferrers(call, route.name, route.digest);
      break;
    case "manifest":
      if (read) return getManifest(call, route.name, route.reference);
      if (method === "PUT") return putManifest(call, route.name, route.reference);
      if (method === "DELETE") return deleteManifest(call, route.name, route.reference);
      break;
    case "blob":
      if (read) return getBlob(call, route.name, route.digest);
      if (method === "DELETE") return deleteBlob(call, route.name, route.digest);
      break;
    case "uploads":
      if (method === "POST") return startUpload(call, route.name);
      break;
    case "upload":
      if (method === "GET") return uploadStatus(call, route.name, route.id);
      if (method === "PATCH") return patchUpload(call, route.name, route.id);
      if (method === "PUT") return putUpload(call, route.name, route.id);
      if (method === "DELETE") return cancelUpload(call, route.name, route.id);
      break;
  }
  throw new RegistryError("UNSUPPORTED", `method ${method} is not allowed on ${path.slice(0, 200)}`);
}

/** The scopes a request needs, for the challenge of a 401. */
function scopesOf(route: Route): string[] {
  if (route.kind === "base") return [];
  if (route.kind === "catalog") return ["registry:catalog:*"];
  return [`repository:${route.name}:pull`];
}

async function health(registry: Registry, res: http.ServerResponse): Promise<void> {
  try {
    await registry.metadata.repositoryExists("");
    sendJson(res, 200, { status: "ok" });
  } catch (err) {
    sendJson(res, 503, { status: "unavailable", error: (err as Error).message });
  }
}

function fail(res: http.ServerResponse, err: unknown): void {
  if (res.headersSent) {
    // the answer was under way (a blob stream broke): all we can do is cut the connection
    res.destroy();
    return;
  }
  if (err instanceof RegistryError) {
    // a body the client is still sending would otherwise be read into the next request
    if (!res.req.complete) res.setHeader("Connection", "close");
    sendError(res, err);
    return;
  }
  if (isAborted(err)) {
    res.destroy();
    return;
  }
  res.setHeader("Connection", "close");
  process.stderr.write(`berth serve: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  // 5xx bodies are outside the spec's code list; Distribution answers UNKNOWN
  const message = (err as Error)?.message ?? String(err);
  sendJson(res, 500, { errors: [{ code: "UNKNOWN", message: "internal error", detail: message }] });
}

function isAborted(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || (err as Error)?.message === "aborted";
}

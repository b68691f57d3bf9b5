import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import * as zlib from "node:zlib";
import { pack } from "tar-stream";
import { BERTH, must, snapshotStore } from "./helpers.js";

/** A free loopback port (bound and released; good enough for tests on one machine). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

export interface RegistryOptions {
  /** The address it listens on (default 127.0.0.1). */
  address?: string;
  htpasswd?: string;
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  tls?: { cert: string; key: string };
}

/**
 * CNCF Distribution (Debian's docker-registry) on a loopback port, with its storage in `dir`
 * so that it can be killed (-9) and started again on the same data.
 */
export class Distribution {
  private proc: ChildProcess | undefined;
  readonly port: number;
  readonly dir: string;
  readonly logPath: string;

  private constructor(
    dir: string,
    port: number,
    private readonly opts: RegistryOptions,
  ) {
    this.dir = dir;
    this.port = port;
    this.logPath = join(dir, "registry.log");
  }

  static async start(dir: string, opts: RegistryOptions = {}): Promise<Distribution> {
    const reg = new Distribution(dir, await freePort(), opts);
    await reg.restart();
    return reg;
  }

  get host(): string {
    return `${this.address}:${this.port}`;
  }

  get address(): string {
    return this.opts.address ?? "127.0.0.1";
  }

  private config(): string {
    const lines = [
      "version: 0.1",
      "log:",
      "  level: info",
      "  accesslog:",
      "    disabled: false",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(this.dir, "data")}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: ${this.address}:${this.port}`,
      // a fixed secret: upload locations stay valid across a restart (resumable uploads)
      "  secret: berth-registry-client-tests",
    ];
    if (this.opts.tls) lines.push("  tls:", `    certificate: ${this.opts.tls.cert}`, `    key: ${this.opts.tls.key}`);
    if (this.opts.htpasswd) {
      lines.push("auth:", "  htpasswd:", "    realm: berth-test", `    path: ${this.opts.htpasswd}`);
    } else if (this.opts.token) {
      const t = this.opts.token;
      lines.push(
        "auth:",
        "  token:",
        `    realm: ${t.realm}`,
        `    service: ${t.service}`,
        `    issuer: ${t.issuer}`,
        `    rootcertbundle: ${t.rootCertBundle}`,
      );
    }
    return `${lines.join("\n")}\n`;
  }

  async restart(): Promise<void> {
    const cfg = join(this.dir, "config.yml");
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(cfg, this.config());
    const log = fs.openSync(this.logPath, "a");
    this.proc = spawn("/usr/bin/docker-registry", ["serve", cfg], { stdio: ["ignore", log, log] });
    fs.closeSync(log);
    for (let i = 0; i < 200; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const s = net.connect(this.port, this.address);
        s.on("connect", () => {
          s.destroy();
          resolve(true);
        });
        s.on("error", () => resolve(false));
      });
      if (up) return;
      if (this.proc.exitCode !== null)
        throw new Error(`registry exited: ${fs.readFileSync(this.logPath, "utf8").slice(-2000)}`);
      await sleep(25);
    }
    throw new Error("registry did not start");
  }

  /** kill -9: the registry dies mid-request, as in a crash. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await gone;
  }

  async stop(): Promise<void> {
    await this.kill();
  }

  /** Access-log lines (method and path) since the start. */
  requests(): string[] {
    const text = fs.existsSync(this.logPath) ? fs.readFileSync(this.logPath, "utf8") : "";
    return [...text.matchAll(/"(GET|HEAD|POST|PUT|PATCH|DELETE) ([^ ]+) HTTP/g)].map((m) => `${m[1]} ${m[2]}`);
  }
}

export function htpasswdFile(dir: string, user: string, password: string): string {
  const path = join(dir, "htpasswd");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path, must("htpasswd", ["-Bbn", user, password]));
  return path;
}

/** A test CA and a server certificate for 127.0.0.1, localhost and `ips`, made with openssl. */
export function makeTlsFiles(dir: string, ips: readonly string[] = []): { ca: string; cert: string; key: string } {
  fs.mkdirSync(dir, { recursive: true });
  const p = (n: string) => join(dir, n);
  must("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=berth test CA",
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.crt"),
  ]);
  must("openssl", [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    p("server.key"),
    "-out",
    p("server.csr"),
  ]);
  const sans = ["IP:127.0.0.1", "DNS:localhost", ...ips.map((ip) => `IP:${ip}`)].join(",");
  fs.writeFileSync(p("ext.cnf"), `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
  must("openssl", [
    "x509",
    "-req",
    "-in",
    p("server.csr"),
    "-CA",
    p("ca.crt"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    p("ext.cnf"),
    "-out",
    p("server.crt"),
  ]);
  return { ca: p("ca.crt"), cert: p("server.crt"), key: p("server.key") };
}

export interface ProxyHooks {
  /** Called per request before it is forwarded; may answer itself (return true). */
  onRequest?: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => boolean;
  /** May change each chunk of a response body (flip a byte). */
  transformBody?: (req: http.IncomingMessage, chunk: Buffer, offset: number) => Buffer;
  /** Sees every entry as its bytes move and when its response ends (to kill the registry at a chosen moment). */
  onProgress?: (entry: ProxyEntry, phase: "request-data" | "response-data" | "response-end") => void;
}

export interface ProxyEntry {
  method: string;
  url: string;
  status: number;
  sent: number;
  received: number;
  range?: string;
  /** The request's Connection header: berth's direct blob GETs (direct-get.ts) say "close". */
  connection?: string;
}

/**
 * A counting HTTP proxy in front of a registry (it rewrites nothing but what hooks ask):
 * it records each request and the bytes of request and response bodies, so a test can tell
 * what a rerun sent again.
 */
export class CountingProxy {
  readonly log: ProxyEntry[] = [];
  private server: http.Server;
  port = 0;

  constructor(
    private readonly target: number,
    public hooks: ProxyHooks = {},
  ) {
    let n = 0;
    this.server = http.createServer((req, res) => {
      n++;
      if (this.hooks.onRequest?.(req, res, n)) return;
      const entry = {
        method: req.method ?? "",
        url: req.url ?? "",
        status: 0,
        sent: 0,
        received: 0,
        ...(req.headers.range ? { range: req.headers.range } : {}),
        ...(req.headers.connection ? { connection: req.headers.connection } : {}),
      };
      this.log.push(entry);
      const up = http.request(
        { host: "127.0.0.1", port: this.target, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          entry.status = upRes.statusCode ?? 0;
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          let offset = 0;
          upRes.on("data", (c: Buffer) => {
            const out = this.hooks.transformBody ? this.hooks.transformBody(req, c, offset) : c;
            offset += c.length;
            entry.received += c.length;
            this.hooks.onProgress?.(entry, "response-data");
            if (!res.write(out)) {
              upRes.pause();
              res.once("drain", () => upRes.resume());
            }
          });
          upRes.on("end", () => {
            // the hook first: a registry killed here dies before the client hears the answer
            this.hooks.onProgress?.(entry, "response-end");
            res.end();
          });
          upRes.on("error", () => res.destroy());
          upRes.on("aborted", () => res.destroy());
        },
      );
      up.on("error", () => {
        // the registry died: break the client's connection too, as the real one would
        res.destroy();
        req.socket.destroy();
      });
      req.on("data", (c: Buffer) => {
        entry.sent += c.length;
        this.hooks.onProgress?.(entry, "request-data");
      });
      req.pipe(up);
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  bytesSent(): number {
    return this.log.reduce((s, e) => s + e.sent, 0);
  }

  bytesReceived(filter: (e: ProxyEntry) => boolean = () => true): number {
    return this.log.filter(filter).reduce((s, e) => s + e.received, 0);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/**
 * An OCI layout tar with one image of `layers` layers, each a tar holding one file of
 * `layerBytes` random bytes (so nothing compresses away), gzip'd when asked. Returns the
 * tar's path; `berth load` reads it.
 */
export async function randomImageArchive(
  dir: string,
  opts: { name: string; layers: number; layerBytes: number; architecture?: string; gzip?: boolean },
): Promise<string> {
  const blobs = new Map<string, Buffer>();
  const put = (bytes: Buffer) => {
    const d = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    blobs.set(d, bytes);
    return d;
  };
  const layerDescs: { mediaType: string; digest: string; size: number }[] = [];
  const diffIds: string[] = [];
  for (let i = 0; i < opts.layers; i++) {
    const layer = await tarOf({ [`layer${i}.bin`]: randomBytes(opts.layerBytes) });
    const blob = opts.gzip ? zlib.gzipSync(layer) : layer;
    const d = put(blob);
    const mediaType = `application/vnd.oci.image.layer.v1.tar${opts.gzip ? "+gzip" : ""}`;
    layerDescs.push({ mediaType, digest: d, size: blob.length });
    diffIds.push(`sha256:${createHash("sha256").update(layer).digest("hex")}`);
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.architecture ?? "amd64",
      os: "linux",
      config: { Cmd: ["/bin/sh"] },
      rootfs: { type: "layers", diff_ids: diffIds },
    }),
  );
  const configDigest = put(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: layerDescs,
    }),
  );
  const manifestDigest = put(manifest);
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: manifestDigest,
        size: manifest.length,
        annotations: { "io.containerd.image.name": opts.name },
      },
    ],
  };
  const files: Record<string, Buffer> = {
    "oci-layout": Buffer.from('{"imageLayoutVersion":"1.0.0"}'),
    "index.json": Buffer.from(JSON.stringify(index)),
  };
  for (const [d, b] of blobs) files[`blobs/sha256/${d.slice(7)}`] = b;
  const out = join(dir, `${opts.name.replace(/[/:]/g, "_")}.tar`);
  fs.writeFileSync(out, await tarOf(files));
  return out;
}

export async function tarOf(files: Record<string, Buffer>): Promise<Buffer> {
  const p = pack();
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => sink.on("end", r));
  p.pipe(sink);
  for (const [name, body] of Object.entries(files)) {
    await new Promise<void>((resolve, reject) =>
      p.entry({ name, size: body.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }, body, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/**
 * berth as a child process without blocking this one: the token server and the proxies of
 * these tests live in the test process and must keep answering while berth runs.
 */
export function berthAsync(
  root: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<{ code: number; stdout: string; stderr: string; signal?: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BERTH, "--root", root, ...args], {
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdin.end(opts.input ?? "");
    opts.onSpawn?.(child);
    child.on("close", (code, signal) => resolve({ code: code ?? -1, stdout, stderr, signal }));
  });
}

/** The command's stdout, after checking that it succeeded (its output in the message when not). */
export function ok(r: { code: number; stdout: string; stderr: string }, what: string): string {
  assert.equal(r.code, 0, `${what} failed: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/**
 * Distribution on `dir`/registry serving TLS with a certificate from a test CA (made in
 * `dir`/pki), stopped when the test ends. `trust()` puts the CA in `certsD` (`dir`/certs.d, the
 * layout of docker's /etc/docker/certs.d, which berth reads through BERTH_CERTS_D).
 */
export async function tlsDistribution(
  t: TestContext,
  dir: string,
  opts: Omit<RegistryOptions, "tls"> = {},
): Promise<{ reg: Distribution; ca: string; certsD: string; trust: () => void }> {
  const files = makeTlsFiles(join(dir, "pki"), opts.address ? [opts.address] : []);
  const reg = await Distribution.start(join(dir, "registry"), { ...opts, tls: { cert: files.cert, key: files.key } });
  t.after(() => reg.stop());
  const certsD = join(dir, "certs.d");
  const trust = () => {
    fs.mkdirSync(join(certsD, reg.host), { recursive: true });
    fs.copyFileSync(files.ca, join(certsD, reg.host, "ca.crt"));
  };
  return { reg, ca: files.ca, certsD, trust };
}

/** Distribution on `dir`/registry behind a counting proxy; both stop when the test ends. */
export async function proxiedDistribution(
  t: TestContext,
  dir: string,
): Promise<{ reg: Distribution; proxy: CountingProxy }> {
  const reg = await Distribution.start(join(dir, "registry"));
  const proxy = await new CountingProxy(reg.port).listen();
  t.after(async () => {
    await proxy.close();
    await reg.stop();
  });
  return { reg, proxy };
}

/**
 * Test options for what needs push's lent PATCH (registry-client/direct-upload.ts): it frames
 * stored members with zlib.crc32, node 20.15's; without it a push streams through undici.
 */
export const LENT_PATCH = {
  skip: typeof zlib.crc32 === "function" ? false : "node before 20.15 has no zlib.crc32: no lent PATCH",
};

/** A GET of `path` from the registry itself, over plain HTTP (no proxy, no berth): the body of a 200. */
export async function registryGet(port: number, path: string, accept?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, headers: accept ? { accept } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(Buffer.concat(chunks))
            : reject(new Error(`${path}: HTTP ${res.statusCode}`)),
        );
      })
      .on("error", reject);
  });
}

/** Proxy hooks that answer every PATCH 403 DENIED, before reading its body, as a registry refusing a push does. */
export const denyPatches: ProxyHooks = {
  onRequest: (req, res) => {
    if (req.method !== "PATCH") return false;
    res.writeHead(403, { "content-type": "application/json" });
    res.end(JSON.stringify({ errors: [{ code: "DENIED", message: "requested access to the resource is denied" }] }));
    req.socket.on("error", () => undefined);
    return true;
  },
};

/** A push the registry refuses: one line naming DENIED, a non-zero exit, and the store as it was. */
export async function assertPushDenied(root: string, image: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const before = snapshotStore(root);
  const r = await berthAsync(root, ["push", image], { env });
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] ?? "", /DENIED/);
  assert.equal(snapshotStore(root), before);
}

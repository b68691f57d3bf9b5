import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import { join } from "node:path";
import { request } from "undici";
import { BERTH } from "./helpers.js";
import { freePort } from "./server-auth-harness.js";

/**
 * A real `berth serve` (open mode) on loopback for the registry tests, and raw HTTP helpers:
 * most API checks need exact statuses and headers, which a client library would hide.
 */
export interface OpenServer {
  readonly root: string;
  readonly base: string;
  /** `127.0.0.1:PORT`, as image references name it. */
  readonly host: string;
  readonly proc: ChildProcess;
  output(): string;
  /** SIGTERM (graceful) and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: a crash. */
  kill(): Promise<void>;
}

export async function startServer(root: string, args: readonly string[] = [], port?: number): Promise<OpenServer> {
  const p = port ?? (await freePort());
  const host = `127.0.0.1:${p}`;
  const proc = spawn(process.execPath, [BERTH, "serve", "--addr", host, "--root", root, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const collect = (d: Buffer) => {
    out += d.toString();
  };
  proc.stdout?.on("data", collect);
  proc.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const base = `http://${host}`;
  for (const deadline = Date.now() + 20_000; ; ) {
    if (proc.exitCode !== null) throw new Error(`berth serve exited ${proc.exitCode}: ${out}`);
    const ok = await request(`${base}/healthz`).then(
      async (r) => {
        await r.body.dump();
        return r.statusCode === 200;
      },
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`berth serve did not answer: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    root,
    base,
    host,
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      return exited;
    },
    kill: async () => {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  json<T = unknown>(): T;
  /** The spec error codes of an error body. */
  codes(): string[];
}

export async function call(
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Reply> {
  const r = await request(url, {
    method: method as "GET",
    headers: options.headers ?? {},
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const body = Buffer.from(await r.body.arrayBuffer());
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) headers[k] = Array.isArray(v) ? v.join(", ") : String(v);
  return {
    status: r.statusCode,
    headers,
    body,
    json: <T>() => JSON.parse(body.toString()) as T,
    codes: () => {
      try {
        return (JSON.parse(body.toString()) as { errors: { code: string }[] }).errors.map((e) => e.code);
      } catch {
        return [];
      }
    },
  };
}

/** A request whose path is sent exactly as written (URL parsers would resolve `..` away). */
export function rawCall(base: string, method: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => {
        body += d.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export function sha512(data: Buffer | string): string {
  return `sha512:${createHash("sha512").update(data).digest("hex")}`;
}

/** Uploads a blob in one POST (end-4b); returns its digest. */
export async function putBlob(base: string, name: string, bytes: Buffer | string): Promise<string> {
  const digest = sha256(bytes);
  const r = await call("POST", `${base}/v2/${name}/blobs/uploads/?digest=${digest}`, {
    headers: { "content-type": "application/octet-stream" },
    body: bytes,
  });
  if (r.status !== 201) throw new Error(`blob upload to ${name}: ${r.status} ${r.body}`);
  return digest;
}

export interface TestImage {
  readonly config: Buffer;
  readonly layers: Buffer[];
  readonly manifest: Buffer;
  readonly digest: string;
}

/** A synthetic OCI image: a config and random layers; `extra` goes into the manifest. */
export function testImage(layerSizes: readonly number[] = [1000], extra: Record<string, unknown> = {}): TestImage {
  const layers = layerSizes.map((n) => randomBytes(n));
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: layers.map((l) => sha256(l)) },
      nonce: randomBytes(8).toString("hex"),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        digest: sha256(l),
        size: l.length,
      })),
      ...extra,
    }),
  );
  return { config, layers, manifest, digest: sha256(manifest) };
}

/** Pushes blobs then the manifest under `ref`; returns the manifest PUT's reply. */
export async function pushImage(base: string, name: string, ref: string, image: TestImage): Promise<Reply> {
  for (const blob of [image.config, ...image.layers]) await putBlob(base, name, blob);
  return call("PUT", `${base}/v2/${name}/manifests/${ref}`, {
    headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
    body: image.manifest,
  });
}

/** Blob files under a registry root whose bytes do not hash to their name: must stay empty. */
export function corruptRegistryBlobs(root: string): string[] {
  const bad: string[] = [];
  for (const algorithm of ["sha256", "sha512"]) {
    const dir = join(root, "blobs", algorithm);
    for (const prefix of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      for (const hex of fs.readdirSync(join(dir, prefix))) {
        const actual = createHash(algorithm)
          .update(fs.readFileSync(join(dir, prefix, hex)))
          .digest("hex");
        if (actual !== hex) bad.push(`${algorithm}:${hex}`);
      }
    }
  }
  return bad;
}

/** How many blob files a registry root holds. */
export function countRegistryBlobs(root: string): number {
  let n = 0;
  for (const algorithm of ["sha256", "sha512"]) {
    const dir = join(root, "blobs", algorithm);
    for (const prefix of fs.existsSync(dir) ? fs.readdirSync(dir) : []) n += fs.readdirSync(join(dir, prefix)).length;
  }
  return n;
}

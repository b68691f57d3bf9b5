import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer } from "node:net";
import { BERTH, type Run } from "./helpers.js";

/**
 * A real `berth serve --auth token` on loopback for the tenancy tests, and small protocol
 * helpers (tokens, a synthetic image pushed over raw HTTP) so most checks need no other client.
 */

export interface Served {
  readonly root: string;
  /** `127.0.0.1:PORT` */
  readonly host: string;
  readonly base: string;
  readonly proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Starts the server and waits until `/v2/` answers. */
export async function serve(
  root: string,
  env: Record<string, string> = {},
  args: string[] = [],
  port?: number,
): Promise<Served> {
  port ??= await freePort();
  const host = `127.0.0.1:${port}`;
  const proc = spawn(process.execPath, [BERTH, "serve", "--addr", host, "--root", root, "--auth", "token", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let output = "";
  proc.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const base = `http://${host}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`berth serve exited ${proc.exitCode}: ${output}`);
    try {
      await fetch(`${base}/v2/`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`berth serve did not answer: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    root,
    host,
    base,
    proc,
    log: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
  };
}

/** `berth registry --root ROOT …` (the admin CLI, against the running server's data). */
export function registry(root: string, args: readonly string[], input = ""): Run {
  const r = spawnSync(process.execPath, [BERTH, "registry", "--root", root, ...args], { input });
  return { code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** A bearer token from the server's token endpoint (anonymous without credentials). */
export async function bearer(s: Served, scopes: readonly string[], authorization?: string): Promise<string> {
  const q = new URLSearchParams({ service: s.host });
  for (const sc of scopes) q.append("scope", sc);
  const res = await fetch(`${s.base}/token?${q}`, { headers: authorization ? { authorization } : {} });
  if (res.status !== 200) throw new Error(`token endpoint: ${res.status} ${await res.text()}`);
  return `Bearer ${((await res.json()) as { token: string }).token}`;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export interface PushedImage {
  readonly config: string;
  readonly layer: string;
  readonly manifest: string;
  readonly manifestBytes: Buffer;
}

/** A small synthetic image: one layer of `seed`'s bytes, a config, an OCI manifest. */
export function syntheticImage(seed: string) {
  const layer = Buffer.from(`layer of ${seed}\n`.repeat(20));
  const config = Buffer.from(
    JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256(layer)] } }),
  );
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256(layer), size: layer.length }],
    }),
  );
  return {
    layer,
    config,
    manifestBytes,
    digests: { layer: sha256(layer), config: sha256(config), manifest: sha256(manifestBytes) },
  };
}

/** Pushes `syntheticImage(seed)` to `name:tag` with monolithic uploads; throws on any failure. */
export async function pushSynthetic(
  s: Served,
  name: string,
  tag: string,
  authorization: string,
  seed = name,
): Promise<PushedImage> {
  const img = syntheticImage(seed);
  for (const blob of [img.layer, img.config]) {
    const start = await fetch(`${s.base}/v2/${name}/blobs/uploads/`, { method: "POST", headers: { authorization } });
    if (start.status !== 202) throw new Error(`upload start ${name}: ${start.status} ${await start.text()}`);
    const location = new URL(start.headers.get("location") as string, s.base);
    location.searchParams.set("digest", sha256(blob));
    const put = await fetch(location, {
      method: "PUT",
      headers: { authorization, "content-type": "application/octet-stream" },
      body: blob,
    });
    if (put.status !== 201) throw new Error(`upload ${name}: ${put.status} ${await put.text()}`);
  }
  const res = await fetch(`${s.base}/v2/${name}/manifests/${tag}`, {
    method: "PUT",
    headers: { authorization, "content-type": "application/vnd.oci.image.manifest.v1+json" },
    body: img.manifestBytes,
  });
  if (res.status !== 201) throw new Error(`manifest ${name}:${tag}: ${res.status} ${await res.text()}`);
  return { ...img.digests, manifestBytes: img.manifestBytes };
}

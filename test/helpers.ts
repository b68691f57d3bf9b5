import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Database from "better-sqlite3";

export const REPO = resolve(import.meta.dirname, "..");
export const BERTH = join(REPO, "bin", "berth");
/** The Debian docker client (20.10, with BuildKit); /usr/local/bin/docker lacks buildx. */
export const DOCKER = "/usr/bin/docker";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const madeDirs: string[] = [];

/** A fresh directory under the system temp dir, removed when the test process exits
 * (BERTH_KEEP_TEMP=1 keeps them, to look at a failure). */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
  if (madeDirs.length === 0 && !process.env.BERTH_KEEP_TEMP) process.on("exit", removeMadeDirs);
  madeDirs.push(dir);
  return dir;
}

// A test that failed midway can leave a container's rootfs or a bind mount under its
// directory; removing through a mount would reach whatever is mounted there (a host path
// for -v), so a directory with anything mounted beneath it is left in place.
function removeMadeDirs(): void {
  let mounts: string[] = [];
  try {
    mounts = fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4] ?? "")
      .filter((m) => m.startsWith(tmpdir()));
  } catch {
    return;
  }
  for (const dir of madeDirs) {
    if (mounts.some((m) => m === dir || m.startsWith(`${dir}/`))) continue;
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // a file a container left without write permission to its parent: leave it
    }
  }
}

/** Runs the real berth CLI against `root`. */
export function berth(
  root: string,
  args: readonly string[],
  opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {},
): Run {
  const r = spawnSync(process.execPath, [BERTH, "--root", root, ...args], {
    input: opts.input ?? "",
    env: { ...process.env, ...opts.env },
    maxBuffer: 1 << 30,
  });
  return { code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** The same, without blocking the test process (for concurrency and kill tests). */
export function berthSpawn(root: string, args: readonly string[]) {
  return spawn(process.execPath, [BERTH, "--root", root, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

export function sh(cmd: string, args: readonly string[], opts: { input?: string | Buffer; cwd?: string } = {}): Run {
  const r = spawnSync(cmd, args, { input: opts.input ?? "", cwd: opts.cwd, maxBuffer: 1 << 30 });
  return {
    code: r.status ?? -1,
    stdout: r.stdout?.toString() ?? "",
    stderr: r.stderr?.toString() ?? String(r.error ?? ""),
  };
}

/** Runs a command and throws with its stderr when it fails. */
export function must(
  cmd: string,
  args: readonly string[],
  opts: { input?: string | Buffer; cwd?: string } = {},
): string {
  const r = sh(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Makes sure a Docker engine answers (starting one if needed, as CI starts with none). */
export function ensureDocker(): void {
  execFileSync("bash", [join(REPO, "scripts", "start-dockerd.sh")], { stdio: "inherit" });
}

/**
 * A small root file system from busybox-static: /bin/busybox with a few applet links, /etc
 * files, a hardlink and a symlink, so sizes exercise docker's counting rules. Returns the
 * path of a tar of it.
 */
export function busyboxRootfsTar(dir: string, extra: Record<string, string> = {}): string {
  const rootfs = join(dir, "rootfs");
  fs.mkdirSync(join(rootfs, "bin"), { recursive: true });
  fs.mkdirSync(join(rootfs, "etc"), { recursive: true });
  fs.mkdirSync(join(rootfs, "tmp"), { recursive: true });
  fs.copyFileSync("/bin/busybox", join(rootfs, "bin", "busybox"));
  fs.chmodSync(join(rootfs, "bin", "busybox"), 0o755);
  for (const applet of ["sh", "ls", "cat", "echo", "true"]) fs.symlinkSync("busybox", join(rootfs, "bin", applet));
  fs.writeFileSync(join(rootfs, "etc", "hello"), "hello from berth\n");
  fs.linkSync(join(rootfs, "etc", "hello"), join(rootfs, "etc", "hello-link"));
  for (const [name, text] of Object.entries(extra)) {
    fs.mkdirSync(join(rootfs, name, ".."), { recursive: true });
    fs.writeFileSync(join(rootfs, name), text);
  }
  return tarDirectory(rootfs, join(dir, "rootfs.tar"));
}

/** A tar of a directory with normalised metadata: sorted names, mtime 0, owned by root. */
export function tarDirectory(dir: string, out: string): string {
  must("tar", ["-C", dir, "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-cf", out, "."]);
  return out;
}

/**
 * Everything a user could observe of a store, as text: every blob's name and hash, index.json,
 * and the rows of the metadata tables. Two equal snapshots mean nothing was lost or changed.
 */
export function snapshotStore(root: string): string {
  const lines: string[] = [];
  const blobs = join(root, "blobs", "sha256");
  for (const name of fs.existsSync(blobs) ? fs.readdirSync(blobs).sort() : []) {
    const hash = createHash("sha256")
      .update(fs.readFileSync(join(blobs, name)))
      .digest("hex");
    lines.push(`blob ${name} ${hash}`);
  }
  for (const f of ["index.json", "oci-layout"]) {
    const p = join(root, f);
    lines.push(`${f} ${fs.existsSync(p) ? fs.readFileSync(p, "utf8") : "<missing>"}`);
  }
  const dbPath = join(root, "berth.db");
  if (fs.existsSync(dbPath)) {
    const db = new Database(dbPath, { readonly: true });
    for (const table of ["images", "tags", "repo_digests", "image_blobs", "image_layers", "layers", "containers"]) {
      for (const row of db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all())
        lines.push(`${table} ${JSON.stringify(row)}`);
    }
    db.close();
  }
  return lines.join("\n");
}

/** Blob files whose bytes do not hash to their name: must always be empty. */
export function corruptBlobs(root: string): string[] {
  const bad: string[] = [];
  const blobs = join(root, "blobs", "sha256");
  for (const name of fs.existsSync(blobs) ? fs.readdirSync(blobs) : []) {
    const hash = createHash("sha256")
      .update(fs.readFileSync(join(blobs, name)))
      .digest("hex");
    if (hash !== name) bad.push(name);
  }
  return bad;
}

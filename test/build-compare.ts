/**
 * Helpers for the differential build corpus (test/build-corpus.test.ts): offline base images,
 * the cases and their contexts, docker and berth builds, and the comparison of two images by
 * what a user can observe of them: their files, their config and their layer count.
 *
 * Normalisations, each one the only thing ignored of its kind:
 * - mtimes of files and directories (the issue sets them aside; docker stamps build time).
 * - a layer's own bookkeeping: the order of entries inside a layer, which layer a file came
 *   from, directory entries a layer repeats unchanged from below (docker writes a directory
 *   again when only its mtime changed), and whether a hardlink is written as the first or the
 *   second name. Only the flattened result is compared, as a container sees it.
 * - config fields as dockerd decodes them: an absent string equals "", an absent list or map
 *   equals null, an absent number equals 0 (Go's zero values; `docker inspect` shows no
 *   difference). An empty list or map stays different from null, as `docker inspect` shows it.
 * Nothing else is normalised: differences that are docker's quirks are listed by the corpus's
 * author for the lead to decide, not hidden here.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join, posix } from "node:path";
import { gunzipSync } from "node:zlib";
import { extract, type Header } from "tar-stream";
import { z } from "zod";
import { BERTH, busyboxRootfsTar, DOCKER, must, REPO, tarDirectory } from "./helpers.js";

export const CORPUS = join(REPO, "test", "build-corpus");
/** The base most cases build on: busybox-static with the applets the cases use, and PATH set. */
export const BASE = "berth-corpus/busybox:1";
/** helpers.ts's plain busybox rootfs, imported with no config at all (no Env, no /dev). */
export const BARE = "berth-corpus/bare:1";
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// ---------------------------------------------------------------------------------------------
// Processes

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop, so several builds can run at once. */
export function exec(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 180_000);
    child.on("error", (e) => err.push(Buffer.from(String(e))));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString();
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: signal ? `${stderr}\n(killed by ${signal})` : stderr,
      });
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** At most `n` of the functions given to the returned runner are in flight at once. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Base images, made offline

const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "app:x:1234:2345:app user:/home/app:/bin/sh",
  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
  "",
].join("\n");
const GROUP = ["root:x:0:", "staff:x:50:app", "app:x:2345:", "nogroup:x:65534:", ""].join("\n");

/** The busybox applets RUN steps in the corpus call, as links to /bin/busybox. */
const APPLETS = [
  "[",
  "basename",
  "chmod",
  "chown",
  "cp",
  "cut",
  "dirname",
  "env",
  "false",
  "find",
  "grep",
  "head",
  "id",
  "ln",
  "mkdir",
  "mv",
  "printf",
  "pwd",
  "readlink",
  "rm",
  "rmdir",
  "sed",
  "sha256sum",
  "sleep",
  "sort",
  "stat",
  "test",
  "touch",
  "tr",
  "wc",
  "xargs",
];

function tarTree(rootfs: string, out: string): void {
  tarDirectory(rootfs, out); // helpers.ts's normalisation
}

/**
 * The corpus's rootfs: helpers.ts's busybox tree (busybox, sh/ls/cat/echo/true, /etc/hello and
 * its hard link) extended with more applets, users and groups for --chown and USER, the
 * directories a real base has (/dev, /proc, /sys, /root, /mnt, /var/cache), /tmp with its
 * sticky bit, an existing directory tree under /opt and a symlink to it (for COPY onto
 * existing paths). Returns the path of the tar.
 */
export function corpusRootfsTar(dir: string): string {
  busyboxRootfsTar(dir, {
    "etc/passwd": PASSWD,
    "etc/group": GROUP,
    "opt/existing/base.txt": "from the base image\n",
    "opt/existing/sub/deep.txt": "deep in the base image\n",
  });
  const rootfs = join(dir, "rootfs");
  for (const applet of APPLETS) {
    const link = join(rootfs, "bin", applet);
    if (!fs.existsSync(link)) fs.symlinkSync("busybox", link);
  }
  for (const d of ["dev", "proc", "sys", "root", "mnt", "var/cache", "home", "usr/local/bin"])
    fs.mkdirSync(join(rootfs, d), { recursive: true });
  for (const d of ["", "bin", "etc", "opt", "opt/existing", "opt/existing/sub", "dev", "proc", "sys", "mnt"])
    fs.chmodSync(join(rootfs, d), 0o755);
  for (const d of ["var", "var/cache", "home", "usr", "usr/local", "usr/local/bin"])
    fs.chmodSync(join(rootfs, d), 0o755);
  fs.chmodSync(join(rootfs, "tmp"), 0o1777);
  fs.chmodSync(join(rootfs, "root"), 0o700);
  fs.symlinkSync("opt/existing", join(rootfs, "linkdir"));
  const tar = join(dir, "corpus-rootfs.tar");
  tarTree(rootfs, tar);
  return tar;
}

function sha256File(path: string): string {
  return `sha256:${createHash("sha256").update(fs.readFileSync(path)).digest("hex")}`;
}

/**
 * Imports `tar` into docker as `ref` unless docker already has exactly that image (same single
 * layer, same Env), so docker's build cache survives between runs of the corpus.
 */
function dockerImportOnce(tar: string, ref: string, changes: readonly string[], env: string[] | null): void {
  const diffId = sha256File(tar);
  if (must(DOCKER, ["image", "ls", "-q", ref]).trim()) {
    const [layers = "null", haveEnv = "null"] = must(DOCKER, [
      "image",
      "inspect",
      "--format",
      "{{json .RootFS.Layers}}\n{{json .Config.Env}}",
      ref,
    ]).split("\n");
    if (layers === JSON.stringify([diffId]) && haveEnv === JSON.stringify(env)) return;
  }
  must(DOCKER, ["import", ...changes.flatMap((c) => ["--change", c]), tar, ref]);
}

/**
 * Makes both bases in docker (docker import) and returns a `docker save` archive of them, which
 * `berth load` takes, so both sides build on images with the same IDs.
 */
export function makeBases(dir: string): string {
  const full = corpusRootfsTar(join(dir, "base"));
  dockerImportOnce(full, BASE, [`ENV PATH=${DEFAULT_PATH}`], [`PATH=${DEFAULT_PATH}`]);
  const bare = busyboxRootfsTar(join(dir, "bare"));
  dockerImportOnce(bare, BARE, [], null);
  const out = join(dir, "bases.tar");
  must(DOCKER, ["save", "-o", out, BASE, BARE]);
  return out;
}

/** The image ID docker gives a reference. */
export function dockerImageId(ref: string): string {
  return must(DOCKER, ["image", "inspect", "--format", "{{.Id}}", ref]).trim();
}

// ---------------------------------------------------------------------------------------------
// Cases

const CaseJson = z.strictObject({
  /** --build-arg K=V, in this order */
  buildArgs: z.record(z.string(), z.string()).optional(),
  /** --target */
  target: z.string().optional(),
  /** -f, relative to the case folder (passed to both builders as an absolute path) */
  dockerfile: z.string().optional(),
  /** --label K=V */
  labels: z.record(z.string(), z.string()).optional(),
  /** --no-cache */
  noCache: z.boolean().optional(),
  /** -q */
  quiet: z.boolean().optional(),
  /** Context set-up git cannot hold: octal modes (setuid, sticky, 0444 …), path → mode. */
  modes: z.record(z.string(), z.string().regex(/^[0-7]{3,4}$/)).optional(),
  /** Hard links, new path → existing path (git checks hard links out as copies). */
  hardlinks: z.record(z.string(), z.string()).optional(),
  /** Empty directories (git does not keep them). */
  emptyDirs: z.array(z.string()).optional(),
  /** What the case shows, for the reader and for failure messages. */
  about: z.string().optional(),
  /** A difference docker is known to make that berth may choose not to copy; see the report. */
  dockerQuirk: z.string().optional(),
  /**
   * Where berth chooses to differ from docker 20.10, on purpose: each is a pattern for the
   * difference lines it explains, and why. Each must show up (the difference is asserted, not
   * hidden), and no other difference may.
   */
  berthDiffers: z.array(z.object({ match: z.string(), why: z.string() })).optional(),
});
export type CaseOptions = z.infer<typeof CaseJson>;

export interface Case extends CaseOptions {
  name: string;
  dir: string;
}

/** Every folder of test/build-corpus, with its case.json if it has one. */
export function loadCases(): Case[] {
  return fs
    .readdirSync(CORPUS, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const dir = join(CORPUS, name);
      const file = join(dir, "case.json");
      const opts = fs.existsSync(file) ? CaseJson.parse(JSON.parse(fs.readFileSync(file, "utf8"))) : {};
      return { ...opts, name, dir };
    });
}

function copyTree(from: string, to: string, top: boolean): void {
  fs.mkdirSync(to, { recursive: true });
  fs.chmodSync(to, 0o755);
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (top && e.name === "case.json") continue;
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (e.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(src), dst);
    else if (e.isDirectory()) copyTree(src, dst, false);
    else {
      fs.copyFileSync(src, dst);
      // git keeps only "executable or not"; the umask of the checkout must not matter
      fs.chmodSync(dst, fs.statSync(src).mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

/**
 * Copies a case's folder (without case.json) to `dest` and applies what git cannot hold: modes,
 * hard links, empty directories. Both builders get this same directory as their context.
 */
export function materializeContext(c: Case, dest: string): string {
  copyTree(c.dir, dest, true);
  for (const d of c.emptyDirs ?? []) fs.mkdirSync(join(dest, d), { recursive: true });
  for (const [path, target] of Object.entries(c.hardlinks ?? {})) {
    fs.rmSync(join(dest, path), { force: true });
    fs.linkSync(join(dest, target), join(dest, path));
  }
  for (const [path, mode] of Object.entries(c.modes ?? {})) fs.chmodSync(join(dest, path), Number.parseInt(mode, 8));
  return dest;
}

// ---------------------------------------------------------------------------------------------
// Builds

export interface BuildRequest {
  context: string;
  tag: string;
  /** relative to the context */
  dockerfile?: string;
  buildArgs?: Record<string, string>;
  target?: string;
  labels?: Record<string, string>;
  noCache?: boolean;
  quiet?: boolean;
  iidfile: string;
}

export interface BuildResult extends Run {
  /** stdout and stderr together, for searching */
  output: string;
  /** the image ID from --iidfile, when the build succeeded */
  id?: string;
  seconds: number;
}

export function requestFor(c: Case, context: string, tag: string, iidfile: string): BuildRequest {
  const req: BuildRequest = { context, tag, iidfile };
  if (c.dockerfile) req.dockerfile = c.dockerfile;
  if (c.buildArgs) req.buildArgs = c.buildArgs;
  if (c.target) req.target = c.target;
  if (c.labels) req.labels = c.labels;
  if (c.noCache) req.noCache = true;
  if (c.quiet) req.quiet = true;
  return req;
}

/** The flags both CLIs take, docker's spelling. */
export function buildFlags(req: BuildRequest): string[] {
  const f = ["-t", req.tag, "--iidfile", req.iidfile];
  if (req.dockerfile) f.push("-f", join(req.context, req.dockerfile));
  for (const [k, v] of Object.entries(req.buildArgs ?? {})) f.push("--build-arg", `${k}=${v}`);
  if (req.target) f.push("--target", req.target);
  for (const [k, v] of Object.entries(req.labels ?? {})) f.push("--label", `${k}=${v}`);
  if (req.noCache) f.push("--no-cache");
  if (req.quiet) f.push("-q");
  return f;
}

async function finish(r: Run, req: BuildRequest, started: number): Promise<BuildResult> {
  let id: string | undefined;
  if (r.code === 0 && fs.existsSync(req.iidfile)) id = fs.readFileSync(req.iidfile, "utf8").trim() || undefined;
  return { ...r, output: r.stdout + r.stderr, id, seconds: (performance.now() - started) / 1000 };
}

/** docker build with BuildKit, no network for RUN, plain progress (so CACHED lines show). */
export async function dockerBuild(req: BuildRequest): Promise<BuildResult> {
  fs.rmSync(req.iidfile, { force: true });
  const started = performance.now();
  const progress = req.quiet ? [] : ["--progress=plain"];
  const r = await exec(DOCKER, ["build", "--network=none", ...progress, ...buildFlags(req), req.context], {
    env: { DOCKER_BUILDKIT: "1" },
  });
  return finish(r, req, started);
}

/** berth build against `root`, with the same flags. */
export async function berthBuild(root: string, req: BuildRequest): Promise<BuildResult> {
  fs.rmSync(req.iidfile, { force: true });
  const started = performance.now();
  const r = await exec(process.execPath, [BERTH, "--root", root, "build", ...buildFlags(req), req.context]);
  return finish(r, req, started);
}

export function dockerSave(ref: string, out: string): Promise<Run> {
  return exec(DOCKER, ["save", "-o", out, ref]);
}

export function berthSave(root: string, ref: string, out: string): Promise<Run> {
  return exec(process.execPath, [BERTH, "--root", root, "save", "-o", out, ref]);
}

// ---------------------------------------------------------------------------------------------
// Reading images

export interface HistoryEntry {
  created_by?: string;
  empty_layer?: boolean;
  comment?: string;
}

export interface ConfigJson {
  architecture?: string;
  os?: string;
  variant?: string;
  author?: string;
  config?: Record<string, unknown> | null;
  history?: HistoryEntry[];
  rootfs?: { diff_ids?: string[] };
}

export interface SavedImage {
  config: ConfigJson;
  layers: Buffer[];
}

/** Every entry of a tar in memory: regular files by name, and symlinks as name → target. */
async function readTarEntries(bytes: Buffer): Promise<{ files: Map<string, Buffer>; links: Map<string, string> }> {
  const files = new Map<string, Buffer>();
  const links = new Map<string, string>();
  const parser = extract();
  const feed = (async () => {
    parser.end(bytes);
  })();
  for await (const entry of parser) {
    const name = posix.normalize(entry.header.name.replace(/^\.?\/+/, "")).replace(/\/$/, "");
    const parts: Buffer[] = [];
    for await (const c of entry) parts.push(Buffer.from(c as Uint8Array));
    if (entry.header.type === "symlink")
      links.set(name, posix.normalize(posix.join(posix.dirname(name), entry.header.linkname ?? "")));
    else if (entry.header.type === "link") links.set(name, posix.normalize(entry.header.linkname ?? ""));
    else if (entry.header.type === "file" || entry.header.type === "contiguous-file")
      files.set(name, Buffer.concat(parts));
  }
  await feed;
  return { files, links };
}

/**
 * The config and the layer tars (bottom first, gunzipped where needed) of the first image in
 * a `docker save` or `berth save` archive, found through its manifest.json. Entries that are
 * links to other entries (docker save writes shared layers once) are followed.
 */
export async function readSavedImage(path: string): Promise<SavedImage> {
  const { files, links } = await readTarEntries(fs.readFileSync(path));
  const get = (name: string): Buffer => {
    let n = posix.normalize(name);
    for (let hops = 0; hops < 16 && !files.has(n); hops++) {
      const next = links.get(n);
      if (!next) break;
      n = next;
    }
    const b = files.get(n);
    if (!b) throw new Error(`${path}: no entry ${name}`);
    return b;
  };
  const manifest = JSON.parse(get("manifest.json").toString()) as { Config: string; Layers: string[] }[];
  const m = manifest[0];
  if (!m) throw new Error(`${path}: manifest.json lists no image`);
  const config = JSON.parse(get(m.Config).toString()) as ConfigJson;
  const layers = m.Layers.map((l) => {
    const b = get(l);
    return b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b) : b;
  });
  return { config, layers };
}

// ---------------------------------------------------------------------------------------------
// Flattening

/** One path of a flattened image, as a container sees it; mtimes aside. */
export interface FileEntry {
  type: string;
  /** permission bits with setuid/setgid/sticky, four octal digits */
  mode: string;
  uid: number;
  gid: number;
  /** symlink target */
  linkname?: string;
  size?: number;
  sha256?: string;
  /** the other paths that are the same file (hard links), sorted */
  hardlinks?: string[];
  /** device numbers, for character and block devices */
  device?: string;
}

export type FileTree = Map<string, FileEntry>;

interface Node {
  entry: FileEntry;
  inode: number;
}

function layerPath(name: string): string {
  const clean = posix.normalize(`/${name}`).replace(/\/+$/, "");
  return clean === "" ? "/" : clean;
}

function removeTree(state: Map<string, Node>, path: string, keepSelf: boolean): void {
  if (!keepSelf) state.delete(path);
  const prefix = path === "/" ? "/" : `${path}/`;
  for (const k of [...state.keys()]) if (k.startsWith(prefix) && k !== path) state.delete(k);
}

/**
 * Applies layer tars in order, as the image spec's changeset rules say: in each layer, `.wh.X`
 * deletes X (and what is under it) from the layers below and `.wh..wh..opq` empties its
 * directory of what the layers below put there; then the layer's entries are added, a
 * non-directory replacing a directory along with its contents. Hard links share their
 * target's inode, so a later layer that rewrites one name leaves the others alone.
 */
export async function flattenLayers(layers: readonly Buffer[]): Promise<FileTree> {
  const state = new Map<string, Node>();
  let nextInode = 1;
  for (const [index, layer] of layers.entries()) {
    const entries: { path: string; header: Header; body: Buffer }[] = [];
    const parser = extract();
    const feed = (async () => {
      parser.end(layer);
    })();
    for await (const entry of parser) {
      const parts: Buffer[] = [];
      for await (const c of entry) parts.push(Buffer.from(c as Uint8Array));
      entries.push({ path: layerPath(entry.header.name), header: entry.header, body: Buffer.concat(parts) });
    }
    await feed;
    for (const e of entries) {
      const base = posix.basename(e.path);
      if (!base.startsWith(".wh.")) continue;
      const dir = posix.dirname(e.path);
      if (base === ".wh..wh..opq") removeTree(state, dir, true);
      else removeTree(state, posix.join(dir, base.slice(4)), false);
    }
    for (const { path, header, body } of entries) {
      if (posix.basename(path).startsWith(".wh.")) continue;
      const mode = (header.mode ?? 0) & 0o7777;
      const common = {
        mode: mode.toString(8).padStart(4, "0"),
        uid: header.uid ?? 0,
        gid: header.gid ?? 0,
      };
      let node: Node;
      switch (header.type) {
        case "file":
        case "contiguous-file":
          node = {
            entry: {
              type: "file",
              ...common,
              size: body.length,
              sha256: createHash("sha256").update(body).digest("hex"),
            },
            inode: nextInode++,
          };
          break;
        case "link": {
          const target = state.get(layerPath(header.linkname ?? ""));
          if (!target) throw new Error(`layer ${index}: hard link ${path} to missing ${header.linkname}`);
          node = { entry: { ...target.entry }, inode: target.inode };
          break;
        }
        case "symlink":
          node = { entry: { type: "symlink", ...common, linkname: header.linkname ?? "" }, inode: nextInode++ };
          break;
        case "directory":
          node = { entry: { type: "directory", ...common }, inode: nextInode++ };
          break;
        case "character-device":
        case "block-device":
          node = {
            entry: { type: header.type, ...common, device: `${header.devmajor ?? 0},${header.devminor ?? 0}` },
            inode: nextInode++,
          };
          break;
        default:
          node = { entry: { type: String(header.type), ...common }, inode: nextInode++ };
      }
      const old = state.get(path);
      if (old?.entry.type === "directory" && node.entry.type !== "directory") removeTree(state, path, false);
      state.set(path, node);
    }
  }
  const byInode = new Map<number, string[]>();
  for (const [path, n] of state)
    if (n.entry.type === "file") byInode.set(n.inode, [...(byInode.get(n.inode) ?? []), path]);
  const tree: FileTree = new Map();
  for (const path of [...state.keys()].sort()) {
    const n = state.get(path) as Node;
    const group = byInode.get(n.inode);
    const entry = { ...n.entry };
    if (group && group.length > 1) entry.hardlinks = group.filter((p) => p !== path).sort();
    tree.set(path, entry);
  }
  return tree;
}

// ---------------------------------------------------------------------------------------------
// Comparing

export const CONFIG_FIELDS = [
  "Env",
  "Cmd",
  "Entrypoint",
  "WorkingDir",
  "User",
  "ExposedPorts",
  "Labels",
  "Volumes",
  "StopSignal",
  "Healthcheck",
  "OnBuild",
  "Shell",
] as const;
const STRING_FIELDS = new Set(["WorkingDir", "User", "StopSignal"]);

/** An image as the comparison sees it. */
export interface ImageView {
  files: FileTree;
  /** CONFIG_FIELDS of config.config, plus the top-level author, os and architecture */
  config: Record<string, unknown>;
  layerCount: number;
  history: HistoryEntry[];
}

function normaliseHealthcheck(h: unknown): unknown {
  if (h === undefined || h === null) return null;
  const o = h as Record<string, unknown>;
  // Go's zero values: an absent duration or retry count is 0 to dockerd
  return {
    Test: o.Test ?? null,
    Interval: o.Interval ?? 0,
    Timeout: o.Timeout ?? 0,
    StartPeriod: o.StartPeriod ?? 0,
    Retries: o.Retries ?? 0,
  };
}

export function configView(config: ConfigJson): Record<string, unknown> {
  const c = config.config ?? {};
  const out: Record<string, unknown> = {};
  for (const f of CONFIG_FIELDS) {
    const v = c[f];
    if (f === "Healthcheck") out[f] = normaliseHealthcheck(v);
    else if (STRING_FIELDS.has(f)) out[f] = v ?? "";
    else out[f] = v ?? null;
  }
  out.author = config.author ?? "";
  out.os = config.os ?? "";
  out.architecture = config.architecture ?? "";
  return out;
}

export async function viewOf(archive: string): Promise<ImageView> {
  const img = await readSavedImage(archive);
  return {
    files: await flattenLayers(img.layers),
    config: configView(img.config),
    layerCount: img.layers.length,
    history: img.config.history ?? [],
  };
}

function describe(e: FileEntry): string {
  const parts = [e.type, e.mode, `${e.uid}:${e.gid}`];
  if (e.linkname !== undefined) parts.push(`-> ${e.linkname}`);
  if (e.sha256 !== undefined) parts.push(`${e.size} bytes sha256:${e.sha256.slice(0, 12)}`);
  if (e.device !== undefined) parts.push(`dev ${e.device}`);
  if (e.hardlinks) parts.push(`hard links: ${e.hardlinks.join(", ")}`);
  return parts.join(" ");
}

const FILE_KEYS: (keyof FileEntry)[] = [
  "type",
  "mode",
  "uid",
  "gid",
  "linkname",
  "size",
  "sha256",
  "device",
  "hardlinks",
];

function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
}

/**
 * The differences between two images, as readable lines; empty when they match. `a` and `b`
 * name the two sides ("docker", "berth").
 */
export function compareViews(a: string, left: ImageView, b: string, right: ImageView, maxLines = 80): string[] {
  const out: string[] = [];
  const onlyLeft: string[] = [];
  const onlyRight: string[] = [];
  const changed: string[] = [];
  for (const [path, l] of left.files) {
    const r = right.files.get(path);
    if (!r) {
      onlyLeft.push(`  ${path}  ${describe(l)}`);
      continue;
    }
    const diffs = FILE_KEYS.filter((k) => stable(l[k]) !== stable(r[k])).map(
      (k) => `${k} ${stable(l[k]) ?? "-"} ≠ ${stable(r[k]) ?? "-"}`,
    );
    if (diffs.length) changed.push(`  ${path}: ${diffs.join("; ")}`);
  }
  for (const [path, r] of right.files) if (!left.files.has(path)) onlyRight.push(`  ${path}  ${describe(r)}`);
  const section = (title: string, lines: string[]) => {
    if (!lines.length) return;
    out.push(`${title} (${lines.length}):`);
    out.push(...lines.slice(0, maxLines));
    if (lines.length > maxLines) out.push(`  … and ${lines.length - maxLines} more`);
  };
  section(`files only in ${a}`, onlyLeft);
  section(`files only in ${b}`, onlyRight);
  section(`files that differ (${a} ≠ ${b})`, changed);
  const configLines: string[] = [];
  for (const k of Object.keys(left.config)) {
    const l = stable(left.config[k]);
    const r = stable(right.config[k]);
    if (l !== r) configLines.push(`  ${k}:\n    ${a}: ${l}\n    ${b}: ${r}`);
  }
  section("config fields that differ", configLines);
  if (left.layerCount !== right.layerCount) {
    out.push(`layer count: ${a} ${left.layerCount}, ${b} ${right.layerCount}`);
    const h = (view: ImageView) =>
      view.history.map((e) => `    ${e.empty_layer ? "(no layer) " : ""}${e.created_by ?? e.comment ?? ""}`);
    out.push(`  ${a} history:`, ...h(left), `  ${b} history:`, ...h(right));
  }
  return out;
}

/** A readable listing of a flattened image, for debugging a case by hand. */
export function listTree(tree: FileTree): string {
  return [...tree].map(([p, e]) => `${p}  ${describe(e)}`).join("\n");
}

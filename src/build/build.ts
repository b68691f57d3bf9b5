import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join, posix, relative, resolve } from "node:path";
import { PassThrough, type Readable, type Writable } from "node:stream";
import {
  proxyEnv,
  type ResolvedBuild,
  type ResolvedStage,
  type ResolvedStep,
  resolveBuild,
} from "../dockerfile/build-args.js";
import { makeIgnoreMatcher } from "../dockerfile/dockerignore.js";
import type {
  AddInstruction,
  CommandLine,
  CopyInstruction,
  Stage,
  StageInstruction,
} from "../dockerfile/instructions.js";
import { toInstructions } from "../dockerfile/instructions.js";
import { parseDockerfile } from "../dockerfile/parse.js";
import type { LayerEntry } from "../image/layer-writer.js";
import { type Digest, digestHex, sha256 } from "../oci/digest.js";
import { BerthError, withContext } from "../oci/errors.js";
import { MediaType, ociImageManifest } from "../oci/media-types.js";
import { formatPlatform, hostPlatform, type PlatformSpec, parsePlatform, platformMatches } from "../oci/platform.js";
import { parseReference } from "../oci/reference.js";
import type { ContainerConfig, ImageConfig, Manifest } from "../oci/schema.js";
import type { Rootfs } from "../runtime/rootfs.js";
import {
  addTag,
  childrenOf,
  deleteImageRow,
  getImage,
  registerImage,
  resolveImage,
  tagName,
} from "../store/image-records.js";
import type { Lease, LocalStore } from "../store/local-store.js";
import { type Advice, adviseOnSize, storedLayerFindings } from "./advice.js";
import { type BuildContext, contextBytes, findSources, type HashMemo, hashSources, openContext } from "./context.js";
import type { CopyOptions, CopyOwnership, CopySource } from "./copy.js";
import type * as Executors from "./executors.js";

export interface BuildOptions {
  /** The context directory. */
  context: string;
  /** A context tar (or a lone Dockerfile) to read instead of the directory: `build -`. */
  contextStream?: Readable;
  /** -f: the Dockerfile's path; default CONTEXT/Dockerfile. */
  dockerfile?: string;
  /** -t, as many as given. */
  tags?: readonly string[];
  buildArgs?: Readonly<Record<string, string>>;
  target?: string;
  noCache?: boolean;
  /** --label: set on the final image. */
  labels?: Readonly<Record<string, string>>;
  /** Seconds since 1970 for every timestamp the build writes (SOURCE_DATE_EPOCH); default 0. */
  epoch?: number;
  /** Progress lines ("#3 [2/5] COPY . /app"). */
  log?: (line: string) => void;
  /** Where RUN steps' output goes. */
  output?: Writable;
  /** --network for RUN steps that do not choose: none (the default) or host. */
  network?: "none" | "host";
  /** --secret id=ID,src=FILE: what RUN --mount=type=secret mounts (never stored in a layer). */
  secrets?: Readonly<Record<string, string>>;
  /** --platform: the target platform (TARGETPLATFORM, scratch stages, base images); default the host's. */
  platform?: PlatformSpec;
  /**
   * Fetches a base image into the store: called for bases the store lacks or has for another
   * platform (and for every base with `pull`). Without it, bases must be in the store.
   */
  pullBase?: (name: string, platform: PlatformSpec) => Promise<void>;
  /** --pull: fetch every base image again, even those the store has. */
  pull?: boolean;
}

export interface BuildResult {
  id: Digest;
  /** Where the final image wastes size, and what to do about it. */
  advice: Advice[];
  tags: string[];
  /** docker's size of the final image. */
  size: number;
  layers: number;
  steps: number;
  cached: number;
}

/** What a stage's steps need to know about the ones before them. */
interface StageFlags {
  /** Whether this stage has a CMD of its own (an ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

/** What a stage has built so far: the image of its last step. */
interface State {
  id: Digest | null;
  manifest: Manifest;
  config: ImageConfig;
}

const HISTORY_COMMENT = "buildkit.dockerfile.v0";

/**
 * `docker build`: parses the Dockerfile, resolves its stages, and runs the steps the target
 * needs. Every step leaves an image (untagged, with its parent recorded, as docker's classic
 * builder does), which is also the cache: a step whose key (parent, instruction, inputs) was
 * seen before reuses its image. Stages that do not depend on each other build concurrently.
 * Layers are written with the epoch as every mtime, so builds are reproducible.
 */
export async function build(store: LocalStore, opts: BuildOptions): Promise<BuildResult> {
  if (!opts.contextStream) return buildFromDir(store, opts);
  // `docker build -`: a context tar (plain or gzip'd) or a lone Dockerfile on stdin, unpacked
  // into a temporary directory with the runtime's confined extractor.
  const dir = fs.mkdtempSync(join(store.root, "tmp", `${process.pid}-context-`));
  try {
    const x = await loadExecutors();
    const { bytes, stream } = await x.peek(opts.contextStream);
    const compression = x.detectCompression(bytes);
    const isTar = compression === "gzip" || (bytes.length >= 262 && bytes.toString("latin1", 257, 262) === "ustar");
    if (isTar) await x.applyLayer(dir, stream);
    else {
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      fs.writeFileSync(join(dir, "Dockerfile"), Buffer.concat(chunks));
    }
    const { contextStream: _, ...rest } = opts;
    return await buildFromDir(store, {
      ...rest,
      context: dir,
      ...(opts.dockerfile ? { dockerfile: join(dir, opts.dockerfile) } : {}),
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function buildFromDir(store: LocalStore, opts: BuildOptions): Promise<BuildResult> {
  const contextDir = resolve(opts.context);
  const dockerfilePath = resolve(opts.dockerfile ?? join(contextDir, "Dockerfile"));
  let text: string;
  try {
    text = fs.readFileSync(dockerfilePath, "utf8");
  } catch {
    throw new BerthError("USAGE", `failed to read Dockerfile: open ${dockerfilePath}: no such file or directory`);
  }
  const tags = (opts.tags ?? []).map((t) => {
    const ref = parseReference(t);
    if (ref.digest) throw new BerthError("INVALID_REFERENCE", `invalid tag "${t}": a tag cannot name a digest`);
    return { ...ref, tag: ref.tag ?? "latest" };
  });
  const instructions = toInstructions(parseDockerfile(text, relativeName(contextDir, dockerfilePath)));
  const stages = instructions.stages;
  if (stages.length === 0) throw new BerthError("USAGE", "the Dockerfile has no FROM: nothing to build");
  let targetIndex = stages.length - 1;
  if (opts.target) {
    targetIndex = stages.findIndex((s) => s.name === opts.target?.toLowerCase());
    if (targetIndex < 0) throw new BerthError("USAGE", `failed to reach build target ${opts.target} in Dockerfile`);
  }
  const epoch = opts.epoch ?? 0;
  const log = opts.log ?? (() => undefined);
  const buildPlatform = hostPlatform();
  const targetPlatform = opts.platform ?? buildPlatform;
  const baseConfigs = new Map<string, ImageConfig | undefined>();
  const baseConfig = (name: string): ImageConfig | undefined => {
    if (!baseConfigs.has(name)) {
      const found = tryImage(store, name);
      baseConfigs.set(name, found?.config);
    }
    return baseConfigs.get(name);
  };
  const needed = neededStages(stages, targetIndex);
  const buildArgMap = new Map(Object.entries(opts.buildArgs ?? {}));
  /** The base images the needed stages name (after ARG expansion), with the platform each is for. */
  const bases = new Map<string, PlatformSpec>();
  const resolveStages = (): ResolvedBuild =>
    resolveBuild(instructions, {
      buildPlatform,
      targetPlatform,
      ...(opts.target ? { target: opts.target } : {}),
      buildArgs: new Map(Object.entries(opts.buildArgs ?? {})),
      stages: [...needed],
      baseImage: (image, platform) => {
        bases.set(image, platform === undefined ? targetPlatform : parsePlatform(platform));
        const c = baseConfig(image);
        return c ? { env: c.config?.Env ?? [], onBuild: c.config?.OnBuild ?? [] } : undefined;
      },
    });
  let resolved = resolveStages();
  // A base's ENV and ONBUILD shape the stages, so bases are fetched before the build is
  // resolved again with them, as BuildKit loads their metadata first.
  const pullBase = opts.pullBase;
  if (pullBase) {
    const missing = [...bases].filter(([name, platform]) => {
      const c = baseConfig(name);
      return opts.pull === true || !c || !platformMatches(platform, configPlatform(c));
    });
    for (const [name, platform] of missing) {
      log(`#0 [internal] pulling ${name} for ${formatPlatform(platform)}`);
      const stored = baseConfig(name);
      await pullBase(name, platform).catch((err: unknown) => {
        if (!stored || platformMatches(platform, configPlatform(stored))) throw err;
        throw withContext(
          `base image "${name}" is ${formatPlatform(configPlatform(stored))} in the store, and this stage builds for ${formatPlatform(platform)}`,
          err,
        );
      });
    }
    if (missing.length > 0) {
      baseConfigs.clear();
      resolved = resolveStages();
    }
  }
  if (resolved.unusedBuildArgs.length) {
    log(`[Warning] One or more build-args [${resolved.unusedBuildArgs.join(" ")}] were not consumed`);
  }
  const ctx = openContext(contextDir, dockerfilePath);
  const counters = { steps: 0, cached: 0, reused: 0, next: 1 };
  const copiedFromContext = { bytes: 0, whole: false, dirs: new Map<string, number>() };
  const memoSet = store.db.prepare("INSERT OR REPLACE INTO context_hashes(path, stat, sha256) VALUES (?, ?, ?)");
  // The context's rows are read in one query when first needed: a query per file cost
  // ~0.1 s of a warm build of 20,000 files. A row changed meanwhile by another build is at
  // worst a miss (the file is hashed again): a hit needs the same stat.
  let memo: Map<string, { stat: string; sha256: string }> | undefined;
  const memoRows = (): Map<string, { stat: string; sha256: string }> => {
    if (!memo) {
      const rows = store.db
        .prepare("SELECT path, stat, sha256 FROM context_hashes WHERE path >= ? AND path < ?")
        .all(`${ctx.dir}/`, `${ctx.dir}0`) as { path: string; stat: string; sha256: string }[];
      memo = new Map(rows.map((r) => [r.path, { stat: r.stat, sha256: r.sha256 }]));
    }
    return memo;
  };
  const hashMemo: HashMemo = {
    get: (path, stat) => {
      const row = memoRows().get(path);
      return row?.stat === stat ? row.sha256 : undefined;
    },
    set: (path, stat, sha256) => {
      memoSet.run(path, stat, sha256);
      memoRows().set(path, { stat, sha256 });
    },
  };
  /** How many layers each stage's base had: what a stage added is the rest. */
  const baseLayers = new Map<number, number>();
  /** Images this build made, removed again if it fails: a failed build changes nothing. */
  const created: Digest[] = [];
  const results = new Map<number, Promise<State>>();
  const runStage = (index: number): Promise<State> => {
    let p = results.get(index);
    if (!p) {
      const stage = resolved.stages[index];
      if (!stage) throw new BerthError("USAGE", `stage ${index} was not resolved`);
      p = buildStage(stage);
      results.set(index, p);
    }
    return p;
  };

  const stageIndexOf = (from: string): number | undefined => {
    const byName = stages.findIndex((s) => s.name === from.toLowerCase());
    if (byName >= 0) return byName;
    return /^\d+$/.test(from) && Number(from) < stages.length ? Number(from) : undefined;
  };

  const buildStage = async (stage: ResolvedStage): Promise<State> => {
    let state: State;
    const stagePlatform = stage.platform === undefined ? targetPlatform : parsePlatform(stage.platform);
    if (stage.base.kind === "scratch") state = scratchState(stagePlatform);
    else if (stage.base.kind === "stage") state = await runStage(stage.base.index);
    else {
      const found = tryImage(store, stage.baseName);
      if (!found) {
        throw new BerthError(
          "IMAGE_UNKNOWN",
          `failed to resolve base image "${stage.baseName}": it is not in the store (berth load or berth pull it first)`,
        );
      }
      const have = configPlatform(found.config);
      if (!platformMatches(stagePlatform, have)) {
        throw new BerthError(
          "IMAGE_UNKNOWN",
          `base image "${stage.baseName}" is ${formatPlatform(have)}, but this stage builds for ${formatPlatform(stagePlatform)}: ` +
            `pull or load the ${formatPlatform(stagePlatform)} image (berth pull --platform ${formatPlatform(stagePlatform)} ${stage.baseName})`,
        );
      }
      state = found;
    }
    state = withDefaultPath(state);
    // the base's ONBUILD triggers run in this stage (resolveBuild put them first) and are consumed
    if (stage.base.kind !== "scratch" && state.config.config?.OnBuild?.length) {
      state = { ...state, config: { ...state.config, config: { ...state.config.config, OnBuild: null } } };
    }
    const flags: StageFlags = { cmdSet: false };
    baseLayers.set(stage.index, state.manifest.layers.length);
    const label = stage.name ? `${stage.name} ` : stages.length > 1 ? `stage-${stage.index} ` : "";
    for (const [i, step] of stage.steps.entries()) {
      const n = counters.next++;
      const head = `#${n} [${label}${i + 1}/${stage.steps.length}] ${step.instruction.original.split("\n")[0]}`;
      state = await runStep(state, step, head, flags);
    }
    return state;
  };

  const runStep = async (state: State, step: ResolvedStep, head: string, flags: StageFlags): Promise<State> => {
    counters.steps++;
    const ins = step.instruction;
    const c: ContainerConfig = { ...(state.config.config ?? {}) };
    switch (ins.kind) {
      case "ENV": {
        const env = [...(c.Env ?? [])];
        for (const { key, value } of ins.pairs) setEnv(env, key, value);
        c.Env = env;
        log(head);
        return commitConfig(state, c, `ENV ${ins.pairs.map((p) => `${p.key}=${p.value}`).join(" ")}`);
      }
      case "ARG":
        log(head);
        return commitConfig(
          state,
          c,
          `ARG ${ins.args.map((a) => (a.value === undefined ? a.key : `${a.key}=${a.value}`)).join(" ")}`,
        );
      case "LABEL":
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(ins.pairs.map((p) => [p.key, p.value])) };
        log(head);
        return commitConfig(state, c, `LABEL ${ins.pairs.map((p) => `${p.key}=${p.value}`).join(" ")}`);
      case "MAINTAINER":
        log(head);
        return commitConfig(state, c, `MAINTAINER ${ins.maintainer}`, { author: ins.maintainer });
      case "EXPOSE": {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of ins.ports) ports[p] = {};
        c.ExposedPorts = ports;
        log(head);
        return commitConfig(state, c, `EXPOSE map[${ins.ports.map((p) => `${p}:{}`).join(" ")}]`);
      }
      case "VOLUME": {
        const vols = { ...(c.Volumes ?? {}) };
        for (const v of ins.volumes) vols[v] = {};
        c.Volumes = vols;
        log(head);
        return commitConfig(state, c, `VOLUME [${ins.volumes.join(" ")}]`);
      }
      case "USER":
        c.User = ins.user;
        log(head);
        return commitConfig(state, c, `USER ${ins.user}`);
      case "STOPSIGNAL":
        c.StopSignal = ins.signal;
        log(head);
        return commitConfig(state, c, `STOPSIGNAL ${ins.signal}`);
      case "SHELL":
        c.Shell = [...ins.shell];
        log(head);
        return commitConfig(state, c, `SHELL ${goQuoteList(ins.shell)}`);
      case "ENTRYPOINT":
        c.Entrypoint = commandOf(ins.command, shellOf(c));
        if (ins.command.form === "exec" && ins.command.args.length === 0) c.Entrypoint = null;
        // a new ENTRYPOINT drops the CMD the base gave, unless this stage set its own
        if (!flags.cmdSet) c.Cmd = null;
        c.ArgsEscaped = true; // as BuildKit in docker 20.10 writes it for CMD and ENTRYPOINT
        log(head);
        return commitConfig(state, c, `ENTRYPOINT ${goQuoteList(c.Entrypoint ?? [])}`);
      case "CMD":
        c.Cmd = commandOf(ins.command, shellOf(c));
        // an empty exec form stores no Cmd at all, as BuildKit's config omits empty lists
        if (ins.command.form === "exec" && ins.command.args.length === 0) c.Cmd = null;
        flags.cmdSet = true;
        c.ArgsEscaped = true;
        log(head);
        return commitConfig(state, c, `CMD ${goQuoteList(c.Cmd ?? [])}`);
      case "HEALTHCHECK": {
        const hc: Record<string, unknown> = { Test: [...ins.test] };
        if (ins.interval) hc.Interval = ins.interval;
        if (ins.timeout) hc.Timeout = ins.timeout;
        if (ins.startPeriod) hc.StartPeriod = ins.startPeriod;
        if (ins.startInterval) hc.StartInterval = ins.startInterval;
        if (ins.retries) hc.Retries = ins.retries;
        c.Healthcheck = hc;
        log(head);
        return commitConfig(state, c, `HEALTHCHECK &{${JSON.stringify(ins.test)}}`);
      }
      case "ONBUILD":
        c.OnBuild = [...(c.OnBuild ?? []), ins.expression];
        log(head);
        return commitConfig(state, c, `ONBUILD ${ins.expression}`);
      case "WORKDIR": {
        const dir = posix.resolve(c.WorkingDir || "/", ins.path);
        // docker keeps an absolute WORKDIR as written ("/a/b/"); a relative one is joined
        c.WorkingDir = ins.path.startsWith("/") ? ins.path : dir;
        if (dir === "/") {
          log(head);
          return commitConfig(state, c, `WORKDIR ${c.WorkingDir}`);
        }
        return fsStep(state, c, step, head, `WORKDIR ${c.WorkingDir}`, [dir, c.User ?? ""], async (root, x) => {
          // BuildKit makes it as the current USER
          const owner = c.User ? ownership(x, root, c.User, undefined) : { uid: 0, gid: 0 };
          makeDirInRoot(root, dir, owner);
        });
      }
      case "COPY":
      case "ADD":
        return copyStep(state, c, step, head, ins);
      case "RUN":
        return runStepRun(state, c, step, head);
      default:
        throw new BerthError("UNSUPPORTED", `${(ins as StageInstruction).kind} is not supported by the builder yet`);
    }
  };

  /** A step that changes only the config: an empty_layer history row, as docker writes. */
  const commitConfig = (
    state: State,
    c: ContainerConfig,
    createdBy: string,
    extra: Partial<ImageConfig> = {},
  ): State => {
    const config: ImageConfig = {
      ...state.config,
      ...extra,
      created: epochIso(epoch),
      config: c,
      history: [
        ...(state.config.history ?? []),
        { created: epochIso(epoch), created_by: createdBy, comment: HISTORY_COMMENT, empty_layer: true },
      ],
    };
    return commitImage(state, state.manifest, config, []);
  };

  const commitImage = (
    parent: State,
    manifest: Manifest,
    config: ImageConfig,
    layerSizes: { diffId: Digest; size: number }[],
  ): State => {
    const configBytes = Buffer.from(JSON.stringify(config));
    const id = sha256(configBytes);
    // a config step whose image exists already is a cache hit too (same parent, same result):
    // its blobs and rows are there, so nothing is written (a warm build of config steps
    // otherwise rewrote the store's index once per step)
    if (getImage(store, id) !== undefined) {
      if (!layerSizes.length) counters.reused++;
      return { id, manifest: ociImageManifest({ digest: id, size: configBytes.length }, manifest.layers), config };
    }
    return store.withLeaseSync((lease) => {
      created.push(id);
      const c = lease.putBytes(configBytes);
      const m = ociImageManifest(c, manifest.layers);
      const manifestBytes = Buffer.from(JSON.stringify(m));
      const md = lease.putBytes(manifestBytes);
      const sizes = [...inheritedSizes(store, parent), ...layerSizes];
      registerImage(
        store,
        {
          manifestDigest: md.digest,
          manifestMediaType: MediaType.ociManifest,
          manifestSize: md.size,
          manifest: m,
          config,
          layerSizes: sizes,
          ...(parent.id ? { parent: parent.id } : {}),
          intermediate: true,
        },
        [],
      );
      return { id: c.digest, manifest: m, config };
    });
  };

  /** The cache: a key → the image a step made, reused while that image exists. */
  const cacheKey = (state: State, step: ResolvedStep, extra: unknown): string =>
    createHash("sha256")
      // scratch has no image: its platform stands for it (a scratch stage for arm64 is not one for amd64)
      .update(
        JSON.stringify([
          state.id ?? `scratch:${formatPlatform(configPlatform(state.config))}`,
          stripPositions(step.instruction),
          [...step.env],
          extra,
          epoch,
        ]),
      )
      .digest("hex");
  const cached = (key: string): State | undefined => {
    if (opts.noCache) return undefined;
    const id = store.db.prepare("SELECT image_id FROM build_cache WHERE key = ?").pluck().get(key) as
      | Digest
      | undefined;
    if (!id) return undefined;
    try {
      return readState(store, id);
    } catch (err) {
      if (err instanceof BerthError && err.code === "IMAGE_UNKNOWN") return undefined; // pruned since
      throw err;
    }
  };
  /** A step's cached image, said as BuildKit says it ("#3 CACHED"), or undefined. */
  const cacheHit = (key: string, head: string): State | undefined => {
    const hit = cached(key);
    if (!hit) return undefined;
    counters.cached++;
    log(`${head}\n#${head.slice(1, head.indexOf(" "))} CACHED`);
    return hit;
  };
  const remember = (key: string, id: Digest) =>
    store.update(() =>
      store.db
        .prepare("INSERT OR REPLACE INTO build_cache(key, image_id, created_ms) VALUES (?, ?, ?)")
        .run(key, id, Date.now()),
    );

  /**
   * A step that changes files: the parent's file system is mounted (overlay, a fresh upper
   * layer), `change` edits it, and the upper layer becomes the step's layer. A change that
   * leaves nothing behind adds no layer.
   */
  const fsStep = async (
    state: State,
    c: ContainerConfig,
    step: ResolvedStep,
    head: string,
    createdBy: string,
    inputs: unknown,
    change: (root: string, x: typeof Executors) => Promise<void>,
    plan?: (view: string, x: typeof Executors) => LayerEntry[] | null,
  ): Promise<State> => {
    const key = cacheKey(state, step, inputs);
    const hit = cacheHit(key, head);
    if (hit) return hit;
    log(head);
    const x = await loadExecutors();
    if (plan) {
      // the fast path: the layer written straight from its entries, no mount and no diff walk
      const view = await mountReadOnly(store, state);
      let entries: LayerEntry[] | null;
      try {
        entries = plan(view.path, x);
      } finally {
        view.release();
      }
      if (entries) {
        const layer = new PassThrough({ highWaterMark: 1 << 20 });
        const writing = x.writeLayer(
          entries.map((e) => ({ ...e, mtime: epoch })),
          layer,
        );
        writing.catch((err: unknown) => layer.destroy(err as Error));
        const next = await commitDiff(state, c, createdBy, layer);
        await writing;
        remember(key, next.id as Digest);
        return next;
      }
    }
    const dir = join(store.root, "containers", `build-${randomBytes(8).toString("hex")}`);
    const driver = x.defaultStorageDriver();
    try {
      const rootfs = await x.prepareRootfs(store, state, dir, driver, { volatile: true });
      try {
        await change(rootfs.path, x);
      } finally {
        x.releaseRootfs(rootfs);
      }
      const next = await commitDiff(state, c, createdBy, await x.diffRootfs(rootfs, { epoch }));
      remember(key, next.id as Digest);
      adoptUpper(x, rootfs, state, next);
      return next;
    } finally {
      x.removeContainerFiles(dir);
    }
  };

  /**
   * A step's upper directory becomes its new layer's snapshot (renamed, see adoptSnapshot),
   * so the next step mounts it as it is instead of unpacking the layer's tar again: each
   * layer is written once. Only once the layer is recorded: a crash before leaves a container
   * directory to sweep, never a snapshot without its image.
   */
  const adoptUpper = (x: typeof Executors, rootfs: Rootfs, parent: State, next: State): void => {
    const ids = next.config.rootfs.diff_ids;
    if (!rootfs.upper || ids.length === parent.config.rootfs.diff_ids.length) return;
    const chain = x.chainIds(ids).pop();
    if (!chain) return;
    x.normalizeUpper(rootfs.upper, epoch);
    x.adoptSnapshot(store, rootfs.upper, chain);
  };

  const commitDiff = async (
    state: State,
    c: ContainerConfig,
    createdBy: string,
    diff: NodeJS.ReadableStream,
  ): Promise<State> => {
    return store.withLease(async (lease: Lease) => {
      const staged = await (await loadExecutors()).ingestLayer(
        lease,
        diff as unknown as AsyncIterable<unknown>,
        {},
        `layer of ${createdBy}`,
      );
      const history = [...(state.config.history ?? [])];
      const created = epochIso(epoch);
      // docker 20.10 keeps a layer for every RUN, COPY, ADD and WORKDIR, empty or not
      if (staged.diffId === null) {
        history.push({ created, created_by: createdBy, comment: HISTORY_COMMENT, empty_layer: true });
        return commitImage(state, state.manifest, { ...state.config, created, config: c, history }, []);
      }
      history.push({ created, created_by: createdBy, comment: HISTORY_COMMENT });
      const manifest: Manifest = {
        ...state.manifest,
        layers: [...state.manifest.layers, { mediaType: MediaType.ociLayer, digest: staged.digest, size: staged.size }],
      };
      const config: ImageConfig = {
        ...state.config,
        created,
        config: c,
        rootfs: { type: "layers", diff_ids: [...state.config.rootfs.diff_ids, staged.diffId] },
        history,
      };
      return commitImage(state, manifest, config, [{ diffId: staged.diffId, size: staged.layerSize ?? 0 }]);
    });
  };

  const copyStep = async (
    state: State,
    c: ContainerConfig,
    step: ResolvedStep,
    head: string,
    ins: CopyInstruction | AddInstruction,
  ) => {
    const workdir = c.WorkingDir || "/";
    const dest = ins.dest.startsWith("/")
      ? ins.dest
      : posix.join(workdir, ins.dest) + (ins.dest.endsWith("/") || ins.dest === "." ? "/" : "");
    let root: { path: string; release: () => void } | undefined;
    let sources: CopySource[];
    let inputHash: string;
    const downloads: string[] = [];
    const from = ins.kind === "COPY" ? ins.from : undefined;
    if (from !== undefined) {
      const idx = stageIndexOf(from);
      const src: State | undefined = idx !== undefined ? await runStage(idx) : tryImage(store, from);
      if (!src)
        throw new BerthError(
          "USAGE",
          `${head.slice(head.indexOf("]") + 2)}: COPY --from=${from}: no stage or image of that name`,
        );
      root = await mountReadOnly(store, src);
      const srcCtx: BuildContext = { dir: root.path, ignored: () => false };
      const found = ins.sources.map((p) => findSources(srcCtx, p));
      ins.sources.forEach((p, i) => {
        if (found[i]?.length === 0 && (!/[*?[]/.test(p) || found.every((f) => f.length === 0))) throw notFound(p, from);
      });
      sources = found.flat().map((s) => ({ path: s.path, name: s.rel, rel: s.rel }));
      inputHash = `${src.id}:${JSON.stringify(ins.sources)}`;
    } else {
      const urls = ins.sources.filter((s) => /^https?:\/\//.test(s));
      const local = ins.sources.filter((s) => !/^https?:\/\//.test(s));
      const found = local.map((p) => findSources(ctx, p));
      if (found.some((f) => f.some((s) => s.rel === ""))) copiedFromContext.whole = true;
      local.forEach((p, i) => {
        // docker: a wildcard that matches nothing is fine as long as something is copied
        if (found[i]?.length === 0 && (!/[*?[]/.test(p) || found.every((f) => f.length === 0))) throw notFound(p);
      });
      // ADD of a URL: fetched now (docker does too, on every build); not unpacked, mode 0600
      const fetched = await Promise.all(urls.map((u) => download(store, u, downloads)));
      sources = [...found.flat().map((s) => ({ path: s.path, name: s.rel, rel: s.rel })), ...fetched];
      inputHash = `${store.db.transaction(() => hashSources(ctx, found.flat(), copiedFromContext, hashMemo)).immediate()}:${fetched.map((f) => f.digest).join(",")}`;
    }
    const inline = ins.contents.map((f) => f.path);
    // What both ways of copying take: into the mounted rootfs (copyInto) or planned against a view (planCopy).
    // Context files belong to root; files from a stage or image keep their owners.
    const own = (x: typeof Executors, rootPath: string): CopyOwnership => ({
      ...ownership(x, rootPath, ins.chown, ins.chmod),
      preserve: from !== undefined && !ins.chown,
    });
    const multiple = ins.sources.length + ins.contents.length > 1 || ins.sources.some((s) => /[*?[]/.test(s));
    const copyOptions = (): CopyOptions => {
      const exclude = ins.excludes.length ? makeIgnoreMatcher(ins.excludes.join("\n")) : undefined;
      return {
        unpackArchives: ins.kind === "ADD",
        forceDir: multiple,
        parents: ins.kind === "COPY" && ins.parents,
        ...(from === undefined ? { ignored: ctx.ignored } : {}),
        ...(exclude ? { exclude } : {}),
      };
    };
    try {
      return await fsStep(
        state,
        c,
        step,
        head,
        `${ins.kind} ${[...ins.sources, ...inline].join(" ")} ${ins.dest} # buildkit`,
        [inputHash, ins.contents],
        async (rootPath, x) => {
          const owner = own(x, rootPath);
          await x.copyInto(rootPath, sources, dest, owner, copyOptions());
          if (ins.contents.length) {
            const tmp = fs.mkdtempSync(join(store.root, "tmp", `${process.pid}-heredoc-`));
            try {
              const files = ins.contents.map((f) => {
                const p = join(tmp, posix.basename(f.path));
                fs.writeFileSync(p, f.data, { mode: 0o644 });
                return { path: p, name: f.path };
              });
              await x.copyInto(rootPath, files, dest, owner, { forceDir: multiple });
            } finally {
              fs.rmSync(tmp, { recursive: true, force: true });
            }
          }
        },
        ins.contents.length ? undefined : (view, x) => x.planCopy(view, sources, dest, own(x, view), copyOptions()),
      );
    } finally {
      root?.release();
      for (const d of downloads.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    }
  };

  const runStepRun = async (state: State, c: ContainerConfig, step: ResolvedStep, head: string): Promise<State> => {
    const ins = step.instruction;
    if (ins.kind !== "RUN") throw new BerthError("USAGE", "not a RUN step");
    const shell = shellOf(c);
    let cmd = ins.command.form === "exec" ? [...ins.command.args] : [...shell, ins.command.args[0] ?? ""];
    let stdin: string | undefined;
    const heredoc = ins.heredocs[0];
    if (heredoc) {
      const body = heredoc.chomp ? heredoc.data.replace(/^\t+/gm, "") : heredoc.data;
      // `RUN <<EOF` alone runs the body as the script; `RUN cmd <<EOF` feeds it on stdin.
      if (ins.command.form === "shell" && /^\s*<<-?["']?\w+["']?\s*$/.test(ins.command.args[0] ?? ""))
        cmd = [...shell, body];
      else stdin = body;
    }
    const args = step.args.filter((a) => a.value !== undefined).map((a) => `${a.key}=${a.value}`);
    const createdBy = `RUN ${args.length ? `|${args.length} ${args.join(" ")} ` : ""}${cmd.join(" ")} # buildkit`;
    const key = cacheKey(state, step, cmd);
    const hit = cacheHit(key, head);
    if (hit) return hit;
    log(head);
    if (!state.id) {
      throw new BerthError(
        "USAGE",
        `${ins.original.split("\n")[0]}: the stage is empty (FROM scratch with nothing copied yet): there is nothing to run`,
      );
    }
    // BuildKit gives RUN the proxy build args (both spellings) without an ARG for them
    const env = [...step.env].map(([k, v]) => `${k}=${v}`);
    for (const [k, v] of proxyEnv(buildArgMap)) if (!step.env.has(k)) env.push(`${k}=${v}`);
    const where = ins.original.split("\n")[0];
    if (ins.mounts.some((m) => m.type === "ssh")) {
      throw new BerthError("UNSUPPORTED", `${where}: --mount=type=ssh is not supported yet (use a secret mount)`);
    }
    // bind mounts from a stage or an image read out of its file system, mounted read-only
    const mounted: { release: () => void }[] = [];
    const views: string[] = [];
    const fromRoots = new Map<string, string>();
    for (const m of ins.mounts) {
      if (m.type !== "bind" || !m.from || fromRoots.has(m.from)) continue;
      const idx = stageIndexOf(m.from);
      const src = idx !== undefined ? await runStage(idx) : tryImage(store, m.from);
      if (!src) throw new BerthError("USAGE", `${where}: --mount from=${m.from}: no stage or image of that name`);
      const root = await mountReadOnly(store, src);
      mounted.push(root);
      fromRoots.set(m.from, root.path);
    }
    const cacheMounts = ins.mounts
      .filter((m) => m.type !== "ssh")
      .flatMap((m) => {
        if (m.type === "secret") {
          const id = m.id ?? (m.target ? posix.basename(m.target) : undefined);
          const source = id ? opts.secrets?.[id] : undefined;
          if (!id || !source) {
            if (m.required)
              throw new BerthError(
                "USAGE",
                `${where}: secret ${id ?? "(no id)"} is required but was not given (--secret id=${id ?? "ID"},src=FILE)`,
              );
            return [];
          }
          return [{ source: resolve(source), destination: m.target ?? `/run/secrets/${id}`, readonly: true }];
        }
        if (!m.target) throw new BerthError("USAGE", `${where}: --mount needs a target`);
        if (m.type === "bind") {
          const fromRoot = m.from ? fromRoots.get(m.from) : undefined;
          const within: BuildContext = fromRoot ? { dir: fromRoot, ignored: () => false } : ctx;
          let src = findSources(within, m.source ?? ".")[0];
          if (src && !fromRoot && src.stat.isDirectory()) {
            // the context as docker would have sent it: .dockerignore's matches left out
            const view = fs.mkdtempSync(join(store.root, "tmp", `${process.pid}-ctxview-`));
            fs.cpSync(src.path, view, {
              recursive: true,
              verbatimSymlinks: true,
              filter: (p) => !ctx.ignored(posix.join(src?.rel ?? "", relative(src?.path ?? "", p))),
            });
            views.push(view);
            src = { ...src, path: view };
          }
          if (!src) throw notFound(m.source ?? ".");
          return [
            { source: src.path, destination: posix.resolve(c.WorkingDir || "/", m.target), readonly: m.readOnly },
          ];
        }
        const dir =
          m.type === "cache"
            ? join(
                store.root,
                "cache-mounts",
                createHash("sha256")
                  .update(m.id ?? m.target)
                  .digest("hex")
                  .slice(0, 32),
              )
            : fs.mkdtempSync(join(store.root, "tmp", `${process.pid}-tmpfs-`));
        if (!fs.existsSync(dir)) {
          fs.mkdirSync(dir, { recursive: true });
          // a cache's uid, gid and mode apply when it is first made, as in BuildKit
          fs.chownSync(dir, m.uid ?? 0, m.gid ?? 0);
          fs.chmodSync(dir, m.mode ?? 0o755);
        }
        return [{ source: dir, destination: posix.resolve(c.WorkingDir || "/", m.target), readonly: m.readOnly }];
      });
    const out = opts.output ?? new PassThrough().resume();
    const releaseMounts = () => {
      for (const m of mounted.splice(0)) m.release();
      for (const v of views.splice(0)) fs.rmSync(v, { recursive: true, force: true });
      for (const m of cacheMounts) {
        if (m.source.includes(`${process.pid}-tmpfs-`)) fs.rmSync(m.source, { recursive: true, force: true });
      }
    };
    const x = await loadExecutors();
    x.assertCanRun(configPlatform(state.config));
    const result = await x
      .runContainer(store, state.id, {
        entrypoint: [],
        cmd,
        env,
        ...(c.User ? { user: c.User } : {}),
        ...(c.WorkingDir ? { workdir: c.WorkingDir } : {}),
        network: ins.network === "default" ? (opts.network ?? "none") : ins.network,
        volumes: cacheMounts,
        stdin: stdin === undefined ? null : PassThrough.from([Buffer.from(stdin)]),
        stdout: out,
        stderr: out,
        name: `berth-build-${randomBytes(6).toString("hex")}`,
        buildStep: true,
        hostname: "buildkitsandbox",
      })
      .catch((err: unknown) => {
        releaseMounts();
        throw err;
      });
    try {
      if (result.exitCode !== 0) {
        throw new BerthError(
          "USAGE",
          `${head.slice(head.indexOf("]") + 2)}: process "${cmd.join(" ")}" did not complete successfully: exit code: ${result.exitCode}${result.message ? ` (${result.message})` : ""}`,
        );
      }
      const rootfs = x.openRootfs(x.containerDirOf(store, result.id), result.driver);
      if (rootfs.upper)
        removeMountStubs(
          x,
          store,
          state,
          rootfs.upper,
          cacheMounts.map((m) => m.destination),
        );
      const next = await commitDiff(state, c, createdBy, await x.diffRootfs(rootfs, { epoch }));
      remember(key, next.id as Digest);
      adoptUpper(x, rootfs, state, next);
      return next;
    } finally {
      releaseMounts();
      x.removeContainer(store, result.id, { force: true });
    }
  };

  let final: State;
  try {
    final = await runStage(targetIndex);
    // Concurrently started stages that the target does not wait on are still awaited for errors.
    await Promise.all(results.values());
  } catch (err) {
    await Promise.allSettled(results.values());
    rollBack(store, created, await loadExecutors());
    throw err;
  }
  if (opts.labels && Object.keys(opts.labels).length) {
    const c: ContainerConfig = { ...(final.config.config ?? {}) };
    c.Labels = { ...(c.Labels ?? {}), ...opts.labels };
    final = commitImage(final, final.manifest, { ...final.config, config: c }, []);
  }
  const id = final.id ?? commitImage(final, final.manifest, final.config, []).id;
  if (!id) throw new BerthError("STORE", "the build produced no image");
  for (const t of tags) addTag(store, id, t);
  const record = getImage(store, id);
  log(`#${counters.next} writing image ${id}`);
  for (const t of tags) log(`#${counters.next} naming to ${tagName(t)}`);
  const added = final.manifest.layers
    .slice(baseLayers.get(targetIndex) ?? 0)
    .map((l) => storedLayerFindings(store, l.digest));
  // a build that copied the whole context (COPY . …) sent what it copied: no walk needed
  const sent = copiedFromContext.whole ? copiedFromContext.bytes : contextBytes(ctx, undefined, copiedFromContext.dirs);
  const advice = adviseOnSize(added, { sent, copied: copiedFromContext.bytes });
  return {
    id,
    advice,
    tags: tags.map((t) => tagName(t)),
    size: record?.size ?? 0,
    layers: final.manifest.layers.length,
    steps: counters.steps,
    cached: counters.cached + counters.reused,
  };
}

/**
 * The runtime creates a mount's target (and its missing parents) in the container's upper
 * layer; those empty stubs are not the step's work, so they go before the diff, as
 * BuildKit's executor removes them. A path that the parent image has is kept.
 */
function removeMountStubs(
  x: typeof Executors,
  store: LocalStore,
  state: State,
  upper: string,
  targets: readonly string[],
): void {
  const lowers = x.chainIds(state.config.rootfs.diff_ids).map((c) => join(x.snapshotRoot(store), digestHex(c)));
  const inParent = (rel: string) => lowers.some((l) => fs.lstatSync(join(l, rel), { throwIfNoEntry: false }));
  for (const target of targets) {
    let rel = target.replace(/^\/+/, "").replace(/\/+$/, "");
    while (rel && rel !== ".") {
      const path = join(upper, rel);
      const st = fs.lstatSync(path, { throwIfNoEntry: false });
      if (!st || inParent(rel)) break;
      const empty = st.isDirectory() ? fs.readdirSync(path).length === 0 : st.isFile() && st.size === 0;
      if (!empty) break;
      fs.rmSync(path, { recursive: true, force: true });
      rel = posix.dirname(rel);
    }
  }
}

/** Fetches an ADD URL into a temp dir under the store; its bytes' digest keys the cache. */
async function download(store: LocalStore, url: string, dirs: string[]): Promise<CopySource & { digest: string }> {
  const dir = fs.mkdtempSync(join(store.root, "tmp", `${process.pid}-add-`));
  dirs.push(dir);
  let response: Response;
  try {
    response = await fetch(url, { redirect: "follow", signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new BerthError(
      "USAGE",
      `ADD ${url}: cannot fetch it (${cause?.code ?? cause?.message ?? (err as Error).message}): check the URL and that this machine can reach it, or put the file in the context`,
    );
  }
  if (!response.ok)
    throw new BerthError("USAGE", `ADD ${url}: the server answered ${response.status} ${response.statusText}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  const name = decodeURIComponent(new URL(url).pathname.split("/").filter(Boolean).pop() ?? "index.html");
  const path = join(dir, name.replace(/[/\\]/g, "_") || "download");
  fs.writeFileSync(path, bytes, { mode: 0o600 });
  fs.chmodSync(path, 0o600);
  return { path, name, unpack: false, digest: sha256(bytes) };
}

/**
 * The modules that execute a step (see executors.ts), loaded by the first step that is not
 * cached: a build whose steps are all cached does not evaluate them.
 */
function loadExecutors(): Promise<typeof Executors> {
  return import("./executors.js");
}

/** Deletes the images a failed build made (children first) and the cache rows naming them. */
function rollBack(store: LocalStore, created: readonly Digest[], x: typeof Executors): void {
  store.write(() => {
    for (const id of [...created].reverse()) {
      // another build may have come to use the same image meanwhile: keep it then
      const image = getImage(store, id);
      if (image && image.tags.length === 0 && childrenOf(store, id).length === 0) deleteImageRow(store, id);
    }
    const gone = store.db.prepare("DELETE FROM build_cache WHERE image_id NOT IN (SELECT id FROM images)");
    gone.run();
    x.pruneSnapshots(store);
  });
}

/** Stages the target needs: itself, its base stages, and those it copies from. */
function neededStages(stages: readonly Stage[], target: number): Set<number> {
  const needed = new Set<number>();
  const indexOf = (ref: string, before: number): number | undefined => {
    const lower = ref.toLowerCase();
    const byName = stages.findIndex((s, i) => i < before && s.name === lower);
    if (byName >= 0) return byName;
    if (/^\d+$/.test(ref) && Number(ref) < before) return Number(ref);
    return undefined;
  };
  const visit = (i: number) => {
    if (needed.has(i)) return;
    needed.add(i);
    const s = stages[i];
    if (!s) return;
    const base = indexOf(s.baseName, i);
    if (base !== undefined) visit(base);
    for (const ins of s.instructions) {
      if (ins.kind === "RUN") {
        for (const m of ins.mounts) {
          const dep = m.from !== undefined ? indexOf(m.from, i) : undefined;
          if (dep !== undefined) visit(dep);
        }
      }
      if (ins.kind === "COPY" && ins.from !== undefined) {
        const dep = indexOf(ins.from, i);
        if (dep !== undefined) visit(dep);
        else if (stages.some((st) => st.name === ins.from?.toLowerCase())) {
          throw new BerthError(
            "USAGE",
            `COPY --from=${ins.from}: a stage can only copy from a stage defined before it`,
          );
        }
      }
    }
  };
  visit(target);
  return needed;
}

function stripPositions(ins: StageInstruction): unknown {
  return JSON.parse(JSON.stringify(ins, (k, v) => (k === "range" || k === "original" ? undefined : v)));
}

function configPlatform(config: ImageConfig): PlatformSpec {
  return config.variant
    ? { os: config.os, architecture: config.architecture, variant: config.variant }
    : { os: config.os, architecture: config.architecture };
}

function scratchState(platform: PlatformSpec): State {
  return {
    id: null,
    manifest: {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: "" as Digest, size: 0 },
      layers: [],
    },
    config: {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      // BuildKit's config for FROM scratch starts with WorkingDir "/"
      config: { WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: [] },
      history: [],
    },
  };
}

const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** BuildKit gives every stage a PATH when its base has none (scratch, imports). */
function withDefaultPath(state: State): State {
  const env = state.config.config?.Env ?? [];
  if (env.some((e) => e.startsWith("PATH="))) return state;
  return {
    ...state,
    config: { ...state.config, config: { ...(state.config.config ?? {}), Env: [DEFAULT_PATH, ...env] } },
  };
}

/**
 * An image's manifest and config, found by ID with one query (a warm build reads this for each
 * of its cached steps, so the tags and names getImage also gathers are left out).
 */
function readState(store: LocalStore, id: Digest): State {
  const manifest = store.db.prepare("SELECT manifest FROM images WHERE id = ?").pluck().get(id) as Digest | undefined;
  if (!manifest) throw new BerthError("IMAGE_UNKNOWN", `No such image: ${id}`);
  return { id, manifest: store.readManifest(manifest), config: store.readConfig(id) };
}

function tryImage(store: LocalStore, name: string): State | undefined {
  try {
    return readState(store, resolveImage(store, name).image.id);
  } catch (err) {
    if (err instanceof BerthError && (err.code === "IMAGE_UNKNOWN" || err.code === "INVALID_REFERENCE"))
      return undefined;
    throw err;
  }
}

function inheritedSizes(store: LocalStore, parent: State): { diffId: Digest; size: number }[] {
  const q = store.db.prepare("SELECT size FROM layers WHERE diff_id = ?").pluck();
  return parent.config.rootfs.diff_ids.map((d) => ({ diffId: d, size: (q.get(d) as number | undefined) ?? 0 }));
}

/** An image's own files (no runtime mount points), to read COPY --from sources out of. */
async function mountReadOnly(store: LocalStore, state: State): Promise<{ path: string; release: () => void }> {
  const dir = join(store.root, "tmp", `${process.pid}-view-${randomBytes(8).toString("hex")}`);
  return (await loadExecutors()).mountImageView(store, state, dir);
}

function ownership(x: typeof Executors, root: string, chown: string | undefined, chmod: string | undefined) {
  let uid = 0;
  let gid = 0;
  if (chown) {
    const read = (p: string) => {
      try {
        return fs.readFileSync(join(root, p), "utf8");
      } catch {
        return null;
      }
    };
    const u = x.resolveUser(chown, read("etc/passwd"), read("etc/group"));
    uid = u.uid;
    // docker: a UID without a GID uses the same number as GID; a user name, that user's group
    gid = chown.includes(":") || !/^\d+$/.test(chown) ? u.gid : u.uid;
  }
  let mode: number | undefined;
  if (chmod !== undefined) {
    if (!/^[0-7]{3,4}$/.test(chmod))
      throw new BerthError("USAGE", `invalid --chmod=${chmod}: give an octal mode such as 755`);
    // docker 20.10 applies only the permission bits (4755 gives 0755)
    mode = Number.parseInt(chmod, 8) & 0o777;
  }
  return { uid, gid, ...(mode !== undefined ? { chmod: mode } : {}) };
}

function makeDirInRoot(root: string, dir: string, owner: { uid: number; gid: number }): void {
  let current = root;
  for (const part of dir.split("/").filter(Boolean)) {
    current = join(current, part);
    const st = fs.lstatSync(current, { throwIfNoEntry: false });
    if (!st) {
      fs.mkdirSync(current, { mode: 0o755 });
      fs.lchownSync(current, owner.uid, owner.gid);
    } else if (st.isSymbolicLink())
      return; // an existing link: the directory it names is already there
    else if (!st.isDirectory())
      throw new BerthError("USAGE", `WORKDIR ${dir}: ${current.slice(root.length)} is not a directory`);
  }
}

function notFound(path: string, from?: string): BerthError {
  return new BerthError(
    "USAGE",
    `failed to compute cache key: "/${path.replace(/^\/+/, "")}" not found${from ? ` in ${from}` : " in the build context (or excluded by .dockerignore)"}`,
  );
}

function setEnv(env: string[], key: string, value: string): void {
  const i = env.findIndex((e) => e.startsWith(`${key}=`));
  if (i >= 0) env[i] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
}

function shellOf(c: ContainerConfig): string[] {
  return c.Shell?.length ? [...c.Shell] : ["/bin/sh", "-c"];
}

function commandOf(cmd: CommandLine, shell: string[]): string[] {
  return cmd.form === "exec" ? [...cmd.args] : [...shell, cmd.args[0] ?? ""];
}

/** Go's %q of a []string, as BuildKit writes CMD, ENTRYPOINT and SHELL history rows. */
function goQuoteList(list: readonly string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(" ")}]`;
}

function epochIso(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace(".000Z", "Z");
}

function relativeName(contextDir: string, dockerfilePath: string): string {
  const rel = posix.relative(contextDir, dockerfilePath);
  return rel.startsWith("..") ? dockerfilePath : rel;
}

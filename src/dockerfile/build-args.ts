/**
 * Build arguments and the environment of each step, as BuildKit resolves them
 * (frontend/dockerfile/dockerfile2llb: defaultArgs, buildMetaArgs, dispatchArg, dispatchEnv):
 *
 * - The predefined platform ARGs (TARGETPLATFORM, BUILDARCH, …) and the ARGs before the first
 *   FROM form the global scope. It is visible in FROM lines only.
 * - Inside a stage, `ARG NAME` brings a global value in; `ARG NAME=default` declares its own
 *   default; `--build-arg NAME=v` overrides either. A declared ARG with a value is also an
 *   environment variable of the stage's later steps (not of the image).
 * - ENV sets both the step environment and the image's config Env.
 * - A stage built FROM an earlier stage starts with that stage's environment and ARGs.
 * - The proxy ARGs (HTTP_PROXY, …) need no declaration: they reach RUN's environment only.
 */
import type { EscapeChar, Range } from "./ast.js";
import { DockerfileError, DockerfileValueError } from "./errors.js";
import { expandWord } from "./expand.js";
import { expandInstruction } from "./expand-instruction.js";
import { goQuote } from "./go-strings.js";
import {
  type ArgInstruction,
  type DockerfileInstructions,
  parseTrigger,
  type StageInstruction,
} from "./instructions.js";

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly osVersion?: string;
}

/** containerd's platforms.Format: "linux/arm64", "linux/arm/v7". */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== "").join("/");
}

/** The proxy ARGs: accepted without an ARG line, passed to RUN, kept out of the image. */
export const PROXY_ARGS = [
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "FTP_PROXY",
  "ftp_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
] as const;

/** The platform ARGs BuildKit defines in the global scope. */
export const PLATFORM_ARGS = [
  "BUILDPLATFORM",
  "BUILDOS",
  "BUILDOSVERSION",
  "BUILDARCH",
  "BUILDVARIANT",
  "TARGETPLATFORM",
  "TARGETOS",
  "TARGETOSVERSION",
  "TARGETARCH",
  "TARGETVARIANT",
  "TARGETSTAGE",
] as const;

const PREDEFINED = new Set<string>([...PROXY_ARGS, ...PLATFORM_ARGS]);

/** True for the ARGs a build knows without an ARG line (no "unused build-arg" warning for them). */
export function isPredefinedArg(name: string): boolean {
  return PREDEFINED.has(name);
}

/** docker's default PATH for Linux images that set none (containerd's DefaultPathEnv). */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface PlatformArgsOptions {
  /** The machine building. */
  readonly buildPlatform: Platform;
  /** `--platform`; the build platform when not given. */
  readonly targetPlatform?: Platform;
  /** `--target`, for TARGETSTAGE; "default" when not given. */
  readonly target?: string;
  /** `--build-arg` values, which override these defaults too. */
  readonly buildArgs?: ReadonlyMap<string, string>;
}

/** The predefined platform ARGs and their values (BuildKit's defaultArgs). */
export function predefinedArgs(options: PlatformArgsOptions): Map<string, string> {
  const b = options.buildPlatform;
  const t = options.targetPlatform ?? b;
  const values: [string, string][] = [
    ["BUILDPLATFORM", formatPlatform(b)],
    ["BUILDOS", b.os],
    ["BUILDOSVERSION", b.osVersion ?? ""],
    ["BUILDARCH", b.architecture],
    ["BUILDVARIANT", b.variant ?? ""],
    ["TARGETPLATFORM", formatPlatform(t)],
    ["TARGETOS", t.os],
    ["TARGETOSVERSION", t.osVersion ?? ""],
    ["TARGETARCH", t.architecture],
    ["TARGETVARIANT", t.variant ?? ""],
    ["TARGETSTAGE", options.target || "default"],
  ];
  return new Map(values.map(([k, v]) => [k, options.buildArgs?.get(k) ?? v]));
}

/**
 * The proxy variables RUN gets from `--build-arg` (names matched case-insensitively), each in
 * both spellings, as BuildKit's ProxyEnv sets them.
 */
export function proxyEnv(buildArgs: ReadonlyMap<string, string>): [string, string][] {
  const out: [string, string][] = [];
  for (const upper of ["HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"]) {
    let value: string | undefined;
    for (const k of [...buildArgs.keys()].sort()) if (k.toUpperCase() === upper) value = buildArgs.get(k);
    if (value !== undefined) out.push([upper, value], [upper.toLowerCase(), value]);
  }
  return out;
}

function fail(err: unknown, file: string, range: Range): never {
  if (err instanceof DockerfileValueError)
    throw new DockerfileError(err.message, { file, ...range.start }, { cause: err });
  throw err;
}

/**
 * The global scope: predefined ARGs, then the ARGs before the first FROM in order, each default
 * expanded with what precedes it, each overridden by `--build-arg`.
 */
export function resolveMetaArgs(
  metaArgs: readonly ArgInstruction[],
  predefined: ReadonlyMap<string, string>,
  buildArgs: ReadonlyMap<string, string>,
  options: { escape?: EscapeChar; file?: string } = {},
): Map<string, string> {
  const scope = new Map(predefined);
  for (const arg of metaArgs) {
    for (const kv of arg.args) {
      let value = buildArgs.get(kv.key);
      if (value === undefined && kv.value !== undefined) {
        const raw = kv.value;
        try {
          value = expandWord(raw, scope, { escape: options.escape ?? "\\" });
        } catch (err) {
          fail(err, options.file ?? "Dockerfile", arg.range);
        }
      }
      if (value !== undefined) scope.set(kv.key, value);
    }
  }
  return scope;
}

/** A base image's config, as far as the steps of a stage built on it need it. */
export interface BaseImageConfig {
  /** Config.Env, "KEY=value" strings. */
  readonly env?: readonly string[];
  /** Config.OnBuild: triggers to run first in a stage built on the image. */
  readonly onBuild?: readonly string[];
}

export interface ResolveOptions extends PlatformArgsOptions {
  /** The config of an image a stage starts FROM; undefined when unknown (treated as empty). */
  readonly baseImage?: (image: string, platform: string | undefined) => BaseImageConfig | undefined;
  /** Which stages to resolve (indexes); their base stages come along. All when not given. */
  readonly stages?: readonly number[];
}

export type StageBase =
  | { readonly kind: "scratch" }
  | { readonly kind: "stage"; readonly index: number }
  | { readonly kind: "image"; readonly image: string };

export interface ResolvedArg {
  readonly key: string;
  readonly value?: string;
}

export interface ResolvedStep {
  /** The instruction with its variables expanded (ARG and ENV included). */
  readonly instruction: StageInstruction;
  /** An ONBUILD trigger inherited from the base, run before the stage's own steps. */
  readonly trigger: boolean;
  /** The environment the step runs with: base image Env, ENV, and ARG values, in that order. */
  readonly env: ReadonlyMap<string, string>;
  /** The ARGs declared so far in this stage (and its base stages), for RUN's cache and history. */
  readonly args: readonly ResolvedArg[];
}

export interface ResolvedStage {
  readonly index: number;
  readonly name?: string;
  /** The FROM image or stage name, expanded with the global ARGs. */
  readonly baseName: string;
  readonly base: StageBase;
  /** `--platform`, expanded. */
  readonly platform?: string;
  readonly steps: readonly ResolvedStep[];
  /** The environment after the last step. */
  readonly env: ReadonlyMap<string, string>;
  /** The image config's Env after the last step ("KEY=value"). */
  readonly configEnv: readonly string[];
  readonly args: readonly ResolvedArg[];
}

export interface ResolvedBuild {
  /** The global scope (predefined and pre-FROM ARGs). */
  readonly globalArgs: ReadonlyMap<string, string>;
  /** The resolved stages, by index; stages not asked for are absent. */
  readonly stages: readonly (ResolvedStage | undefined)[];
  /** `--build-arg` names no ARG declares (docker warns: "were not consumed"). */
  readonly unusedBuildArgs: readonly string[];
}

function envFromList(list: readonly string[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const kv of list) {
    const eq = kv.indexOf("=");
    if (eq < 0) env.set(kv, "");
    else env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  return env;
}

/** Sets KEY in a "KEY=value" list, in place of an earlier KEY (docker's addEnv). */
function setListEnv(list: string[], key: string, value: string): void {
  const i = list.findIndex((kv) => kv === key || kv.startsWith(`${key}=`));
  if (i >= 0) list[i] = `${key}=${value}`;
  else list.push(`${key}=${value}`);
}

/**
 * Walks the stages with `--build-arg` values and the platforms, expanding every instruction with
 * the environment in effect at its step. Pure: base images' configs come from `baseImage`.
 * Throws DockerfileError at the instruction whose expansion fails (`${VAR:?}` unset, a
 * malformed `${`, a bad EXPOSE port, a blank FROM).
 */
export function resolveBuild(dockerfile: DockerfileInstructions, options: ResolveOptions): ResolvedBuild {
  const buildArgs = options.buildArgs ?? new Map<string, string>();
  const file = dockerfile.file;
  const escapeChar = dockerfile.escape;
  const globalArgs = resolveMetaArgs(dockerfile.metaArgs, predefinedArgs(options), buildArgs, {
    escape: escapeChar,
    file,
  });
  const resolved: (ResolvedStage | undefined)[] = new Array(dockerfile.stages.length).fill(undefined);

  const resolveStage = (index: number): ResolvedStage => {
    const done = resolved[index];
    if (done) return done;
    const stage = dockerfile.stages[index];
    if (stage === undefined) throw new RangeError(`no stage ${index}`);
    const at = stage.from.range;
    let baseName = "";
    let platform: string | undefined;
    try {
      baseName = expandWord(stage.baseName, globalArgs, { escape: escapeChar });
      if (stage.platform !== undefined) platform = expandWord(stage.platform, globalArgs, { escape: escapeChar });
    } catch (err) {
      fail(err, file, at);
    }
    if (baseName === "")
      throw new DockerfileError(`base name (${stage.baseName}) should not be blank`, { file, ...at.start });
    if (platform === "") {
      throw new DockerfileError(`empty platform value from expression ${stage.platform}`, { file, ...at.start });
    }

    // Only an earlier stage can be a base (the last of that name, as BuildKit's name table
    // keeps the latest); a later stage of the name is an image reference.
    let parentIndex = -1;
    for (let i = 0; i < index; i++) if (dockerfile.stages[i]?.name === baseName) parentIndex = i;

    let base: StageBase;
    let env: Map<string, string>;
    let configEnv: string[];
    let args: ResolvedArg[];
    let triggers: readonly ((run: (trigger: StageInstruction) => void) => void)[];
    if (parentIndex >= 0) {
      const parent = resolveStage(parentIndex);
      base = { kind: "stage", index: parentIndex };
      configEnv = [...parent.configEnv];
      env = new Map(parent.env);
      for (const [k, v] of envFromList(configEnv)) env.set(k, v);
      args = [...parent.args];
      // A stage built on a stage runs that stage's ONBUILD instructions first.
      triggers = (dockerfile.stages[parentIndex]?.instructions ?? []).flatMap((i) =>
        i.kind === "ONBUILD" ? [(run: (t: StageInstruction) => void) => run(i.trigger)] : [],
      );
    } else {
      const image = baseName === "scratch" ? undefined : options.baseImage?.(baseName, platform);
      base = baseName === "scratch" ? { kind: "scratch" } : { kind: "image", image: baseName };
      configEnv = [...(image?.env ?? [])];
      const os = (platform?.split("/")[0] ?? options.targetPlatform?.os ?? options.buildPlatform.os) || "linux";
      if (!envFromList(configEnv).has("PATH") && os !== "windows") configEnv.push(`PATH=${DEFAULT_PATH}`);
      env = envFromList(configEnv);
      args = [];
      // The image's triggers are text from its config, with no place in this file: their
      // errors are reported at the FROM that brought them in.
      triggers = (image?.onBuild ?? []).map((expression) => (run) => {
        try {
          run(parseTrigger(expression));
        } catch (err) {
          if (!(err instanceof DockerfileError)) throw err;
          throw new DockerfileError(`ONBUILD trigger ${goQuote(expression)}: ${err.detail}`, { file, ...at.start });
        }
      });
    }

    const steps: ResolvedStep[] = [];
    const run = (instruction: StageInstruction, trigger: boolean) => {
      const before = new Map(env);
      if (instruction.kind === "ARG") {
        const declared = instruction.args.map((kv): ResolvedArg => {
          let value = buildArgs.get(kv.key);
          if (value === undefined && kv.value === undefined) value = globalArgs.get(kv.key);
          else if (value === undefined && kv.value !== undefined) {
            const raw = kv.value;
            try {
              value = expandWord(raw, env, { escape: escapeChar });
            } catch (err) {
              fail(err, file, instruction.range);
            }
          }
          if (value !== undefined) env.set(kv.key, value);
          args.push(value === undefined ? { key: kv.key } : { key: kv.key, value });
          return value === undefined ? { key: kv.key } : { key: kv.key, value };
        });
        steps.push({ instruction: { ...instruction, args: declared }, trigger, env: before, args: [...args] });
        return;
      }
      const expanded = expandInstruction(instruction, before, { escape: escapeChar, file });
      if (expanded.kind === "ENV") {
        for (const p of expanded.pairs) {
          env.set(p.key, p.value);
          setListEnv(configEnv, p.key, p.value);
        }
      }
      steps.push({ instruction: expanded, trigger, env: before, args: [...args] });
    };

    for (const trigger of triggers) trigger((t) => run(t, true));
    for (const instruction of stage.instructions) run(instruction, false);

    const result: ResolvedStage = {
      index,
      ...(stage.name === undefined ? {} : { name: stage.name }),
      baseName,
      base,
      ...(platform === undefined ? {} : { platform }),
      steps,
      env,
      configEnv,
      args,
    };
    resolved[index] = result;
    return result;
  };

  const wanted = options.stages ?? dockerfile.stages.map((_, i) => i);
  for (const i of wanted) resolveStage(i);

  const declared = new Set<string>();
  for (const a of dockerfile.metaArgs) for (const kv of a.args) declared.add(kv.key);
  for (const s of dockerfile.stages) {
    for (const i of s.instructions) if (i.kind === "ARG") for (const kv of i.args) declared.add(kv.key);
  }
  const unusedBuildArgs = [...buildArgs.keys()].filter((k) => !declared.has(k) && !isPredefinedArg(k)).sort();
  return { globalArgs, stages: resolved, unusedBuildArgs };
}

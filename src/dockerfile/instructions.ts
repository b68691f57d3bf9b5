/**
 * Syntax tree → typed instructions, grouped into build stages, with BuildKit's checks and
 * messages (frontend/dockerfile/instructions/parse.go). Words stay as written: variables are
 * expanded later, per stage, by expandInstruction, because their values depend on ARG and ENV
 * in effect at each step.
 */
import type { Dockerfile, EscapeChar, InstructionNode, Range, Word } from "./ast.js";
import { parseGoDuration } from "./duration.js";
import { DockerfileError, DockerfileValueError } from "./errors.js";
import { expandWord, NO_VARIABLES } from "./expand.js";
import { FlagError, type FlagSpec, type ParsedFlags, parseFlags } from "./flags.js";
import { trimSpaceBounds } from "./go-strings.js";
import { chompHeredocContent, heredocOf } from "./heredoc.js";
import { type Mount, parseMount } from "./mounts.js";
import { parseDockerfile } from "./parse.js";
import { withSuggestion } from "./suggest.js";

/**
 * A command line in BuildKit's shape. Shell form holds at most one element, the command text,
 * to be run as `[...SHELL, text]`; exec form holds the JSON array's strings. An empty exec-form
 * ENTRYPOINT clears the entrypoint (docker stores null), an empty exec-form CMD is `[]`.
 */
export interface CommandLine {
  readonly form: "shell" | "exec";
  readonly args: readonly string[];
}

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

/** A file written inline by COPY/ADD: `COPY <<EOF /dst`. */
export interface InlineFile {
  /** The heredoc's name, which is also the file's name when the destination is a directory. */
  readonly path: string;
  /** The body, with `<<-` tab stripping already applied. */
  readonly data: string;
  /** Whether `$VAR` in the body is expanded (the delimiter was not quoted). */
  readonly expand: boolean;
}

/** A heredoc RUN feeds to its command: `RUN <<EOF`, `RUN python3 <<EOF`. */
export interface RunHeredoc {
  readonly name: string;
  /** The body as written; with `chomp`, the shell (or the executor) strips leading tabs. */
  readonly data: string;
  readonly chomp: boolean;
  readonly expand: boolean;
  readonly fileDescriptor: number;
}

export type NetworkMode = "default" | "none" | "host";
export type SecurityMode = "sandbox" | "insecure";

interface Common {
  /** From the keyword to the end of the instruction (continuations and heredocs included). */
  readonly range: Range;
  /** The instruction as written, continuation lines joined (BuildKit's source code string). */
  readonly original: string;
}

export interface FromInstruction extends Common {
  readonly kind: "FROM";
  /** The image or earlier stage, unexpanded (it may use global ARGs). */
  readonly image: string;
  /** `AS name`, lower-cased: stage names are case-insensitive. */
  readonly name?: string;
  /** `--platform`, unexpanded. */
  readonly platform?: string;
}

export interface RunInstruction extends Common {
  readonly kind: "RUN";
  readonly command: CommandLine;
  readonly heredocs: readonly RunHeredoc[];
  /** The `--mount` values as written, in order. */
  readonly mountSpecs: readonly string[];
  /**
   * The mounts, parsed. Before expansion, a field written with a variable keeps its text when
   * it is a string (target, source, id, env) and is absent when it is typed (uid, mode, …);
   * expandInstruction parses the specs again with the stage's variables.
   */
  readonly mounts: readonly Mount[];
  readonly network: NetworkMode;
  readonly security: SecurityMode;
}

interface CopyCommon extends Common {
  /** Paths in the context (or in `from`), unexpanded; wildcards are the planner's. */
  readonly sources: readonly string[];
  readonly contents: readonly InlineFile[];
  readonly dest: string;
  readonly chown?: string;
  readonly chmod?: string;
  readonly link: boolean;
  /** `--exclude` patterns, in order. */
  readonly excludes: readonly string[];
}

export interface CopyInstruction extends CopyCommon {
  readonly kind: "COPY";
  /** A stage name, a stage index or an image. */
  readonly from?: string;
  readonly parents: boolean;
}

export interface AddInstruction extends CopyCommon {
  readonly kind: "ADD";
  readonly keepGitDir?: boolean;
  readonly checksum?: string;
  /** `--unpack`: undefined means docker's default (unpack local archives, not URLs). */
  readonly unpack?: boolean;
}

export interface EnvInstruction extends Common {
  readonly kind: "ENV";
  readonly pairs: readonly KeyValue[];
}

export interface ArgInstruction extends Common {
  readonly kind: "ARG";
  /** `ARG name` has no value; `ARG name=` has the empty value. */
  readonly args: readonly { readonly key: string; readonly value?: string }[];
}

export interface WorkdirInstruction extends Common {
  readonly kind: "WORKDIR";
  readonly path: string;
}

export interface UserInstruction extends Common {
  readonly kind: "USER";
  readonly user: string;
}

export interface LabelInstruction extends Common {
  readonly kind: "LABEL";
  readonly pairs: readonly KeyValue[];
}

export interface ExposeInstruction extends Common {
  readonly kind: "EXPOSE";
  /** As written and sorted (BuildKit sorts them); after expansion, docker's "80/tcp" keys. */
  readonly ports: readonly string[];
}

export interface VolumeInstruction extends Common {
  readonly kind: "VOLUME";
  readonly volumes: readonly string[];
}

export interface EntrypointInstruction extends Common {
  readonly kind: "ENTRYPOINT";
  readonly command: CommandLine;
}

export interface CmdInstruction extends Common {
  readonly kind: "CMD";
  readonly command: CommandLine;
}

export interface ShellInstruction extends Common {
  readonly kind: "SHELL";
  readonly shell: readonly string[];
}

export interface StopSignalInstruction extends Common {
  readonly kind: "STOPSIGNAL";
  readonly signal: string;
}

/** Durations in nanoseconds, as docker's image config stores them; 0 means "the default". */
export interface HealthcheckInstruction extends Common {
  readonly kind: "HEALTHCHECK";
  /** ["NONE"], ["CMD", ...exec args] or ["CMD-SHELL", command]. */
  readonly test: readonly string[];
  readonly interval: number;
  readonly timeout: number;
  readonly startPeriod: number;
  readonly startInterval: number;
  readonly retries: number;
}

export interface OnbuildInstruction extends Common {
  readonly kind: "ONBUILD";
  /** What goes into the image config's OnBuild list (heredoc bodies included). */
  readonly expression: string;
  /** The trigger, parsed and checked now although it runs in a later build. */
  readonly trigger: StageInstruction;
}

export interface MaintainerInstruction extends Common {
  readonly kind: "MAINTAINER";
  readonly maintainer: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CopyInstruction
  | AddInstruction
  | EnvInstruction
  | ArgInstruction
  | WorkdirInstruction
  | UserInstruction
  | LabelInstruction
  | ExposeInstruction
  | VolumeInstruction
  | EntrypointInstruction
  | CmdInstruction
  | ShellInstruction
  | StopSignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction["kind"];

/** What can follow FROM inside a stage. */
export type StageInstruction = Exclude<Instruction, FromInstruction>;

/** A build stage: a FROM and the instructions up to the next FROM. */
export interface Stage {
  /** `AS name`, lower-cased. */
  readonly name?: string;
  /** The FROM's image or earlier stage, unexpanded. */
  readonly baseName: string;
  readonly platform?: string;
  readonly from: FromInstruction;
  readonly instructions: readonly StageInstruction[];
}

export interface DockerfileInstructions {
  readonly file: string;
  readonly escape: EscapeChar;
  /** The ARGs before the first FROM: the global scope, usable in FROM lines. */
  readonly metaArgs: readonly ArgInstruction[];
  readonly stages: readonly Stage[];
}

export const INSTRUCTION_KINDS: readonly InstructionKind[] = [
  "ADD",
  "ARG",
  "CMD",
  "COPY",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "FROM",
  "HEALTHCHECK",
  "LABEL",
  "MAINTAINER",
  "ONBUILD",
  "RUN",
  "SHELL",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
];

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

/** Turns a check's failure into a DockerfileError at the right spot. */
class Checker {
  readonly node: InstructionNode;
  private readonly file: string;

  constructor(node: InstructionNode, file: string) {
    this.node = node;
    this.file = file;
  }

  fail(message: string, range: Range = this.node.keywordRange): DockerfileError {
    return new DockerfileError(message, { file: this.file, ...range.start });
  }

  /** Runs `f`, locating any DockerfileValueError it throws at `range`. */
  at<T>(range: Range, f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof FlagError) throw new DockerfileError(err.message, { file: this.file, ...err.range.start });
      if (err instanceof DockerfileValueError) {
        throw new DockerfileError(err.message, { file: this.file, ...range.start }, { cause: err });
      }
      throw err;
    }
  }

  flags(spec: FlagSpec): ParsedFlags {
    return this.at(this.node.keywordRange, () => parseFlags(this.node.flags, spec));
  }

  /** The range of the first `--name` flag, for errors about its value. */
  flagRange(name: string): Range {
    const f = this.node.flags.find((x) => x.text === `--${name}` || x.text.startsWith(`--${name}=`));
    return f?.range ?? this.node.keywordRange;
  }

  /** BuildKit's nodeArgs: an ONBUILD's arguments are its trigger's keyword and arguments. */
  args(): readonly Word[] {
    const t = this.node.trigger;
    if (this.node.keyword === "ONBUILD") return t ? [{ value: t.keywordText, range: t.keywordRange }, ...t.args] : [];
    return this.node.args;
  }
}

/** handleJSONArgs: exec form as is; shell form as one string. */
function commandLine(node: InstructionNode, args: readonly Word[]): CommandLine {
  if (node.json) return { form: "exec", args: args.map((a) => a.value) };
  return { form: "shell", args: args.length === 0 ? [] : [args.map((a) => a.value).join(" ")] };
}

function common(node: InstructionNode): Common {
  const { start, end } = trimSpaceBounds(node.original);
  return { range: node.range, original: node.original.slice(start, end) };
}

function copyRules(c: Checker, keyword: "COPY" | "ADD") {
  const args = c.args();
  if (args.length < 2) {
    throw c.fail(
      args.length === 0
        ? `${keyword} requires at least two arguments, but none were provided`
        : `${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`,
    );
  }
  const dest = args[args.length - 1] as Word;
  if (heredocOf(dest.value)) throw c.fail(`${keyword} cannot accept a heredoc as a destination`, dest.range);
  const bodies = new Map(c.node.heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const contents: InlineFile[] = [];
  for (const src of args.slice(0, -1)) {
    const doc = heredocOf(src.value);
    if (!doc) {
      sources.push(src.value);
      continue;
    }
    const body = bodies.get(doc.name)?.content ?? "";
    contents.push({ path: doc.name, data: doc.chomp ? chompHeredocContent(body) : body, expand: doc.expand });
  }
  return { sources, contents, dest: dest.value };
}

function durationFlag(c: Checker, flags: ParsedFlags, name: string): number {
  const text = flags.string(name);
  if (text === undefined || text === "") return 0;
  const ns = c.at(c.flagRange(name), () => parseGoDuration(text));
  if (ns === 0) return 0;
  if (ns < 1e6) throw c.fail(`Interval "${name}" cannot be less than 1ms`, c.flagRange(name));
  return ns;
}

function healthcheck(c: Checker): HealthcheckInstruction {
  const args = c.args();
  const first = args[0];
  if (first === undefined) throw c.fail("HEALTHCHECK requires at least one argument");
  const base = { kind: "HEALTHCHECK" as const, ...common(c.node) };
  const zero = { interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  let type = first.value.toUpperCase();
  if (type === "NONE") {
    if (args.length !== 1) throw c.fail("HEALTHCHECK NONE takes no arguments", (args[1] as Word).range);
    return { ...base, test: ["NONE"], ...zero };
  }
  const flags = c.flags({
    interval: "string",
    timeout: "string",
    "start-period": "string",
    "start-interval": "string",
    retries: "string",
  });
  if (type !== "CMD") throw c.fail(`Unknown type "${type}" in HEALTHCHECK (try CMD)`, first.range);
  const cmd = commandLine(c.node, args.slice(1)).args;
  if (cmd.length === 0) throw c.fail("Missing command after HEALTHCHECK CMD", first.range);
  if (!c.node.json) type = "CMD-SHELL";
  let retries = 0;
  const r = flags.string("retries");
  if (r !== undefined && r !== "") {
    const range = c.flagRange("retries");
    if (!/^[+-]?\d+$/.test(r)) throw c.fail(`strconv.ParseInt: parsing "${r}": invalid syntax`, range);
    retries = Number.parseInt(r, 10);
    if (retries > 2147483647 || retries < -2147483648) {
      throw c.fail(`strconv.ParseInt: parsing "${r}": value out of range`, range);
    }
    if (retries < 0) throw c.fail(`--retries cannot be negative (${retries})`, range);
  }
  return {
    ...base,
    test: [type, ...cmd],
    interval: durationFlag(c, flags, "interval"),
    timeout: durationFlag(c, flags, "timeout"),
    startPeriod: durationFlag(c, flags, "start-period"),
    startInterval: durationFlag(c, flags, "start-interval"),
    retries,
  };
}

function run(c: Checker): RunInstruction {
  const flags = c.flags({ mount: "strings", network: "string", security: "string" });
  const mountSpecs = flags.strings("mount");
  const mountRanges = c.node.flags.filter((f) => f.text.startsWith("--mount")).map((f) => f.range);
  const mounts = mountSpecs.map((spec, i) =>
    c.at(mountRanges[i] ?? c.node.keywordRange, () => parseMount(spec, spec.includes("$") ? undefined : (w) => w)),
  );
  const network = flags.string("network") ?? "default";
  if (network !== "default" && network !== "none" && network !== "host") {
    throw c.fail(`invalid network mode "${network}"`, c.flagRange("network"));
  }
  const security = flags.string("security") ?? "sandbox";
  if (security !== "sandbox" && security !== "insecure") {
    throw c.fail(`security "${security}" is not valid`, c.flagRange("security"));
  }
  // BuildKit accepts a RUN without a command and fails when it runs (`/bin/sh -c` with no
  // argument); saying so before the build starts is kinder.
  const command = commandLine(c.node, c.args());
  if (command.args.length === 0) throw c.fail("RUN requires at least one argument");
  return {
    kind: "RUN",
    ...common(c.node),
    command,
    heredocs: c.node.heredocs.map((h) => ({
      name: h.name,
      data: h.content,
      chomp: h.chomp,
      expand: h.expand,
      fileDescriptor: h.fileDescriptor,
    })),
    mountSpecs,
    mounts,
    network,
    security,
  };
}

function copy(c: Checker): CopyInstruction {
  const files = copyRules(c, "COPY");
  const flags = c.flags({
    chown: "string",
    from: "string",
    chmod: "string",
    link: "bool",
    exclude: "strings",
    parents: "bool",
  });
  const from = flags.string("from");
  // Stages are wired up before any variable is known, so --from must be literal.
  if (from !== undefined && from !== "" && c.at(c.flagRange("from"), () => expandWord(from, NO_VARIABLES)) !== from) {
    throw c.fail(
      "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
      c.flagRange("from"),
    );
  }
  return {
    kind: "COPY",
    ...common(c.node),
    ...files,
    ...optional("from", from),
    ...optional("chown", flags.string("chown")),
    ...optional("chmod", flags.string("chmod")),
    link: flags.bool("link") === true,
    parents: flags.bool("parents") === true,
    excludes: flags.strings("exclude"),
  };
}

function add(c: Checker): AddInstruction {
  const files = copyRules(c, "ADD");
  const flags = c.flags({
    chown: "string",
    chmod: "string",
    link: "bool",
    "keep-git-dir": "bool",
    checksum: "string",
    unpack: "bool",
    exclude: "strings",
  });
  return {
    kind: "ADD",
    ...common(c.node),
    ...files,
    ...optional("chown", flags.string("chown")),
    ...optional("chmod", flags.string("chmod")),
    link: flags.bool("link") === true,
    excludes: flags.strings("exclude"),
    ...optional("keepGitDir", flags.bool("keep-git-dir")),
    ...optional("checksum", flags.string("checksum")),
    ...optional("unpack", flags.bool("unpack")),
  };
}

/** `{ [key]: value }` when the value is set and not "", else nothing (BuildKit's "" is unset). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined || value === "" ? {} : ({ [key]: value } as { [P in K]?: V });
}

function pairs(c: Checker, keyword: "ENV" | "LABEL"): KeyValue[] {
  c.flags({});
  if (c.node.pairs.length === 0) throw c.fail(`${keyword} requires at least one argument`);
  return c.node.pairs.map((p) => {
    if (p.key.value === "") throw c.fail(`${keyword} names can not be blank`, p.key.range);
    return { key: p.key.value, value: p.value.value };
  });
}

/** Exactly one argument, BuildKit's parseString instructions. */
function single(c: Checker, keyword: string): string {
  const args = c.args();
  if (args.length !== 1) throw c.fail(`${keyword} requires exactly one argument`);
  return (args[0] as Word).value;
}

function from(c: Checker): FromInstruction {
  const args = c.args();
  let name: string | undefined;
  if (args.length === 3 && (args[1] as Word).value.toLowerCase() === "as") {
    const written = args[2] as Word;
    name = written.value.toLowerCase();
    if (!STAGE_NAME.test(name)) {
      throw c.fail(
        `invalid name for build stage: "${written.value}", name can't start with a number or contain symbols`,
        written.range,
      );
    }
  } else if (args.length !== 1) {
    throw c.fail("FROM requires either one or three arguments");
  }
  const flags = c.flags({ platform: "string" });
  return {
    kind: "FROM",
    ...common(c.node),
    image: (args[0] as Word).value,
    ...optional("name", name),
    ...optional("platform", flags.string("platform")),
  };
}

function onbuild(c: Checker, file: string): OnbuildInstruction {
  const trigger = c.node.trigger;
  if (trigger === undefined || c.args().length === 0) throw c.fail("ONBUILD requires at least one argument");
  c.flags({});
  const keyword = trigger.keyword.trim();
  if (keyword === "ONBUILD") throw c.fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", trigger.keywordRange);
  if (keyword === "MAINTAINER" || keyword === "FROM") {
    throw c.fail(`${keyword} isn't allowed as an ONBUILD trigger`, trigger.keywordRange);
  }
  // Go's \s, which is ASCII only.
  let expression = c.node.original.replace(/^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*/i, "");
  for (const h of c.node.heredocs) expression += `\n${h.content}${h.name}`;
  const parsed = parseInstruction(trigger, file);
  if (parsed.kind === "FROM") throw c.fail("FROM isn't allowed as an ONBUILD trigger", trigger.keywordRange);
  return { kind: "ONBUILD", ...common(c.node), expression, trigger: parsed };
}

/**
 * One syntax-tree node → its typed instruction, or a DockerfileError naming what is wrong.
 * `file` only labels errors.
 */
export function parseInstruction(node: InstructionNode, file = "Dockerfile"): Instruction {
  const c = new Checker(node, file);
  const base = () => common(node);
  switch (node.keyword) {
    case "FROM":
      return from(c);
    case "RUN":
      return run(c);
    case "COPY":
      return copy(c);
    case "ADD":
      return add(c);
    case "ENV":
      return { kind: "ENV", ...base(), pairs: pairs(c, "ENV") };
    case "LABEL":
      return { kind: "LABEL", ...base(), pairs: pairs(c, "LABEL") };
    case "ARG": {
      const args = c.args();
      if (args.length === 0) throw c.fail("ARG requires at least one argument");
      return {
        kind: "ARG",
        ...base(),
        args: args.map((a) => {
          const eq = a.value.indexOf("=");
          if (eq < 0) return { key: a.value };
          if (eq === 0) throw c.fail("ARG names can not be blank", a.range);
          return { key: a.value.slice(0, eq), value: a.value.slice(eq + 1) };
        }),
      };
    }
    case "WORKDIR": {
      const path = single(c, "WORKDIR");
      c.flags({});
      return { kind: "WORKDIR", ...base(), path };
    }
    case "USER": {
      const user = single(c, "USER");
      c.flags({});
      return { kind: "USER", ...base(), user };
    }
    case "MAINTAINER": {
      const maintainer = single(c, "MAINTAINER");
      c.flags({});
      return { kind: "MAINTAINER", ...base(), maintainer };
    }
    case "STOPSIGNAL":
      return { kind: "STOPSIGNAL", ...base(), signal: single(c, "STOPSIGNAL") };
    case "EXPOSE": {
      const args = c.args();
      if (args.length === 0) throw c.fail("EXPOSE requires at least one argument");
      c.flags({});
      return { kind: "EXPOSE", ...base(), ports: args.map((a) => a.value).sort() };
    }
    case "VOLUME": {
      const args = c.args();
      if (args.length === 0) throw c.fail("VOLUME requires at least one argument");
      c.flags({});
      const volumes = args.map((a) => {
        const v = a.value.trim();
        if (v === "") throw c.fail("VOLUME specified can not be an empty string", a.range);
        return v;
      });
      return { kind: "VOLUME", ...base(), volumes };
    }
    case "CMD":
    case "ENTRYPOINT": {
      c.flags({});
      return { kind: node.keyword, ...base(), command: commandLine(node, c.args()) };
    }
    case "SHELL": {
      c.flags({});
      const shell = commandLine(node, c.args());
      if (shell.args.length === 0) throw c.fail("SHELL requires at least one argument");
      if (!node.json) throw c.fail("SHELL requires the arguments to be in JSON form");
      return { kind: "SHELL", ...base(), shell: shell.args };
    }
    case "HEALTHCHECK":
      return healthcheck(c);
    case "ONBUILD":
      return onbuild(c, file);
    default:
      throw c.fail(
        withSuggestion(`unknown instruction: ${node.keywordText}`, node.keywordText, INSTRUCTION_KINDS, false),
      );
  }
}

/**
 * The whole file's instructions: global ARGs, then stages. Everything BuildKit rejects before
 * building is rejected here, with the file, line and column.
 */
export function toInstructions(ast: Dockerfile): DockerfileInstructions {
  const metaArgs: ArgInstruction[] = [];
  const stages: { from: FromInstruction; instructions: StageInstruction[] }[] = [];
  for (const node of ast.instructions) {
    const instruction = parseInstruction(node, ast.file);
    if (instruction.kind === "FROM") {
      stages.push({ from: instruction, instructions: [] });
      continue;
    }
    const current = stages[stages.length - 1];
    if (current === undefined) {
      if (instruction.kind === "ARG") {
        metaArgs.push(instruction);
        continue;
      }
      throw new DockerfileError("no build stage in current context", { file: ast.file, ...node.keywordRange.start });
    }
    current.instructions.push(instruction);
  }
  return {
    file: ast.file,
    escape: ast.escape,
    metaArgs,
    stages: stages.map(({ from, instructions }) => ({
      ...optional("name", from.name),
      baseName: from.image,
      ...optional("platform", from.platform),
      from,
      instructions,
    })),
  };
}

/** Parses an ONBUILD trigger stored in a base image's config, to run it in this build. */
export function parseTrigger(expression: string): StageInstruction {
  const ast = parseDockerfile(expression, "ONBUILD");
  const node = ast.instructions[0] as InstructionNode;
  const instruction = parseInstruction(node, "ONBUILD");
  if (instruction.kind === "FROM") {
    throw new DockerfileError("FROM isn't allowed as an ONBUILD trigger", { file: "ONBUILD", line: 1, column: 1 });
  }
  return instruction;
}

/**
 * The Dockerfile front end: text → syntax tree → typed instructions → per-stage expansion, and
 * .dockerignore. Pure: nothing here reads files, opens sockets or starts processes.
 *
 *   const ast = parseDockerfile(text, "Dockerfile");
 *   const dockerfile = toInstructions(ast);
 *   const build = resolveBuild(dockerfile, { buildPlatform, buildArgs, baseImage });
 */
export type {
  Directive,
  Dockerfile,
  EscapeChar,
  FlagNode,
  HeredocNode,
  InstructionNode,
  KeyValueNode,
  ParseWarning,
  Position,
  Range,
  Word,
} from "./ast.js";
export {
  type BaseImageConfig,
  DEFAULT_PATH,
  formatPlatform,
  isPredefinedArg,
  PLATFORM_ARGS,
  type Platform,
  PROXY_ARGS,
  predefinedArgs,
  proxyEnv,
  type ResolvedArg,
  type ResolvedBuild,
  type ResolvedStage,
  type ResolvedStep,
  type ResolveOptions,
  resolveBuild,
  resolveMetaArgs,
  type StageBase,
} from "./build-args.js";
export { dockerignoreCandidates, dockerignoreFor, makeIgnoreMatcher, parseDockerignore } from "./dockerignore.js";
export { DockerfileError, DockerfileValueError, type SourceLocation } from "./errors.js";
export {
  expandWord,
  expandWords,
  type LexOptions,
  NO_VARIABLES,
  processWord,
  type VariableSource,
  type WordResult,
} from "./expand.js";
export { type ExpandOptions, expandInstruction } from "./expand-instruction.js";
export type {
  AddInstruction,
  ArgInstruction,
  CmdInstruction,
  CommandLine,
  CopyInstruction,
  DockerfileInstructions,
  EntrypointInstruction,
  EnvInstruction,
  ExposeInstruction,
  FromInstruction,
  HealthcheckInstruction,
  InlineFile,
  Instruction,
  InstructionKind,
  KeyValue,
  LabelInstruction,
  MaintainerInstruction,
  NetworkMode,
  OnbuildInstruction,
  RunHeredoc,
  RunInstruction,
  SecurityMode,
  ShellInstruction,
  Stage,
  StageInstruction,
  StopSignalInstruction,
  UserInstruction,
  VolumeInstruction,
  WorkdirInstruction,
} from "./instructions.js";
export { INSTRUCTION_KINDS, parseInstruction, parseTrigger, toInstructions } from "./instructions.js";
export type { Mount, MountSharing, MountType } from "./mounts.js";
export { parseMount } from "./mounts.js";
export { parseDockerfile } from "./parse.js";
export { parseExposedPort } from "./ports.js";

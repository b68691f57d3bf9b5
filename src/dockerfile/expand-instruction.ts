/**
 * Expands the variables of one instruction with the environment in effect at its step, the
 * way BuildKit does just before dispatching it (the Expand methods of
 * frontend/dockerfile/instructions/commands.go, and dispatchExpose). Which fields expand is
 * docker's rule, not the obvious one: RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK are left to
 * the shell at run time; COPY --from never expands; ARG is handled by the stage walk.
 */
import type { EscapeChar, Range } from "./ast.js";
import { DockerfileError, DockerfileValueError } from "./errors.js";
import { expandWord, expandWords, type VariableSource } from "./expand.js";
import type { Instruction } from "./instructions.js";
import { parseMount } from "./mounts.js";
import { parseExposedPort } from "./ports.js";

export interface ExpandOptions {
  readonly escape?: EscapeChar;
  /** Labels errors; "Dockerfile" by default. */
  readonly file?: string;
}

function located<T>(range: Range, file: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof DockerfileValueError) {
      throw new DockerfileError(err.message, { file, ...range.start }, { cause: err });
    }
    throw err;
  }
}

/** The instruction with its variables expanded; the same object when nothing expands. */
export function expandInstruction<T extends Instruction>(
  instruction: T,
  env: VariableSource,
  options: ExpandOptions = {},
): T {
  // Every case below returns an instruction of the kind it was given, so T is kept.
  return located(instruction.range, options.file ?? "Dockerfile", () =>
    expandFields(instruction, env, options.escape ?? "\\"),
  ) as T;
}

function expandFields(i: Instruction, env: VariableSource, escapeChar: EscapeChar): Instruction {
  const word = (w: string) => expandWord(w, env, { escape: escapeChar });
  // Heredoc bodies expand like a shell heredoc: quotes are text, and the escape is always "\".
  const body = (w: string) => expandWord(w, env, { escape: "\\", skipProcessQuotes: true });
  switch (i.kind) {
    case "ENV":
    case "LABEL":
      return { ...i, pairs: i.pairs.map((p) => ({ key: word(p.key), value: word(p.value) })) };
    case "COPY":
    case "ADD": {
      const files = {
        sources: i.sources.map(word),
        dest: word(i.dest),
        contents: i.contents.map((c) => (c.expand ? { ...c, data: body(c.data) } : c)),
        ...(i.chown === undefined ? {} : { chown: word(i.chown) }),
        ...(i.chmod === undefined ? {} : { chmod: word(i.chmod) }),
      };
      if (i.kind === "COPY") return { ...i, ...files };
      return { ...i, ...files, ...(i.checksum === undefined ? {} : { checksum: word(i.checksum) }) };
    }
    case "WORKDIR":
      return { ...i, path: word(i.path) };
    case "USER":
      return { ...i, user: word(i.user) };
    case "VOLUME":
      return { ...i, volumes: i.volumes.map(word) };
    case "STOPSIGNAL":
      return { ...i, signal: word(i.signal) };
    case "EXPOSE":
      // Ports split on whitespace after expansion, so one variable can hold several.
      return {
        ...i,
        ports: i.ports.flatMap((p) => expandWords(p, env, { escape: escapeChar })).flatMap(parseExposedPort),
      };
    case "RUN":
      return { ...i, mounts: i.mountSpecs.map((spec) => parseMount(spec, word)) };
    default:
      return i;
  }
}

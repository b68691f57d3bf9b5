/**
 * Builder flags (`COPY --from=x`, `RUN --mount=…`), with BuildKit's rules
 * (frontend/dockerfile/instructions/bflag.go): each instruction declares the flags it takes;
 * an undeclared flag, a repeated single-valued flag or a missing value is an error.
 */
import type { FlagNode, Range } from "./ast.js";
import { DockerfileValueError } from "./errors.js";
import { withSuggestion } from "./suggest.js";

export type FlagKind = "bool" | "string" | "strings";

/** What the instruction accepts: flag name (without "--") → kind. */
export type FlagSpec = Readonly<Record<string, FlagKind>>;

/** A flag's problem, with the flag it is about so the error can point at it. */
export class FlagError extends DockerfileValueError {
  readonly range: Range;
  constructor(message: string, range: Range) {
    super(message);
    this.range = range;
  }
}

export class ParsedFlags {
  private readonly values = new Map<string, string | boolean | string[]>();

  constructor(entries: Iterable<[string, string | boolean | string[]]>) {
    for (const [k, v] of entries) this.values.set(k, v);
  }

  /** A string flag's value, undefined when not given. */
  string(name: string): string | undefined {
    const v = this.values.get(name);
    return typeof v === "string" ? v : undefined;
  }

  /** A bool flag's value: undefined when not given. */
  bool(name: string): boolean | undefined {
    const v = this.values.get(name);
    return typeof v === "boolean" ? v : undefined;
  }

  /** Every value of a repeatable flag, in order. */
  strings(name: string): string[] {
    const v = this.values.get(name);
    return Array.isArray(v) ? v : [];
  }

  has(name: string): boolean {
    return this.values.has(name);
  }
}

export function parseFlags(flags: readonly FlagNode[], spec: FlagSpec): ParsedFlags {
  const values = new Map<string, string | boolean | string[]>();
  for (const flag of flags) {
    const a = flag.text;
    // A bare "--" ends the flags (POSIX utility syntax guidelines).
    if (a === "--") break;
    if (!a.startsWith("--")) throw new FlagError(`arg should start with -- : ${a}`, flag.range);
    const eq = a.indexOf("=");
    const flagName = eq < 0 ? a : a.slice(0, eq);
    const value = eq < 0 ? undefined : a.slice(eq + 1);
    const name = flagName.slice(2);
    const kind = spec[name];
    if (kind === undefined) {
      throw new FlagError(withSuggestion(`unknown flag: ${flagName}`, name, Object.keys(spec), true), flag.range);
    }
    if (values.has(name) && kind !== "strings") {
      throw new FlagError(`duplicate flag specified: ${flagName}`, flag.range);
    }
    switch (kind) {
      case "bool": {
        // "--link" alone is true; "--link=" is an error.
        if (value === "") throw new FlagError(`missing a value on flag: ${flagName}`, flag.range);
        const v = (value ?? "").toLowerCase();
        if (v === "true" || v === "") values.set(name, true);
        else if (v === "false") values.set(name, false);
        else throw new FlagError(`expecting boolean value for flag ${flagName}, not: ${value}`, flag.range);
        break;
      }
      case "string":
        if (value === undefined) throw new FlagError(`missing a value on flag: ${flagName}`, flag.range);
        values.set(name, value);
        break;
      case "strings": {
        if (value === undefined) throw new FlagError(`missing a value on flag: ${flagName}`, flag.range);
        const list = values.get(name);
        if (Array.isArray(list)) list.push(value);
        else values.set(name, [value]);
        break;
      }
    }
  }
  return new ParsedFlags(values);
}

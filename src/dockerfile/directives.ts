/**
 * Parser directives (`# syntax=`, `# escape=`, `# check=`), as BuildKit's DirectiveParser reads
 * them: only in the comment lines at the very top, before any instruction, other comment or blank
 * line; each at most once; names case-insensitive.
 */
import type { DirectiveName } from "./ast.js";
import { DockerfileValueError } from "./errors.js";
import { skipSpace } from "./go-strings.js";

// Go's \s is [\t\n\f\r ].
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
const NAMES = new Set<string>(["syntax", "escape", "check"]);

export class DirectiveParser {
  private done = false;
  private readonly seen = new Set<string>();

  /** The directive on this line, if it is one; after the first line that is not, never again. */
  parseLine(line: string): { name: DirectiveName; value: string } | undefined {
    if (this.done) return undefined;
    if (!line.startsWith("#")) {
      this.done = true;
      return undefined;
    }
    const body = line.slice(skipSpace(line, 1));
    const m = DIRECTIVE.exec(body);
    const name = m?.[1]?.toLowerCase();
    if (m === null || name === undefined || !NAMES.has(name)) {
      this.done = true;
      return undefined;
    }
    if (this.seen.has(name)) throw new DockerfileValueError(`only one ${name} parser directive can be used`);
    this.seen.add(name);
    return { name: name as DirectiveName, value: m[2] as string };
  }
}

/** Only "\\" and "`" can be the escape character. */
export function checkEscapeToken(value: string): "\\" | "`" {
  if (value !== "`" && value !== "\\") {
    throw new DockerfileValueError(`invalid escape token '${value}' does not match \` or \\`);
  }
  return value;
}

import { BerthError } from "../oci/errors.js";

/** Where in a Dockerfile something is: 1-based line and column (columns count characters). */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/**
 * A Dockerfile that cannot be built as written. The message is one line, `file:line:column: what`,
 * the way compilers print it, so editors and terminals can jump to the spot. The wording after
 * the location is BuildKit's wherever BuildKit has one, because that is what users search for.
 * The code is USAGE: the fix is in the user's input, not in berth or the store.
 */
export class DockerfileError extends BerthError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The message without its location, e.g. "COPY requires at least two arguments". */
  readonly detail: string;

  constructor(detail: string, where: SourceLocation, options?: { cause?: unknown }) {
    super("USAGE", `${where.file}:${where.line}:${where.column}: ${detail}`, options);
    this.name = "DockerfileError";
    this.file = where.file;
    this.line = where.line;
    this.column = where.column;
    this.detail = detail;
  }
}

/**
 * A problem found while expanding variables or checking a value, before it is known where in the
 * file that value came from. Callers that know the location turn it into a DockerfileError.
 */
export class DockerfileValueError extends BerthError {
  constructor(message: string) {
    super("USAGE", message);
    this.name = "DockerfileValueError";
  }
}

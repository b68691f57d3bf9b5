/**
 * The Dockerfile syntax tree: what BuildKit's parser (frontend/dockerfile/parser) produces, with
 * every node carrying where it came from. Words are kept as written (quotes, escapes and `$VAR`
 * still in) because expansion depends on the stage's environment, which only the later passes
 * know.
 */

/** A point in the source: 1-based line, 1-based column counted in characters (code points). */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** A stretch of source; `end` is the position just after the last character. */
export interface Range {
  readonly start: Position;
  readonly end: Position;
}

export type EscapeChar = "\\" | "`";

export type DirectiveName = "syntax" | "escape" | "check";

/** `# syntax=…`, `# escape=…` or `# check=…` at the top of the file. */
export interface Directive {
  readonly name: DirectiveName;
  readonly value: string;
  readonly range: Range;
}

/** One argument as BuildKit's line parsers hand it on: quotes and escapes kept, nothing expanded. */
export interface Word {
  readonly value: string;
  readonly range: Range;
}

/** A builder flag such as `--from=build`, quotes already removed, as one string. */
export interface FlagNode {
  readonly text: string;
  readonly range: Range;
}

/** One `key=value` (or legacy `key value`) of ENV or LABEL. */
export interface KeyValueNode {
  readonly key: Word;
  readonly value: Word;
  /** False for the legacy `ENV key value` form, which BuildKit keeps apart for its linter. */
  readonly hasEquals: boolean;
}

/** A here-document attached to RUN, COPY or ADD (`<<EOF` … `EOF`). */
export interface HeredocNode {
  /** The delimiter word with its quotes removed: what the body's last line must equal. */
  readonly name: string;
  /** `3<<EOF` redirects file descriptor 3; 0 when no number is written. */
  readonly fileDescriptor: number;
  /** False when any part of the delimiter was quoted (`<<"EOF"`, `<<'EOF'`): no expansion. */
  readonly expand: boolean;
  /** `<<-EOF`: leading tabs are stripped from the body's lines (and from the terminator). */
  readonly chomp: boolean;
  /** The body's lines exactly as written, each with its line ending (BuildKit keeps the "\n"). */
  readonly content: string;
  /** From the body's first line to the end of the terminator line. */
  readonly range: Range;
}

/** How an instruction's arguments were split, after BuildKit's per-instruction rule. */
export interface InstructionNode {
  /** The keyword in upper case ("RUN"); an unknown keyword is kept too, for the error. */
  readonly keyword: string;
  /** The keyword as written ("run"). */
  readonly keywordText: string;
  readonly keywordRange: Range;
  /** From the keyword to the end of the instruction, continuation lines and heredocs included. */
  readonly range: Range;
  /** The logical line: physical lines joined, continuations and comment lines removed. */
  readonly original: string;
  readonly flags: readonly FlagNode[];
  /**
   * The arguments in BuildKit's shape: one word for shell form (RUN, CMD, ENTRYPOINT, SHELL,
   * USER, WORKDIR, …), the strings for JSON form, whitespace-split words for FROM, EXPOSE and the
   * shell form of COPY/ADD/VOLUME, quote-aware words for ARG, the type then the command for
   * HEALTHCHECK. Empty for ENV and LABEL, whose arguments are in `pairs`.
   */
  readonly args: readonly Word[];
  readonly pairs: readonly KeyValueNode[];
  /** The arguments were a JSON array (exec form). */
  readonly json: boolean;
  readonly heredocs: readonly HeredocNode[];
  /** ONBUILD's instruction. */
  readonly trigger?: InstructionNode;
  /** The comment lines directly above, without their "#". */
  readonly comments: readonly string[];
}

/** Something BuildKit accepts but warns about (empty continuation lines). */
export interface ParseWarning {
  readonly message: string;
  readonly range: Range;
}

export interface Dockerfile {
  readonly file: string;
  readonly escape: EscapeChar;
  readonly directives: readonly Directive[];
  readonly instructions: readonly InstructionNode[];
  readonly warnings: readonly ParseWarning[];
}

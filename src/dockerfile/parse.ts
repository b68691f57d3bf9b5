/**
 * Dockerfile text → syntax tree, following BuildKit's parser (frontend/dockerfile/parser) line by
 * line: parser directives, comments, line continuations with the escape character, empty
 * continuation lines (a warning), heredocs, and each instruction's own way of splitting its
 * arguments.
 *
 * Written by hand rather than on dockerfile-ast: that parser is built for editors and differs
 * from BuildKit where it matters for building. It joins `RUN echo \\` with the next line (BuildKit
 * does not: an escaped escape character is not a continuation), splits ENV and COPY arguments
 * without BuildKit's quote rules, and reads heredoc bodies as instructions unless asked.
 * Porting BuildKit's ~600 lines keeps berth's reading of a file identical to docker's.
 */
import type {
  Directive,
  Dockerfile,
  EscapeChar,
  FlagNode,
  HeredocNode,
  InstructionNode,
  KeyValueNode,
  ParseWarning,
  Word,
} from "./ast.js";
import { checkEscapeToken, DirectiveParser } from "./directives.js";
import { DockerfileError, DockerfileValueError } from "./errors.js";
import { isSpace, skipSpace, trimSpaceBounds } from "./go-strings.js";
import { heredocsFromLine } from "./heredoc.js";
import {
  LineError,
  type PairSpan,
  parseJSONArray,
  parseNameVal,
  parseWords,
  type Span,
  splitCommand,
  splitWhitespace,
} from "./line-parsers.js";
import { LogicalLine, SourceText } from "./source-text.js";

interface PhysicalLine {
  /** Offset of the line's first character in the text. */
  readonly start: number;
  /** The line with its line ending. */
  readonly text: string;
}

function splitLines(text: string): PhysicalLine[] {
  const lines: PhysicalLine[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf("\n", start);
    const end = nl < 0 ? text.length : nl + 1;
    lines.push({ start, text: text.slice(start, end) });
    start = end;
  }
  return lines;
}

function trimNewline(s: string): string {
  let end = s.length;
  while (end > 0 && (s[end - 1] === "\n" || s[end - 1] === "\r")) end--;
  return s.slice(0, end);
}

function isComment(s: string): boolean {
  return s[skipSpace(s)] === "#";
}

/**
 * BuildKit's continuation rule: the escape character as the last non-blank character ends a line
 * that continues, unless the escape character itself is escaped (`\\`). A line holding only the
 * escape character continues too.
 */
function continuationPattern(escapeChar: EscapeChar): RegExp {
  const e = escapeChar === "\\" ? "\\\\" : "`";
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

/** The part of the line to keep, and whether the instruction ends with this line. */
function trimContinuation(line: string, pattern: RegExp): { kept: string; ends: boolean } {
  const m = pattern.exec(line);
  if (!m) return { kept: line, ends: true };
  return { kept: line.slice(0, m.index + (m[1]?.length ?? 0)), ends: false };
}

const HEREDOC_KEYWORDS = new Set(["ADD", "COPY", "RUN"]);

interface MutableNode {
  keyword: string;
  keywordText: string;
  keywordRange: InstructionNode["keywordRange"];
  range: InstructionNode["range"];
  original: string;
  flags: FlagNode[];
  args: Word[];
  pairs: KeyValueNode[];
  json: boolean;
  heredocs: HeredocNode[];
  trigger?: MutableNode;
  comments: string[];
}

class Parser {
  private readonly source: SourceText;
  private readonly lines: PhysicalLine[];
  private readonly file: string;
  private escapeChar: EscapeChar = "\\";
  private continuation = continuationPattern("\\");
  private readonly directiveParser = new DirectiveParser();
  private readonly directives: Directive[] = [];
  private readonly warnings: ParseWarning[] = [];
  private readonly instructions: InstructionNode[] = [];
  private next = 0;

  constructor(text: string, file: string) {
    // A byte-order mark is not part of the first line, as in BuildKit.
    const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
    this.source = new SourceText(body);
    this.lines = splitLines(body);
    this.file = file;
  }

  private errorAt(message: string, offset: number, cause?: unknown): DockerfileError {
    const { line, column } = this.source.position(offset);
    return new DockerfileError(message, { file: this.file, line, column }, { cause });
  }

  parse(): Dockerfile {
    let comments: string[] = [];
    while (this.next < this.lines.length) {
      const physical = this.lines[this.next] as PhysicalLine;
      this.next++;
      if (isComment(physical.text)) {
        const text = physical.text.slice(physical.text.indexOf("#") + 1);
        const { start, end } = trimSpaceBounds(text);
        const comment = text.slice(start, end);
        if (comment === "") comments = [];
        else comments.push(comment);
      }
      const untrimmed = trimNewline(physical.text);
      const lead = skipSpace(untrimmed);
      const content = untrimmed.slice(lead);
      this.directive(content, physical.start + lead, comments);
      const first = trimContinuation(isComment(content) ? "" : content, this.continuation);
      if (first.ends && first.kept.length === 0) continue;

      const logical = new LogicalLine(this.source);
      logical.append(physical.start + lead, first.kept);
      let ends = first.ends;
      let emptyContinuation = false;
      while (!ends && this.next < this.lines.length) {
        const cont = this.lines[this.next] as PhysicalLine;
        this.next++;
        // Comment lines inside a continued instruction vanish; blank ones too, with a warning.
        if (isComment(cont.text)) continue;
        const text = trimNewline(cont.text);
        if (skipSpace(text) === text.length) {
          emptyContinuation = true;
          continue;
        }
        const piece = trimContinuation(text, this.continuation);
        logical.append(cont.start, piece.kept);
        ends = piece.ends;
      }

      const node = this.node(logical, 0, logical.text.length, comments);
      if (emptyContinuation) {
        this.warnings.push({ message: `Empty continuation line found in: ${logical.text}`, range: node.range });
      }
      this.readHeredocs(node, logical);
      this.instructions.push(freeze(node));
      comments = [];
    }
    if (this.instructions.length === 0) {
      const line = Math.max(1, this.lines.length);
      throw new DockerfileError("file with no instructions", { file: this.file, line, column: 1 });
    }
    return {
      file: this.file,
      escape: this.escapeChar,
      directives: this.directives,
      instructions: this.instructions,
      warnings: this.warnings,
    };
  }

  private directive(content: string, offset: number, comments: string[]): void {
    let found: ReturnType<DirectiveParser["parseLine"]>;
    try {
      found = this.directiveParser.parseLine(content);
      if (found?.name === "escape") {
        this.escapeChar = checkEscapeToken(found.value);
        this.continuation = continuationPattern(this.escapeChar);
      }
    } catch (err) {
      if (err instanceof DockerfileValueError) throw this.errorAt(err.message, offset, err);
      throw err;
    }
    if (found === undefined) return;
    comments.pop();
    this.directives.push({ ...found, range: this.source.range(offset, offset + content.length) });
  }

  /** One instruction from `line.text.slice(from, to)`: BuildKit's newNodeFromLine. */
  private node(line: LogicalLine, from: number, to: number, comments: string[]): MutableNode {
    const text = line.text.slice(from, to);
    const split = splitCommand(text, this.escapeChar);
    const at = (s: Span) => line.range(from + s.start, from + s.end);
    const word = (s: Span): Word => ({ value: s.value, range: at(s) });
    const keywordText = split.keyword.value;
    const keyword = keywordText.toUpperCase();
    const node: MutableNode = {
      keyword,
      keywordText,
      keywordRange: at(split.keyword),
      range: line.range(from + split.keyword.start, to),
      original: text,
      flags: split.flags.map((f) => ({ text: f.value, range: at(f) })),
      args: [],
      pairs: [],
      json: false,
      heredocs: [],
      comments: [...comments],
    };
    const rest = split.rest;
    try {
      this.splitArguments(node, line, from, rest, word);
    } catch (err) {
      if (err instanceof LineError) throw this.errorAt(err.message, line.sourceOffset(from + err.at), err);
      if (err instanceof DockerfileValueError) {
        throw this.errorAt(err.message, line.sourceOffset(from + split.keyword.start), err);
      }
      throw err;
    }
    return node;
  }

  private splitArguments(node: MutableNode, line: LogicalLine, from: number, rest: Span, word: (s: Span) => Word) {
    const maybeJSON = (s: Span): { words: Span[]; json: boolean } => {
      if (s.value === "") return { words: [], json: false };
      const json = parseJSONArray(s.value, s.start);
      return json ? { words: json, json: true } : { words: [s], json: false };
    };
    switch (node.keyword) {
      case "ADD":
      case "COPY":
      case "VOLUME": {
        const json = parseJSONArray(rest.value, rest.start);
        node.json = json !== undefined;
        node.args = (json ?? splitWhitespace(rest.value, rest.start)).map(word);
        return;
      }
      case "ARG":
        node.args = parseWords(rest.value, rest.start, this.escapeChar).map(word);
        return;
      case "CMD":
      case "ENTRYPOINT":
      case "RUN":
      case "SHELL": {
        const r = maybeJSON(rest);
        node.json = r.json;
        node.args = r.words.map(word);
        return;
      }
      case "ENV":
      case "LABEL":
        node.pairs = parseNameVal(rest.value, rest.start, node.keyword, this.escapeChar).map((p: PairSpan) => ({
          key: word(p.key),
          value: word(p.value),
          hasEquals: p.hasEquals,
        }));
        return;
      case "EXPOSE":
      case "FROM":
        node.args = splitWhitespace(rest.value, rest.start).map(word);
        return;
      case "HEALTHCHECK": {
        // The type (CMD or NONE), then the command, itself shell or exec form.
        let sep = 0;
        while (sep < rest.value.length && !isSpace(rest.value[sep] as string)) sep++;
        if (sep === 0) return;
        const cmdStart = skipSpace(rest.value, sep);
        const type: Span = { value: rest.value.slice(0, sep), start: rest.start, end: rest.start + sep };
        const cmd = maybeJSON({ value: rest.value.slice(cmdStart), start: rest.start + cmdStart, end: rest.end });
        node.json = cmd.json;
        node.args = [type, ...cmd.words].map(word);
        return;
      }
      case "MAINTAINER":
      case "STOPSIGNAL":
      case "USER":
      case "WORKDIR":
        if (rest.value !== "") node.args = [word(rest)];
        return;
      case "ONBUILD":
        if (rest.value !== "") node.trigger = this.node(line, from + rest.start, from + rest.end, []);
        return;
      default:
        // Unknown instructions keep no arguments; the instruction pass rejects them.
        return;
    }
  }

  /** Reads the bodies of the heredocs the instruction opens, from the lines that follow it. */
  private readHeredocs(node: MutableNode, line: LogicalLine): void {
    const target = node.keyword === "ONBUILD" && node.trigger ? node.trigger : node;
    if (!HEREDOC_KEYWORDS.has(target.keyword) || target.json || !line.text.includes("<<")) return;
    let docs: ReturnType<typeof heredocsFromLine>;
    try {
      docs = heredocsFromLine(line.text);
    } catch (err) {
      if (err instanceof DockerfileValueError) throw this.errorAt(err.message, line.sourceOffset(0), err);
      throw err;
    }
    for (const doc of docs) {
      let content = "";
      let terminated = false;
      const bodyStart = this.lines[this.next]?.start ?? this.source.text.length;
      let bodyEnd = bodyStart;
      while (this.next < this.lines.length) {
        const physical = this.lines[this.next] as PhysicalLine;
        this.next++;
        let candidate = trimNewline(physical.text);
        bodyEnd = physical.start + candidate.length;
        if (doc.chomp) candidate = candidate.replace(/^\t+/, "");
        if (candidate === doc.name) {
          terminated = true;
          break;
        }
        content += physical.text;
      }
      if (!terminated) throw this.errorAt("unterminated heredoc", line.sourceOffset(0));
      const heredoc: HeredocNode = { ...doc, content, range: this.source.range(bodyStart, bodyEnd) };
      node.heredocs.push(heredoc);
      if (target !== node) target.heredocs.push(heredoc);
      node.range = { start: node.range.start, end: heredoc.range.end };
      if (target !== node) target.range = { start: target.range.start, end: heredoc.range.end };
    }
  }
}

function freeze(node: MutableNode): InstructionNode {
  const { trigger, ...rest } = node;
  return trigger ? { ...rest, trigger: freeze(trigger) } : rest;
}

/**
 * Parses a Dockerfile into its syntax tree. Throws DockerfileError (`file:line:column: …`) for
 * what BuildKit's parser rejects: a bad or repeated directive, JSON arrays of non-strings,
 * ENV/LABEL without values, unterminated heredocs, a file with no instructions. Unknown
 * instructions and wrong argument counts pass here and are caught by toInstructions.
 */
export function parseDockerfile(text: string, file = "Dockerfile"): Dockerfile {
  return new Parser(text, file).parse();
}

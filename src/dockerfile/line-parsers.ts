/**
 * How BuildKit cuts one logical line into keyword, flags and arguments
 * (frontend/dockerfile/parser/split_command.go and line_parsers.go). Each function keeps the
 * offsets of what it returns, so that the caller can give every word its source range.
 */
import { DockerfileValueError } from "./errors.js";
import { goQuote, isSpace, trimSpaceBounds, WHITESPACE_RUN } from "./go-strings.js";

/** A malformed argument, with the offset in the logical line where it starts. */
export class LineError extends DockerfileValueError {
  readonly at: number;
  constructor(message: string, at: number) {
    super(message);
    this.at = at;
  }
}

/** A piece of the logical line: its value and where it sits ([start, end) offsets). */
export interface Span {
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

export interface SplitLine {
  readonly keyword: Span;
  readonly flags: Span[];
  /** Everything after the flags, trimmed (BuildKit's `rest`). */
  readonly rest: Span;
}

function span(text: string, start: number, end: number): Span {
  return { value: text.slice(start, end), start, end };
}

function firstWhitespaceRun(text: string, from: number, to: number): { start: number; end: number } | undefined {
  const re = new RegExp(WHITESPACE_RUN.source, "g");
  re.lastIndex = from;
  const m = re.exec(text);
  if (!m || m.index >= to) return undefined;
  return { start: m.index, end: Math.min(m.index + m[0].length, to) };
}

/** splitCommand: the keyword, the `--flags` that follow it, and the rest. */
export function splitCommand(line: string, escapeChar: string): SplitLine {
  const { start, end } = trimSpaceBounds(line);
  const gap = firstWhitespaceRun(line, start, end);
  if (gap === undefined) return { keyword: span(line, start, end), flags: [], rest: span(line, end, end) };
  const keyword = span(line, start, gap.start);
  const { flags, restStart } = extractBuilderFlags(line, gap.end, end, escapeChar);
  const restText = line.slice(restStart, end);
  const trimmed = trimSpaceBounds(restText);
  return { keyword, flags, rest: span(line, restStart + trimmed.start, restStart + trimmed.end) };
}

/**
 * Reads words starting with "--" until the first word that does not; quotes are removed and the
 * escape character escapes the next character, as in BuildKit's extractBuilderFlags. A bare "--"
 * ends the flags and is dropped.
 */
function extractBuilderFlags(
  line: string,
  from: number,
  to: number,
  escapeChar: string,
): { flags: Span[]; restStart: number } {
  const flags: Span[] = [];
  let phase: "spaces" | "word" | "quote" = "spaces";
  let word = "";
  let wordStart = from;
  let quote = "";
  let blankOK = false;
  for (let pos = from; pos <= to; pos++) {
    const ch = pos < to ? (line[pos] as string) : "";
    if (phase === "spaces") {
      if (pos === to) break;
      if (isSpace(ch)) continue;
      if (ch !== "-" || pos + 1 === to || line[pos + 1] !== "-") return { flags, restStart: pos };
      phase = "word";
      wordStart = pos;
    }
    if (pos === to) {
      if (word !== "--" && (blankOK || word.length > 0)) flags.push({ value: word, start: wordStart, end: pos });
      break;
    }
    if (phase === "word") {
      if (isSpace(ch)) {
        phase = "spaces";
        if (word === "--") return { flags, restStart: pos };
        if (blankOK || word.length > 0) flags.push({ value: word, start: wordStart, end: pos });
        word = "";
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = "quote";
        continue;
      }
      let c = ch;
      if (c === escapeChar) {
        if (pos + 1 === to) continue; // an escape at the very end is dropped
        pos++;
        c = line[pos] as string;
      }
      word += c;
      continue;
    }
    // phase === "quote"
    if (ch === quote) {
      phase = "word";
      continue;
    }
    let c = ch;
    if (c === escapeChar) {
      if (pos + 1 === to) {
        phase = "word";
        continue;
      }
      pos++;
      c = line[pos] as string;
    }
    word += c;
  }
  return { flags, restStart: to };
}

/**
 * parseWords: splits on whitespace outside quotes, keeping the quotes and escapes in the words
 * (expansion removes them later). Used for ARG, ENV and LABEL.
 */
export function parseWords(text: string, base: number, escapeChar: string): Span[] {
  const words: Span[] = [];
  let phase: "spaces" | "word" | "quote" = "spaces";
  let quote = "";
  let blankOK = false;
  let word = "";
  let wordStart = 0;
  const push = (end: number) => {
    if (blankOK || word.length > 0) words.push({ value: word, start: base + wordStart, end: base + end });
  };
  for (let pos = 0; pos <= text.length; pos++) {
    const ch = pos < text.length ? (text[pos] as string) : "";
    if (phase === "spaces") {
      if (pos === text.length) break;
      if (isSpace(ch)) continue;
      phase = "word";
      wordStart = pos;
    }
    if (pos === text.length) {
      push(pos);
      break;
    }
    if (phase === "word") {
      if (isSpace(ch)) {
        phase = "spaces";
        push(pos);
        word = "";
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = "quote";
      }
      if (ch === escapeChar) {
        if (pos + 1 === text.length) continue;
        // An escape outside quotes is kept with the character it escapes, even a quote.
        word += ch;
        pos++;
        word += text[pos] as string;
        continue;
      }
      word += ch;
      continue;
    }
    // phase === "quote"
    if (ch === quote) phase = "word";
    // Inside single quotes the escape character is an ordinary character.
    if (ch === escapeChar && quote !== "'") {
      if (pos + 1 === text.length) {
        phase = "word";
        continue;
      }
      word += ch;
      pos++;
      word += text[pos] as string;
      continue;
    }
    word += ch;
  }
  return words;
}

/** Splits on runs of [\t\v\f\r ] (FROM, EXPOSE, shell-form COPY/ADD/VOLUME). */
export function splitWhitespace(text: string, base: number): Span[] {
  if (text === "") return [];
  const out: Span[] = [];
  const re = new RegExp(WHITESPACE_RUN.source, "g");
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ value: text.slice(at, m.index), start: base + at, end: base + m.index });
    at = m.index + m[0].length;
  }
  out.push({ value: text.slice(at), start: base + at, end: base + text.length });
  return out;
}

export const NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only";

/**
 * The elements of a JSON array of strings, or undefined when the text is not a JSON array (then
 * it is shell form). A JSON array holding anything but strings is an error, as in BuildKit.
 */
export function parseJSONArray(text: string, base: number): Span[] | undefined {
  const lead = trimSpaceBounds(text).start;
  if (text[lead] !== "[") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.slice(lead));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  if (!parsed.every((v) => typeof v === "string")) throw new LineError(NOT_STRING_ARRAY, base + lead);
  const spans = arrayElementSpans(text, lead);
  return parsed.map((value: string, i) => {
    const s = spans[i] ?? { start: lead, end: text.length };
    return { value, start: base + s.start, end: base + s.end };
  });
}

/** Where each top-level element of a valid JSON array sits in `text`. */
function arrayElementSpans(text: string, open: number): { start: number; end: number }[] {
  const spans: { start: number; end: number }[] = [];
  let depth = 0;
  let start = -1;
  for (let i = open; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '"') {
      if (depth === 1 && start < 0) start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      if (depth === 1) spans.push({ start, end: i + 1 });
      start = -1;
      continue;
    }
    if (ch === "[" || ch === "{") depth++;
    else if (ch === "]" || ch === "}") depth--;
    if (depth === 0) break;
  }
  return spans;
}

/** ENV and LABEL: `k=v k2="v 2"` or the legacy `k v with spaces`. */
export interface PairSpan {
  readonly key: Span;
  readonly value: Span;
  readonly hasEquals: boolean;
}

export function parseNameVal(text: string, base: number, keyword: string, escapeChar: string): PairSpan[] {
  const words = parseWords(text, base, escapeChar);
  const first = words[0];
  if (first === undefined) return [];
  if (!first.value.includes("=")) {
    // Legacy form: the first word is the name and everything after the first gap the value.
    const gap = firstWhitespaceRun(text, 0, text.length);
    if (gap === undefined) throw new LineError(`${keyword} must have two arguments`, base);
    return [
      {
        key: { value: text.slice(0, gap.start), start: base, end: base + gap.start },
        value: { value: text.slice(gap.end), start: base + gap.end, end: base + text.length },
        hasEquals: false,
      },
    ];
  }
  return words.map((w) => {
    const eq = w.value.indexOf("=");
    if (eq < 0) {
      throw new LineError(
        `Syntax error - can't find = in ${goQuote(w.value)}. Must be of the form: name=value`,
        w.start,
      );
    }
    return {
      key: { value: w.value.slice(0, eq), start: w.start, end: w.start + eq },
      value: { value: w.value.slice(eq + 1), start: w.start + eq + 1, end: w.end },
      hasEquals: true,
    };
  });
}

/**
 * Variable expansion and word splitting, ported from BuildKit's shell lexer
 * (frontend/dockerfile/shell/lex.go), which mimics a POSIX shell for the parts a Dockerfile
 * needs: quotes, the escape character, `$VAR`, `${VAR}` and the `${VAR…}` modifiers
 * `:-` `-` `:+` `+` `:?` `?` `#` `##` `%` `%%` `/` `//`. No command substitution, no arithmetic,
 * no globbing: those are the shell's business at RUN time.
 */
import { DockerfileValueError } from "./errors.js";
import { goQuote, isDigit, isLetter, isSpace } from "./go-strings.js";
import { PatternError, replaceAll, replaceFirst, trimPrefix, trimSuffix } from "./shell-pattern.js";

/** Where variable values come from; a Map<string, string> is one. */
export interface VariableSource {
  get(name: string): string | undefined;
}

export interface LexOptions {
  /** The Dockerfile's escape character (`# escape=`); "\\" by default. */
  readonly escape?: string;
  /** Keep quote characters in the result (used for heredoc detection and RUN's display name). */
  readonly rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  readonly rawEscapes?: boolean;
  /** Treat quotes as ordinary characters (heredoc bodies). */
  readonly skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written instead of making them empty. */
  readonly skipUnsetEnv?: boolean;
}

export interface WordResult {
  /** The expanded word with quotes removed and spaces kept (ProcessWord). */
  readonly result: string;
  /** The expanded text split into words, quotes respected (ProcessWords). */
  readonly words: string[];
  /** Names that were looked up and found. */
  readonly matched: ReadonlySet<string>;
  /** Names that were looked up and not set. */
  readonly unmatched: ReadonlySet<string>;
}

export const NO_VARIABLES: VariableSource = { get: () => undefined };

/**
 * Expands one word. Throws DockerfileValueError with BuildKit's message, e.g.
 * `failed to process "${A": syntax error: missing '}'`.
 */
export function processWord(word: string, env: VariableSource, options: LexOptions = {}): WordResult {
  const lexer = new ShellWord(word, env, options);
  try {
    const { result, words } = lexer.processStopOn(undefined, options.rawEscapes === true);
    return { result, words, matched: lexer.matched, unmatched: lexer.unmatched };
  } catch (err) {
    if (err instanceof LexError) throw new DockerfileValueError(`failed to process ${goQuote(word)}: ${err.message}`);
    throw err;
  }
}

/** ProcessWord: the expanded string. */
export function expandWord(word: string, env: VariableSource, options: LexOptions = {}): string {
  return processWord(word, env, options).result;
}

/** ProcessWords: the expanded words, split on unquoted whitespace (also inside variable values). */
export function expandWords(word: string, env: VariableSource, options: LexOptions = {}): string[] {
  return processWord(word, env, options).words;
}

class LexError extends Error {}

/**
 * Builds up words while the lexer walks the input. Unquoted whitespace, whether written or coming
 * from a variable's value, ends a word; quoted text and escaped characters never do.
 *
 * Each nested `${…}` gets its own buffer. BuildKit since mid-2024 shares one buffer between the
 * levels (commit 4c935cf9, a memory optimisation), which makes `EXPOSE 1${P:-2}3` split as "23"
 * instead of "123"; berth keeps the earlier, intended behaviour.
 */
class Words {
  private buf = "";
  private inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buf.length !== 0) {
        this.words.push(this.buf);
        this.buf = "";
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }

  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = "";
      this.inWord = false;
    }
    return this.words;
  }
}

function isSpecialParam(ch: string): boolean {
  return "@*#?-$!0".includes(ch);
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private readonly env: VariableSource;
  private readonly escape: string;
  private readonly options: LexOptions;
  private rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(input: string, env: VariableSource, options: LexOptions) {
    this.chars = Array.from(input);
    this.env = env;
    this.options = options;
    this.escape = options.escape ?? "\\";
    this.rawEscapes = options.rawEscapes === true;
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    const ch = this.chars[this.pos];
    if (ch !== undefined) this.pos++;
    return ch;
  }

  private getEnv(name: string): string | undefined {
    const v = this.env.get(name);
    if (v === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return v;
  }

  /** Reads up to `stop` (consumed) or the end of input; `undefined` means the end. */
  processStopOn(stop: string | undefined, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = "";
      const words = new Words();
      const quotes = this.options.skipProcessQuotes !== true;
      for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
        if (stop !== undefined && ch === stop) {
          this.next();
          return { result, words: words.finish() };
        }
        if (ch === "$") {
          const tmp = this.processDollar();
          result += tmp;
          words.addString(tmp);
          continue;
        }
        if (ch === "<") {
          const tmp = this.processPossibleHeredoc();
          result += tmp;
          words.addRawString(tmp);
          continue;
        }
        if (quotes && (ch === "'" || ch === '"')) {
          const tmp = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += tmp;
          words.addRawString(tmp);
          continue;
        }
        let c = this.next() as string;
        if (c === this.escape) {
          if (this.rawEscapes) {
            words.addRawChar(c);
            result += c;
          }
          // The escape character escapes whatever follows, except the end of input.
          const escaped = this.next();
          if (escaped === undefined) break;
          c = escaped;
          words.addRawChar(c);
        } else {
          words.addChar(c);
        }
        result += c;
      }
      if (stop !== undefined) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  /** Everything up to the next ' is literal; a ' cannot be escaped inside. */
  private processSingleQuote(): string {
    let result = "";
    const open = this.next() as string;
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new LexError("unexpected end of statement while looking for matching single-quote");
      if (ch === "'") {
        if (this.options.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  /** Up to the next unescaped "; `$` expands, the escape character escapes only " $ and itself. */
  private processDoubleQuote(): string {
    let result = "";
    const open = this.next() as string;
    if (this.options.rawQuotes) result += open;
    for (;;) {
      const peeked = this.peek();
      if (peeked === undefined) {
        throw new LexError("unexpected end of statement while looking for matching double-quote");
      }
      if (peeked === '"') {
        this.next();
        if (this.options.rawQuotes) result += peeked;
        return result;
      }
      if (peeked === "$") {
        result += this.processDollar();
        continue;
      }
      let ch = this.next() as string;
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const after = this.peek();
        if (after === undefined) continue; // a trailing escape is dropped; the loop then fails
        if (after === '"' || after === "$" || after === this.escape) ch = this.next() as string;
      }
      result += ch;
    }
  }

  private processDollar(): string {
    this.next(); // $
    if (this.peek() !== "{") {
      const name = this.processName();
      if (name === "") return "$";
      const value = this.getEnv(name);
      if (value === undefined && this.options.skipUnsetEnv) return `$${name}`;
      return value ?? "";
    }
    this.next(); // {
    const first = this.peek();
    if (first === undefined) throw new LexError("syntax error: missing '}'");
    if (first === "{" || first === "}" || first === ":") throw new LexError("syntax error: bad substitution");
    const name = this.processName();
    let ch = this.next();
    if (ch === undefined) throw new LexError("syntax error: missing '}'");
    let modifier = ch;

    if (ch === "}") {
      const value = this.getEnv(name);
      if (value === undefined && this.options.skipUnsetEnv) return `\${${name}}`;
      return value ?? "";
    }
    if (ch === "/") return this.processReplace(name);

    let nullIsUnset = false;
    if (ch === ":") {
      nullIsUnset = true;
      ch = this.next();
      if (ch === undefined) throw new LexError("syntax error: missing '}'");
      modifier += ch;
    }
    // BuildKit reads the word before judging the modifier, so "${A:x}" fails as unsupported.
    const trims = ch === "#" || ch === "%";
    if (nullIsUnset && trims) throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    let word: string;
    try {
      word = this.processStopOn("}", trims).result;
    } catch (err) {
      if (err instanceof LexError && this.peek() === undefined) throw new LexError("syntax error: missing '}'");
      throw err;
    }
    const value = this.getEnv(name);
    if (value === undefined && this.options.skipUnsetEnv) return `\${${name}${modifier}${word}}`;
    const unset = value === undefined || (nullIsUnset && value === "");

    switch (ch) {
      case "-":
        return unset ? word : (value as string);
      case "+":
        return unset ? "" : word;
      case "?":
        if (value === undefined) throw new LexError(`${name}: ${word !== "" ? word : "is not allowed to be unset"}`);
        if (nullIsUnset && value === "") {
          throw new LexError(`${name}: ${word !== "" ? word : "is not allowed to be empty"}`);
        }
        return value;
      case "#":
      case "%": {
        // "#"/"%" remove the shortest match, "##"/"%%" the longest.
        const greedy = word.startsWith(ch);
        const pattern = greedy ? word.slice(1) : word;
        try {
          return ch === "%" ? trimSuffix(pattern, value ?? "", greedy) : trimPrefix(pattern, value ?? "", greedy);
        } catch (err) {
          if (err instanceof PatternError) {
            throw new LexError(`invalid pattern (${pattern}) in substitution: ${err.message}`);
          }
          throw err;
        }
      }
      default:
        throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  /** `${name/pattern/replacement}` and `${name//pattern/replacement}`. */
  private processReplace(name: string): string {
    const all = this.peek() === "/";
    if (all) this.next();
    let pattern: string;
    try {
      pattern = this.processStopOn("/", true).result;
    } catch (err) {
      if (err instanceof LexError && this.peek() === undefined) {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: BuildKit's message names the ${} syntax.
        throw new LexError("syntax error: missing '/' in ${}");
      }
      throw err;
    }
    let replacement: string;
    try {
      replacement = this.processStopOn("}", true).result;
    } catch (err) {
      if (err instanceof LexError && this.peek() === undefined) throw new LexError("syntax error: missing '}'");
      throw err;
    }
    const value = this.getEnv(name);
    if (value === undefined && this.options.skipUnsetEnv) return `\${${name}/${pattern}/${replacement}}`;
    try {
      return all ? replaceAll(value ?? "", pattern, replacement) : replaceFirst(value ?? "", pattern, replacement);
    } catch (err) {
      if (err instanceof PatternError)
        throw new LexError(`invalid pattern (${pattern}) in substitution: ${err.message}`);
      throw err;
    }
  }

  /** A name: letters, digits and "_"; or all digits (positional); or one special parameter. */
  private processName(): string {
    let name = "";
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (name === "" && isDigit(ch)) {
        for (let d = this.peek(); d !== undefined && isDigit(d); d = this.peek()) name += this.next();
        return name;
      }
      if (name === "" && isSpecialParam(ch)) return this.next() as string;
      if (!isLetter(ch) && !isDigit(ch) && ch !== "_") break;
      name += this.next();
    }
    return name;
  }

  /** `<<` keeps the blanks after it, so that `<< EOF` stays one word for heredoc detection. */
  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== "<") return "<";
    this.next();
    let space = "";
    for (let ch = this.peek(); ch === " " || ch === "\t" || ch === "\r"; ch = this.peek()) space += this.next();
    return `<<${space}`;
  }
}

/**
 * Heredoc words (`<<EOF`, `<<-EOF`, `3<<"EOF"`) as BuildKit recognises them
 * (frontend/dockerfile/parser/parser.go: ParseHeredoc, heredocsFromLine).
 */
import { DockerfileValueError } from "./errors.js";
import { expandWords, NO_VARIABLES } from "./expand.js";

export interface HeredocWord {
  readonly name: string;
  readonly fileDescriptor: number;
  readonly expand: boolean;
  readonly chomp: boolean;
}

// Go's \s is ASCII [\t\n\f\r ]; JavaScript's would also take \v and Unicode spaces.
const HEREDOC = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;

/**
 * The heredoc a single word opens, or undefined when the word is not one. Throws when the
 * delimiter's quotes do not close (`<<'EOF`), as BuildKit does.
 */
export function parseHeredoc(word: string): HeredocWord | undefined {
  const m = HEREDOC.exec(word);
  if (!m) return undefined;
  const rest = m[3] as string;
  if (rest === "") return undefined;
  // The delimiter is lexed twice, with and without quote removal: if the counts of quote
  // characters differ, part of it was quoted, and a quoted delimiter turns expansion off.
  const words = expandWords(rest, NO_VARIABLES, { skipUnsetEnv: true });
  if (words.length !== 1) return undefined;
  const raw = expandWords(rest, NO_VARIABLES, { skipUnsetEnv: true, rawQuotes: true });
  if (raw.length !== words.length) {
    throw new DockerfileValueError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  }
  const name = words[0] as string;
  const quotes = (s: string) => s.split("'").length + s.split('"').length - 2;
  return {
    name,
    fileDescriptor: m[1] === "" ? 0 : Number.parseInt(m[1] as string, 10),
    expand: quotes(name) === quotes(raw[0] as string),
    chomp: m[2] === "-",
  };
}

/** parseHeredoc without its errors, as BuildKit's MustParseHeredoc. */
export function heredocOf(word: string): HeredocWord | undefined {
  try {
    return parseHeredoc(word);
  } catch {
    return undefined;
  }
}

/**
 * The heredocs an instruction line opens, in order. The line is split the way a shell would
 * (quotes and escapes kept), so `"<<EOF"` in quotes is not a heredoc. A line the lexer cannot
 * split opens none, as in BuildKit. The escape character is always "\\" here, also in BuildKit.
 */
export function heredocsFromLine(line: string): HeredocWord[] {
  let words: string[];
  try {
    words = expandWords(line, NO_VARIABLES, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  } catch {
    return [];
  }
  const docs: HeredocWord[] = [];
  for (const w of words) {
    const doc = parseHeredoc(w);
    if (doc) docs.push(doc);
  }
  return docs;
}

/** `<<-`: strips the leading tabs of every line. */
export function chompHeredocContent(content: string): string {
  return content.replace(/(^|\n)\t+/g, "$1");
}

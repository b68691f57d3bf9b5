/**
 * Go's character classes and quoting, as BuildKit's parser uses them. JavaScript's `\s`, `.trim()`
 * and JSON.stringify differ from Go's unicode.IsSpace, strings.TrimSpace and %q in small ways
 * (U+FEFF, \v, control characters); these keep berth's splitting and messages identical.
 */

const SPACE = /^\p{White_Space}$/u;
const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

/** unicode.IsSpace. */
export function isSpace(ch: string): boolean {
  return SPACE.test(ch);
}

/** unicode.IsLetter. */
export function isLetter(ch: string): boolean {
  return LETTER.test(ch);
}

/** unicode.IsDigit. */
export function isDigit(ch: string): boolean {
  return DIGIT.test(ch);
}

/** Index of the first character that is not unicode.IsSpace, from `from`. */
export function skipSpace(s: string, from = 0): number {
  let i = from;
  while (i < s.length && isSpace(s[i] as string)) i++;
  return i;
}

/** strings.TrimSpace, returning the kept slice's bounds. */
export function trimSpaceBounds(s: string): { start: number; end: number } {
  const start = skipSpace(s);
  let end = s.length;
  while (end > start && isSpace(s[end - 1] as string)) end--;
  return { start, end };
}

/** BuildKit's reWhitespace: `[\t\v\f\r ]+` (no newline, no Unicode spaces). */
export const WHITESPACE_RUN = /[\t\v\f\r ]+/g;

/** Go's %q: a double-quoted string with Go's escapes. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case "\\":
        out += "\\\\";
        continue;
      case "\x07":
        out += "\\a";
        continue;
      case "\b":
        out += "\\b";
        continue;
      case "\f":
        out += "\\f";
        continue;
      case "\n":
        out += "\\n";
        continue;
      case "\r":
        out += "\\r";
        continue;
      case "\t":
        out += "\\t";
        continue;
      case "\v":
        out += "\\v";
        continue;
    }
    if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

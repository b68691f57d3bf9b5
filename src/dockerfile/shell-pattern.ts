/**
 * The shell patterns of `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/repl}`, as BuildKit's lexer
 * implements them (frontend/dockerfile/shell/lex.go): `*` and `?` wildcards, `\` escapes, no
 * bracket expressions. Each pattern becomes a regular expression; Go's RE2 and JavaScript agree
 * on leftmost-first matching for these, and `.` is spelled `[^\n]` because JavaScript's `.` also
 * refuses "\r", U+2028 and U+2029 where Go's does not.
 */

const ANY = "[^\\n]";
const REGEX_SPECIAL = new Set(["[", "]", "{", "}", ".", "+", "(", ")", "|", "^", "$"]);

/** Thrown for a pattern BuildKit rejects; the caller words the message. */
export class PatternError extends Error {}

export function shellPatternToRegExp(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? "^" : "";
  const star = greedy ? `${ANY}*` : `${ANY}*?`;
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i] as string;
    if (tok === "*") {
      out += star;
      continue;
    }
    if (tok === "?") {
      out += ANY;
      continue;
    }
    if (tok === "\\") {
      // "}" and "/" are escaped only so the lexer does not end the ${} there; the escape is not
      // part of the pattern.
      const next = chars[i + 1];
      if (next === "}" || next === "/") continue;
      i++;
      if (next !== "*" && next !== "?" && next !== "\\") throw new PatternError(`invalid escape '\\${next ?? ""}'`);
      out += `\\${next}`;
      continue;
    }
    out += REGEX_SPECIAL.has(tok) ? `\\${tok}` : tok;
  }
  return new RegExp(out, "u");
}

/** Removes the shortest (or, greedy, longest) prefix of `value` matching `pattern`. */
export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegExp(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/**
 * Removes the shortest (or longest) matching suffix. A regular expression cannot find the
 * shortest rightmost match, so, as BuildKit does, both the value and the pattern are reversed
 * and the prefix rule applied.
 */
export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

function reverseString(s: string): string {
  return Array.from(s).reverse().join("");
}

/** Reverses a pattern while keeping each escape in front of the character it escapes. */
export function reversePattern(pattern: string): string {
  const runes = Array.from(pattern);
  const out: string[] = new Array(runes.length);
  const last = runes.length - 1;
  for (let i = 0; i <= last; ) {
    const tok = runes[i] as string;
    const at = last - i;
    if (tok === "\\" && i !== last) {
      out[at - 1] = tok;
      out[at] = runes[i + 1] as string;
      i += 2;
    } else {
      out[at] = tok;
      i++;
    }
  }
  return out.join("");
}

/** `${VAR/pat/repl}`: the first match replaced, literally. */
export function replaceFirst(value: string, pattern: string, replacement: string): string {
  const m = shellPatternToRegExp(pattern, true, false).exec(value);
  if (!m) return value;
  return value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length);
}

/**
 * `${VAR//pat/repl}`: Go's Regexp.ReplaceAllString, whose rules differ from String.replace: an
 * empty match right after a match is skipped, and `$0`, `${0}` and `$$` in the replacement are
 * Go's template syntax (other `$names` are empty, as the pattern has no groups).
 */
export function replaceAll(value: string, pattern: string, replacement: string): string {
  const re = new RegExp(shellPatternToRegExp(pattern, true, false).source, "gu");
  let out = "";
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= value.length) {
    re.lastIndex = searchPos;
    const m = re.exec(value);
    if (!m) break;
    const a0 = m.index;
    const a1 = a0 + m[0].length;
    out += value.slice(lastMatchEnd, a0);
    if (a1 > lastMatchEnd || a0 === 0) out += expandGoTemplate(replacement, m[0]);
    lastMatchEnd = a1;
    const width = searchPos < value.length ? ((value.codePointAt(searchPos) as number) > 0xffff ? 2 : 1) : 0;
    if (searchPos + width > a1) searchPos += width;
    else if (searchPos + 1 > a1) searchPos++;
    else searchPos = a1;
  }
  return out + value.slice(lastMatchEnd);
}

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

/** Go's Regexp.Expand for a pattern without capture groups. */
function expandGoTemplate(template: string, match: string): string {
  let out = "";
  let t = template;
  for (;;) {
    const i = t.indexOf("$");
    if (i < 0) break;
    out += t.slice(0, i);
    t = t.slice(i);
    if (t.length > 1 && t[1] === "$") {
      out += "$";
      t = t.slice(2);
      continue;
    }
    const ref = extractTemplateName(t.slice(1));
    if (ref === undefined) {
      out += "$";
      t = t.slice(1);
      continue;
    }
    t = ref.rest;
    if (ref.name === "0") out += match;
  }
  return out + t;
}

function extractTemplateName(s: string): { name: string; rest: string } | undefined {
  let str = s;
  let brace = false;
  if (str.startsWith("{")) {
    brace = true;
    str = str.slice(1);
  }
  let i = 0;
  for (const ch of str) {
    if (!NAME_CHAR.test(ch)) break;
    i += ch.length;
  }
  if (i === 0) return undefined;
  const name = str.slice(0, i);
  if (brace) {
    if (str[i] !== "}") return undefined;
    i++;
  }
  return { name, rest: str.slice(i) };
}

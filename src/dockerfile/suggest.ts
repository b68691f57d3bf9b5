/**
 * "(did you mean COPY?)" hints, as BuildKit's util/suggest gives them: the closest option by
 * edit distance, if it is closer than 3 edits.
 */

function distance(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = cur;
  }
  return prev[y.length] as number;
}

function matchCase(value: string, original: string): string {
  if (original === original.toLowerCase()) return value.toLowerCase();
  if (original === original.toUpperCase()) return value.toUpperCase();
  return value;
}

/** The closest option to `value`, or undefined when none is close or `value` is itself one. */
export function closest(value: string, options: readonly string[], caseSensitive: boolean): string | undefined {
  const v = caseSensitive ? value : value.toLowerCase();
  let best: string | undefined;
  let min = 3;
  for (const option of options) {
    const o = caseSensitive ? option : option.toLowerCase();
    if (o === v) return undefined;
    const d = distance(v, o);
    if (d < min) {
      best = caseSensitive ? o : matchCase(o, value);
      min = d;
    }
  }
  return best;
}

/** `message (did you mean X?)` when there is a close option, else `message`. */
export function withSuggestion(message: string, value: string, options: readonly string[], caseSensitive: boolean) {
  const hint = closest(value, options, caseSensitive);
  return hint === undefined ? message : `${message} (did you mean ${hint}?)`;
}

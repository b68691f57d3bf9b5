/**
 * Go's time.ParseDuration ("1m30s", "1.5h", "300ms", "-2us"), since HEALTHCHECK's options are Go
 * durations and docker stores them in nanoseconds.
 */
import { DockerfileValueError } from "./errors.js";
import { goQuote } from "./go-strings.js";

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3, // U+00B5 micro sign
  μs: 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Nanoseconds. Throws DockerfileValueError with Go's message. */
export function parseGoDuration(text: string): number {
  const invalid = () => new DockerfileValueError(`time: invalid duration ${goQuote(text)}`);
  let s = text;
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") throw invalid();
  let total = 0;
  while (s !== "") {
    const num = /^(\d*)(?:\.(\d*))?/.exec(s) as RegExpExecArray;
    const whole = num[1] ?? "";
    const frac = num[2];
    if (whole === "" && (frac === undefined || frac === "")) throw invalid();
    s = s.slice(num[0].length);
    const unit = /^[^\d.]*/.exec(s)?.[0] ?? "";
    if (unit === "") throw new DockerfileValueError(`time: missing unit in duration ${goQuote(text)}`);
    const scale = UNITS[unit];
    if (scale === undefined) {
      throw new DockerfileValueError(`time: unknown unit ${goQuote(unit)} in duration ${goQuote(text)}`);
    }
    s = s.slice(unit.length);
    const value = Number(`${whole || "0"}.${frac ?? ""}`);
    total += Math.trunc(value * scale);
  }
  // Go's limit: durations are int64 nanoseconds (about 292 years).
  if (total > 2 ** 63 - 1) throw invalid();
  return sign * total;
}

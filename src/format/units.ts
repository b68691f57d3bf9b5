/**
 * Human-readable sizes, durations and times, printed exactly as docker prints them: sizes and
 * durations follow github.com/docker/go-units, numbers follow Go's fmt/strconv float
 * formatting (%g, %e, %f), and times follow Go's time.Time.String().
 */

const DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"] as const;
const BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"] as const;

/**
 * go-units HumanDuration: a rough, human description of a duration given in milliseconds
 * ("Less than a second", "About a minute", "3 hours", "2 weeks", ...). docker appends " ago".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (!(seconds >= 1)) return "Less than a second"; // also NaN and negative durations
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

function sizeAndUnit(size: number, base: number, units: readonly string[]): [number, string] {
  let i = 0;
  const limit = units.length - 1;
  while (size >= base && i < limit) {
    size /= base;
    i++;
  }
  return [size, units[i] ?? ""];
}

/** go-units HumanSizeWithPrecision: decimal units (kB = 1000 B), `%.<precision>g`. */
export function humanSizeWithPrecision(size: number, precision: number): string {
  const [n, unit] = sizeAndUnit(size, 1000, DECIMAL_UNITS);
  return fastGoG(n, precision) + unit;
}

/**
 * `%.<p>g` without the exact (BigInt) path when it cannot matter: JavaScript's toPrecision
 * rounds the same binary value correctly, and differs from Go only on an exact tie (Go
 * rounds half to even), so near a tie we defer to formatGoFloat. A 1,000-row `images`
 * formats 2,000 sizes; this keeps that off the profile.
 */
function fastGoG(x: number, p: number): string {
  if (!(x > 0) || !Number.isFinite(x) || p <= 0 || p > 15) return formatGoFloat(x, "g", p);
  const e = Math.floor(Math.log10(x));
  const scaled = x * 10 ** (p - 1 - e);
  const frac = scaled - Math.floor(scaled);
  if (Math.abs(frac - 0.5) < 1e-6 || frac < 1e-9 || frac > 1 - 1e-9) return formatGoFloat(x, "g", p);
  const fixed = x.toPrecision(p);
  const m = /^(\d)(?:\.(\d+))?e([+-])(\d+)$/.exec(fixed);
  if (m) {
    const digits = (m[2] ?? "").replace(/0+$/, "");
    return `${m[1]}${digits ? `.${digits}` : ""}e${m[3]}${(m[4] as string).padStart(2, "0")}`;
  }
  const exp = Math.floor(Math.log10(Number(fixed)));
  if (exp < -4 || exp >= p) return formatGoFloat(x, "g", p);
  return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
}

/**
 * Sizes as docker's image, container and build-cache listings print them
 * (`HumanSizeWithPrecision(size, 3)`): 1982289 → "1.98MB", 0 → "0B".
 * go-units' own `HumanSize` (used by `docker system df` and prune totals) is precision 4:
 * `humanSizeWithPrecision(size, 4)`.
 */
export function humanSize(bytes: number): string {
  return humanSizeWithPrecision(bytes, 3);
}

/** go-units BytesSize: binary units (KiB = 1024 B), `%.4g` — docker stats' memory columns. */
export function bytesSize(size: number): string {
  const [n, unit] = sizeAndUnit(size, 1024, BINARY_UNITS);
  return formatGoFloat(n, "g", 4) + unit;
}

// ---------------------------------------------------------------------------------------------
// Go float formatting (strconv.FormatFloat / fmt's %e %f %g)

/** A decimal digit string: value = 0.d1d2d3... × 10^dp; no trailing zeros; "" is zero. */
interface Decimal {
  d: string;
  dp: number;
}

/** The exact decimal expansion of a finite double's magnitude. */
function exactDecimal(x: number): Decimal {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const expBits = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (expBits === 0) {
    e = -1074;
  } else {
    mant |= 1n << 52n;
    e = expBits - 1075;
  }
  if (mant === 0n) return { d: "", dp: 0 };
  let s: string;
  let dp: number;
  if (e >= 0) {
    s = (mant << BigInt(e)).toString();
    dp = s.length;
  } else {
    s = (mant * 5n ** BigInt(-e)).toString();
    dp = s.length + e;
  }
  return { d: s.replace(/0+$/, ""), dp };
}

/** The shortest digits that read back as x (what Go's and JS's shortest formatting use). */
function shortestDecimal(x: number): Decimal {
  if (x === 0) return { d: "", dp: 0 };
  const [mant = "", exp = "0"] = Math.abs(x).toExponential().split("e");
  const d = mant.replace(".", "").replace(/0+$/, "");
  return { d, dp: Number(exp) + 1 };
}

/** Rounds to nd digits, half to even on exact ties, as strconv's decimal.Round does. */
function roundDecimal(a: Decimal, nd: number): Decimal {
  if (nd < 0 || nd >= a.d.length) return a;
  const c = a.d.charCodeAt(nd) - 48;
  let up: boolean;
  if (c === 5 && nd + 1 === a.d.length) {
    up = nd > 0 && (a.d.charCodeAt(nd - 1) - 48) % 2 === 1;
  } else {
    up = c >= 5;
  }
  if (!up) return { d: a.d.slice(0, nd).replace(/0+$/, ""), dp: a.dp };
  for (let i = nd - 1; i >= 0; i--) {
    const ch = a.d.charCodeAt(i) - 48;
    if (ch < 9) return { d: a.d.slice(0, i) + String(ch + 1), dp: a.dp };
  }
  return { d: "1", dp: a.dp + 1 };
}

function fmtE(digs: Decimal, prec: number, e: "e" | "E"): string {
  let out = digs.d.length === 0 ? "0" : (digs.d[0] ?? "0");
  if (prec > 0) {
    out += ".";
    const m = Math.min(digs.d.length, prec + 1);
    let i = 1;
    if (i < m) {
      out += digs.d.slice(1, m);
      i = m;
    }
    for (; i <= prec; i++) out += "0";
  }
  let exp = digs.d.length === 0 ? 0 : digs.dp - 1;
  const sign = exp < 0 ? "-" : "+";
  if (exp < 0) exp = -exp;
  return `${out}${e}${sign}${exp < 10 ? `0${exp}` : String(exp)}`;
}

function fmtF(digs: Decimal, prec: number): string {
  let out: string;
  if (digs.dp > 0) {
    const m = Math.min(digs.d.length, digs.dp);
    out = digs.d.slice(0, m) + "0".repeat(digs.dp - m);
  } else {
    out = "0";
  }
  if (prec > 0) {
    out += ".";
    for (let i = 1; i <= prec; i++) {
      const j = digs.dp + i - 1;
      out += j >= 0 && j < digs.d.length ? digs.d[j] : "0";
    }
  }
  return out;
}

export type GoFloatVerb = "e" | "E" | "f" | "F" | "g" | "G";

/**
 * strconv.FormatFloat(x, verb, prec, 64): `prec` < 0 means the shortest representation that
 * reads back exactly. Rounding is exact (half to even on exact ties), like Go's.
 */
export function formatGoFloat(x: number, verb: GoFloatVerb, prec: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Number.POSITIVE_INFINITY) return "+Inf";
  if (x === Number.NEGATIVE_INFINITY) return "-Inf";
  const neg = x < 0 || Object.is(x, -0);
  const shortest = prec < 0;
  let digs: Decimal;
  if (shortest) {
    digs = shortestDecimal(x);
    if (verb === "e" || verb === "E") prec = Math.max(digs.d.length - 1, 0);
    else if (verb === "f" || verb === "F") prec = Math.max(digs.d.length - digs.dp, 0);
    else prec = digs.d.length;
  } else {
    digs = exactDecimal(x);
    if (verb === "e" || verb === "E") digs = roundDecimal(digs, prec + 1);
    else if (verb === "f" || verb === "F") digs = roundDecimal(digs, digs.dp + prec);
    else {
      if (prec === 0) prec = 1;
      digs = roundDecimal(digs, prec);
    }
  }
  let body: string;
  switch (verb) {
    case "e":
    case "E":
      body = fmtE(digs, prec, verb);
      break;
    case "f":
    case "F":
      body = fmtF(digs, prec);
      break;
    default: {
      let eprec = prec;
      if (eprec > digs.d.length && digs.d.length >= digs.dp) eprec = digs.d.length;
      if (shortest) eprec = 6;
      const exp = digs.dp - 1;
      if (exp < -4 || exp >= eprec) {
        if (prec > digs.d.length) prec = digs.d.length;
        body = fmtE(digs, prec - 1, verb === "G" ? "E" : "e");
      } else {
        if (prec > digs.dp) prec = digs.d.length;
        body = fmtF(digs, Math.max(prec - digs.dp, 0));
      }
    }
  }
  return neg ? `-${body}` : body;
}

/** Go's `%.<precision>g`: 1.982289 at 3 → "1.98", 999.999 at 3 → "1e+03", 0 → "0". */
export function formatGoG(x: number, precision: number): string {
  return formatGoFloat(x, "g", precision);
}

// ---------------------------------------------------------------------------------------------
// Go time formatting

export interface GoTimeOptions {
  /** An IANA zone name ("UTC", "Europe/Paris"); defaults to this process's local zone, as Go does. */
  timeZone?: string;
}

interface ZonedParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Offset from UTC in minutes, east positive. */
  offset: number;
  abbrev: string;
}

const partsFormatters = new Map<string, Intl.DateTimeFormat>();
const abbrevFormatters = new Map<string, Intl.DateTimeFormat>();
const ABBREV_LOCALES = ["en-US", "en-GB", "en-AU", "en-IN"] as const;

function partsFormatter(timeZone: string): Intl.DateTimeFormat {
  let f = partsFormatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      era: "short",
    });
    partsFormatters.set(timeZone, f);
  }
  return f;
}

function zoneAbbrev(d: Date, timeZone: string, offset: number): string {
  if (/^(Etc\/)?(UTC|UCT|Universal|Zulu)$/i.test(timeZone)) return "UTC";
  // ICU knows tzdata's letter abbreviations only in some locales ("CET" in en-GB, "IST" in en-IN).
  for (const locale of ABBREV_LOCALES) {
    const key = `${locale} ${timeZone}`;
    let f = abbrevFormatters.get(key);
    if (f === undefined) {
      f = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: "short" });
      abbrevFormatters.set(key, f);
    }
    const name = f.formatToParts(d).find((p) => p.type === "timeZoneName")?.value ?? "";
    if (/^[A-Z]{2,5}$/.test(name) && !(name === "GMT" && offset !== 0)) return name;
  }
  // Zones tzdata names only by their offset print like Go's: "+03", "+0530", "-03".
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const h = String(Math.trunc(abs / 60)).padStart(2, "0");
  const m = abs % 60;
  return m === 0 ? `${sign}${h}` : `${sign}${h}${String(m).padStart(2, "0")}`;
}

let localZone: string | undefined;

/**
 * The local zone's name, found once: creating an Intl.DateTimeFormat costs ~15 ms the first
 * time (ICU's data) and more per row, which `berth images` with 1,000 rows would feel. A host
 * whose local time is UTC all year (January and July offsets both 0) needs no Intl at all.
 */
function localTimeZone(): string {
  if (localZone === undefined) {
    const year = new Date().getUTCFullYear();
    const utcAllYear =
      new Date(Date.UTC(year, 0, 1)).getTimezoneOffset() === 0 &&
      new Date(Date.UTC(year, 6, 1)).getTimezoneOffset() === 0;
    localZone = utcAllYear ? "UTC" : (Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC");
  }
  return localZone;
}

function zonedParts(d: Date, timeZone: string | undefined): ZonedParts {
  const tz = timeZone ?? localTimeZone();
  if (/^(Etc\/)?(UTC|UCT|Universal|Zulu)$/i.test(tz)) {
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
      offset: 0,
      abbrev: "UTC",
    };
  }
  const parts = partsFormatter(tz).formatToParts(d);
  const get = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value ?? "0");
  let year = get("year");
  if (parts.find((p) => p.type === "era")?.value === "BC") year = 1 - year;
  const p = {
    year,
    month: get("month"),
    day: get("day"),
    hour: get("hour"),
    minute: get("minute"),
    second: get("second"),
  };
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  const offset = Math.round((wall - (d.getTime() - d.getUTCMilliseconds())) / 60_000);
  return { ...p, offset, abbrev: zoneAbbrev(d, tz, offset) };
}

function pad(n: number, width: number): string {
  const s = String(Math.abs(n)).padStart(width, "0");
  return n < 0 ? `-${s}` : s;
}

function offsetString(offset: number, colon: boolean): string {
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `${sign}${pad(Math.trunc(abs / 60), 2)}${colon ? ":" : ""}${pad(abs % 60, 2)}`;
}

/**
 * Go's time.Time.String() ("2006-01-02 15:04:05.999999999 -0700 MST"), which docker prints
 * for `{{.CreatedAt}}`: "2026-11-23 20:10:39 +0000 UTC". Go uses the local zone for
 * time.Unix(...), so the default here is the local zone too.
 */
export function goTimeString(d: Date, options: GoTimeOptions = {}): string {
  const p = zonedParts(d, options.timeZone);
  const ms = d.getUTCMilliseconds();
  const frac = ms === 0 ? "" : `.${pad(ms, 3).replace(/0+$/, "")}`;
  return (
    `${pad(p.year, 4)}-${pad(p.month, 2)}-${pad(p.day, 2)} ` +
    `${pad(p.hour, 2)}:${pad(p.minute, 2)}:${pad(p.second, 2)}${frac} ` +
    `${offsetString(p.offset, false)} ${p.abbrev}`
  );
}

/** Go's time.RFC3339 ("2006-01-02T15:04:05Z07:00"), used by `docker history --human=false`. */
export function goRFC3339(d: Date, options: GoTimeOptions = {}): string {
  const p = zonedParts(d, options.timeZone);
  const zone = p.offset === 0 ? "Z" : offsetString(p.offset, true);
  return (
    `${pad(p.year, 4)}-${pad(p.month, 2)}-${pad(p.day, 2)}T` +
    `${pad(p.hour, 2)}:${pad(p.minute, 2)}:${pad(p.second, 2)}${zone}`
  );
}

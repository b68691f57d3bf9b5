/**
 * `RUN --mount=type=cache,target=/root/.cache,sharing=locked`: the CSV fields of a mount, checked
 * with BuildKit's rules and messages (frontend/dockerfile/instructions/commands_runmount.go).
 */
import { DockerfileValueError } from "./errors.js";
import { withSuggestion } from "./suggest.js";

export type MountType = "bind" | "cache" | "tmpfs" | "secret" | "ssh";
export type MountSharing = "shared" | "private" | "locked";

export interface Mount {
  readonly type: MountType;
  readonly target?: string;
  readonly source?: string;
  /** The stage or image a bind or cache mount reads from. */
  readonly from?: string;
  /** Bind, secret and ssh mounts are read-only unless `rw`; cache and tmpfs are writable. */
  readonly readOnly: boolean;
  /** Cache id, or the secret's / ssh agent's id. */
  readonly id?: string;
  readonly sharing?: MountSharing;
  /** Secret and ssh: fail the build when the secret is not provided. */
  readonly required: boolean;
  /** Tmpfs size limit in bytes. */
  readonly size?: number;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Secret: also expose it as this environment variable. */
  readonly env?: string;
}

const TYPES: readonly MountType[] = ["bind", "cache", "tmpfs", "secret", "ssh"];
const SHARING: readonly MountSharing[] = ["shared", "private", "locked"];
const KEYS = [
  "type",
  "from",
  "source",
  "target",
  "readonly",
  "id",
  "sharing",
  "required",
  "size",
  "mode",
  "uid",
  "gid",
  "src",
  "dst",
  "destination",
  "ro",
  "rw",
  "readwrite",
  "env",
];

/** One CSV record, as go-csvvalue reads it (Go's encoding/csv rules for a single line). */
export function csvFields(line: string): string[] {
  const fail = (column: number, what: string) =>
    new DockerfileValueError(`failed to parse csv mounts: parse error on line 1, column ${column}: ${what}`);
  if (line === "") throw new DockerfileValueError("failed to parse csv mounts: EOF");
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] !== '"') {
      const comma = line.indexOf(",", i);
      const field = comma < 0 ? line.slice(i) : line.slice(i, comma);
      const quote = field.indexOf('"');
      if (quote >= 0) throw fail(i + quote + 1, 'bare " in non-quoted-field');
      out.push(field);
      if (comma < 0) return out;
      i = comma + 1;
      continue;
    }
    let field = "";
    i++;
    for (;;) {
      const q = line.indexOf('"', i);
      if (q < 0) throw fail(i + 1, 'extraneous or missing " in quoted-field');
      field += line.slice(i, q);
      i = q + 1;
      if (line[i] === '"') {
        field += '"';
        i++;
        continue;
      }
      if (line[i] === "," || i === line.length) break;
      throw fail(i, 'extraneous or missing " in quoted-field');
    }
    out.push(field);
    if (i === line.length) return out;
    i++;
  }
}

/** strconv.ParseBool. */
function parseGoBool(value: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  return undefined;
}

/** strconv.ParseUint(value, base, 32). */
function parseUint32(value: string, base: 8 | 10): number | undefined {
  const digits = base === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!digits.test(value)) return undefined;
  const n = Number.parseInt(value, base);
  return n <= 0xffffffff ? n : undefined;
}

/** docker/go-units RAMInBytes: "64m", "1.5g", "512KiB", binary multiples. */
function ramInBytes(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value);
  if (!m) return undefined;
  const exp = m[2] === undefined ? 0 : "kmgtp".indexOf(m[2].toLowerCase()) + 1;
  return Math.trunc(Number(m[1]) * 1024 ** exp);
}

/**
 * Parses one `--mount` value. `expand` expands variables in each value (the stage's environment).
 * Without it (parse time), a value that holds a variable is not judged yet: string fields keep
 * the text as written, typed fields are left out, and the cross-field checks wait for expansion,
 * as BuildKit defers them to the build.
 */
export function parseMount(spec: string, expand?: (word: string) => string): Mount {
  const m: {
    -readonly [K in keyof Mount]: Mount[K];
  } = { type: "bind", readOnly: false, required: false };
  let roAuto = true;
  let deferred = false;
  const invalid = (key: string, value: string) => new DockerfileValueError(`invalid value for ${key}: ${value}`);

  for (const field of csvFields(spec)) {
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      switch (key) {
        case "readonly":
        case "ro":
          m.readOnly = true;
          roAuto = false;
          continue;
        case "readwrite":
        case "rw":
          m.readOnly = false;
          roAuto = false;
          continue;
        case "required":
          if (m.type === "secret" || m.type === "ssh" || deferred) {
            m.required = true;
            continue;
          }
          throw new DockerfileValueError(`unexpected key '${key}' for mount type '${m.type}'`);
        default:
          throw new DockerfileValueError(`invalid field '${field}' must be a key=value pair`);
      }
    }
    let value = field.slice(eq + 1);
    if (expand) {
      value = expand(value);
    } else if (value.includes("$")) {
      // BuildKit resolves stage names before expanding, so --mount from= cannot use variables.
      if (key === "from" && value.indexOf("$") !== value.length - 1) {
        throw new DockerfileValueError(`'${key}' doesn't support variable expansion, define alias stage instead`);
      }
      deferred = true;
      if (["source", "src", "target", "dst", "destination", "id", "env", "from"].includes(key)) {
        setString(m, key, value);
      }
      continue;
    }
    switch (key) {
      case "type": {
        const t = value.toLowerCase() as MountType;
        if (!TYPES.includes(t)) {
          throw new DockerfileValueError(withSuggestion(`unsupported mount type "${value}"`, value, TYPES, true));
        }
        m.type = t;
        break;
      }
      case "readonly":
      case "ro":
      case "readwrite":
      case "rw": {
        const b = parseGoBool(value);
        if (b === undefined) throw invalid(key, value);
        m.readOnly = key === "readonly" || key === "ro" ? b : !b;
        roAuto = false;
        break;
      }
      case "required": {
        if (m.type !== "secret" && m.type !== "ssh") {
          throw new DockerfileValueError(`unexpected key '${key}' for mount type '${m.type}'`);
        }
        const b = parseGoBool(value);
        if (b === undefined) throw invalid(key, value);
        m.required = b;
        break;
      }
      case "size": {
        if (m.type !== "tmpfs") throw new DockerfileValueError(`unexpected key '${key}' for mount type '${m.type}'`);
        const size = ramInBytes(value);
        if (size === undefined) throw invalid(key, value);
        m.size = size;
        break;
      }
      case "sharing": {
        const s = value.toLowerCase() as MountSharing;
        if (!SHARING.includes(s)) {
          throw new DockerfileValueError(withSuggestion(`unsupported sharing value "${value}"`, value, SHARING, true));
        }
        m.sharing = s;
        break;
      }
      case "mode":
      case "uid":
      case "gid": {
        const n = parseUint32(value, key === "mode" ? 8 : 10);
        if (n === undefined) throw new DockerfileValueError(`invalid value ${value} for ${key}`);
        m[key] = n;
        break;
      }
      default:
        if (!setString(m, key, value)) {
          throw new DockerfileValueError(withSuggestion(`unexpected key '${key}' in '${field}'`, key, KEYS, true));
        }
    }
  }

  if (roAuto) m.readOnly = !(m.type === "cache" || m.type === "tmpfs");
  if (deferred) return m;

  if (m.type !== "secret" && m.type !== "ssh" && m.type !== "cache") {
    for (const k of ["mode", "uid", "gid"] as const) {
      if (m[k] !== undefined) throw new DockerfileValueError(`${k} not allowed for "${m.type}" type mounts`);
    }
  }
  if (m.type === "secret") {
    if (m.from) throw new DockerfileValueError("secret mount should not have a from");
    if (m.sharing !== undefined) throw new DockerfileValueError("secret mount should not define sharing");
    if (!m.source && !m.target && !m.id) {
      throw new DockerfileValueError("invalid secret mount. one of source, target required");
    }
    if (m.source && m.id) throw new DockerfileValueError("both source and id can't be set");
  }
  if (m.sharing !== undefined && m.type !== "cache") {
    throw new DockerfileValueError(`invalid cache sharing set for ${m.type} mount`);
  }
  return m;
}

function setString(m: { -readonly [K in keyof Mount]: Mount[K] }, key: string, value: string): boolean {
  switch (key) {
    case "from":
      m.from = value;
      return true;
    case "source":
    case "src":
      m.source = value;
      return true;
    case "target":
    case "dst":
    case "destination":
      m.target = value;
      return true;
    case "id":
      m.id = value;
      return true;
    case "env":
      m.env = value;
      return true;
    default:
      return false;
  }
}

import { BerthError } from "../oci/errors.js";

/**
 * docker's `--user` / USER resolution (runc's libcontainer/user GetExecUser, which docker calls),
 * against the container's own /etc/passwd and /etc/group. Pure: the caller reads the files.
 */

export interface ExecUser {
  uid: number;
  gid: number;
  /** Supplementary groups: the primary one, and those that list the user (when no group is named). */
  additionalGids: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_ID = 2 ** 31 - 1;

function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const f = line.split(":");
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    if (f[0] === undefined || uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? "" });
  }
  return out;
}

function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const f = line.split(":");
    const gid = parseId(f[2]);
    if (f[0] === undefined || gid === undefined) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? "").split(",").filter(Boolean) });
  }
  return out;
}

function parseId(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

/**
 * Resolves `user[:group]` (names or numbers). An empty spec is root. A name that the files do
 * not know is an error, as in docker; a number needs no entry.
 */
export function resolveUser(
  spec: string,
  passwd: string | null,
  group: string | null,
  opts: { primaryAsSupplementary?: boolean } = {},
): ExecUser {
  const [userArg = "", groupArg] = splitOnce(spec, ":");
  const users = passwd ? parsePasswd(passwd) : [];
  const groups = group ? parseGroup(group) : [];
  const result: ExecUser = { uid: 0, gid: 0, additionalGids: [], home: "/" };
  let userName: string | undefined;

  if (userArg !== "") {
    const numeric = parseId(userArg);
    const entry =
      users.find((u) => u.name === userArg) ?? users.find((u) => numeric !== undefined && u.uid === numeric);
    if (entry) {
      result.uid = entry.uid;
      result.gid = entry.gid;
      result.home = entry.home || "/";
      userName = entry.name;
    } else if (numeric !== undefined) {
      result.uid = numeric;
    } else if (/^\d+$/.test(userArg)) {
      throw new BerthError("USAGE", `user ID ${userArg} is out of range (0-${MAX_ID})`);
    } else {
      throw new BerthError("USAGE", `unable to find user ${userArg}: no matching entries in passwd file`);
    }
  } else {
    const root = users.find((u) => u.uid === 0);
    if (root) {
      result.home = root.home || "/";
      userName = root.name;
    }
  }

  if (groupArg !== undefined && groupArg !== "") {
    const numeric = parseId(groupArg);
    const entry =
      groups.find((g) => g.name === groupArg) ?? groups.find((g) => numeric !== undefined && g.gid === numeric);
    if (entry) result.gid = entry.gid;
    else if (numeric !== undefined) result.gid = numeric;
    else throw new BerthError("USAGE", `unable to find group ${groupArg}: no matching entries in group file`);
  } else if (userName !== undefined) {
    const name = userName;
    result.additionalGids = groups.filter((g) => g.members.includes(name)).map((g) => g.gid);
  }
  // The primary group is always a supplementary one too (docker since the fix for
  // CVE-2023-25173): `id` shows groups=GID even for a bare -u 1000:1000.
  // BuildKit's RUN steps do not (primaryAsSupplementary: false): only /etc/group memberships.
  if (opts.primaryAsSupplementary !== false)
    result.additionalGids = [...new Set([result.gid, ...result.additionalGids])];
  return result;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

import { type Digest, digestHex } from "../oci/digest.js";
import { BerthError } from "../oci/errors.js";
import { familiarName, parseReference } from "../oci/reference.js";
import { type ImageRecord, listImages, resolveImage } from "../store/image-records.js";
import type { LocalStore } from "../store/local-store.js";
import { settleImages } from "../store/pending-layers.js";

/** One row of `docker images`: an image under one of its names (or `<none>`). */
export interface ImageRow {
  repository: string;
  tag: string;
  digest: string;
  id: Digest;
  createdMs: number | null;
  created: string | null;
  size: number;
  labels: Record<string, string> | null;
}

export interface ListOptions {
  all?: boolean;
  /** docker's --filter values: dangling=, reference=, label=, before=, since= */
  filters?: readonly string[];
  /** Told of an image whose size cannot be measured (a pulled layer that is not what its config says). */
  onWarning?: (message: string) => void;
}

/** `docker images`: one row per repository:tag, newest first; untagged intermediates only with `all`. */
export async function images(store: LocalStore, opts: ListOptions = {}): Promise<ImageRow[]> {
  const filters = parseFilters(opts.filters ?? []);
  await settleSizes(store, opts.onWarning);
  const records = listImages(store);
  const parents = new Set(records.map((r) => r.parent).filter((p): p is Digest => p !== null));
  const before = filters.before.map((b) => resolveImage(store, b).image);
  const since = filters.since.map((s) => resolveImage(store, s).image);
  const rows: ImageRow[] = [];
  for (const r of records) {
    const untagged = r.tags.length === 0;
    const dangling = untagged && r.repoDigests.length === 0;
    // docker hides untagged images that are another image's parent (build intermediates)
    const hidden = parents.has(r.id) || r.intermediate;
    if (untagged && hidden && !opts.all && filters.dangling !== true) continue;
    if (filters.dangling === true && !(dangling && !hidden)) continue;
    if (filters.dangling === false && untagged) continue;
    if (!matchLabels(r, filters.label)) continue;
    if (before.some((b) => !isOlder(r, b))) continue;
    if (since.some((s) => !isOlder(s, r))) continue;
    for (const row of rowsOf(r)) {
      if (filters.reference.length && !filters.reference.some((p) => matchReference(p, row))) continue;
      rows.push(row);
    }
  }
  return rows;
}

/**
 * Measures the layers a pull left unmeasured (store/pending-layers.ts), image by image: the
 * first listing after a pull inflates what the pull did not. An image that fails keeps its
 * unknown size and is reported; the others are listed as usual.
 */
export async function settleSizes(
  store: LocalStore,
  onWarning: (message: string) => void = () => undefined,
): Promise<void> {
  const unmeasured = store.db.prepare("SELECT id FROM images WHERE size < 0").pluck().all() as Digest[];
  for (const id of unmeasured) {
    try {
      await settleImages(store, [id]);
    } catch (err) {
      onWarning(`image ${digestHex(id).slice(0, 12)}: ${(err as Error).message}`);
    }
  }
}

function isOlder(a: ImageRecord, b: ImageRecord): boolean {
  return (a.createdMs ?? 0) < (b.createdMs ?? 0);
}

function rowsOf(r: ImageRecord): ImageRow[] {
  const base = { id: r.id, createdMs: r.createdMs, created: r.created, size: r.size, labels: r.labels };
  const digestsByRepo = new Map<string, string>();
  for (const rd of r.repoDigests) {
    const at = rd.indexOf("@");
    digestsByRepo.set(rd.slice(0, at), rd.slice(at + 1));
  }
  if (r.tags.length === 0) {
    if (r.repoDigests.length === 0) return [{ ...base, repository: "<none>", tag: "<none>", digest: "<none>" }];
    return [...digestsByRepo].map(([repo, digest]) => ({
      ...base,
      repository: familiar(repo),
      tag: "<none>",
      digest,
    }));
  }
  return r.tags.map((t) => {
    const i = t.lastIndexOf(":");
    const repo = t.slice(0, i);
    return { ...base, repository: familiar(repo), tag: t.slice(i + 1), digest: digestsByRepo.get(repo) ?? "<none>" };
  });
}

function familiar(fullRepo: string): string {
  const slash = fullRepo.indexOf("/");
  return familiarName({ domain: fullRepo.slice(0, slash), path: fullRepo.slice(slash + 1) });
}

interface Filters {
  dangling?: boolean;
  reference: string[];
  label: string[];
  before: string[];
  since: string[];
}

function parseFilters(list: readonly string[]): Filters {
  const f: Filters = { reference: [], label: [], before: [], since: [] };
  for (const item of list) {
    const eq = item.indexOf("=");
    if (eq < 0) throw new BerthError("USAGE", `bad format of filter "${item}": expected name=value`);
    const key = item.slice(0, eq).toLowerCase();
    const value = item.slice(eq + 1);
    switch (key) {
      case "dangling":
        if (value !== "true" && value !== "false" && value !== "1" && value !== "0") {
          throw new BerthError("USAGE", `invalid filter 'dangling=${value}': use true or false`);
        }
        f.dangling = value === "true" || value === "1";
        break;
      case "reference":
        f.reference.push(value);
        break;
      case "label":
        f.label.push(value);
        break;
      case "before":
        f.before.push(value);
        break;
      case "since":
        f.since.push(value);
        break;
      default:
        throw new BerthError(
          "USAGE",
          `invalid filter '${key}': images accepts dangling, reference, label, before and since`,
        );
    }
  }
  return f;
}

function matchLabels(r: ImageRecord, wanted: readonly string[]): boolean {
  for (const w of wanted) {
    const eq = w.indexOf("=");
    const key = eq < 0 ? w : w.slice(0, eq);
    const labels = r.labels ?? {};
    if (!(key in labels)) return false;
    if (eq >= 0 && labels[key] !== w.slice(eq + 1)) return false;
  }
  return true;
}

/**
 * docker matches a reference filter as a path glob against the familiar name, with or
 * without the tag (`busy*`, `org/app:1.*`).
 */
function matchReference(pattern: string, row: ImageRow): boolean {
  if (row.repository === "<none>") return false;
  const re = globToRegExp(pattern);
  const named = `${row.repository}:${row.tag}`;
  if (pattern.includes(":") ? re.test(named) : re.test(row.repository)) return true;
  try {
    const full = parseReference(row.repository);
    return re.test(`${full.domain}/${full.path}`) || re.test(`${full.domain}/${full.path}:${row.tag}`);
  } catch {
    return false;
  }
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i);
      if (end < 0) re += "\\[";
      else {
        re += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

import { goQuote } from "../dockerfile/go-strings.js";
import { displayWidth } from "../format/table.js";
import { goTimeString, humanDuration, humanSizeWithPrecision } from "../format/units.js";
import type { ContainerSummary } from "../verbs/containers.js";

/** What `ps` prints: docker's column titles, and each container's fields (loaded by `ps` when it runs). */
export const PS_HEADERS = {
  ID: "CONTAINER ID",
  Image: "IMAGE",
  Command: "COMMAND",
  CreatedAt: "CREATED AT",
  RunningFor: "CREATED",
  Ports: "PORTS",
  State: "STATE",
  Status: "STATUS",
  Size: "SIZE",
  Names: "NAMES",
  Labels: "LABELS",
  Mounts: "MOUNTS",
  Networks: "NETWORKS",
  LocalVolumes: "LOCAL VOLUMES",
};

/** docker's formatter.Ellipsis: at most `max` columns, the last one "…" when cut. */
function ellipsis(s: string, max: number): string {
  if (displayWidth(s) <= max) return s;
  let out = "";
  for (const ch of s) {
    if (displayWidth(out + ch) > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}

/** docker's ContainerContext fields, as strings, and its Label method (`{{.Label "k"}}`). */
export function psItem(r: ContainerSummary, trunc: boolean): Record<string, string | ((key: string) => string)> {
  const now = Date.now();
  const createdMs = r.Created * 1000;
  let image = r.Image;
  if (trunc && image.startsWith("sha256:")) image = image.slice(7, 19);
  else if (trunc) image = image.replace(/@sha256:[a-f0-9]{64}$/, "");
  const mounts = r.Mounts.map((m) => (trunc ? ellipsis(m.Source, 15) : m.Source));
  return {
    ID: trunc ? r.Id.slice(0, 12) : r.Id,
    Image: image,
    Command: goQuote(trunc ? ellipsis(r.Command, 20) : r.Command),
    CreatedAt: goTimeString(new Date(createdMs)),
    RunningFor: `${humanDuration(now - createdMs)} ago`,
    Ports: "",
    State: r.State,
    Status: r.Status,
    Size:
      r.SizeRw === undefined
        ? ""
        : `${humanSizeWithPrecision(r.SizeRw, 3)} (virtual ${humanSizeWithPrecision(r.SizeRootFs ?? 0, 3)})`,
    Names: r.Names.map((n) => n.replace(/^\//, "")).join(","),
    Labels: Object.entries(r.Labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join(","),
    Mounts: mounts.join(","),
    Networks: r.NetworkMode,
    LocalVolumes: "0",
    Label: (key: string) => r.Labels[key] ?? "",
  };
}

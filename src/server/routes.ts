/**
 * Matches `/v2/…` paths by hand (repository names have any number of `/`): the spec's endpoint
 * table (end-1 … end-13) plus Distribution's `_catalog`. Pure: no I/O, no validation beyond shape.
 */
export type Route =
  | { readonly kind: "base" }
  | { readonly kind: "catalog" }
  | { readonly kind: "tags"; readonly name: string }
  | { readonly kind: "manifest"; readonly name: string; readonly reference: string }
  | { readonly kind: "blob"; readonly name: string; readonly digest: string }
  | { readonly kind: "uploads"; readonly name: string }
  | { readonly kind: "upload"; readonly name: string; readonly id: string }
  | { readonly kind: "referrers"; readonly name: string; readonly digest: string };

/** `path` is the URL path without the query; undefined when it is no API endpoint. */
export function matchRoute(path: string): Route | undefined {
  if (path === "/v2/" || path === "/v2") return { kind: "base" };
  if (!path.startsWith("/v2/")) return undefined;
  const rest = path.slice(4);
  if (rest === "_catalog") return { kind: "catalog" };
  const segs = rest.split("/");
  const n = segs.length;
  const last = segs[n - 1] as string;
  const name = (k: number) => segs.slice(0, n - k).join("/");
  // blobs/uploads/<id> and blobs/uploads/ first: "uploads" can never be a digest
  if (n >= 4 && segs[n - 3] === "blobs" && segs[n - 2] === "uploads") {
    return last === "" ? { kind: "uploads", name: name(3) } : { kind: "upload", name: name(3), id: last };
  }
  if (n >= 3 && segs[n - 2] === "blobs" && last === "uploads") return { kind: "uploads", name: name(2) };
  if (n >= 3 && last !== "") {
    switch (segs[n - 2]) {
      case "manifests":
        return { kind: "manifest", name: name(2), reference: last };
      case "blobs":
        return { kind: "blob", name: name(2), digest: last };
      case "referrers":
        return { kind: "referrers", name: name(2), digest: last };
      case "tags":
        if (last === "list") return { kind: "tags", name: name(2) };
        break;
    }
  }
  return undefined;
}

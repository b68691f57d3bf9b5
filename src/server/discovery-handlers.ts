import { MediaType } from "../oci/media-types.js";
import { authorize, type Call, denial, unknown } from "./call.js";
import { nextLink, pageParams, sendJson } from "./http.js";
import type { ReferrerDescriptor } from "./metadata.js";
import { requestDigest } from "./names.js";
import { RegistryError } from "./registry-error.js";

/** The most names one page carries; a larger `n` (or none) gets this many and a `Link` to the rest. */
const PAGE_MAX = 10_000;

/** GET /v2/<name>/tags/list (end-8a, end-8b): lexical order, `n`/`last`, `Link` when more remain. */
export async function listTags(call: Call, name: string): Promise<void> {
  await authorize(call, name, ["pull"]);
  const { n, last } = pageParams(call.query, PAGE_MAX);
  const limit = n ?? PAGE_MAX;
  // spec: n=0 is an empty list and no Link
  const tags = await call.registry.metadata.listTags(name, last, limit === 0 ? 0 : limit + 1);
  if (tags === undefined) {
    throw await unknown(call, name, new RegistryError("NAME_UNKNOWN", "repository name not known to registry"));
  }
  const page = tags.slice(0, limit);
  const more = tags.length > limit && page.length > 0;
  sendJson(
    call.res,
    200,
    { name, tags: page },
    more ? { Link: nextLink(`/v2/${name}/tags/list`, limit, page[page.length - 1] as string) } : {},
  );
}

/**
 * GET /v2/_catalog (Distribution's API, same paging as tags): the repositories the policy lets
 * the caller see, so a page may need several reads when the policy hides some.
 */
export async function listCatalog(call: Call): Promise<void> {
  const { n, last } = pageParams(call.query, PAGE_MAX);
  const limit = n ?? PAGE_MAX;
  const { metadata, policy } = call.registry;
  const visible: string[] = [];
  let after = last;
  let more = false;
  let allowedAtAll = true;
  while (limit > 0) {
    const names = await metadata.listRepositories(after, limit + 1);
    const seen = await policy.catalog(call.principal, names);
    if (!seen.allowed) {
      allowedAtAll = false;
      break;
    }
    const shown = new Set(seen.visible);
    for (const name of names) {
      if (!shown.has(name)) continue;
      if (visible.length === limit) {
        more = true;
        break;
      }
      visible.push(name);
    }
    if (more || names.length <= limit) break;
    after = names[names.length - 1];
  }
  if (limit === 0) allowedAtAll = (await policy.catalog(call.principal, [])).allowed;
  if (!allowedAtAll) throw denial(call, ["registry:catalog:*"]);
  sendJson(
    call.res,
    200,
    { repositories: visible },
    more ? { Link: nextLink("/v2/_catalog", limit, visible[visible.length - 1] as string) } : {},
  );
}

/**
 * Referrers per page. Clients cap an index they read (oras and containerd at 4 MiB, like
 * manifests); a descriptor with a few annotations is ~0.3-1 KiB, so 1,000 stays far below.
 */
const REFERRERS_PAGE_MAX = 1_000;

/**
 * GET /v2/<name>/referrers/<digest> (end-12a, end-12b): an image index of the manifests whose
 * subject is `digest`, filtered by `artifactType`. Never 404 (clients would fall back to the
 * tag schema): an unknown repository or subject has no referrers. A long list is paged (spec:
 * a `Link` header with rel="next", which clients follow as given): `n` (at most the page
 * maximum) and `last` (a digest) work as for tags.
 */
export async function listReferrers(call: Call, name: string, digestText: string): Promise<void> {
  const digest = requestDigest(digestText);
  await authorize(call, name, ["pull"]);
  const artifactType = call.query.get("artifactType") || undefined;
  const { n, last } = pageParams(call.query, REFERRERS_PAGE_MAX);
  const limit = n ?? REFERRERS_PAGE_MAX;
  // one more than the page says whether a next page exists
  const found = await call.registry.metadata.referrers(name, digest, artifactType, {
    after: last,
    limit: limit === 0 ? 0 : limit + 1,
  });
  const manifests = found.slice(0, limit);
  const more = found.length > limit && manifests.length > 0;
  sendJson(
    call.res,
    200,
    { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests },
    {
      "Content-Type": MediaType.ociIndex,
      ...(artifactType !== undefined ? { "OCI-Filters-Applied": "artifactType" } : {}),
      // the filter goes into the link too: the next page is of the same filtered list
      ...(more
        ? {
            Link: nextLink(
              `/v2/${name}/referrers/${digest}`,
              limit,
              (manifests[manifests.length - 1] as ReferrerDescriptor).digest,
              artifactType !== undefined ? { artifactType } : {},
            ),
          }
        : {}),
    },
  );
}

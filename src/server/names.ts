import { type Digest, parseDigest } from "../oci/digest.js";
import { RegistryError } from "./registry-error.js";

/** Distribution's repository name grammar (spec "Pulling manifests"): lowercase components joined by `/`. */
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
/** Clients limit host + `/` + name to 255; Distribution caps the name itself at 255. */
const NAME_MAX = 255;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** One path component of a repository name (also the form of a namespace name). */
export function isNameComponent(text: string): boolean {
  return COMPONENT.test(text);
}

/** Whether `name` is a repository name the spec allows; `checkName` says what is wrong. */
export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= NAME_MAX && name.split("/").every(isNameComponent);
}

/** Throws NAME_INVALID unless `name` is a repository name the spec allows. */
export function checkName(name: string): string {
  if (name.length === 0 || name.length > NAME_MAX) {
    throw new RegistryError("NAME_INVALID", `invalid repository name: must be 1 to ${NAME_MAX} characters`, {
      detail: { name: name.slice(0, 300) },
    });
  }
  for (const component of name.split("/")) {
    if (!COMPONENT.test(component)) {
      throw new RegistryError(
        "NAME_INVALID",
        "invalid repository name: each path component must be lowercase letters and digits separated by '.', '_', '__' or '-'",
        { detail: { name } },
      );
    }
  }
  return name;
}

function isTag(text: string): boolean {
  return TAG.test(text);
}

/** Parses a digest from a URL or query; a bad one is DIGEST_INVALID (400), as the spec asks. */
export function requestDigest(text: string | null | undefined, what = "digest"): Digest {
  if (text === null || text === undefined || text === "") {
    throw new RegistryError("DIGEST_INVALID", `${what} is missing`);
  }
  try {
    return parseDigest(text);
  } catch (err) {
    throw new RegistryError("DIGEST_INVALID", (err as Error).message, { detail: { digest: text.slice(0, 200) } });
  }
}

/** A manifest reference: a digest (it contains `:`) or a tag. */
export type ManifestRef = { readonly digest: Digest } | { readonly tag: string };

export function parseManifestRef(text: string): ManifestRef {
  if (text.includes(":")) return { digest: requestDigest(text) };
  if (!isTag(text)) {
    throw new RegistryError("MANIFEST_INVALID", "invalid tag: must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}", {
      detail: { tag: text.slice(0, 200) },
    });
  }
  return { tag: text };
}

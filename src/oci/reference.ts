import { type Digest, parseDigest } from "./digest.js";
import { BerthError } from "./errors.js";

/**
 * An image reference after docker's normalisation: `nginx` → domain `docker.io`, path
 * `library/nginx`. The grammar is the distribution project's reference grammar.
 */
export interface Reference {
  readonly domain: string;
  readonly path: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

export const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
export const DEFAULT_TAG = "latest";
const NAME_TOTAL_MAX = 255;

const TAG = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6 = /^\[[a-fA-F0-9:]+\]$/;
const HEX64 = /^[a-f0-9]{64}$/;

function bad(input: string, why: string): BerthError {
  return new BerthError("INVALID_REFERENCE", `invalid reference "${clip(input)}": ${why}`);
}

/** Parses a reference with docker's normalisation; the tag stays undefined when none is given. */
export function parseReference(input: string): Reference {
  if (input.length === 0) throw bad(input, "it is empty");
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    const digestText = rest.slice(at + 1);
    try {
      digest = parseDigest(digestText);
    } catch (err) {
      throw bad(input, `digest part ${(err as Error).message.replace(/^invalid digest /, "")}`);
    }
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > rest.lastIndexOf("/")) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) {
      throw bad(
        input,
        `tag "${clip(tag)}" must be 1-128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`,
      );
    }
  }
  if (rest.length === 0) throw bad(input, "the repository name is missing");
  if (HEX64.test(rest) && !tag && !digest) {
    throw bad(input, "a 64-character hex string is an image ID, not a repository name");
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
      validateDomain(input, domain);
    }
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (path.length === 0) throw bad(input, "the repository path is missing after the registry");
  for (const component of path.split("/")) {
    if (component !== component.toLowerCase()) throw bad(input, "repository name must be lowercase");
    if (!PATH_COMPONENT.test(component)) {
      throw bad(
        input,
        `path component "${clip(component)}" must be lowercase letters and digits, separated by ".", "_", "__" or "-"`,
      );
    }
  }
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = `library/${path}`;
  const nameLength = `${domain}/${path}`.length;
  if (nameLength > NAME_TOTAL_MAX) throw bad(input, `repository name is longer than ${NAME_TOTAL_MAX} characters`);
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

function validateDomain(input: string, domain: string): void {
  let host = domain;
  const portMatch = /^(.*):([0-9]+)$/.exec(domain);
  if (portMatch) host = portMatch[1] ?? "";
  else if (domain.includes(":") && !IPV6.test(domain))
    throw bad(input, `registry "${clip(domain)}" has an invalid port`);
  if (IPV6.test(host)) return;
  for (const part of host.split(".")) {
    if (!DOMAIN_COMPONENT.test(part)) throw bad(input, `registry host "${clip(host)}" is not a valid host name`);
  }
}

/** The reference with `latest` added when it names neither a tag nor a digest. */
export function withDefaultTag(ref: Reference): Reference {
  return ref.tag || ref.digest ? ref : { ...ref, tag: DEFAULT_TAG };
}

/** `docker.io/library/nginx` for nginx. */
export function fullName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The short name docker shows: `nginx`, `vaishali/myapp`, `localhost:5000/a/b`. */
export function familiarName(ref: Pick<Reference, "domain" | "path">): string {
  if (ref.domain !== DEFAULT_DOMAIN) return `${ref.domain}/${ref.path}`;
  return ref.path.startsWith("library/") && ref.path.indexOf("/", 8) < 0 ? ref.path.slice(8) : ref.path;
}

export function formatReference(ref: Reference, familiar = false): string {
  let s = familiar ? familiarName(ref) : fullName(ref);
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

function clip(s: string): string {
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
}

/** A stored full name (`docker.io/library/bb:1` or `...@sha256:…`) as docker prints it: `bb:1`. */
export function familiarString(full: string): string {
  const ref = parseReference(full);
  const name = familiarName(ref);
  return ref.digest ? `${name}@${ref.digest}` : `${name}:${ref.tag ?? DEFAULT_TAG}`;
}

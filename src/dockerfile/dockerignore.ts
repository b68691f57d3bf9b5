/**
 * `.dockerignore`: which context paths a build leaves out, with docker's rules (moby's
 * patternmatcher, through @balena/dockerignore, a port of it): patterns are anchored at the
 * context root, `*` and `?` stay within one path segment, `**` crosses any number, `!` re-includes,
 * the last matching pattern wins, and a path is ignored when it or a parent directory matches.
 */
import { posix } from "node:path";
import dockerignore from "@balena/dockerignore";

// A CommonJS module: Node gives its exports object as the default import, and the library sets
// `exports.default` to itself so that this spelling type-checks and runs.
const ignore = dockerignore.default;

/**
 * The patterns of a .dockerignore file, cleaned as docker's ignorefile.ReadAll cleans them:
 * comments (a "#" in the first column) and blank lines dropped, each pattern trimmed and
 * path-cleaned, a leading "/" removed, "!" kept.
 */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  for (const line of body.split("\n")) {
    if (line.startsWith("#")) continue;
    let pattern = line.trim();
    if (pattern === "") continue;
    const invert = pattern.startsWith("!");
    if (invert) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = posix.normalize(pattern);
      if (pattern.length > 1 && pattern.endsWith("/")) pattern = pattern.slice(0, -1);
      if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
    }
    patterns.push(invert ? `!${pattern}` : pattern);
  }
  return patterns;
}

/**
 * A predicate telling whether a context path ("src/app.js", relative, "/"-separated) is ignored.
 * The context root itself is never ignored.
 */
export function makeIgnoreMatcher(text: string): (path: string) => boolean {
  // Docker on Linux matches case-sensitively; the library's default is the opposite.
  const matcher = ignore({ ignorecase: false }).add(parseDockerignore(text));
  return (path: string) => {
    const rel = posix
      .normalize(path)
      .replace(/^(\.\/|\/)+/, "")
      .replace(/\/+$/, "");
    if (rel === "" || rel === ".") return false;
    return matcher.ignores(rel);
  };
}

/**
 * Where to look for the ignore file, first match wins: `<Dockerfile>.dockerignore` next to the
 * Dockerfile (so one context can serve several Dockerfiles), then `.dockerignore` at the
 * context root. Paths are joined, not resolved.
 */
export function dockerignoreCandidates(dockerfilePath: string, contextDir = "."): string[] {
  return [`${dockerfilePath}.dockerignore`, posix.join(contextDir, ".dockerignore")];
}

/** The ignore file that applies, given which names exist; undefined when neither does. */
export function dockerignoreFor(
  dockerfilePath: string,
  exists: (path: string) => boolean,
  contextDir = ".",
): string | undefined {
  return dockerignoreCandidates(dockerfilePath, contextDir).find(exists);
}

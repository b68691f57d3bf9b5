import assert from "node:assert/strict";
import { test } from "node:test";
import { dockerignoreCandidates, dockerignoreFor, makeIgnoreMatcher, parseDockerignore } from "./dockerignore.js";

const PATTERNS = `# comment
*.md
!README.md
**/*.log
node_modules
/build
docs/**/secret
!docs/keep/secret
./dist/
vendor/*/
!vendor/keep
temp?
  .hidden  
**/.hidden
Sub/*.MD
sp ace.txt
`;

// What docker 20.10 (BuildKit) sent for this .dockerignore, checked by building a context with
// these files and listing the image: true = left out.
const DOCKER: [string, boolean][] = [
  ["a.md", true],
  ["README.md", false],
  ["sub/a.md", false],
  ["sub/deep/z.log", true],
  ["x.log", true],
  ["node_modules/x/i.js", true],
  ["sub/node_modules", false],
  ["build/o", true],
  ["dist/a.js", true],
  ["temp1/t", true],
  ["temp12", false],
  ["docs/keep/secret", false],
  ["docs/other/secret", true],
  ["docs/secret", true],
  ["docs/other", false],
  ["vendor/a/v", true],
  ["vendor/keep/k", false],
  ["Sub/A.MD", true],
  ["sub/A.MD", false],
  ["keep.txt", false],
  [".hidden", true],
  ["sub/.hidden", true],
  ["sp ace.txt", true],
  ["Dockerfile", false],
  [".dockerignore", false],
];

test("docker's pattern rules, as docker applied them to a real context", () => {
  const ignored = makeIgnoreMatcher(PATTERNS);
  for (const [path, expected] of DOCKER) assert.equal(ignored(path), expected, path);
});

test("paths are taken relative to the context root, in any spelling", () => {
  const ignored = makeIgnoreMatcher("/build\n");
  assert.ok(ignored("build/x") && ignored("./build/x") && ignored("/build/x") && ignored("build/"));
  assert.ok(!ignored(".") && !ignored(""));
});

test("the file is cleaned as docker reads it", () => {
  assert.deepEqual(parseDockerignore("\uFEFF# c\n\n ./a/../b/ \n!/c\n  # not a comment\n"), [
    "b",
    "!c",
    "# not a comment",
  ]);
});

test("<Dockerfile>.dockerignore is preferred to the context's .dockerignore", () => {
  assert.deepEqual(dockerignoreCandidates("docker/app.Dockerfile", "."), [
    "docker/app.Dockerfile.dockerignore",
    ".dockerignore",
  ]);
  const both = new Set(["ctx/Dockerfile.dockerignore", "ctx/.dockerignore"]);
  assert.equal(
    dockerignoreFor("ctx/Dockerfile", (p) => both.has(p), "ctx"),
    "ctx/Dockerfile.dockerignore",
  );
  assert.equal(
    dockerignoreFor("ctx/Dockerfile", (p) => p === "ctx/.dockerignore", "ctx"),
    "ctx/.dockerignore",
  );
  assert.equal(
    dockerignoreFor("Dockerfile", () => false),
    undefined,
  );
});

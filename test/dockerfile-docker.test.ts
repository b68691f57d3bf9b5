// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfile text, not templates.
/**
 * The front end beside the real thing: docker (with BuildKit) must reject what berth rejects,
 * and give the same image config for what both accept. Skipped when no docker engine answers.
 *
 * The engine here is docker 20.10, whose built-in Dockerfile frontend predates heredocs,
 * `--link`, `--parents`, `--exclude`, `${VAR#…}`/`${VAR/…}` and `${VAR-…}` without the colon,
 * so only Dockerfiles it understands are compared. Its messages are older too ("Unknown flag:
 * foo", "dockerfile parse error line 2: …"); berth follows current BuildKit's wording, so only
 * the rejection is compared, not the text.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { resolveBuild } from "../src/dockerfile/build-args.js";
import { toInstructions } from "../src/dockerfile/instructions.js";
import { parseDockerfile } from "../src/dockerfile/parse.js";
import { ensureDocker } from "./helpers.js";

const DOCKER = "/usr/bin/docker";
const HERE = fileURLToPath(new URL("../src/dockerfile/", import.meta.url));

function docker(args: string[], cwd?: string) {
  return spawnSync(DOCKER, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, DOCKER_BUILDKIT: "1" },
    timeout: 120_000,
  });
}

// The engine is part of the test setup (scripts/setup.sh installs it, this starts it).
ensureDocker();

/** Builds `dockerfile` in an empty context; the image id, or undefined when docker refuses. */
function dockerBuild(dockerfile: string): { id?: string; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "berth-df-"));
  try {
    writeFileSync(join(dir, "Dockerfile"), dockerfile);
    const r = docker(["build", "-q", "."], dir);
    const id = r.stdout.trim();
    return r.status === 0 && id.startsWith("sha256:") ? { id, output: r.stdout } : { output: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Invalid cases docker 20.10 understands; alpine becomes scratch so nothing is pulled.
const REJECTED_BY_BOTH = [
  "arg-blank-name",
  "copy-from-variable",
  "copy-no-arguments",
  "copy-one-argument",
  "directive-twice",
  "duplicate-flag",
  "env-missing-value",
  "env-word-without-equals",
  "escape-directive-bad-value",
  "expansion-missing-brace",
  "expansion-required-variable",
  "expose-bad-port",
  "from-blank-after-expansion",
  "from-no-arguments",
  "from-two-arguments",
  "healthcheck-bad-duration",
  "healthcheck-negative-retries",
  "healthcheck-unknown-type",
  "instruction-before-from",
  "json-array-of-non-strings",
  "mount-bare-quote",
  "mount-mode-on-bind",
  "mount-unknown-type",
  "onbuild-from",
  "onbuild-onbuild",
  "shell-not-json",
  "stage-name-starts-with-digit",
  "unknown-flag",
  "unknown-instruction",
  "user-heredoc-body-is-instructions",
  "volume-empty-string",
];

test("docker rejects the invalid Dockerfiles berth rejects", () => {
  for (const name of REJECTED_BY_BOTH) {
    const text = readFileSync(join(HERE, "testdata-invalid", name, "Dockerfile"), "utf8").replaceAll(
      "alpine",
      "scratch",
    );
    const r = dockerBuild(text);
    assert.equal(r.id, undefined, `${name}: docker accepted it`);
    assert.match(r.output, /failed to (solve|create LLB)/, `${name}: ${r.output}`);
  }
});

const METADATA = `ARG BASE=scratch
FROM \${BASE} AS one
ARG STAGE_ARG=one
ENV STAGE_ENV=$STAGE_ARG
ENV FILE=archive.tar.gz URL=http://example.com/a/b/c EMPTY=
ENV ALT=\${UNSET:-fallback} SETALT=\${FILE:+set} EMPTYALT=\${EMPTY:-was-empty}
ENV QUOTED="$FILE" SINGLE='$FILE' ESCAPED=\\$FILE
ENV A=1 B="two words" C=x\\ y D='single $A'
ENV A=changed H=$A
ENV LEGACY value with   spaces
LABEL "com.example.key with spaces"="value with spaces" empty="" uni="안녕 ☕" from.arg=$STAGE_ARG
ARG PORTS="9000 9001/udp"
EXPOSE 8000-8002 $PORTS 7000/SCTP 1\${P:-2}3
VOLUME /var/log $FILE
VOLUME ["/json one", "$FILE.d"]
USER \${UID:-1000}:\${GID:-1000}
WORKDIR /$STAGE_ARG/x
WORKDIR relative
STOPSIGNAL SIGQUIT
FROM one AS two
ENV SEEN="$STAGE_ARG and $STAGE_ENV"
`;

test("docker and berth agree on a metadata-only build's config", () => {
  const built = dockerBuild(METADATA);
  assert.ok(built.id, built.output);
  try {
    const inspect = docker(["image", "inspect", built.id, "--format", "{{json .Config}}"]);
    const config = JSON.parse(inspect.stdout) as {
      Env: string[];
      Labels: Record<string, string>;
      ExposedPorts: Record<string, object>;
      Volumes: Record<string, object>;
      User: string;
      WorkingDir: string;
      StopSignal: string;
    };

    const resolved = resolveBuild(toInstructions(parseDockerfile(METADATA)), {
      buildPlatform: { os: "linux", architecture: "amd64" },
    });
    const last = resolved.stages[resolved.stages.length - 1];
    assert.ok(last);
    const steps = resolved.stages.flatMap((s) => s?.steps ?? []).map((s) => s.instruction);
    const labels: Record<string, string> = {};
    const ports: Record<string, object> = {};
    const volumes: Record<string, object> = {};
    let user = "";
    let workdir = "/";
    let signal = "";
    for (const i of steps) {
      if (i.kind === "LABEL") for (const p of i.pairs) labels[p.key] = p.value;
      if (i.kind === "EXPOSE") for (const p of i.ports) ports[p] = {};
      if (i.kind === "VOLUME") for (const v of i.volumes) volumes[v] = {};
      if (i.kind === "USER") user = i.user;
      if (i.kind === "WORKDIR") workdir = i.path.startsWith("/") ? i.path : `${workdir}/${i.path}`;
      if (i.kind === "STOPSIGNAL") signal = i.signal;
    }
    assert.deepEqual(last.configEnv, config.Env);
    assert.deepEqual(labels, config.Labels);
    assert.deepEqual(ports, config.ExposedPorts);
    assert.deepEqual(volumes, config.Volumes);
    assert.equal(user, config.User);
    assert.equal(workdir, config.WorkingDir);
    assert.equal(signal, config.StopSignal);
  } finally {
    docker(["rmi", built.id]);
  }
});

/**
 * berth build against docker build (BuildKit), case by case: every folder of test/build-corpus
 * is built by both on the same context, from the same offline base images (same IDs on both
 * sides), and the two images must match: the same files (type, mode, owner, symlink target,
 * content, hard links; mtimes aside), the same config (Env, Cmd, Entrypoint, WorkingDir, User,
 * ExposedPorts, Labels, Volumes, StopSignal, Healthcheck, OnBuild, Shell, author, platform) and
 * the same number of layers. test/build-compare.ts says what the comparison normalises.
 *
 * Then berth alone: reproducible image IDs from cold builds, the build cache, and bad input
 * (one line of error, a non-zero exit, the store unchanged).
 *
 * The engine is docker 20.10, whose BuildKit (0.8) predates heredocs, COPY --link, --parents,
 * --exclude, RUN --network, ${VAR-x}/${VAR#x}-style expansions and HEALTHCHECK
 * --start-interval, so the corpus has none of those; RUN --mount=type=secret needs --secret
 * and ADD of a URL needs a network, so they are left out too.
 *
 *   node --import tsx --test test/build-corpus.test.ts
 *   BERTH_CORPUS_ONLY=labels,onbuild …    only these cases (the other tests still run)
 *   BERTH_CORPUS_AGAINST=docker …         docker against itself (a second, --no-cache docker
 *                                         build stands in for berth): checks the corpus and the
 *                                         comparison; the berth-only tests are skipped
 *   BERTH_CORPUS_JOBS=3 …                 cases built at once (each runs docker and berth)
 *   BERTH_CORPUS_KEEP=1 …                 keep the work directory (contexts, archives, stores)
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, describe, type TestContext, test } from "node:test";
import {
  BARE,
  BASE,
  type BuildRequest,
  type BuildResult,
  berthBuild,
  berthSave,
  type Case,
  compareViews,
  DEFAULT_PATH,
  dockerBuild,
  dockerImageId,
  dockerSave,
  exec,
  type ImageView,
  limiter,
  loadCases,
  makeBases,
  materializeContext,
  requestFor,
  viewOf,
} from "./build-compare.js";
import { BERTH, DOCKER, ensureDocker, REPO, sh, snapshotStore, tempDir } from "./helpers.js";
import { ensureCli } from "./runtime-images.js";

const AGAINST = process.env.BERTH_CORPUS_AGAINST === "docker" ? "docker" : "berth";
const JOBS = Number(process.env.BERTH_CORPUS_JOBS ?? 3);
const ONLY = process.env.BERTH_CORPUS_ONLY?.split(",").filter(Boolean);
const BERTH_ONLY = AGAINST === "docker" ? "BERTH_CORPUS_AGAINST=docker: berth-only test" : false;

const cases = loadCases().filter((c) => !ONLY || ONLY.includes(c.name));

let work: string;
/** the store every corpus case builds in, as docker's one engine does */
let root: string;
/** `docker save` of both bases, for `berth load` into each fresh root */
let basesTar: string;

function tail(text: string, lines = 40): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function berthCli(r: string, args: readonly string[]) {
  return exec(process.execPath, [BERTH, "--root", r, ...args]);
}

/** A new store holding the two bases, as `berth load` of docker's archive leaves it. */
async function freshRoot(name: string): Promise<string> {
  const r = join(work, "roots", name);
  const loaded = await berthCli(r, ["load", "-i", basesTar]);
  assert.equal(loaded.code, 0, `berth load of the bases: ${loaded.stderr}`);
  return r;
}

/** Removes docker's images of earlier corpus runs (not the bases: their build cache stays). */
function removeCaseImages(): void {
  const refs = sh(DOCKER, ["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
    .stdout.split("\n")
    .filter((r) => /^berth-corpus(-self)?\//.test(r) && !/^berth-corpus\/(busybox|bare):1$/.test(r));
  if (refs.length) sh(DOCKER, ["rmi", "-f", ...refs]);
}

before(async () => {
  ensureCli();
  ensureDocker();
  work = tempDir("corpus");
  basesTar = makeBases(work);
  removeCaseImages();
  if (AGAINST === "berth") {
    root = await freshRoot("corpus");
    for (const ref of [BASE, BARE]) {
      const id = await berthCli(root, ["image", "inspect", "--format", "{{.Id}}", ref]);
      assert.equal(id.stdout.trim(), dockerImageId(ref), `${ref} has the same ID on both sides`);
    }
  }
});

after(() => {
  if (!work) return;
  if (process.env.BERTH_CORPUS_KEEP === "1") console.log(`# corpus work directory kept: ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
  removeCaseImages();
});

// ---------------------------------------------------------------------------------------------
// The corpus

/** Builds one case on one side, saves the image and flattens it. */
async function buildSide(
  side: "docker" | "docker-again" | "berth",
  c: Case,
  context: string,
): Promise<{ build: BuildResult; view: ImageView }> {
  const dir = join(work, "out", c.name);
  fs.mkdirSync(dir, { recursive: true });
  const tag = side === "docker-again" ? `berth-corpus-self/${c.name}` : `berth-corpus/${c.name}`;
  const req = requestFor(c, context, tag, join(dir, `${side}.iid`));
  if (side === "docker-again") req.noCache = true;
  const build = side === "berth" ? await berthBuild(root, req) : await dockerBuild(req);
  assert.equal(build.code, 0, `${side} build of ${c.name} failed (exit ${build.code}):\n${tail(build.output)}`);
  assert.match(build.id ?? "", /^sha256:[0-9a-f]{64}$/, `${side}: --iidfile holds no image ID`);
  if (c.quiet) assert.equal(build.stdout.trim(), build.id, `${side} -q prints the image ID and nothing else`);
  const archive = join(dir, `${side}.tar`);
  const saved = side === "berth" ? await berthSave(root, tag, archive) : await dockerSave(build.id as string, archive);
  assert.equal(saved.code, 0, `${side} save: ${saved.stderr}`);
  return { build, view: await viewOf(archive) };
}

describe(`corpus: ${AGAINST} build gives docker build's image`, { concurrency: JOBS }, () => {
  test("the corpus has at least 40 cases", { skip: ONLY ? "BERTH_CORPUS_ONLY" : false }, () => {
    assert.ok(cases.length >= 40, `${cases.length} cases`);
  });

  for (const c of cases) {
    test(c.name, async (t: TestContext) => {
      const context = materializeContext(c, join(work, "ctx", c.name));
      let docker: ImageView | undefined;
      await t.test("docker builds it", async () => {
        docker = (await buildSide("docker", c, context)).view;
        // every image of the corpus is on the corpus's base (or scratch), so has a PATH
        const env = (docker.config.Env as string[] | null) ?? [];
        assert.ok(
          env.some((e) => e.startsWith("PATH=")),
          `docker's Env has no PATH: ${JSON.stringify(env)} (default is ${DEFAULT_PATH})`,
        );
      });
      await t.test(`${AGAINST} builds the same image`, { skip: docker ? false : "docker failed" }, async () => {
        const other = (await buildSide(AGAINST === "docker" ? "docker-again" : "berth", c, context)).view;
        let diffs = compareViews("docker", docker as ImageView, AGAINST, other);
        if (AGAINST === "berth") {
          for (const expected of c.berthDiffers ?? []) {
            const re = new RegExp(expected.match);
            const shown = diffs.filter((d) => re.test(d));
            assert.ok(
              shown.length > 0,
              `${c.name}: berth no longer differs as expected (${expected.why}): /${expected.match}/`,
            );
            diffs = diffs.filter((d) => !re.test(d));
          }
          // only the headings of groups whose every line was expected are left: drop them
          diffs = diffs.filter(
            (d, i) => !/^(files|config|layers)[^:]*\(\d+\):$/.test(d) || /^\s/.test(diffs[i + 1] ?? ""),
          );
        }
        const quirk = c.dockerQuirk ? `\n(a known docker quirk shows here: ${c.dockerQuirk})` : "";
        assert.equal(
          diffs.length,
          0,
          `${c.name}: ${AGAINST}'s image differs from docker's\n${diffs.join("\n")}${quirk}`,
        );
      });
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Reproducibility

const REPRODUCIBLE = [
  "copy-from-stage-name",
  "run-shell-and-exec",
  "add-local-tar",
  "context-hardlinks",
  "whiteout-delete",
];

describe("reproducible builds", { skip: BERTH_ONLY }, () => {
  test("two cold builds on different roots give identical image IDs", async () => {
    const all = loadCases();
    const [a, b] = await Promise.all([freshRoot("repro-a"), freshRoot("repro-b")]);
    const run = limiter(2);
    const mismatches: string[] = [];
    await Promise.all(
      REPRODUCIBLE.map((name) =>
        run(async () => {
          const c = all.find((x) => x.name === name) as Case;
          const ctx = materializeContext(c, join(work, "repro", name));
          const req = (r: string) => requestFor(c, ctx, `repro/${name}`, join(work, "repro", `${name}-${r}.iid`));
          const ra = await berthBuild(a, req("a"));
          const rb = await berthBuild(b, req("b"));
          assert.equal(ra.code, 0, `${name}: ${tail(ra.output)}`);
          assert.equal(rb.code, 0, `${name}: ${tail(rb.output)}`);
          if (ra.id !== rb.id) mismatches.push(`${name}: ${ra.id} ≠ ${rb.id}`);
        }),
      ),
    );
    assert.deepEqual(mismatches, []);
  });

  test("a copy of the context elsewhere, with other mtimes, gives the same ID (another machine)", async () => {
    const all = loadCases();
    const [a, b] = await Promise.all([freshRoot("machine-a"), freshRoot("machine-b")]);
    const mismatches: string[] = [];
    for (const name of REPRODUCIBLE.slice(0, 3)) {
      const c = all.find((x) => x.name === name) as Case;
      const ctxA = materializeContext(c, join(work, "machine-a", name));
      const ctxB = materializeContext(c, join(work, "machine-b", "some", "other", "path", name));
      const stamp = new Date("2001-02-03T04:05:06Z");
      const touch = (dir: string) => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
          const p = join(e.parentPath, e.name);
          if (!e.isSymbolicLink()) fs.utimesSync(p, stamp, stamp);
        }
        fs.utimesSync(dir, stamp, stamp);
      };
      touch(ctxB);
      const ra = await berthBuild(a, requestFor(c, ctxA, `machine/${name}`, join(work, `${name}-ma.iid`)));
      const rb = await berthBuild(b, requestFor(c, ctxB, `machine/${name}`, join(work, `${name}-mb.iid`)));
      assert.equal(ra.code, 0, tail(ra.output));
      assert.equal(rb.code, 0, tail(rb.output));
      if (ra.id !== rb.id) mismatches.push(`${name}: ${ra.id} ≠ ${rb.id}`);
    }
    assert.deepEqual(mismatches, [], "the same Dockerfile, context contents and base must give the same ID");
  });
});

// ---------------------------------------------------------------------------------------------
// The build cache

/**
 * Each RUN prints a marker only when it runs: the command text holds `$((6*7))`, the output
 * holds 42, so a step header that quotes the command does not count as running it. This is
 * sturdier than timings, which the test only reports.
 */
/** `nonce` makes the first step new to docker's engine, whose cache outlives each run. */
const cacheDockerfile = (nonce: string) => `FROM ${BASE}
RUN echo "step-one-$((6*7))" && echo one-${nonce} > /one
COPY a.txt /a.txt
RUN echo "step-two-$((6*7))" && cat /a.txt > /two
COPY b.txt /b.txt
RUN echo "step-three-$((6*7))" && cat /b.txt > /three
`;
const FS_STEPS = 5;

describe("build cache", () => {
  test("an unchanged rebuild is all CACHED with the same ID; an edited file rebuilds from its first use", async (t) => {
    const r = AGAINST === "berth" ? await freshRoot("cache") : "";
    const ctx = join(work, "cache-ctx");
    fs.mkdirSync(ctx, { recursive: true });
    const nonce = `${process.pid}-${Date.now().toString(36)}`;
    fs.writeFileSync(join(ctx, "Dockerfile"), cacheDockerfile(nonce));
    fs.writeFileSync(join(ctx, "a.txt"), "a\n");
    fs.writeFileSync(join(ctx, "b.txt"), "b\n");
    const build = async (extra: Partial<BuildRequest> = {}) => {
      const req: BuildRequest = { context: ctx, tag: `berth-corpus/cache-${nonce}`, iidfile: join(ctx, "..", "c.iid") };
      const res =
        AGAINST === "berth" ? await berthBuild(r, { ...req, ...extra }) : await dockerBuild({ ...req, ...extra });
      assert.equal(res.code, 0, tail(res.output));
      return res;
    };
    const ran = (res: BuildResult) => ["one", "two", "three"].filter((s) => res.output.includes(`step-${s}-42`));

    const cold = await build();
    assert.deepEqual(ran(cold), ["one", "two", "three"], `cold build output:\n${tail(cold.output)}`);

    const warm = await build();
    assert.deepEqual(ran(warm), [], `nothing runs again:\n${tail(warm.output)}`);
    const cached = warm.output.split("\n").filter((l) => /CACHED/.test(l)).length;
    assert.ok(cached >= FS_STEPS, `every step says CACHED (${cached} of ${FS_STEPS}):\n${tail(warm.output)}`);
    assert.equal(warm.id, cold.id, "an unchanged rebuild gives the same ID");
    t.diagnostic(`cold ${cold.seconds.toFixed(2)} s, warm ${warm.seconds.toFixed(2)} s`);

    fs.writeFileSync(join(ctx, "b.txt"), "b, edited\n");
    const editB = await build();
    assert.deepEqual(ran(editB), ["three"], `only the step after COPY b.txt runs:\n${tail(editB.output)}`);
    assert.notEqual(editB.id, cold.id, "an edited context file changes the ID");

    fs.writeFileSync(join(ctx, "a.txt"), "a, edited\n");
    const editA = await build();
    assert.deepEqual(ran(editA), ["two", "three"], `steps from COPY a.txt on run:\n${tail(editA.output)}`);
    assert.notEqual(editA.id, editB.id);

    fs.writeFileSync(join(ctx, "a.txt"), "a\n");
    fs.writeFileSync(join(ctx, "b.txt"), "b\n");
    const back = await build();
    assert.deepEqual(ran(back), [], `the original files hit the cache again:\n${tail(back.output)}`);
    assert.equal(back.id, cold.id);

    const noCache = await build({ noCache: true });
    assert.deepEqual(ran(noCache), ["one", "two", "three"], `--no-cache runs everything:\n${tail(noCache.output)}`);
    if (AGAINST === "berth") assert.equal(noCache.id, cold.id, "a --no-cache rebuild is reproducible too");
  });
});

// ---------------------------------------------------------------------------------------------
// Bad input

const INVALID = join(REPO, "src", "dockerfile", "testdata-invalid");

interface Rejection {
  code: number;
  line: string;
}

/**
 * Runs `berth build -q` (so no progress output: stderr holds only the error) and checks a clean
 * failure: non-zero exit, exactly one line on stderr, no image ID anywhere, the store's blobs,
 * index.json and metadata rows unchanged, no temp files left.
 */
async function rejectsCleanly(
  r: string,
  context: string,
  extra: Partial<BuildRequest> = {},
  iid = join(context, "..", `${context.split("/").pop()}.iid`),
): Promise<Rejection> {
  const snapshot = snapshotStore(r);
  const res = await berthBuild(r, { context, tag: "berth-corpus/bad:1", iidfile: iid, quiet: true, ...extra });
  assert.notEqual(res.code, 0, `the build should fail:\n${tail(res.output)}`);
  const lines = res.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line of error, got:\n${res.stderr}`);
  assert.ok(!/sha256:[0-9a-f]{64}/.test(res.stdout), `no image ID printed: ${res.stdout}`);
  assert.ok(!fs.existsSync(iid), "no --iidfile written");
  assert.equal(snapshotStore(r), snapshot, "store unchanged");
  const tmp = join(r, "tmp");
  assert.deepEqual(fs.existsSync(tmp) ? fs.readdirSync(tmp) : [], [], "no temp files left");
  return { code: res.code, line: lines[0] ?? "" };
}

/** The same context through docker: it must fail too (the input really is bad). */
async function dockerRejects(context: string, extra: Partial<BuildRequest> = {}): Promise<string> {
  const res = await dockerBuild({
    context,
    tag: "berth-corpus/bad:1",
    iidfile: join(context, "..", "docker-bad.iid"),
    quiet: true,
    ...extra,
  });
  assert.notEqual(res.code, 0, `docker accepted it:\n${tail(res.output)}`);
  return res.stderr;
}

function context(name: string, files: Record<string, string>, links: Record<string, string> = {}): string {
  const dir = join(work, "bad", name, "ctx");
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(join(dir, f, ".."), { recursive: true });
    fs.writeFileSync(join(dir, f), text);
  }
  for (const [f, target] of Object.entries(links)) fs.symlinkSync(target, join(dir, f));
  return dir;
}

describe("bad input: one line of error, non-zero exit, store unchanged", () => {
  let badRoot: string;
  before(async () => {
    if (AGAINST !== "berth") return;
    badRoot = await freshRoot("bad");
    // testdata-invalid says `FROM alpine`; the same name (and so the same columns) resolves locally
    const tagged = await berthCli(badRoot, ["tag", BASE, "alpine:latest"]);
    assert.equal(tagged.code, 0, tagged.stderr);
  });

  test("every parse error kind names file:line:column (src/dockerfile/testdata-invalid)", {
    skip: BERTH_ONLY,
  }, async () => {
    const names = fs.readdirSync(INVALID).sort();
    const roots = await Promise.all([0, 1, 2, 3].map((i) => freshRoot(`parse-${i}`)));
    for (const r of roots) assert.equal((await berthCli(r, ["tag", BASE, "alpine:latest"])).code, 0);
    const run = limiter(roots.length);
    const failures: string[] = [];
    let checked = 0;
    await Promise.all(
      names.map((name) =>
        run(async () => {
          const dir = join(INVALID, name);
          let extra: Partial<BuildRequest> = {};
          const optsFile = join(dir, "options.json");
          if (fs.existsSync(optsFile)) {
            const opts = JSON.parse(fs.readFileSync(optsFile, "utf8")) as Record<string, unknown>;
            // base-image ONBUILD triggers need a made-up base image: the golden test covers them
            if (opts.baseImages || opts.targetPlatform) return;
            extra = {
              ...(opts.buildArgs ? { buildArgs: opts.buildArgs as Record<string, string> } : {}),
              ...(opts.target ? { target: opts.target as string } : {}),
            };
          }
          const expected = fs.readFileSync(join(dir, "error.txt"), "utf8").trim();
          const ctx = join(work, "parse", name);
          fs.mkdirSync(ctx, { recursive: true });
          fs.copyFileSync(join(dir, "Dockerfile"), join(ctx, "Dockerfile"));
          const r = roots.pop() as string;
          try {
            const got = await rejectsCleanly(r, ctx, extra);
            if (!got.line.includes(expected)) failures.push(`${name}:\n    want …${expected}\n    got  ${got.line}`);
            checked++;
          } catch (e) {
            failures.push(`${name}: ${(e as Error).message.split("\n").slice(0, 6).join("\n    ")}`);
          } finally {
            roots.push(r);
          }
        }),
      ),
    );
    assert.deepEqual(failures, [], `${failures.length} of ${names.length} parse errors wrong`);
    assert.ok(checked >= 90, `${checked} checked`);
  });

  test("a missing COPY source", async () => {
    const ctx = context("missing", {
      Dockerfile: `FROM ${BASE}\nCOPY present.txt missing.txt /dst/\n`,
      "present.txt": "",
    });
    await dockerRejects(ctx);
    if (BERTH_ONLY) return;
    const got = await rejectsCleanly(badRoot, ctx);
    assert.match(got.line, /missing\.txt/);
    assert.match(got.line, /not found|no such file|does not exist/i);
  });

  test("a RUN that fails names the step, the command and the exit code", async () => {
    const ctx = context("run-fails", { Dockerfile: `FROM ${BASE}\nENV X=1\nRUN false || exit 7\n` });
    assert.match(await dockerRejects(ctx), /exit code: 7/);
    if (BERTH_ONLY) return;
    const got = await rejectsCleanly(badRoot, ctx);
    assert.ok(got.line.includes("false || exit 7"), `the command: ${got.line}`);
    assert.match(got.line.replace("false || exit 7", ""), /\b7\b/, `the exit code: ${got.line}`);
    assert.match(got.line, /RUN|Dockerfile:3\b|\[\s*\d+\s*\/\s*\d+\s*\]|step \d/i, `the step: ${got.line}`);
  });

  test("an unknown stage in --from", async () => {
    const ctx = context("unknown-stage", {
      Dockerfile: `FROM ${BASE} AS build\nRUN true\nFROM ${BASE}\nCOPY --from=nosuchstage /x /y\n`,
    });
    await dockerRejects(ctx); // docker looks for an image "nosuchstage" and cannot pull it
    if (BERTH_ONLY) return;
    assert.match((await rejectsCleanly(badRoot, ctx)).line, /nosuchstage/);
  });

  test("a base image that is not there", async () => {
    const ctx = context("unknown-base", { Dockerfile: "FROM berth-corpus/not-there:1\nRUN true\n" });
    await dockerRejects(ctx);
    if (BERTH_ONLY) return;
    assert.match((await rejectsCleanly(badRoot, ctx)).line, /berth-corpus\/not-there:1/);
  });

  test("--target naming no stage", async () => {
    const ctx = context("unknown-target", { Dockerfile: `FROM ${BASE} AS one\nRUN true\n` });
    await dockerRejects(ctx, { target: "nosuch" });
    if (BERTH_ONLY) return;
    assert.match((await rejectsCleanly(badRoot, ctx, { target: "nosuch" })).line, /nosuch/);
  });

  // BuildKit's words are "circular dependency"; refusing every --from that is not an earlier
  // stage (docker 20.10 mishandles forward references anyway) is as clear.
  const CYCLE = /circular|cycl|itself|defined before/i;

  test("a stage that copies from itself", async () => {
    const ctx = context("self-stage", { Dockerfile: `FROM ${BASE} AS a\nCOPY --from=a /bin/sh /x\n` });
    assert.match(await dockerRejects(ctx), /circular dependency/);
    if (BERTH_ONLY) return;
    const got = await rejectsCleanly(badRoot, ctx);
    assert.match(got.line, CYCLE, got.line);
    assert.match(got.line, /\ba\b/, "names the stage");
  });

  test("two stages that copy from each other", async () => {
    const ctx = context("cycle", {
      Dockerfile: `FROM ${BASE} AS a\nCOPY --from=b /bin/sh /x\nFROM ${BASE} AS b\nCOPY --from=a /bin/sh /x\n`,
    });
    assert.match(await dockerRejects(ctx), /circular dependency/);
    if (BERTH_ONLY) return;
    const got = await rejectsCleanly(badRoot, ctx);
    assert.match(got.line, CYCLE, got.line);
    assert.match(got.line, /\ba\b|\bb\b/, "names a stage of the cycle");
  });

  // The context is ctx/; outside.txt sits beside it and must never be read. Docker resolves
  // every source inside the context (so these are "not found"); berth must fail too.
  const ESCAPES: [string, string, Record<string, string>][] = [
    ["COPY through ..", "COPY ../outside.txt /x", {}],
    ["ADD through ..", "ADD ../outside.txt /x", {}],
    ["a deeper ..", "COPY sub/../../outside.txt /x", {}],
    ["a symlink to ../", "COPY link /x", { link: "../outside.txt" }],
    ["an absolute symlink", "COPY abs /x", { abs: "/etc/passwd" }],
    ["a path through a symlinked directory", "COPY up/outside.txt /x", { up: ".." }],
  ];
  for (const [title, instruction, links] of ESCAPES) {
    test(`a context escape: ${title}`, async () => {
      const slug = title.replace(/\W+/g, "-");
      const ctx = context(`escape-${slug}`, { Dockerfile: `FROM ${BASE}\n${instruction}\n`, "sub/keep": "" }, links);
      fs.writeFileSync(join(ctx, "..", "outside.txt"), "outside the context\n");
      await dockerRejects(ctx);
      if (BERTH_ONLY) return;
      const got = await rejectsCleanly(badRoot, ctx);
      assert.match(got.line, /outside\.txt|link|abs|passwd|context/, got.line);
    });
  }
});

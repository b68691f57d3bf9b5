import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { berth, busyboxRootfsTar, must, snapshotStore, tempDir } from "./helpers.js";

/**
 * Bad input gets one clear line and a non-zero exit, and the store is unchanged: the test
 * takes a snapshot (every blob's hash, index.json and the metadata rows) before and after.
 */
let dir: string;
let root: string;
let good: string;

before(() => {
  dir = tempDir("bad");
  root = join(dir, "store");
  const rootfs = busyboxRootfsTar(dir);
  const r = berth(root, ["import", rootfs, "keep/me:1"]);
  assert.equal(r.code, 0, r.stderr);
  good = join(dir, "good.tar");
  assert.equal(berth(root, ["save", "-o", good, "keep/me:1"]).code, 0);
});

function rejectsCleanly(args: string[], message: RegExp, input?: Buffer): void {
  const before = snapshotStore(root);
  const r = berth(root, args, input ? { input } : {});
  assert.notEqual(r.code, 0, `berth ${args.join(" ")} should fail`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line of error, got:\n${r.stderr}`);
  assert.match(lines[0] ?? "", message);
  assert.equal(snapshotStore(root), before, "store unchanged");
  assert.deepEqual(fs.readdirSync(join(root, "tmp")), [], "no temp files left");
}

/** Rewrites entries of the good archive and packs it again. */
function tamper(name: string, edit: (dir: string) => void): string {
  const x = join(dir, `x-${name}`);
  fs.mkdirSync(x);
  must("tar", ["-C", x, "-xf", good]);
  edit(x);
  const out = join(dir, `${name}.tar`);
  must("tar", ["-C", x, "-cf", out, "."]);
  return out;
}

function layerPaths(x: string): { config: string; layers: string[] } {
  const m = JSON.parse(fs.readFileSync(join(x, "manifest.json"), "utf8"))[0];
  return { config: join(x, m.Config), layers: m.Layers.map((l: string) => join(x, l)) };
}

test("a truncated tar", () => {
  const bytes = fs.readFileSync(good);
  fs.writeFileSync(join(dir, "trunc.tar"), bytes.subarray(0, Math.floor(bytes.length / 2)));
  rejectsCleanly(["load", "-i", join(dir, "trunc.tar")], /^Error: loading image: .*(tar|truncated|end)/i);
});

test("a garbage file", () => {
  fs.writeFileSync(join(dir, "garbage.bin"), Buffer.from("this is not an archive at all\n".repeat(100)));
  rejectsCleanly(["load", "-i", join(dir, "garbage.bin")], /^Error: loading image: /);
  rejectsCleanly(["load"], /^Error: loading image: .*empty/, Buffer.alloc(0));
});

test("a blob whose bytes do not match its digest", () => {
  const t = tamper("badblob", (x) => {
    const { layers } = layerPaths(x);
    const layer = layers[0] as string;
    const bytes = fs.readFileSync(layer);
    bytes[bytes.length - 2000] = (bytes[bytes.length - 2000] ?? 0) ^ 0xff;
    fs.writeFileSync(layer, bytes);
  });
  rejectsCleanly(["load", "-i", t], /^Error: loading image: .*digest/);
});

test("a large layer that is not a tar (streamed, not buffered) fails without hanging", () => {
  const t = tamper("notatar", (x) => {
    const { layers } = layerPaths(x);
    fs.writeFileSync(layers[0] as string, randomBytes(12 << 20));
  });
  rejectsCleanly(["load", "-i", t], /^Error: loading image: .*(digest|not a tar)/);
});

test("an archive entry linking outside the archive", () => {
  const t = tamper("escape", (x) => {
    const { layers } = layerPaths(x);
    fs.rmSync(layers[0] as string);
    fs.symlinkSync("../../../etc/passwd", layers[0] as string);
  });
  rejectsCleanly(["load", "-i", t], /^Error: loading image: archive entry ".*" links outside the archive$/);
});

test("a config whose bytes do not match its name", () => {
  const t = tamper("badconfig", (x) => {
    const { config } = layerPaths(x);
    const c = JSON.parse(fs.readFileSync(config, "utf8"));
    c.author = "mallory";
    fs.writeFileSync(config, JSON.stringify(c));
  });
  rejectsCleanly(["load", "-i", t], /^Error: loading image: .*digest/);
});

test("a manifest naming a missing blob", () => {
  const t = tamper("missing", (x) => {
    const { layers } = layerPaths(x);
    fs.rmSync(layers[0] as string);
  });
  rejectsCleanly(["load", "-i", t], /^Error: loading image: .*not in the archive/);
});

test("a malformed manifest.json names the field", () => {
  const t = tamper("malformed", (x) => {
    fs.writeFileSync(join(x, "manifest.json"), JSON.stringify([{ Config: 3, Layers: [] }]));
    fs.rmSync(join(x, "index.json"));
  });
  rejectsCleanly(["load", "-i", t], /^Error: loading image: invalid manifest\.json: \[0\]\.Config/);
});

test("an unknown image", () => {
  rejectsCleanly(["inspect", "no/such:image"], /^Error: No such object: no\/such:image$/);
  rejectsCleanly(["image", "inspect", "nope"], /^Error: No such image: nope$/);
  rejectsCleanly(["rmi", "nope:1"], /^Error: No such image: nope:1$/);
  rejectsCleanly(["history", "nope"], /^Error: No such image: nope$/);
  rejectsCleanly(["save", "-o", join(dir, "never.tar"), "nope"], /^Error: No such image: nope$/);
  assert.equal(fs.existsSync(join(dir, "never.tar")), false, "no partial output file");
  rejectsCleanly(["tag", "nope", "x:1"], /^Error: No such image: nope$/);
});

test("a malformed reference says which part is wrong", () => {
  rejectsCleanly(
    ["tag", "keep/me:1", "Bad/Name:1"],
    /^Error: invalid reference "Bad\/Name:1": repository name must be lowercase$/,
  );
  rejectsCleanly(["tag", "keep/me:1", "ok:-tag"], /^Error: invalid reference "ok:-tag": tag "-tag"/);
  rejectsCleanly(["tag", "keep/me:1", "a@sha256:123"], /^Error: invalid reference "a@sha256:123": digest/);
});

test("rm of an image explains rm is for containers", () => {
  rejectsCleanly(["rm", "keep/me:1"], /^Error: "keep\/me:1" is an image, not a container: .*berth rmi keep\/me:1$/);
});

test("import of something that is not a tar", () => {
  fs.writeFileSync(join(dir, "notatar"), "hello");
  rejectsCleanly(["import", join(dir, "notatar"), "x:1"], /^Error: importing: .*not a tar/);
  rejectsCleanly(["import", join(dir, "does-not-exist"), "x:1"], /^Error: cannot open .*does-not-exist: no such file$/);
});

test("unknown flags exit 125 like docker", () => {
  const r = berth(root, ["images", "--bogus"]);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /unknown option '--bogus'/);
});

test("content trust: --disable-content-trust is taken as docker takes it; asking for signing is one line", () => {
  const trustLine =
    /^Error: content trust \(images signed through Notary\) is not supported by berth: unset DOCKER_CONTENT_TRUST or pass --disable-content-trust$/;
  for (const command of [["pull"], ["push"], ["build", dir], ["run", "--rm"], ["create"]]) {
    const [verb = "", ...rest] = command;
    const target = verb === "build" ? [] : ["keep/me:1"];
    // asked for by the flag, or by docker's variable without the flag
    for (const [args, env] of [
      [["--disable-content-trust=false"], {}],
      [[], { DOCKER_CONTENT_TRUST: "1" }],
      [[], { DOCKER_CONTENT_TRUST: "yes" }], // docker: a value it cannot read means on
    ] as const) {
      const before = snapshotStore(root);
      const r = berth(root, [verb, ...args, ...rest, ...target], { env });
      assert.equal(r.code, 125, `${verb} ${args.join(" ")} ${JSON.stringify(env)}: ${r.stderr}`);
      assert.match(r.stderr.trimEnd(), trustLine);
      assert.equal(snapshotStore(root), before);
    }
    const bad = berth(root, [verb, "--disable-content-trust=maybe", ...rest, ...target]);
    assert.equal(bad.code, 125);
    assert.match(bad.stderr.trimEnd(), /^Error: invalid argument "maybe" for "--disable-content-trust" flag/);
  }
  // turned off by the flag (bare, before the image it must not take as its value; =true) or the
  // variable (0, false): the command goes on, here to the registry it names, which is not there
  for (const [args, env] of [
    [["--disable-content-trust"], { DOCKER_CONTENT_TRUST: "1" }],
    [["--disable-content-trust=true"], {}],
    [[], { DOCKER_CONTENT_TRUST: "0" }],
    [[], { DOCKER_CONTENT_TRUST: "false" }],
  ] as const) {
    const r = berth(root, ["pull", ...args, "127.0.0.1:9/keep/me:1"], {
      env: { ...env, BERTH_REGISTRY_ATTEMPTS: "1" },
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot reach registry 127\.0\.0\.1:9/);
  }
});

test("boolean flags take docker's =true and =false; a run's own command keeps its flags", () => {
  assert.equal(berth(root, ["images", "-q=false"]).stdout.split("\n")[0]?.startsWith("REPOSITORY"), true);
  assert.match(berth(root, ["images", "--quiet=true"]).stdout, /^[0-9a-f]{12}\n$/);
  const plain = berth(root, ["history", "--no-trunc=false", "-H=false", "keep/me:1"]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^IMAGE .*\n\S+ +\d{4}-\d\d-\d\dT/, "dates as they are, not '... ago'");
  // bare, before the image: a flag, not a flag taking the image as its value
  const human = berth(root, ["history", "-H", "keep/me:1"]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, / ago /);
  const bad = berth(root, ["images", "-q=maybe"]);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr.trimEnd(), /^Error: invalid argument "maybe" for "-q" flag: want true or false$/);
  // past the image, words are the container's: `--rm=maybe` is not berth's to judge
  const run = berth(root, ["create", "--rm=false", "keep/me:1", "echo", "--rm=maybe", "-v=true"]);
  assert.doesNotMatch(run.stderr, /invalid argument/);
  assert.equal(run.code, 0, run.stderr);
  const cmd = berth(root, ["inspect", "--format", "{{json .Config.Cmd}}", run.stdout.trim()]);
  assert.equal(
    cmd.stdout.trim(),
    '["echo","--rm=maybe","-v=true"]',
    "-v=true is the container's, not berth's --version",
  );
  assert.equal(berth(root, ["rm", run.stdout.trim()]).code, 0);
});

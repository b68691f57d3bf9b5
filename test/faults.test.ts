import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { berth, berthSpawn, corruptBlobs, must, tempDir } from "./helpers.js";

/**
 * Crash safety and concurrency, for real: berth processes killed with SIGKILL in the middle
 * of a load, and many processes loading, tagging and removing on one store at once.
 */
let dir: string;
let bigTar: string;

before(() => {
  dir = tempDir("faults");
  // A ~96 MB, 3-layer archive of random (incompressible) files, built by berth itself:
  // three imports, saved together.
  const seed = join(dir, "seed");
  for (let i = 0; i < 3; i++) {
    const rootfs = join(dir, `rootfs${i}`);
    fs.mkdirSync(rootfs);
    for (let f = 0; f < 4; f++) fs.writeFileSync(join(rootfs, `blob${f}`), randomBytes(8 << 20));
    const tar = join(dir, `layer${i}.tar`);
    must("tar", ["-C", rootfs, "-cf", tar, "."]);
    const r = berth(seed, ["import", tar, `big/img:${i}`]);
    assert.equal(r.code, 0, r.stderr);
  }
  bigTar = join(dir, "big.tar");
  const s = berth(seed, ["save", "-o", bigTar, "big/img:0", "big/img:1", "big/img:2"]);
  assert.equal(s.code, 0, s.stderr);
});

/** Everything the store promises after any crash. */
function assertConsistent(root: string): void {
  assert.deepEqual(corruptBlobs(root), [], "no blob whose bytes differ from its name");
  const db = new Database(join(root, "berth.db"), { readonly: true });
  const missing = (db.prepare("SELECT DISTINCT digest FROM image_blobs").pluck().all() as string[]).filter(
    (d) => !fs.existsSync(join(root, "blobs", "sha256", d.slice(7))),
  );
  assert.deepEqual(missing, [], "every blob an image references exists");
  const dangling = db.prepare("SELECT name FROM tags WHERE image_id NOT IN (SELECT id FROM images)").pluck().all();
  assert.deepEqual(dangling, [], "every tag points at an image");
  const index = JSON.parse(fs.readFileSync(join(root, "index.json"), "utf8"));
  const inDb = new Set(db.prepare("SELECT manifest FROM images").pluck().all() as string[]);
  assert.deepEqual(
    new Set(index.manifests.map((m: { digest: string }) => m.digest)),
    inDb,
    "index.json matches the database",
  );
  db.close();
}

test("kill -9 during load at several points leaves a consistent store that keeps working", async () => {
  const root = join(dir, "killed");
  fs.mkdirSync(root);
  berth(root, ["images"]); // create the store first, so the kill lands inside the load itself
  // Time one whole load first, so the kills land at fractions of it however fast it is; a
  // load that finishes before its kill shortens the estimate, so the later kills land inside.
  const timing = join(dir, "timing");
  const t0 = Date.now();
  assert.equal(berth(timing, ["load", "-i", bigTar]).code, 0);
  let full = Date.now() - t0;
  let killedMidway = 0;
  const fractions = [0.3, 0.45, 0.6, 0.7, 0.8, 0.9];
  for (let attempt = 0; attempt < 16 && (killedMidway < 6 || attempt < fractions.length); attempt++) {
    const delay = Math.round(full * (fractions[attempt % fractions.length] as number));
    const child = berthSpawn(root, ["load", "-i", bigTar]);
    await sleep(delay);
    const finished = child.exitCode !== null;
    child.kill("SIGKILL");
    if (!finished) await new Promise((r) => child.once("exit", r));
    if (finished) full = Math.round(full * 0.7);
    else killedMidway++;
    assertConsistent(root);
    const images = berth(root, ["images", "-q"]);
    assert.equal(images.code, 0, images.stderr);
  }
  assert.ok(killedMidway >= 4, `most kills must land mid-load (landed ${killedMidway})`);
  // the next commands work, and prune clears what the killed loads left
  const load = berth(root, ["load", "-i", bigTar]);
  assert.equal(load.code, 0, load.stderr);
  assert.equal(berth(root, ["images", "--format", "{{.Tag}}", "big/img"]).stdout.split("\n").filter(Boolean).length, 3);
  const prune = berth(root, ["system", "prune", "-af"]);
  assert.equal(prune.code, 0, prune.stderr);
  assertConsistent(root);
  assert.deepEqual(fs.readdirSync(join(root, "tmp")), [], "temp files of killed processes are swept");
  assert.deepEqual(fs.readdirSync(join(root, "blobs", "sha256")), [], "nothing is left once every image is pruned");
});

test("8 concurrent processes loading, tagging and removing end consistent", async () => {
  const root = join(dir, "concurrent");
  berth(root, ["images"]);
  const small = join(dir, "small.tar");
  const seed = join(dir, "seed");
  assert.equal(berth(seed, ["save", "-o", small, "big/img:0"]).code, 0);
  const run = (args: string[]) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = berthSpawn(root, args);
      let stderr = "";
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("exit", (code) => resolve({ code: code ?? -1, stderr }));
    });
  const worker = async (w: number) => {
    const failures: string[] = [];
    for (let i = 0; i < 4; i++) {
      const steps: string[][] = [
        ["load", "-i", w % 2 ? small : bigTar],
        ["tag", "big/img:0", `w${w}/t:${i}`],
        ["rmi", `w${w}/t:${i}`],
        ["image", "prune", "-f"],
      ];
      for (const step of steps) {
        const r = await run(step);
        // rmi may race with another worker's prune of an untagged image; anything else must succeed
        if (r.code !== 0 && !/No such image/.test(r.stderr)) failures.push(`${step.join(" ")}: ${r.stderr}`);
      }
    }
    return failures;
  };
  const failures = (await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)))).flat();
  assert.deepEqual(failures, []);
  assertConsistent(root);
  const tags = berth(root, ["images", "--format", "{{.Repository}}:{{.Tag}}"])
    .stdout.split("\n")
    .filter(Boolean)
    .sort();
  assert.deepEqual(tags, ["big/img:0", "big/img:1", "big/img:2"]);
});

test("images removed while their save is under way: the archive still holds them whole", async () => {
  const root = join(dir, "save-rmi");
  assert.equal(berth(root, ["load", "-i", bigTar]).code, 0);
  const ids = ["big/img:0", "big/img:1", "big/img:2"].map((n) => berth(root, ["images", "-q", "--no-trunc", n]).stdout);
  // the save fills the pipe and waits, in its first image's layer, for it to be read
  const child = berthSpawn(root, ["save", "big/img:0", "big/img:1", "big/img:2"]);
  const chunks: Buffer[] = [];
  const first = await new Promise<Buffer>((resolve) => child.stdout.once("data", resolve));
  child.stdout.pause();
  chunks.push(first);
  const removed = berth(root, ["rmi", "big/img:0", "big/img:1", "big/img:2"]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /^Deleted: /m);
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  child.stdout.on("data", (c: Buffer) => chunks.push(c));
  child.stdout.resume();
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 0, stderr);
  const archive = join(dir, "saved-while-removed.tar");
  fs.writeFileSync(archive, Buffer.concat(chunks));
  const back = join(dir, "save-rmi-back");
  assert.equal(berth(back, ["load", "-i", archive]).code, 0);
  for (const [i, n] of ["big/img:0", "big/img:1", "big/img:2"].entries()) {
    assert.equal(berth(back, ["images", "-q", "--no-trunc", n]).stdout, ids[i]);
  }
  assertConsistent(back);
  // and the blobs the save kept for itself went with it
  assert.deepEqual(fs.readdirSync(join(root, "blobs", "sha256")), []);
});

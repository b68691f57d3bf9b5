import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { berth, corruptBlobs, must, sh, snapshotStore, tempDir } from "./helpers.js";
import {
  berthAsync,
  Distribution,
  ok,
  type ProxyEntry,
  proxiedDistribution,
  randomImageArchive,
} from "./registry-client-harness.js";

/**
 * A store on a disk that fills up, for real: each store here lives on a tmpfs of its own, sized
 * so that the operation runs out of room half way. A pull must stop with one line naming the
 * store's disk, lose nothing, and go on where it stopped once there is room; a push must not
 * fail for want of room for its compressed copy, which is only a cache.
 */
const MiB = 1 << 20;
let work: string;
let reg: Distribution;
let archive: string;
const mounts: string[] = [];
const image = () => `${reg.host}/full/img:1`;

before(async () => {
  work = tempDir("disk-full");
  reg = await Distribution.start(join(work, "registry"));
  archive = await randomImageArchive(work, { name: `${reg.host}/full/img:1`, layers: 1, layerBytes: 40 * MiB });
});
after(async () => {
  for (const m of mounts) sh("umount", [m]);
  await reg.stop();
});

/** A directory on a tmpfs of `mib` MiB of its own. */
function smallDisk(name: string, mib: number): string {
  const dir = join(work, name);
  fs.mkdirSync(dir);
  must("mount", ["-t", "tmpfs", "-o", `size=${mib}m`, "tmpfs", dir]);
  mounts.push(dir);
  return dir;
}

function compressions(root: string): unknown[] {
  const db = new Database(join(root, "berth.db"), { readonly: true });
  try {
    return db.prepare("SELECT * FROM layer_compressions").all();
  } finally {
    db.close();
  }
}

test("a push whose store has no room for the compressed copy lands anyway, and says the copy was not kept", async () => {
  // the image (40 MiB) fits; its gzip'd copy (as large: random bytes) does not
  const root = join(smallDisk("push", 70), "root");
  ok(berth(root, ["load", "-i", archive]), "load");
  const id = JSON.parse(ok(berth(root, ["inspect", image()]), "inspect"))[0].Id as string;
  const pushed = await berthAsync(root, ["push", image()]);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, /^1: digest: sha256:[0-9a-f]{64} size: \d+$/m);
  const warnings = pushed.stderr.trimEnd().split("\n");
  assert.equal(warnings.length, 1, pushed.stderr);
  assert.match(
    warnings[0] ?? "",
    /^WARNING: layer sha256:[0-9a-f]{64} \(gzip\): the compressed copy was not kept in the store \(ENOSPC: no space left on device.*\): the next push compresses it again$/,
  );
  // nothing recorded, nothing left behind, the image as it was
  assert.deepEqual(compressions(root), []);
  assert.deepEqual(fs.readdirSync(join(root, "tmp")), []);
  assert.deepEqual(corruptBlobs(root), []);
  // the registry has it whole: a new store pulls the same image
  const back = join(work, "push-back");
  ok(await berthAsync(back, ["pull", image()]), "pull back");
  assert.equal(JSON.parse(ok(berth(back, ["inspect", image()]), "inspect"))[0].Id, id);
});

test("a pull into a full disk stops with one line naming the store's disk; with room again it goes on where it stopped", async (t) => {
  const { proxy } = await proxiedDistribution(t, join(work, "proxied"));
  const name = `${proxy.host}/full/img:1`;
  const source = join(work, "source");
  ok(berth(source, ["load", "-i", archive]), "load");
  ok(berth(source, ["tag", image(), name]), "tag");
  ok(await berthAsync(source, ["push", name]), "push");

  const disk = smallDisk("pull", 24);
  const root = join(disk, "root");
  ok(berth(root, ["images"]), "make the store");
  const before = snapshotStore(root);
  proxy.log.length = 0;
  const full = await berthAsync(root, ["pull", name]);
  assert.equal(full.code, 1);
  const lines = full.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, full.stderr);
  assert.match(
    lines[0] ?? "",
    new RegExp(
      `^Error: pulling ${name.replace(/[.]/g, "\\.")}: .*no space left on device.* \\(the disk holding ${root} is full: free some space, or remove unused images with berth image prune, and run it again\\)$`,
    ),
  );
  assert.equal(snapshotStore(root), before, "nothing stored was lost or changed");

  // what the first try wrote before the disk filled is kept, and the rerun asks for the rest
  // (the proxy's count of the first try is no measure: it holds bytes still in flight)
  const partials = fs.readdirSync(join(root, "tmp")).filter((n) => n.includes("partial"));
  assert.equal(partials.length, 1, partials.join(" "));
  const have = fs.statSync(join(root, "tmp", partials[0] ?? "")).size;
  assert.ok(have > 8 * MiB, `${have} bytes kept`);
  must("mount", ["-o", "remount,size=120m", disk]);
  const isBlob = (e: ProxyEntry) => e.method === "GET" && /\/blobs\/sha256:/.test(e.url) && e.received > 1000;
  proxy.log.length = 0;
  ok(await berthAsync(root, ["pull", name]), "pull with room");
  const [again] = proxy.log.filter(isBlob);
  assert.equal(again?.range, `bytes=${have}-`, "the rerun continued with Range where the file ends");
  assert.deepEqual(corruptBlobs(root), []);
  assert.deepEqual(fs.readdirSync(join(root, "tmp")), []);
  assert.equal(
    JSON.parse(ok(berth(root, ["inspect", name]), "inspect"))[0].Id,
    JSON.parse(ok(berth(source, ["inspect", name]), "inspect"))[0].Id,
  );
});

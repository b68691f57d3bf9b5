import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { busyboxRootfsTar, REPO, tempDir } from "./helpers.js";

/** The package's own entry point (what `import ... from "berth"` gives), used as a library. */
test("the built library API imports, loads, tags, lists, inspects and saves", async () => {
  const berth = await import(pathToFileURL(join(REPO, "dist", "index.js")).href);
  const dir = tempDir("api");
  const store = berth.openStore(join(dir, "store"));
  const id = await berth.importImage(store, createReadStream(busyboxRootfsTar(dir)), { reference: "api/base:1" });
  assert.match(id, /^sha256:[a-f0-9]{64}$/);
  berth.tag(store, "api/base:1", "vaishali/myapp:1.0");
  const rows = await berth.images(store);
  assert.deepEqual(rows.map((r: { repository: string; tag: string }) => `${r.repository}:${r.tag}`).sort(), [
    "api/base:1",
    "vaishali/myapp:1.0",
  ]);
  const info = await berth.inspectImage(store, "vaishali/myapp:1.0");
  assert.equal(info.Id, id);
  assert.deepEqual(info.RepoTags, ["api/base:1", "vaishali/myapp:1.0"]);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  await berth.save(store, ["vaishali/myapp:1.0"], out);
  const other = berth.openStore(join(dir, "other"));
  const loaded = await berth.load(other, PassThrough.from([Buffer.concat(chunks)]));
  assert.deepEqual(loaded.images, [{ id, tags: ["docker.io/vaishali/myapp:1.0"] }]);
  await assert.rejects(
    () => berth.inspectImage(other, "api/base:1"),
    (e: unknown) => e instanceof berth.BerthError && (e as { code: string }).code === "IMAGE_UNKNOWN",
  );
  store.close();
  other.close();
});

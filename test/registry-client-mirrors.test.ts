import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { berth, busyboxRootfsTar, tempDir } from "./helpers.js";
import { berthAsync, Distribution, freePort, ok } from "./registry-client-harness.js";

/**
 * Docker Hub through pull-through mirrors, as dockerd's registry-mirrors: a pull of a Hub name
 * asks each mirror in turn, then Hub; the image keeps its Hub name. Mirrors are Distribution
 * here (Hub itself is out of reach on these machines, which shows when a pull falls through
 * to it). Pushes never go to a mirror.
 */
let work: string;
let mirror: Distribution;
let empty: Distribution;
let id: string;
/** Fail fast where Docker Hub is tried (no network here). */
const FAST = { BERTH_REGISTRY_ATTEMPTS: "1" };

before(async () => {
  work = tempDir("rc-mirrors");
  mirror = await Distribution.start(join(work, "mirror"));
  empty = await Distribution.start(join(work, "empty"));
  const source = join(work, "source");
  const name = `${mirror.host}/library/busybox:latest`;
  ok(berth(source, ["import", "-c", 'CMD ["cat", "/etc/hello"]', busyboxRootfsTar(join(work, "bb")), name]), "import");
  ok(await berthAsync(source, ["push", name]), "push to the mirror");
  id = (JSON.parse(ok(berth(source, ["inspect", name]), "inspect")) as { Id: string }[])[0]?.Id ?? "";
});
after(async () => {
  await mirror.stop();
  await empty.stop();
});

test("a Docker Hub name is pulled from the mirror, and keeps its Hub name", async () => {
  const root = join(work, "pulled");
  const before = mirror.requests().length;
  const out = ok(
    await berthAsync(root, ["pull", "busybox"], { env: { ...FAST, BERTH_REGISTRY_MIRRORS: `http://${mirror.host}` } }),
    "pull",
  );
  assert.match(out, /^Using default tag: latest\nlatest: Pulling from library\/busybox\n/);
  assert.match(out, /\nStatus: Downloaded newer image for busybox:latest\ndocker\.io\/library\/busybox:latest\n$/);
  assert.ok(
    mirror
      .requests()
      .slice(before)
      .some((r) => r === "GET /v2/library/busybox/manifests/latest"),
  );
  const [inspected] = JSON.parse(ok(berth(root, ["inspect", "busybox"]), "inspect")) as {
    Id: string;
    RepoTags: string[];
    RepoDigests: string[];
  }[];
  assert.equal(inspected?.Id, id);
  assert.deepEqual(inspected?.RepoTags, ["busybox:latest"]);
  assert.match(inspected?.RepoDigests[0] ?? "", /^busybox@sha256:[0-9a-f]{64}$/);
});

test("mirrors in daemon.json are tried in order: one down and one without the image give way to the next", async () => {
  const root = join(work, "fallback");
  const daemonJson = join(work, "daemon.json");
  const down = `http://127.0.0.1:${await freePort()}`;
  fs.writeFileSync(
    daemonJson,
    JSON.stringify({ "registry-mirrors": [down, `http://${empty.host}`, `http://${mirror.host}/`] }),
  );
  const before = empty.requests().length;
  ok(
    await berthAsync(root, ["pull", "-q", "library/busybox:latest"], {
      env: { ...FAST, BERTH_DOCKER_DAEMON_JSON: daemonJson },
    }),
    "pull",
  );
  assert.equal((JSON.parse(ok(berth(root, ["inspect", "busybox"]), "inspect")) as { Id: string }[])[0]?.Id, id);
  assert.ok(
    empty.requests().slice(before).includes("GET /v2/library/busybox/manifests/latest"),
    "the empty one was asked",
  );
});

test("no mirror has it: the pull falls through to Docker Hub, and its error is the one shown", async () => {
  const root = join(work, "none");
  const r = await berthAsync(root, ["pull", "alpine"], {
    env: { ...FAST, BERTH_REGISTRY_MIRRORS: `http://${empty.host}` },
  });
  assert.equal(r.code, 1);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] ?? "", /^Error: pulling docker\.io\/library\/alpine:latest: .*registry-1\.docker\.io/);
  assert.ok(empty.requests().includes("GET /v2/library/alpine/manifests/latest"), "the mirror was asked first");
});

test("a push of a Docker Hub name does not go to a mirror; a mirror that is not a URL is one line", async () => {
  const root = join(work, "source");
  ok(berth(root, ["tag", `${mirror.host}/library/busybox:latest`, "someone/app:1"]), "tag");
  const before = mirror.requests().length;
  const pushed = await berthAsync(root, ["push", "someone/app:1"], {
    env: { ...FAST, BERTH_REGISTRY_MIRRORS: `http://${mirror.host}` },
  });
  assert.equal(pushed.code, 1);
  assert.match(pushed.stderr, /registry-1\.docker\.io/);
  assert.equal(mirror.requests().length, before);

  const bad = await berthAsync(join(work, "bad"), ["pull", "busybox"], {
    env: { ...FAST, BERTH_REGISTRY_MIRRORS: "mirror.example.com/path" },
  });
  assert.equal(bad.code, 125);
  assert.match(
    bad.stderr.trimEnd(),
    /^Error: invalid registry mirror "mirror\.example\.com\/path" \(daemon\.json's registry-mirrors or BERTH_REGISTRY_MIRRORS\): give a URL such as https:\/\/mirror\.example\.com, without a path$/,
  );
});

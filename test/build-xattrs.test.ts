import assert from "node:assert/strict";
import * as fs from "node:fs";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { before, test } from "node:test";
import { extractWithXattrs, type XattrMap, xattrsOf } from "../src/image/tar-xattrs.js";
import { berthBuild, berthSave, dockerBuild, dockerSave, exec, readSavedImage } from "./build-compare.js";
import { berth, DOCKER, ensureDocker, must, sh, tempDir } from "./helpers.js";

/**
 * Extended attributes set by RUN steps, built by berth and by docker's BuildKit from the same
 * Dockerfile: `setcap` (security.capability, a binary value) and `setfattr` (user.*), run from
 * the host's own programs, copied into a busybox base with the libraries they load.
 *
 * docker keeps security.capability in its layers and nothing else (its archive reads that one
 * attribute); berth keeps every attribute but overlayfs's own and SELinux labels, as podman
 * does for user.*. So the capability is compared byte for byte with docker's, and the user.*
 * attributes are berth's alone.
 */

const CAP_NET_RAW = Buffer.from("0100000200200000000000000000000000000000", "hex");
const PROGRAMS = ["/usr/sbin/setcap", "/usr/sbin/getcap", "/usr/bin/setfattr", "/usr/bin/getfattr"];
const APPLETS = ["sh", "cat", "cp", "echo", "mkdir", "true"];

const DOCKERFILE = `FROM scratch
COPY rootfs/ /
ENV PATH=/usr/sbin:/usr/bin:/bin
RUN echo x > /f && setfattr -n user.greeting -v hello /f \\
 && cp /bin/busybox /bin/ping && setcap cap_net_raw+ep /bin/ping && ln /bin/ping /bin/ping6 \\
 && mkdir /d && setfattr -n user.dir -v yes /d
RUN getcap /bin/ping > /seen && getfattr -n user.greeting --only-values /f >> /seen
`;

let dir: string;
let root: string;
let context: string;

/** A busybox root with the host's setcap/getcap/setfattr/getfattr and the libraries ldd names. */
function makeContext(at: string): void {
  const rootfs = join(at, "rootfs");
  fs.mkdirSync(join(rootfs, "bin"), { recursive: true });
  fs.copyFileSync("/bin/busybox", join(rootfs, "bin", "busybox"));
  fs.chmodSync(join(rootfs, "bin", "busybox"), 0o755);
  for (const a of APPLETS) fs.symlinkSync("busybox", join(rootfs, "bin", a));
  for (const program of PROGRAMS) {
    assert.ok(fs.existsSync(program), `${program} is missing: run scripts/setup.sh (attr, libcap2-bin)`);
    const files = [program, ...(must("ldd", [program]).match(/\/\S+/g) ?? [])];
    for (const f of files) {
      fs.mkdirSync(join(rootfs, dirname(f)), { recursive: true });
      fs.copyFileSync(f, join(rootfs, f)); // follows the host's symlinks: the image gets files
      fs.chmodSync(join(rootfs, f), 0o755);
    }
  }
  fs.writeFileSync(join(at, "Dockerfile"), DOCKERFILE);
}

/** Each entry of a layer with attributes: name → attributes, byte for byte. */
async function layerXattrs(layer: Buffer): Promise<Map<string, XattrMap>> {
  const out = new Map<string, XattrMap>();
  const parser = extractWithXattrs();
  for await (const entry of Readable.from([layer]).pipe(parser)) {
    const attrs = xattrsOf(entry.header);
    if (attrs) out.set(entry.header.name, attrs);
    entry.resume();
  }
  return out;
}

before(() => {
  ensureDocker();
  dir = tempDir("build-xattrs");
  root = join(dir, "store");
  context = join(dir, "context");
  makeContext(context);
});

test("RUN's attributes reach the layer: the capability as docker writes it, user.* too", async () => {
  const b = await berthBuild(root, { context, tag: "xattrs/berth:1", iidfile: join(dir, "berth.iid") });
  assert.equal(b.code, 0, b.output);
  const d = await dockerBuild({ context, tag: "xattrs/docker:1", iidfile: join(dir, "docker.iid"), noCache: true });
  assert.equal(d.code, 0, d.output);
  assert.equal((await berthSave(root, "xattrs/berth:1", join(dir, "berth.tar"))).code, 0);
  assert.equal((await dockerSave("xattrs/docker:1", join(dir, "docker.tar"))).code, 0);
  const ours = await layerXattrs((await readSavedImage(join(dir, "berth.tar"))).layers[1] as Buffer);
  const theirs = await layerXattrs((await readSavedImage(join(dir, "docker.tar"))).layers[1] as Buffer);

  assert.deepEqual(theirs.get("bin/ping"), { "security.capability": CAP_NET_RAW }, "docker's layer");
  assert.deepEqual(ours.get("bin/ping"), theirs.get("bin/ping"), "the same capability bytes as docker");
  assert.deepEqual(ours.get("bin/ping6"), theirs.get("bin/ping6"), "a second name carries it too");
  assert.deepEqual(ours.get("f"), { "user.greeting": Buffer.from("hello") });
  assert.deepEqual(ours.get("d/"), { "user.dir": Buffer.from("yes") });
  assert.deepEqual(
    [...ours.keys()].sort(),
    ["bin/ping", "bin/ping6", "d/", "f"],
    "nothing else: no overlayfs attributes on the changed directories",
  );

  // The next step saw them (its lower layer is the step's own upper directory).
  const seen = berth(root, ["run", "--rm", "xattrs/berth:1", "cat", "/seen"]);
  assert.equal(seen.code, 0, seen.stderr);
  assert.equal(seen.stdout, "/bin/ping cap_net_raw=ep\nhello");
  sh(DOCKER, ["rmi", "-f", "xattrs/docker:1"]);
});

test("the attributes come back when layers are applied: berth's and docker's, both storage drivers", async () => {
  for (const source of ["berth", "docker"]) {
    const store = join(dir, `loaded-${source}`);
    const loaded = berth(store, ["load", "-i", join(dir, `${source}.tar`)]);
    assert.equal(loaded.code, 0, loaded.stderr);
    for (const driver of ["overlay", "copy"]) {
      const image = `xattrs/${source}:1`;
      const script = "getcap /bin/ping /bin/ping6; getfattr -n user.greeting --only-values /f; echo";
      const r = berth(store, ["run", "--rm", "--storage-driver", driver, image, "sh", "-c", script]);
      assert.equal(r.code, 0, r.stderr);
      // docker's layer has no user.* attributes: getfattr says so on stderr
      const greeting = source === "berth" ? "hello" : "";
      assert.equal(
        r.stdout,
        `/bin/ping cap_net_raw=ep\n/bin/ping6 cap_net_raw=ep\n${greeting}\n`,
        `${source}, ${driver}`,
      );
    }
  }
});

test("docker reads berth's layer: the capability is set in a docker container", async () => {
  const loaded = await exec(DOCKER, ["load", "-i", join(dir, "berth.tar")]);
  assert.equal(loaded.code, 0, loaded.stderr);
  try {
    const r = await exec(DOCKER, ["run", "--rm", "--network=none", "xattrs/berth:1", "getcap", "/bin/ping"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "/bin/ping cap_net_raw=ep\n");
  } finally {
    sh(DOCKER, ["rmi", "-f", "xattrs/berth:1"]);
  }
});

test("a build with attributes is reproducible", async () => {
  const again = await berthBuild(root, {
    context,
    tag: "xattrs/berth:2",
    iidfile: join(dir, "again.iid"),
    noCache: true,
  });
  assert.equal(again.code, 0, again.output);
  assert.equal(again.id, fs.readFileSync(join(dir, "berth.iid"), "utf8").trim());
});

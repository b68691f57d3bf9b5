import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { berth, must, tempDir } from "./helpers.js";

/**
 * `build --platform` for another CPU runs its RUN steps through QEMU's binfmt_misc handlers
 * (installed and registered by scripts/setup.sh), as BuildKit does with binfmt: an arm64
 * image is built on this amd64 host from Debian's arm64 busybox-static, and runs.
 */
const CACHE = "/var/cache/berth-tests";
const POOL = "http://deb.debian.org/debian";

/** Debian's arm64 busybox-static, of the version installed for amd64 (else the index's). */
function arm64Busybox(): string {
  const deb = join(CACHE, "busybox-static-arm64.deb");
  if (!fs.existsSync(deb)) {
    fs.mkdirSync(CACHE, { recursive: true });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const version = must("dpkg-query", ["-W", "-f", "${Version}", "busybox-static"]).replace(/^\d+:/, "");
    let url = `${POOL}/pool/main/b/busybox/busybox-static_${version}_arm64.deb`;
    try {
      must("curl", ["-sfI", url]);
    } catch {
      // a binNMU of one architecture only gives the arm64 build another version
      const index = execFileSync("sh", [
        "-c",
        `curl -sf ${POOL}/dists/bookworm/main/binary-arm64/Packages.xz | xz -dc | grep -A20 '^Package: busybox-static$' | grep -m1 '^Filename:'`,
      ]).toString();
      url = `${POOL}/${index.replace(/^Filename:\s*/, "").trim()}`;
    }
    must("curl", ["-sf", "-o", `${deb}.part`, url]);
    fs.renameSync(`${deb}.part`, deb);
  }
  return deb;
}

let dir: string;
let root: string;
before(() => {
  dir = tempDir("cross");
  root = join(dir, "store");
  const ctx = join(dir, "ctx");
  fs.mkdirSync(join(dir, "deb"), { recursive: true });
  must("dpkg-deb", ["-x", arm64Busybox(), join(dir, "deb")]);
  fs.mkdirSync(ctx);
  fs.copyFileSync(join(dir, "deb", "bin", "busybox"), join(ctx, "busybox"));
  fs.writeFileSync(
    join(ctx, "Dockerfile"),
    [
      "FROM scratch",
      "COPY busybox /bin/busybox",
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      "ARG TARGETARCH",
      "RUN uname -m > /uname && echo $TARGETARCH > /targetarch",
      'CMD ["cat", "/uname"]',
      "",
    ].join("\n"),
  );
});

test("an arm64 image with RUN steps builds on this amd64 host and runs", () => {
  const binfmt = "/proc/sys/fs/binfmt_misc/qemu-aarch64";
  assert.ok(
    fs.existsSync(binfmt) && fs.readFileSync(binfmt, "utf8").startsWith("enabled"),
    "scripts/setup.sh registers QEMU's aarch64 handler",
  );
  const b = berth(root, ["build", "-q", "--platform", "linux/arm64", "-t", "cross/arm:1", join(dir, "ctx")]);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(berth(root, ["inspect", "-f", "{{.Os}}/{{.Architecture}}", "cross/arm:1"]).stdout.trim(), "linux/arm64");
  const r = berth(root, ["run", "--rm", "cross/arm:1"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "aarch64\n");
  assert.equal(berth(root, ["run", "--rm", "cross/arm:1", "cat", "/targetarch"]).stdout, "arm64\n");
});

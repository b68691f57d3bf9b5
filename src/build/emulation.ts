import * as fs from "node:fs";
import { BerthError } from "../oci/errors.js";
import { formatPlatform, hostPlatform, type PlatformSpec, platformMatches } from "../oci/platform.js";

/** QEMU's names for the architectures, as binfmt_misc handlers are registered (qemu-aarch64, …). */
const QEMU_ARCH: Record<string, string> = {
  amd64: "x86_64",
  "386": "i386",
  arm64: "aarch64",
  arm: "arm",
  ppc64le: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  mips64le: "mips64el",
};

const BINFMT = "/proc/sys/fs/binfmt_misc";

/**
 * Refuses, before anything runs, a RUN step whose binaries this host cannot execute. The
 * kernel runs foreign binaries only through a binfmt_misc handler (QEMU's, registered with the
 * F flag so that it works inside a container's root); BuildKit needs the same, and fails late
 * with "exec format error" without it.
 */
export function assertCanRun(platform: PlatformSpec, binfmtDir = BINFMT): void {
  const host = hostPlatform();
  if (platformMatches(platform, host)) return;
  // an amd64 kernel runs i386 binaries itself
  if (host.architecture === "amd64" && platform.architecture === "386" && platform.os === "linux") return;
  const qemu = QEMU_ARCH[platform.architecture];
  const handler = qemu ? `${binfmtDir}/qemu-${qemu}` : undefined;
  let enabled = false;
  try {
    enabled = handler !== undefined && fs.readFileSync(handler, "utf8").startsWith("enabled");
  } catch {}
  if (platform.os === host.os && enabled) return;
  throw new BerthError(
    "UNSUPPORTED",
    `RUN for ${formatPlatform(platform)} cannot execute on this ${formatPlatform(host)} host: ` +
      (platform.os !== host.os
        ? `${platform.os} binaries need a ${platform.os} host`
        : `no binfmt_misc handler for ${platform.architecture} (install qemu-user-static and register its handlers, or build without RUN steps for that platform)`),
  );
}

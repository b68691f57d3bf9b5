import { BerthError } from "./errors.js";

/**
 * Platforms in OCI's spelling (`linux/arm64`, `linux/arm/v7`), parsed and normalised the way
 * containerd's `platforms` package does, so that `--platform` means the same to berth's pull,
 * build and run as to docker's.
 */
export interface PlatformSpec {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

const NODE_ARCH: Record<string, string> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  ia32: "386",
  ppc64: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
};

/** The platform of this machine. */
export function hostPlatform(): PlatformSpec {
  return { os: "linux", architecture: NODE_ARCH[process.arch] ?? process.arch };
}

/** containerd's normalizeArch: the other spellings of an architecture and its default variant. */
function normalizeArch(arch: string, variant: string): { architecture: string; variant: string } {
  switch (arch) {
    case "i386":
    case "i686":
      return { architecture: "386", variant: "" };
    case "x86_64":
    case "x86-64":
    case "amd64":
      return { architecture: "amd64", variant: variant === "v1" ? "" : variant };
    case "aarch64":
    case "arm64":
      return { architecture: "arm64", variant: variant === "8" || variant === "v8" ? "" : variant };
    case "armhf":
      return { architecture: "arm", variant: "v7" };
    case "armel":
      return { architecture: "arm", variant: "v6" };
    case "arm":
      return {
        architecture: "arm",
        variant: variant === "" || variant === "7" ? "v7" : /^\d$/.test(variant) ? `v${variant}` : variant,
      };
    default:
      return { architecture: arch, variant };
  }
}

const COMPONENT = /^[A-Za-z0-9_-]+$/;

/** Parses `os/arch[/variant]` or a bare `arch` (the host's OS), normalised. */
export function parsePlatform(text: string): PlatformSpec {
  const parts = text.toLowerCase().split("/");
  if (parts.length > 3 || parts.some((p) => !COMPONENT.test(p))) {
    throw new BerthError(
      "USAGE",
      `invalid platform "${text}": give os/architecture[/variant], for example linux/amd64 or linux/arm/v7`,
    );
  }
  const [first, second, third] = parts as [string, string | undefined, string | undefined];
  const known = new Set(["linux", "windows", "darwin", "freebsd"]);
  const os = second === undefined && !known.has(first) ? hostPlatform().os : first;
  const arch = second === undefined ? (known.has(first) ? hostPlatform().architecture : first) : second;
  const n = normalizeArch(arch, third ?? "");
  return n.variant ? { os, architecture: n.architecture, variant: n.variant } : { os, architecture: n.architecture };
}

/** containerd's platforms.Format. */
export function formatPlatform(p: PlatformSpec): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== "").join("/");
}

/** Whether an image made for `have` is what `want` asks for (both normalised first). */
export function platformMatches(want: PlatformSpec, have: PlatformSpec): boolean {
  const w = normalizeArch(want.architecture, want.variant ?? "");
  const h = normalizeArch(have.architecture, have.variant ?? "");
  return want.os === have.os && w.architecture === h.architecture && (w.variant === "" || w.variant === h.variant);
}

#!/usr/bin/env bash
# Installs everything berth and its test suite need on a fresh Debian 12 machine with Node 20
# (as root), then builds berth. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: the peers the compatibility tests run against (docker, podman, skopeo,
# umoci, oci-image-tool, Distribution), the OCI runtimes, a static busybox for offline bases, and
# QEMU's user-mode emulators, so that RUN steps of `build --platform` for other CPUs can run.
packages=(docker.io skopeo podman umoci oci-image-tool crun runc busybox-static docker-registry zstd isal pigz attr bzip2 xz-utils debootstrap ca-certificates apache2-utils qemu-user-static)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "berth setup: missing system packages: ${missing[*]} (run this script as root to install them)" >&2
    exit 1
  fi
  echo "berth setup: installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# Foreign binaries run through binfmt_misc handlers; a machine without systemd has neither the
# filesystem mounted nor QEMU's handlers registered after the install. Their lines in
# /usr/lib/binfmt.d are in the kernel's register format; the F flag they carry makes them work
# inside a container's root, where /usr/libexec/qemu-binfmt is absent.
if [ "$(id -u)" = 0 ]; then
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  if [ -w /proc/sys/fs/binfmt_misc/register ]; then
    for f in /usr/lib/binfmt.d/qemu-*.conf; do
      [ -e "/proc/sys/fs/binfmt_misc/$(basename "$f" .conf)" ] || cat "$f" >/proc/sys/fs/binfmt_misc/register 2>/dev/null || true
    done
  fi
fi

# Node dependencies, as package-lock.json pins them (better-sqlite3 compiles from source when
# its prebuilt binary is not reachable). `npm install` rather than `npm ci`: the registry here
# lacks some optional platform packages (biome's macOS/Windows builds) that the lock names, and
# npm ci refuses a lock it cannot satisfy completely.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund --loglevel=error
fi
npm run --silent build

#!/usr/bin/env bash
# Installs everything berth and its test suite need on a fresh Debian 12 machine with Node 20
# (as root), then builds berth. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: the peers the compatibility tests run against (docker, podman, skopeo,
# umoci, oci-image-tool, Distribution), the OCI runtimes, a static busybox for offline bases,
# QEMU's user-mode emulators, so that RUN steps of `build --platform` for other CPUs can run, and
# setfattr/setcap (attr, libcap2-bin), which the extended-attribute tests run inside containers,
# and tinyproxy, the HTTP proxy the registry client's proxy tests go through.
packages=(docker.io skopeo podman umoci oci-image-tool crun runc busybox-static docker-registry zstd isal pigz attr libcap2-bin bzip2 xz-utils debootstrap ca-certificates apache2-utils qemu-user-static tinyproxy)
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
# The native addons (optional dependencies, linked from native/) are built when installed; npm
# does not build them again when their source changes, so a source newer than its build (or a
# build that is missing) is rebuilt here. Without a compiler berth falls back to programs.
for addon in mount sendfile; do
  if [ "native/$addon/$addon.c" -nt "native/$addon/build/Release/berth_$addon.node" ]; then
    npm rebuild "berth-$addon" --loglevel=error >/dev/null ||
      echo "berth setup: building native/$addon failed; berth will use programs instead" >&2
  fi
done
npm run --silent build

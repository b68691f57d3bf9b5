#!/usr/bin/env bash
# Helpers for bench/build.sh (the build benchmarks). Source it, or run one helper directly, as
# the --prepare steps of bench/pairs.mjs do:  bash bench/build-lib.sh FUNCTION ARGS...
#
# Paths are relative to the checkout's root; build.sh cds there first.

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILDAH=${BUILDAH:-/usr/bin/buildah}
W=${BENCH_BUILD_DIR:-$OUT/build}

# The context of CELL as every builder is given it: $W/ctx/CELL, a symlink to the current
# directory $W/gen/CELL-K. Renaming that directory (bk_cold) gives BuildKit a context path it
# has never seen, so it keeps no synced copy of it: docker's CLI resolves the symlink, and
# BuildKit keys its copy of a local context by the resolved path.
ctx_of() { echo "$W/ctx/$1"; }

# The untimed step before a cold berth build: ROOT is made afresh as a copy of TEMPLATE, a
# store holding only the base images, unpacked (their snapshots made), as the peers hold them.
berth_cold() {
  local root=$1 template=$2
  rm -rf "$root"
  cp -a "$template" "$root"
  sync
}

# Before a cold BuildKit build: the image is removed and the context moves to a new path.
bk_cold() {
  local cell=$1 tag=$2 link cur base k next
  "$DOCKER" rmi -f "$tag" >/dev/null 2>&1 || true
  link=$(ctx_of "$cell")
  cur=$(readlink "$link")
  base=${cur%-*}
  k=${cur##*-}
  next="$base-$((k + 1))"
  mv "$W/ctx/$cur" "$W/ctx/$next"
  ln -sfn "$next" "$link"
  sync
}

# Before a cold classic-builder build: the image and (docker rmi does it) its untagged parents,
# the intermediate images that are the classic builder's cache, are removed.
docker_cold() {
  "$DOCKER" rmi -f "$1" >/dev/null 2>&1 || true
  sync
}

# Before a cold buildah build: the image, then the dangling intermediate images (its cache).
buildah_cold() {
  "$BUILDAH" rmi -f "$1" >/dev/null 2>&1 || true
  "$BUILDAH" rmi --prune >/dev/null 2>&1 || true
  sync
}

# "One file edited": CELL's edit target gets new contents, different on every call, so no
# builder has ever seen them. For the metadata cell the target is the Dockerfile itself: the
# value of its last LABEL changes.
edit() {
  local cell=$1 ctx target nonce
  ctx=$(ctx_of "$cell")
  target=$(cat "$W/gen/$cell.edit")
  nonce="$(date +%s%N)-$RANDOM"
  if [ "$target" = Dockerfile ]; then
    sed -i "s/^LABEL bench.edit=.*/LABEL bench.edit=\"$nonce\"/" "$ctx/Dockerfile"
  else
    printf 'edited %s\n' "$nonce" >"$ctx/$target"
  fi
  sync
}

# Puts CELL's edit target back as the corpus generator wrote it.
unedit() {
  local cell=$1 target
  target=$(cat "$W/gen/$cell.edit")
  cp "$W/gen/$cell.orig" "$(ctx_of "$cell")/$target"
}

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ $# -gt 0 ]; then
  set -euo pipefail
  "$@"
fi

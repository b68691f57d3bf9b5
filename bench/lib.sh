#!/usr/bin/env bash
# Helpers for berth's benchmarks. Source it (foundation.sh does), or run one helper directly,
# as the --prepare steps of bench/pairs.mjs do:  bash bench/lib.sh FUNCTION ARGS...
#
# Paths are relative to the checkout's root; foundation.sh cds there first.

DOCKER=${DOCKER:-/usr/bin/docker}
BERTH=${BERTH:-./bin/berth}
OUT=${BENCH_OUT:-bench/out}
# This sandbox exports NODE_EXTRA_CA_CERTS (the system bundle again), which makes every node
# start parse ~140 certificates: +50 ms per command (33 ms → 84 ms for `node -e ''`). A stock
# machine does not set it, and no peer here is a node program, so the benchmarks run without it.
unset NODE_EXTRA_CA_CERTS

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# Chain IDs of a docker image's layers, one a line, from its diffIDs (the image spec's rule:
# chain(1) = diff(1); chain(n) = sha256(chain(n-1) + " " + diff(n))).
chain_ids() {
  local chain="" d
  for d in "$@"; do
    if [ -z "$chain" ]; then chain=$d; else chain="sha256:$(printf '%s %s' "$chain" "$d" | sha256sum | cut -d' ' -f1)"; fi
    echo "$chain"
  done
}

# Writes the chain IDs of IMAGE (in docker) to FILE, for docker_unload to check.
docker_save_chains() {
  local image=$1 file=$2
  # shellcheck disable=SC2046
  chain_ids $("$DOCKER" image inspect --format '{{range .RootFS.Layers}}{{.}} {{end}}' "$image") >"$file"
}

# Removes IMAGE from docker and checks that every layer listed in CHAINFILE is really gone
# from docker's layer store (no other image holds it), so the next `docker load` loads it all.
docker_unload() {
  local image=$1 file=$2 root driver c
  "$DOCKER" rmi -f "$image" >/dev/null 2>&1 || true
  root=$("$DOCKER" info --format '{{.DockerRootDir}}')
  driver=$("$DOCKER" info --format '{{.Driver}}')
  while read -r c; do
    [ -z "$c" ] && continue
    if [ -e "$root/image/$driver/layerdb/sha256/${c#sha256:}" ]; then
      die "docker still holds layer $c of $image (another image shares it): remove that image first"
    fi
  done <"$file"
  sync
}

# Removes the 1,000 small images (berthbench/many-*) from docker, and checks their layer is gone.
docker_rm_many() {
  local root driver layer
  "$DOCKER" images --filter 'reference=berthbench/many-*' --format '{{.Repository}}:{{.Tag}}' |
    xargs -r -n 100 "$DOCKER" rmi >/dev/null
  if [ -f "$OUT/many.chains" ]; then
    root=$("$DOCKER" info --format '{{.DockerRootDir}}')
    driver=$("$DOCKER" info --format '{{.Driver}}')
    layer=$(cat "$OUT/many.chains")
    [ ! -e "$root/image/$driver/layerdb/sha256/${layer#sha256:}" ] || die "docker still holds the layer of berthbench/many-*"
  fi
  sync
}

# Empties berth store ROOT: rmi IMAGE if given, then prune, then checks that no blob is left.
berth_unload() {
  local root=$1 image=${2:-} n
  [ -z "$image" ] || "$BERTH" --root "$root" rmi -f "$image" >/dev/null 2>&1 || true
  "$BERTH" --root "$root" image prune -a -f >/dev/null
  n=$(find "$root/blobs" -type f 2>/dev/null | wc -l)
  [ "$n" -eq 0 ] || die "berth root $root still holds $n blobs after rmi + prune"
  sync
}

# Loads ARCHIVE into docker unless IMAGE is there already.
docker_ensure() {
  local image=$1 archive=$2
  "$DOCKER" image inspect "$image" >/dev/null 2>&1 && return 0
  log "docker load -i $archive"
  "$DOCKER" load -q -i "$archive" >/dev/null
}

# A fresh berth store at ROOT holding what ARCHIVE holds.
berth_fresh() {
  local root=$1 archive=$2
  rm -rf "$root"
  "$BERTH" --root "$root" load -q -i "$archive"
}

# Starts dockerd, builds berth when BENCH_BUILD is set or dist/ is missing, and copies the built
# berth (bin/, dist/; node_modules resolve from the checkout) to DIR, so a rebuild by someone
# else during the run cannot change or break what is measured. Sets snap (DIR), exports BERTH and
# sets built (dist/'s newest file) and rev (the commit, and whether src, bin or scripts differ).
berth_snapshot() {
  snap=$1
  bash scripts/start-dockerd.sh
  if [ -n "${BENCH_BUILD:-}" ] || [ ! -d dist ]; then node scripts/build.mjs --no-types; fi
  rm -rf "$snap"
  mkdir -p "$snap"
  cp -a bin dist package.json "$snap/"
  export BERTH=$snap/bin/berth
  "$BERTH" --version >/dev/null || die "the copy of berth in $snap does not run (is dist/ built?)"
  built=$(find dist -type f -printf '%TY-%Tm-%Td %TH:%TM UTC\n' | sort | tail -1)
  rev="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bin scripts && [ -z "$(git ls-files --others --exclude-standard src)" ] || echo ' + uncommitted changes')"
}

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ $# -gt 0 ]; then
  set -euo pipefail
  "$@"
fi

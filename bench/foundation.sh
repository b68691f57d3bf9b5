#!/usr/bin/env bash
# Benchmarks for issue 2 (the foundation): berth against docker on the same images, measured
# interleaved in the same run (bench/pairs.mjs). Writes bench/out/foundation.md and
# bench/out/results.jsonl. See bench/README.md.
#
#   bash bench/foundation.sh
#
# Environment:
#   BENCH_RUNS_BIG=5       runs of each save/load pair
#   BENCH_RUNS_FAST=21     runs of each start-up and lookup pair
#   BENCH_RUNS_MANY=3      runs of the load of 1,000 small images
#   BENCH_PROFILE=1        also CPU-profile one run of each berth command (node --cpu-prof) and
#                          summarise them into bench/out/profiles/*.txt
#   BENCH_KEEP=1           leave the benchmark's images (berthbench/*) in docker afterwards
#   BENCH_DEBOOTSTRAP=1    run debootstrap even if /tmp/deb-rootfs exists
#   BENCH_BUILD=1          build berth (node scripts/build.mjs --no-types) first
#
# Idempotent: the Debian rootfs, the image archives and the 1,000-image archive are made once
# and cached in bench/out/ (git-ignored); docker is given the images again from those archives
# when it lacks them. The berth stores (bench/out/roots/) are made afresh on every run, and
# berth itself is run from a copy of bin/ and dist/ taken at the start (bench/out/berth/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

RUNS_BIG=${BENCH_RUNS_BIG:-5}
RUNS_FAST=${BENCH_RUNS_FAST:-21}
RUNS_MANY=${BENCH_RUNS_MANY:-3}
RES=$OUT/results.jsonl
MD=$OUT/foundation.md
ROOTS=$OUT/roots
TMPD=$OUT/tmp
DEB=berthbench/deb:1
BIG=berthbench/big:1
BIGBASE=berthbench/big-base:1
ONE=berthbench/many-50:v0 # the image the lookups ask for; in both the 1- and the 1,000-image stores

mkdir -p "$OUT" "$ROOTS" "$TMPD"
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# Set-up

berth_snapshot "$OUT/berth"

# Debian bookworm minbase rootfs, without apt's caches.
rootfs=$OUT/deb-rootfs
if [ ! -f "$OUT/deb-rootfs.done" ]; then
  rm -rf "$rootfs"
  if [ -d /tmp/deb-rootfs ] && [ -z "${BENCH_DEBOOTSTRAP:-}" ]; then
    log "copying /tmp/deb-rootfs (made by the same debootstrap command) to $rootfs"
    cp -a /tmp/deb-rootfs "$rootfs"
  else
    log "debootstrap --variant=minbase bookworm (about 2 minutes)"
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$OUT/debootstrap.log" 2>&1 ||
      die "debootstrap failed; see $OUT/debootstrap.log"
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  touch "$OUT/deb-rootfs.done"
fi

# A rootfs tar whose /etc/berth-bench says WHAT, so each image's first layer is its own and no
# other image in docker (say another import of the same rootfs) shares it.
rootfs_tar() {
  local what=$1 dest=$2
  echo "berth bench: $what" >"$rootfs/etc/berth-bench"
  tar --numeric-owner -C "$rootfs" -cf "$dest" .
}

# (a) the Debian image: docker import, then docker save.
if [ ! -f "$OUT/deb.tar" ]; then
  log "making $DEB"
  rootfs_tar deb "$TMPD/deb-rootfs.tar"
  "$DOCKER" rmi -f "$DEB" >/dev/null 2>&1 || true
  "$DOCKER" import "$TMPD/deb-rootfs.tar" "$DEB" >/dev/null
  "$DOCKER" save -o "$TMPD/deb.tar" "$DEB"
  mv "$TMPD/deb.tar" "$OUT/deb.tar"
  rm -f "$TMPD/deb-rootfs.tar"
fi

# (b) the 5-layer image: the rootfs, then 4 COPY steps of ~100 MB of files each.
if [ ! -f "$OUT/big.tar" ]; then
  log "making $BIG"
  "$DOCKER" rmi -f "$BIG" "$BIGBASE" >/dev/null 2>&1 || true
  rootfs_tar big "$TMPD/big-rootfs.tar"
  "$DOCKER" import "$TMPD/big-rootfs.tar" "$BIGBASE" >/dev/null
  rm -f "$TMPD/big-rootfs.tar"
  ctx=$TMPD/bigctx
  rm -rf "$ctx"
  printf 'FROM %s\n' "$BIGBASE" >"$TMPD/Dockerfile"
  for l in 1 2 3 4; do
    # 1 file of 40 MB, 10 of 3 MB, 300 of 100 KB: 100 MB of incompressible data.
    d=$ctx/l$l
    mkdir -p "$d/big" "$d/mid" "$d/small"
    head -c 40000000 /dev/urandom >"$d/big/blob.bin"
    for i in $(seq 1 10); do head -c 3000000 /dev/urandom >"$d/mid/f$i.bin"; done
    for i in $(seq 1 300); do head -c 100000 /dev/urandom >"$d/small/f$i.bin"; done
    printf 'COPY l%s /data/l%s\n' "$l" "$l" >>"$TMPD/Dockerfile"
  done
  mv "$TMPD/Dockerfile" "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$BIG" "$ctx" >/dev/null
  "$DOCKER" save -o "$TMPD/big.tar" "$BIG"
  # From here on docker holds the image as `docker load` makes it (no build parents).
  "$DOCKER" rmi "$BIG" "$BIGBASE" >/dev/null
  mv "$TMPD/big.tar" "$OUT/big.tar"
  rm -rf "$ctx"
fi

many_names() { for i in $(seq 0 999); do echo "berthbench/many-$((i / 10)):v$((i % 10))"; done; }

# 1,000 small images (see make-many.mjs), saved by docker; and the archive of $ONE alone.
if [ ! -f "$OUT/many.tar" ] || [ ! -f "$OUT/one.tar" ] || [ ! -f "$OUT/many-gen.tar" ]; then
  log "making 1,000 images"
  node bench/make-many.mjs 1000 "$TMPD/many-gen.tar"
  "$DOCKER" load -q -i "$TMPD/many-gen.tar" >/dev/null
  # shellcheck disable=SC2046
  "$DOCKER" save -o "$TMPD/many.tar" $(many_names)
  "$DOCKER" save -o "$OUT/one.tar" "$ONE"
  mv "$TMPD/many.tar" "$OUT/many.tar"
  mv "$TMPD/many-gen.tar" "$OUT/many-gen.tar"
fi

# docker: the two big images, and of the 1,000 only $ONE (the near-empty case comes first).
docker_rm_many
docker_ensure "$DEB" "$OUT/deb.tar"
docker_ensure "$BIG" "$OUT/big.tar"
docker_ensure "$ONE" "$OUT/one.tar"
docker_save_chains "$DEB" "$OUT/deb.chains"
docker_save_chains "$BIG" "$OUT/big.chains"
docker_save_chains "$ONE" "$OUT/many.chains"

# berth: one store per image set, loaded from docker's archives.
notes=()
for s in deb big one many; do
  t0=$(date +%s.%N)
  if ! berth_fresh "$ROOTS/$s" "$OUT/$s.tar" >/dev/null 2>"$TMPD/berth-load.err"; then
    [ $s = many ] || die "berth load -i $OUT/$s.tar failed: $(cat "$TMPD/berth-load.err")"
    # docker's archive of the 1,000 images refers to the shared layer through layer.tar
    # symlinks, which berth could not load when this was written. The generated archive holds
    # the very same images (same configs, same IDs), with the layer stored once.
    err=$(cat "$TMPD/berth-load.err")
    log "berth could not load docker's many.tar ($err); loading many-gen.tar (the same images) instead"
    notes+=("berth could not load docker's own archive of the 1,000 images (\`$err\`); its store was loaded from bench/out/many-gen.tar, which holds the same 1,000 images (same image IDs).")
    berth_fresh "$ROOTS/$s" "$OUT/many-gen.tar" >/dev/null
  fi
  log "berth load of $s.tar into a fresh store: $(echo "$(date +%s.%N) - $t0" | bc) s"
done
[ "$("$BERTH" --root "$ROOTS/many" images -q | wc -l)" -eq 1000 ] || die "the berth store does not list 1,000 images"
for s in deb big; do
  img=$([ $s = deb ] && echo "$DEB" || echo "$BIG")
  [ "$("$BERTH" --root "$ROOTS/$s" images -q --no-trunc "$img")" = "$("$DOCKER" images -q --no-trunc "$img")" ] ||
    die "$img has different IDs in berth and docker"
done

mb() { echo "$(($(stat -c %s "$1") / 1000000)) MB"; }
deb_desc="Debian bookworm minbase, $(mb "$OUT/deb.tar"), 1 layer"
big_desc="$(mb "$OUT/big.tar"), 5 layers"
short_id=$("$DOCKER" images -q "$ONE")

# ---------------------------------------------------------------------------------------------
# Benchmarks

: >"$RES"
bench() { node bench/pairs.mjs run --out "$RES" "$@"; }
B="$BERTH --root"

log "start-up"
bench --id startup --label "start-up: --version" --runs "$RUNS_FAST" --warmup 2 \
  --cmd berth --exec "$BERTH --version" --cmd docker --exec "$DOCKER --version" --cmd "node -e 0" --exec "node -e 0"

lookups() {
  local root=$1 tag=$2
  bench --id "images-$tag" --label "images ($tag)" --runs "$RUNS_FAST" --warmup 2 --target 1 \
    --cmd berth --exec "$B $root images" --cmd docker --exec "$DOCKER images"
  bench --id "inspect-$tag" --label "inspect NAME ($tag)" --runs "$RUNS_FAST" --warmup 2 --target 1 \
    --cmd berth --exec "$B $root inspect $ONE" --cmd docker --exec "$DOCKER inspect $ONE"
  bench --id "inspect-id-$tag" --label "inspect SHORT-ID ($tag)" --runs "$RUNS_FAST" --warmup 2 --target 1 \
    --cmd berth --exec "$B $root inspect $short_id" --cmd docker --exec "$DOCKER inspect $short_id"
  bench --id "history-$tag" --label "history NAME ($tag)" --runs "$RUNS_FAST" --warmup 2 --target 1 \
    --cmd berth --exec "$B $root history $ONE" --cmd docker --exec "$DOCKER history $ONE"
}

count_small_d=$("$DOCKER" images -q | wc -l)
count_small_b=$("$BERTH" --root "$ROOTS/one" images -q | wc -l)
log "lookups, near-empty stores (berth $count_small_b images, docker $count_small_d)"
lookups "$ROOTS/one" "near-empty"

log "save"
rm -f "$TMPD"/*.tar
bench --id save-deb --target 0.5 --label "save -o ($deb_desc)" --runs "$RUNS_BIG" \
  --cmd berth --prepare "rm -f $TMPD/berth-save.tar; sync" --exec "$B $ROOTS/deb save -o $TMPD/berth-save.tar $DEB" \
  --cmd docker --prepare "rm -f $TMPD/docker-save.tar; sync" --exec "$DOCKER save -o $TMPD/docker-save.tar $DEB"
bench --id save-big --target 0.5 --label "save -o ($big_desc)" --runs "$RUNS_BIG" \
  --cmd berth --prepare "rm -f $TMPD/berth-save.tar; sync" --exec "$B $ROOTS/big save -o $TMPD/berth-save.tar $BIG" \
  --cmd docker --prepare "rm -f $TMPD/docker-save.tar; sync" --exec "$DOCKER save -o $TMPD/docker-save.tar $BIG"
rm -f "$TMPD"/*.tar

log "load"
bench --id load-deb --target 0.5 --label "load -i ($deb_desc)" --runs "$RUNS_BIG" \
  --cmd berth --prepare "bash bench/lib.sh berth_unload $ROOTS/deb $DEB" --exec "$B $ROOTS/deb load -q -i $OUT/deb.tar" \
  --cmd docker --prepare "bash bench/lib.sh docker_unload $DEB $OUT/deb.chains" --exec "$DOCKER load -q -i $OUT/deb.tar"
bench --id load-big --target 0.5 --label "load -i ($big_desc)" --runs "$RUNS_BIG" \
  --cmd berth --prepare "bash bench/lib.sh berth_unload $ROOTS/big $BIG" --exec "$B $ROOTS/big load -q -i $OUT/big.tar" \
  --cmd docker --prepare "bash bench/lib.sh docker_unload $BIG $OUT/big.chains" --exec "$DOCKER load -q -i $OUT/big.tar"

# Both load the generated archive (berth could not load docker's; see above). Its last run
# leaves docker with the 1,000 images for the lookups below.
log "load of 1,000 small images"
mkdir -p "$ROOTS/many-load"
bench --id load-many --label "load -i (1,000 small images sharing 1 layer)" --runs "$RUNS_MANY" \
  --cmd berth --prepare "bash bench/lib.sh berth_unload $ROOTS/many-load" --exec "$B $ROOTS/many-load load -q -i $OUT/many-gen.tar" \
  --cmd docker --prepare "bash bench/lib.sh docker_rm_many" --exec "$DOCKER load -q -i $OUT/many-gen.tar"
rm -rf "$ROOTS/many-load"
ids() { "$@" images -q --no-trunc --filter 'reference=berthbench/many-*' | sort; }
[ "$(ids "$DOCKER")" = "$(ids "$BERTH" --root "$ROOTS/many")" ] || die "berth and docker hold different 1,000 images"
count_many_d=$("$DOCKER" images -q | wc -l)
count_many_b=$("$BERTH" --root "$ROOTS/many" images -q | wc -l)
log "lookups, 1,000 images (berth $count_many_b images, docker $count_many_d)"
lookups "$ROOTS/many" "1,000 images"

# ---------------------------------------------------------------------------------------------
# Profiles (optional)

if [ -n "${BENCH_PROFILE:-}" ]; then
  log "profiles"
  P=$OUT/profiles
  rm -rf "$P"
  mkdir -p "$P"
  # node 20 refuses --cpu-prof in NODE_OPTIONS, and bin/berth starts node itself (through
  # PATH), so put a `node` first in PATH that adds the flags. It is dated in the past, in case
  # the launcher compares its own files' dates with node's.
  mkdir -p "$P/shim"
  printf '#!/bin/sh\nexec %s --cpu-prof --cpu-prof-dir="$BENCH_PROF_DIR" --cpu-prof-interval=200 "$@"\n' \
    "$(command -v node)" >"$P/shim/node"
  chmod +x "$P/shim/node"
  touch -d 2000-01-01 "$P/shim/node"
  prof() {
    local name=$1
    shift
    BENCH_PROF_DIR=$P/$name PATH="$(pwd)/$P/shim:$PATH" "$BERTH" "$@" >/dev/null
    node bench/prof-summary.mjs --dist "$snap/dist" "$P/$name"/*.cpuprofile >"$P/$name.txt"
  }
  prof version --version
  prof images-many --root "$ROOTS/many" images
  prof inspect-many --root "$ROOTS/many" inspect "$ONE"
  prof history-many --root "$ROOTS/many" history "$ONE"
  rm -f "$TMPD/p.tar"
  prof save-big --root "$ROOTS/big" save -o "$TMPD/p.tar" "$BIG"
  rm -f "$TMPD/p.tar"
  bash bench/lib.sh berth_unload "$ROOTS/big" "$BIG"
  prof load-big --root "$ROOTS/big" load -q -i "$OUT/big.tar"
fi

# ---------------------------------------------------------------------------------------------
# Clean-up and report

if [ -z "${BENCH_KEEP:-}" ]; then
  log "removing berthbench/* from docker"
  docker_rm_many
  "$DOCKER" rmi "$DEB" "$BIG" >/dev/null 2>&1 || true
fi

{
  echo "# berth foundation benchmarks"
  echo
  echo "- date: $(date -u +'%Y-%m-%d %H:%M UTC'); took $(($(date +%s) - started)) s"
  echo "- machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB RAM, $(uname -sr); load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "- node $(node --version); docker $("$DOCKER" version --format '{{.Server.Version}}') ($("$DOCKER" info --format '{{.Driver}}')); berth $("$BERTH" --version) from the checkout at $rev (when the run started), dist/ built $built$([ -f "$snap/dist/berth.blob" ] && echo ', run from its start-up snapshot (dist/berth.blob)')"
  echo "- stores: near-empty = berth $count_small_b image(s), docker $count_small_d; 1,000 images = berth $count_many_b, docker $count_many_d"
  echo "- each row: medians of n interleaved runs (order alternates each run); ratio = berth median / peer median"
  echo "- command: \`bash bench/foundation.sh\` (BENCH_RUNS_BIG=$RUNS_BIG, BENCH_RUNS_FAST=$RUNS_FAST, BENCH_RUNS_MANY=$RUNS_MANY)"
  for n in "${notes[@]}"; do echo "- note: $n"; done
  echo
  node bench/pairs.mjs report "$RES"
} >"$MD"
log "wrote $MD"
cat "$MD"

#!/usr/bin/env bash
# Build benchmarks for issue 3 ("Speed"): `berth build` against docker's BuildKit, buildah and
# docker's classic builder, on seven kinds of build, each cold / warm (no change) / one file
# edited, all four measured interleaved in the same loop (bench/pairs.mjs). Writes
# bench/out/build.md and bench/out/build/results.jsonl. See bench/README.md.
#
#   bash bench/build.sh
#
# Environment:
#   BENCH_RUNS_BIG=3       runs of each cold / warm / edit row of the big cells (c1-c4)
#   BENCH_RUNS_SMALL=5     runs of each row of the small cells (c5-c7)
#   BENCH_CELLS="c5 c7"    only these cells (prefixes of the cell names); default all seven
#   BENCH_PROFILE=1        also CPU-profile berth (node --cpu-prof) on one cold, warm and edited
#                          build of each cell, summarised into bench/out/build/profiles/*.txt
#                          (and *.timeline.txt: where the time went, 250 ms at a time);
#                          BENCH_PROFILE=only does that alone (no benchmarks, no build.md)
#   BENCH_KEEP=1           leave the benchmark's images in docker and buildah afterwards
#   BENCH_BUILD=1          build berth (node scripts/build.mjs --no-types) first
#
# Idempotent: the contexts (bench/out/build/gen/, ~930 MB), the busybox and Debian base
# archives are made once and cached; each run gives docker and buildah the bases again from the
# archives if they lack them, and makes berth's stores afresh. berth itself is run from a copy
# of bin/ and dist/ taken at the start (bench/out/build/berth/).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/build-lib.sh
source bench/build-lib.sh

RUNS_BIG=${BENCH_RUNS_BIG:-3}
RUNS_SMALL=${BENCH_RUNS_SMALL:-5}
RES=$W/results.jsonl
MD=$OUT/build.md
ROOTS=$W/roots
TMPD=$W/tmp
BB=berthbuild/bb:1
DEB=berthbuild/deb:1
RUNC=$(command -v runc || echo /usr/sbin/runc)
PATHENV='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

mkdir -p "$W" "$ROOTS" "$TMPD" "$W/ctx" "$W/gen"
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# Set-up

berth_snapshot "$W/berth"

# The contexts, generated once (deterministic; see build-corpus.mjs). A new generator version
# makes them again.
gen_version=$(sha256sum bench/build-corpus.mjs | cut -c1-16)
mapfile -t all_cells < <(node bench/build-corpus.mjs --list)
cells=()
for c in "${all_cells[@]}"; do
  if [ -z "${BENCH_CELLS:-}" ]; then cells+=("$c"); else
    for want in $BENCH_CELLS; do [[ $c == "$want"* ]] && cells+=("$c"); done
  fi
done
[ ${#cells[@]} -gt 0 ] || die "BENCH_CELLS=$BENCH_CELLS matches no cell (${all_cells[*]})"
# A digest of a context's files, the edit target left out (it is put back below anyway).
tree_sum() {
  local edit
  edit=$(cat "$W/gen/$1.edit")
  (cd "$W/ctx/$1/" && find . -type f ! -path "./$edit" -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)
}
for c in "${all_cells[@]}"; do
  if [ "$(cat "$W/gen/$c.version" 2>/dev/null)" = "$gen_version" ] && [ -d "$W/ctx/$c/" ] &&
    [ "$(tree_sum "$c")" != "$(cat "$W/gen/$c.sum")" ]; then
    log "the context of $c was changed since it was generated: making it again"
    rm -f "$W/gen/$c.version"
  fi
  if [ "$(cat "$W/gen/$c.version" 2>/dev/null)" != "$gen_version" ] || [ ! -d "$W/ctx/$c/" ]; then
    log "generating the context of $c"
    rm -rf "$W/gen/$c"-* "$W/ctx/$c" "$W/gen/$c".*
    node bench/build-corpus.mjs "$W/gen/$c-0" "$c"
    ln -sfn "../gen/$c-0" "$W/ctx/$c"
    node bench/build-corpus.mjs --edit-target "$c" >"$W/gen/$c.edit"
    cp "$W/ctx/$c/$(cat "$W/gen/$c.edit")" "$W/gen/$c.orig"
    tree_sum "$c" >"$W/gen/$c.sum"
    echo "$gen_version" >"$W/gen/$c.version"
  fi
  unedit "$c" # the edit target as generated, whatever the last run left
done

# The busybox base: busybox-static and a link for each applet, deterministic tar, docker import.
if [ ! -f "$W/bb.tar" ]; then
  log "making $BB"
  r=$TMPD/bb-rootfs
  rm -rf "$r"
  mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root"
  chmod 1777 "$r/tmp"
  cp /usr/bin/busybox "$r/bin/busybox"
  for a in $("$r/bin/busybox" --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$r/etc/group"
  tar -C "$r" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$TMPD/bb-rootfs.tar" .
  "$DOCKER" rmi -f "$BB" >/dev/null 2>&1 || true
  "$DOCKER" import --change "$PATHENV" "$TMPD/bb-rootfs.tar" "$BB" >/dev/null
  "$DOCKER" save -o "$TMPD/bb.tar" "$BB"
  mv "$TMPD/bb.tar" "$W/bb.tar"
  rm -rf "$r" "$TMPD/bb-rootfs.tar"
fi

# The Debian base: the same debootstrap rootfs foundation.sh caches (made the same way if
# missing), with its own /etc/berth-bench so its layer is shared with no other image in docker.
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
if [ ! -f "$W/deb.tar" ]; then
  log "making $DEB"
  mkdir -p "$TMPD/deb-extra/etc"
  echo "berth bench: build" >"$TMPD/deb-extra/etc/berth-bench"
  tar --numeric-owner --exclude=./etc/berth-bench -C "$rootfs" -cf "$TMPD/deb-rootfs.tar" .
  tar --numeric-owner --owner=0 --group=0 -C "$TMPD/deb-extra" -rf "$TMPD/deb-rootfs.tar" ./etc/berth-bench
  "$DOCKER" rmi -f "$DEB" >/dev/null 2>&1 || true
  "$DOCKER" import --change "$PATHENV" "$TMPD/deb-rootfs.tar" "$DEB" >/dev/null
  "$DOCKER" save -o "$TMPD/deb.tar" "$DEB"
  mv "$TMPD/deb.tar" "$W/deb.tar"
  rm -rf "$TMPD/deb-rootfs.tar" "$TMPD/deb-extra"
fi

# Every store gets the same two images (same IDs): docker and buildah from docker's archives.
docker_ensure "$BB" "$W/bb.tar"
docker_ensure "$DEB" "$W/deb.tar"
for img in $BB $DEB; do
  "$BUILDAH" inspect --type image "$img" >/dev/null 2>&1 ||
    "$BUILDAH" pull -q "docker-archive:$W/$([ "$img" = "$BB" ] && echo bb || echo deb).tar" >/dev/null
done

# berth's template stores: the bases loaded and unpacked (a `run` of each makes its snapshots),
# as docker and buildah hold their images unpacked. Each cold build starts from a copy.
rm -rf "$ROOTS"
mkdir -p "$ROOTS"
"$BERTH" --root "$ROOTS/tpl-bb" load -q -i "$W/bb.tar" >/dev/null
"$BERTH" --root "$ROOTS/tpl-bb" run --rm "$BB" true
cp -a "$ROOTS/tpl-bb" "$ROOTS/tpl-deb"
"$BERTH" --root "$ROOTS/tpl-deb" load -q -i "$W/deb.tar" >/dev/null
"$BERTH" --root "$ROOTS/tpl-deb" run --rm "$DEB" true
for img in $BB $DEB; do
  d=$("$DOCKER" images -q --no-trunc "$img")
  b=$("$BERTH" --root "$ROOTS/tpl-deb" images -q --no-trunc "$img")
  h=$("$BUILDAH" inspect --type image --format '{{.FromImageID}}' "$img")
  [ "$d" = "$b" ] && [ "${d#sha256:}" = "$h" ] || die "$img differs: docker $d, berth $b, buildah $h"
done

# ---------------------------------------------------------------------------------------------
# Benchmarks

bench() { node bench/pairs.mjs run --keep-going --out "$RES" "$@"; }

# What each builder is told; $1 is "--no-cache" for the cold rows, else empty.
berth_cmd() { echo "$BERTH --root $ROOTS/$cell build -q $1 -t berthbuild/$cell:berth $ctx"; }
bk_cmd() { echo "env DOCKER_BUILDKIT=1 $DOCKER build -q --network=none $1 -t berthbuild/$cell:buildkit $ctx"; }
buildah_cmd() { echo "$BUILDAH build --layers -q --pull=never --network=none --runtime=$RUNC $1 -t berthbuild/$cell:buildah $ctx"; }
classic_cmd() { echo "env DOCKER_BUILDKIT=0 $DOCKER build -q --network=none $1 -t berthbuild/$cell:classic $ctx"; }
L="bash bench/build-lib.sh"

declare -A desc=(
  [c1-small-files]="COPY of 20,000 small files (43 MB)"
  [c2-big-file]="COPY of one 500 MiB file"
  [c3-multistage]="multi-stage, Debian builder → busybox final"
  [c4-runs]="40 RUN steps with a COPY in the middle"
  [c5-metadata]="metadata-only instructions"
  [c6-ignore]="363 MB context, .dockerignore keeps 1 MB"
  [c7-run-delete]="RUN writes 2,000 files + 50 MB, later RUN deletes"
)

[ "${BENCH_PROFILE:-}" = only ] || : >"$RES"
for cell in "${cells[@]}"; do
  [ "${BENCH_PROFILE:-}" = only ] && break
  ctx=$(ctx_of "$cell")
  case $cell in c1* | c2* | c3* | c4*) n=$RUNS_BIG ;; *) n=$RUNS_SMALL ;; esac
  tpl=$ROOTS/tpl-bb
  [[ $cell == c3* ]] && tpl=$ROOTS/tpl-deb
  log "$cell: cold"
  bench --id "$cell/cold" --label "${desc[$cell]} | cold" --runs "$n" --target 1 \
    --cmd berth --prepare "$L berth_cold $ROOTS/$cell $tpl" --exec "$(berth_cmd --no-cache)" \
    --cmd buildkit --prepare "$L bk_cold $cell berthbuild/$cell:buildkit" --exec "$(bk_cmd --no-cache)" \
    --cmd buildah --prepare "$L buildah_cold berthbuild/$cell:buildah" --exec "$(buildah_cmd --no-cache)" \
    --cmd classic --prepare "$L docker_cold berthbuild/$cell:classic" --exec "$(classic_cmd --no-cache)"
  log "$cell: warm"
  bench --id "$cell/warm" --label "${desc[$cell]} | warm" --runs "$n" --warmup 1 --target 1 \
    --cmd berth --prepare sync --exec "$(berth_cmd "")" \
    --cmd buildkit --prepare sync --exec "$(bk_cmd "")" \
    --cmd buildah --prepare sync --exec "$(buildah_cmd "")" \
    --cmd classic --prepare sync --exec "$(classic_cmd "")"
  log "$cell: one file edited"
  bench --id "$cell/edit" --label "${desc[$cell]} | edit" --runs "$n" --target 1 \
    --cmd berth --prepare "$L edit $cell" --exec "$(berth_cmd "")" \
    --cmd buildkit --prepare "$L edit $cell" --exec "$(bk_cmd "")" \
    --cmd buildah --prepare "$L edit $cell" --exec "$(buildah_cmd "")" \
    --cmd classic --prepare "$L edit $cell" --exec "$(classic_cmd "")"
  unedit "$cell"
done

# ---------------------------------------------------------------------------------------------
# Profiles (optional): one cold, one warm and one edited berth build of each cell

if [ -n "${BENCH_PROFILE:-}" ]; then
  log "profiles"
  P=$W/profiles
  rm -rf "$P"
  mkdir -p "$P/shim"
  # node 20 refuses --cpu-prof in NODE_OPTIONS, and bin/berth starts node itself (through
  # PATH), so a `node` first in PATH adds the flags (as foundation.sh does).
  printf '#!/bin/sh\nexec %s --cpu-prof --cpu-prof-dir="$BENCH_PROF_DIR" --cpu-prof-interval=500 "$@"\n' \
    "$(command -v node)" >"$P/shim/node"
  chmod +x "$P/shim/node"
  touch -d 2000-01-01 "$P/shim/node"
  prof() {
    local name=$1
    shift
    local t0
    t0=$(date +%s.%N)
    BENCH_PROF_DIR=$P/$name PATH="$(pwd)/$P/shim:$PATH" "$BERTH" "$@" >/dev/null 2>"$P/$name.err" ||
      log "profile $name: berth failed: $(tail -3 "$P/$name.err")"
    echo "# berth $* ($(echo "$(date +%s.%N) - $t0" | bc) s wall, profiled)" >"$P/$name.txt"
    node bench/prof-summary.mjs --dist "$snap/dist" "$P/$name"/*.cpuprofile >>"$P/$name.txt" || true
    for f in "$P/$name"/*.cpuprofile; do
      node bench/prof-timeline.mjs --dist "$snap/dist" --window 250 "$f"
    done >"$P/$name.timeline.txt" || true
  }
  for cell in "${cells[@]}"; do
    ctx=$(ctx_of "$cell")
    tpl=$ROOTS/tpl-bb
    [[ $cell == c3* ]] && tpl=$ROOTS/tpl-deb
    bash bench/build-lib.sh berth_cold "$ROOTS/$cell" "$tpl"
    prof "$cell-cold" --root "$ROOTS/$cell" build -q --no-cache -t "berthbuild/$cell:berth" "$ctx"
    sync
    prof "$cell-warm" --root "$ROOTS/$cell" build -q -t "berthbuild/$cell:berth" "$ctx"
    bash bench/build-lib.sh edit "$cell"
    prof "$cell-edit" --root "$ROOTS/$cell" build -q -t "berthbuild/$cell:berth" "$ctx"
    unedit "$cell"
  done
fi

# ---------------------------------------------------------------------------------------------
# Clean-up and report

if [ -z "${BENCH_KEEP:-}" ]; then
  log "removing the built images from docker and buildah, and berth's stores"
  for cell in "${all_cells[@]}"; do
    "$DOCKER" rmi -f "berthbuild/$cell:buildkit" "berthbuild/$cell:classic" >/dev/null 2>&1 || true
    "$BUILDAH" rmi -f "berthbuild/$cell:buildah" >/dev/null 2>&1 || true
  done
  "$BUILDAH" rmi --prune >/dev/null 2>&1 || true
  for cell in "${all_cells[@]}"; do rm -rf "${ROOTS:?}/$cell"; done
fi

[ "${BENCH_PROFILE:-}" = only ] && exit 0
{
  echo "# berth build benchmarks"
  echo
  echo "- date: $(date -u +'%Y-%m-%d %H:%M UTC'); took $(($(date +%s) - started)) s"
  echo "- machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB RAM, $(uname -sr); load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "- node $(node --version); docker $("$DOCKER" version --format '{{.Server.Version}}') ($("$DOCKER" info --format '{{.Driver}}')); $("$BUILDAH" --version | cut -d' ' -f1-3) (runtime $("$RUNC" --version | head -1)); berth $("$BERTH" --version) from the checkout at $rev (when the run started), dist/ built $built"
  cell=CELL ctx=CTX
  echo "- builders (CTX = bench/out/build/ctx/CELL): \`$(berth_cmd '[--no-cache]' | sed "s|$BERTH|berth|; s|$ROOTS/CELL|ROOT|")\`; \`$(bk_cmd '[--no-cache]')\`; \`$(buildah_cmd '[--no-cache]')\`; \`$(classic_cmd '[--no-cache]')\`"
  echo "- cold: --no-cache, after the builder's earlier result and cache are removed (berth: a fresh store holding only the unpacked bases; BuildKit: the image removed and the context moved to a new path, so no synced copy of it is reused; buildah: rmi and rmi --prune; classic: rmi, which removes the intermediate images). warm: the same build again, after 1 untimed warm-up. edit: one file of the context rewritten with new contents before each build (see bench/README.md for which file)"
  echo "- each row: medians of n interleaved runs (the order rotates each run); ratio = berth median / peer median"
  echo "- command: \`bash bench/build.sh\` (BENCH_RUNS_BIG=$RUNS_BIG, BENCH_RUNS_SMALL=$RUNS_SMALL${BENCH_CELLS:+, BENCH_CELLS=\"$BENCH_CELLS\"})"
  echo "- where berth's time goes: \`BENCH_PROFILE=only bash bench/build.sh\` profiles it (bench/out/build/profiles/); the analysis is in bench/RESULTS.md"
  echo
  node bench/build-report.mjs "$RES"
} >"$MD"
log "wrote $MD"
cat "$MD"

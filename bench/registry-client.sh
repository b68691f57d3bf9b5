#!/usr/bin/env bash
# berth's registry client against its peers, side by side on one local Distribution:
#   push (store → empty registry): berth push, skopeo copy oci:LAYOUT → docker://, docker push,
#                                  and a raw curl upload (POST + one streamed PUT) of the same layer
#   pull (registry → local):       berth pull, skopeo copy docker:// → oci:DIR, docker pull,
#                                  and a raw curl download of the layer to a file
#   re-push of the unchanged image: the whole command, and the network part alone (the library's
#                                  push() timed in-process, node start and store open left out)
# One image with one layer: a tar of BENCH_MIB (default 500) MiB of random bytes, so every tool
# sends the same bytes (docker alone gzips it on push). Runs are interleaved, the order rotating
# each round; medians of BENCH_RUNS (default 3) rounds; ratios are berth / peer.
#
#   bash bench/registry-client.sh            # writes bench/out/registry-client/results.md
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

RUNS=${BENCH_RUNS:-3}
MIB=${BENCH_MIB:-500}
W=$OUT/registry-client
mkdir -p "$W"
W=$(cd "$W" && pwd)
BERTH_BIN=$(pwd)/bin/berth
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
REG=127.0.0.1:$PORT
ROOT=$W/berth-root
NAME=bench/big-$MIB:1 # per size: a store or docker holding another size's image must not stand in
REG_PID=""

reg_start() {
  rm -rf "$W/registry-data"
  cat >"$W/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $W/registry-data
http:
  addr: $REG
  secret: berth-bench
EOF
  /usr/bin/docker-registry serve "$W/registry.yml" >>"$W/registry.log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 1 200); do
    curl -fs "http://$REG/v2/" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  die "the registry did not start"
}
reg_stop() {
  if [ -n "$REG_PID" ]; then
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
    REG_PID=""
  fi
}
# An empty registry for each push: nothing to skip, nothing to mount.
reg_fresh() {
  reg_stop
  reg_start
}
trap reg_stop EXIT

# Runs a command and sets SECS to its wall time. Not in a subshell: the registry's pid must
# stay known to this shell, so the exit trap stops it whatever happens.
SECS=0
timed() {
  local s e
  s=$(date +%s.%N)
  "$@" >/dev/null 2>"$W/last.err" || die "failed: $* ($(tail -3 "$W/last.err"))"
  e=$(date +%s.%N)
  SECS=$(echo "$e - $s" | bc)
}

# ---- the image, in the OCI layout (skopeo), berth's store and docker
if [ ! -f "$W/layout-$MIB/index.json" ]; then
  log "making a ${MIB} MiB single-layer image"
  rm -rf "$W/layout-$MIB"
  node bench/registry-client-image.mjs "$W/layout-$MIB" "$MIB" "$NAME" >"$W/layout-$MIB.txt"
fi
read -r LAYER_DIGEST LAYER_SIZE <"$W/layout-$MIB.txt"
LAYER_FILE=$W/layout-$MIB/blobs/sha256/${LAYER_DIGEST#sha256:}
if ! "$BERTH_BIN" --root "$ROOT" image inspect "$NAME" >/dev/null 2>&1; then
  tar -C "$W/layout-$MIB" -cf "$W/layout-$MIB.tar" .
  "$BERTH_BIN" --root "$ROOT" load -q -i "$W/layout-$MIB.tar"
  rm -f "$W/layout-$MIB.tar"
fi
"$BERTH_BIN" --root "$ROOT" tag "$NAME" "$REG/$NAME"
if ! "$DOCKER" image inspect "$NAME" >/dev/null 2>&1; then
  "$BERTH_BIN" --root "$ROOT" save "$NAME" | "$DOCKER" load -q >/dev/null
fi
"$DOCKER" tag "$NAME" "$REG/$NAME"

cell_push() {
  reg_fresh
  case $1 in
  berth) timed "$BERTH_BIN" --root "$ROOT" push "$REG/$NAME" ;;
  skopeo) timed skopeo copy -q --dest-tls-verify=false "oci:$W/layout-$MIB:bench" "docker://$REG/$NAME" ;;
  docker) timed "$DOCKER" push "$REG/$NAME" ;;
  raw)
    local loc s e
    s=$(date +%s.%N)
    loc=$(curl -fsS -i -X POST "http://$REG/v2/raw/big/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    curl -fsS --max-time 300 -H 'Expect:' -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$LAYER_FILE" "$loc&digest=$LAYER_DIGEST"
    e=$(date +%s.%N)
    SECS=$(echo "$e - $s" | bc)
    ;;
  esac
}

cell_pull() {
  case $1 in
  berth)
    rm -rf "$W/pull-root"
    timed "$BERTH_BIN" --root "$W/pull-root" pull "$REG/$NAME"
    ;;
  skopeo)
    rm -rf "$W/pull-oci"
    timed skopeo copy -q --src-tls-verify=false "docker://$REG/$NAME" "oci:$W/pull-oci:x"
    ;;
  docker)
    # every tag of the image (earlier runs' ports too), so that docker really downloads it
    "$DOCKER" rmi -f "$("$DOCKER" image inspect --format '{{.Id}}' "$NAME")" >/dev/null 2>&1 || true
    timed "$DOCKER" pull "$REG/$NAME"
    "$DOCKER" tag "$REG/$NAME" "$NAME"
    ;;
  raw)
    rm -f "$W/pull-raw.bin"
    timed curl -fsS -o "$W/pull-raw.bin" "http://$REG/v2/bench/big-$MIB/blobs/$LAYER_DIGEST"
    ;;
  esac
}

# The network part of a re-push: the library's push() in-process, after node and the store are up.
repush_network() {
  node --input-type=module -e '
    import { openStore, push, registryConfigFromEnv } from "./dist/index.js";
    const store = openStore(process.argv[1]);
    const t = performance.now();
    await push(store, process.argv[2], { registry: registryConfigFromEnv(process.env) });
    console.log(((performance.now() - t) / 1000).toFixed(4));
    store.close();
  ' "$ROOT" "$REG/$NAME"
}

TOOLS=(berth skopeo docker raw)
: >"$W/times.txt"
for run in $(seq 1 "$RUNS"); do
  # rotate the order each round, so no tool always runs first (or after the same neighbour)
  order=("${TOOLS[@]:$((run % 4))}" "${TOOLS[@]:0:$((run % 4))}")
  for tool in "${order[@]}"; do
    cell_push "$tool"
    log "run $run push $tool $SECS s"
    echo "push $tool $SECS" >>"$W/times.txt"
  done
  # every pull reads the same thing: the image as berth pushed it to an empty registry
  reg_fresh
  "$BERTH_BIN" --root "$ROOT" push "$REG/$NAME" >/dev/null
  for tool in "${order[@]}"; do
    cell_pull "$tool"
    log "run $run pull $tool $SECS s"
    echo "pull $tool $SECS" >>"$W/times.txt"
  done
  timed "$BERTH_BIN" --root "$ROOT" push "$REG/$NAME"
  log "run $run re-push command $SECS s"
  echo "repush command $SECS" >>"$W/times.txt"
  secs=$(repush_network)
  log "run $run re-push network $secs s"
  echo "repush network $secs" >>"$W/times.txt"
done

node --input-type=module -e '
  import * as fs from "node:fs";
  const rows = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
  const med = (op, tool) => {
    const v = rows.filter((r) => r[0] === op && r[1] === tool).map((r) => Number(r[2])).sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const mb = Number(process.argv[2]) / 1e6;
  const f = (x) => x.toFixed(2);
  let out = `n=${process.argv[3]} rounds, ${(mb).toFixed(0)} MB layer, medians in seconds (MB/s)\n\n`;
  out += "| | berth | skopeo | docker | raw curl | berth/skopeo | berth/docker | berth/raw |\n|---|---|---|---|---|---|---|---|\n";
  for (const op of ["push", "pull"]) {
    const m = Object.fromEntries(["berth", "skopeo", "docker", "raw"].map((t) => [t, med(op, t)]));
    const cell = (t) => `${f(m[t])} (${(mb / m[t]).toFixed(0)})`;
    out += `| ${op} | ${cell("berth")} | ${cell("skopeo")} | ${cell("docker")} | ${cell("raw")} | ${f(m.berth / m.skopeo)} | ${f(m.berth / m.docker)} | ${f(m.berth / m.raw)} |\n`;
  }
  out += `\nre-push of the unchanged image: whole command ${f(med("repush", "command"))} s, network part (library push() in-process) ${med("repush", "network").toFixed(3)} s\n`;
  process.stdout.write(out);
' "$W/times.txt" "$LAYER_SIZE" "$RUNS" | tee "$W/results.md"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$W/results.md"

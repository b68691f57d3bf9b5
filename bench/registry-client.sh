#!/usr/bin/env bash
# berth's registry client against its peers, side by side on one local Distribution:
#   push (store → empty registry): berth push, skopeo copy oci:LAYOUT → docker://, docker push,
#                                  and a raw curl upload (POST + one streamed PUT) of the same layer
#   pull (registry → local):       berth pull (into an existing empty store, and into a new one),
#                                  skopeo copy docker:// → oci:DIR, docker pull,
#                                  and a raw curl download of the layer to a file
#   re-push of the unchanged image: the whole command, and the network part alone (the library's
#                                  push() timed in-process, node start and store open left out)
# One image with one uncompressed layer: a tar of BENCH_MIB (default 500) MiB of random bytes,
# or with BENCH_CONTENT=words text-ish random words (about half compressible). berth, skopeo
# and docker all gzip it on push (raw curl sends it as it is); "berth-cached" is berth's push to
# an empty registry once its store holds the compressed copy (nothing compressed); berth's
# first-push cells start with that copy removed. Runs are interleaved, the order rotating each
# round; medians of BENCH_RUNS (default 3) rounds; ratios are berth / peer.
#
#   bash bench/registry-client.sh            # writes bench/out/registry-client/results-500.md
#   BENCH_CONTENT=words bash bench/registry-client.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

RUNS=${BENCH_RUNS:-3}
MIB=${BENCH_MIB:-500}
CONTENT=${BENCH_CONTENT:-random}
W=$OUT/registry-client
mkdir -p "$W"
W=$(cd "$W" && pwd)
BERTH_BIN=$(pwd)/bin/berth
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
REG=127.0.0.1:$PORT
ROOT=$W/berth-root
# per size and content: a store or docker holding another image must not stand in
if [ "$CONTENT" = random ]; then KIND=$MIB; else KIND=$MIB-$CONTENT; fi
NAME=bench/big-$KIND:1
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
if [ ! -f "$W/layout-$KIND/index.json" ]; then
  log "making a ${MIB} MiB single-layer image"
  rm -rf "$W/layout-$KIND"
  node bench/registry-client-image.mjs "$W/layout-$KIND" "$MIB" "$NAME" "$CONTENT" >"$W/layout-$KIND.txt"
fi
read -r LAYER_DIGEST LAYER_SIZE <"$W/layout-$KIND.txt"
LAYER_FILE=$W/layout-$KIND/blobs/sha256/${LAYER_DIGEST#sha256:}
if ! "$BERTH_BIN" --root "$ROOT" image inspect "$NAME" >/dev/null 2>&1; then
  tar -C "$W/layout-$KIND" -cf "$W/layout-$KIND.tar" .
  "$BERTH_BIN" --root "$ROOT" load -q -i "$W/layout-$KIND.tar"
  rm -f "$W/layout-$KIND.tar"
fi
"$BERTH_BIN" --root "$ROOT" tag "$NAME" "$REG/$NAME"
if ! "$DOCKER" image inspect "$NAME" >/dev/null 2>&1; then
  "$BERTH_BIN" --root "$ROOT" save "$NAME" | "$DOCKER" load -q >/dev/null
fi
"$DOCKER" tag "$NAME" "$REG/$NAME"

# Forgets the compressed copies berth's pushes keep, so the next push compresses again (a first push).
berth_uncache() {
  node -e 'const D=require("better-sqlite3");const db=new D(process.argv[1]);db.prepare("DELETE FROM layer_compressions").run();db.close()' "$ROOT/berth.db"
  "$BERTH_BIN" --root "$ROOT" image prune -f >/dev/null # the copies' blobs, now unreferenced
}

# A field (size, digest) of the layer the registry holds after a push (what the tool sent).
pushed_layer() {
  curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REG/v2/bench/big-$KIND/manifests/1" |
    node -e 'let s="";process.stdin.on("data",(c)=>(s+=c)).on("end",()=>console.log(JSON.parse(s).layers[0][process.argv[1]]))' "$1"
}

cell_push() {
  reg_fresh
  case $1 in
  berth)
    berth_uncache
    timed "$BERTH_BIN" --root "$ROOT" push "$REG/$NAME"
    ;;
  berth-cached)
    # needs the copy a berth push made (when it runs first in a round, a push makes one)
    timed "$BERTH_BIN" --root "$ROOT" push "$REG/$NAME"
    reg_fresh
    timed "$BERTH_BIN" --root "$ROOT" push "$REG/$NAME"
    ;;
  skopeo) timed skopeo copy -q --dest-tls-verify=false "oci:$W/layout-$KIND:bench" "docker://$REG/$NAME" ;;
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
    # into an existing, empty store, as docker's cell pulls into its running daemon
    rm -rf "$W/pull-root"
    "$BERTH_BIN" --root "$W/pull-root" images >/dev/null
    timed "$BERTH_BIN" --root "$W/pull-root" pull "$REG/$NAME"
    ;;
  berth-new)
    # the pull creates the store (~10–20 ms more: its database, schema and layout files)
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
    timed curl -fsS -o "$W/pull-raw.bin" "http://$REG/v2/bench/big-$KIND/blobs/$PULL_LAYER"
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

TOOLS=(berth berth-cached skopeo docker raw)
: >"$W/times.txt"
for run in $(seq 1 "$RUNS"); do
  # rotate the order each round, so no tool always runs first (or after the same neighbour)
  order=("${TOOLS[@]:$((run % ${#TOOLS[@]}))}" "${TOOLS[@]:0:$((run % ${#TOOLS[@]}))}")
  for tool in "${order[@]}"; do
    cell_push "$tool"
    size=$([ "$tool" = raw ] && echo "$LAYER_SIZE" || pushed_layer size)
    log "run $run push $tool $SECS s ($size bytes)"
    echo "push $tool $SECS" >>"$W/times.txt"
    echo "size $tool $size" >>"$W/times.txt"
  done
  # every pull reads the same thing: the image as berth pushed it to an empty registry
  reg_fresh
  "$BERTH_BIN" --root "$ROOT" push "$REG/$NAME" >/dev/null
  PULL_LAYER=$(pushed_layer digest) # gzip'd by that push: what raw curl downloads too
  for tool in "${order[@]}"; do
    [ "$tool" = berth-cached ] && continue
    for cell in $([ "$tool" = berth ] && echo "berth berth-new" || echo "$tool"); do
      cell_pull "$cell"
      log "run $run pull $cell $SECS s"
      echo "pull $cell $SECS" >>"$W/times.txt"
    done
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
  let out = `n=${process.argv[3]} rounds, ${(mb).toFixed(0)} MB ${process.argv[4]} layer (uncompressed), medians in seconds (uncompressed MB/s)\n\n`;
  out += "| | berth | berth (copy cached) | skopeo | docker | raw curl | berth/skopeo | berth/docker | berth/raw |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const op of ["push", "pull"]) {
    const m = Object.fromEntries(["berth", "berth-cached", "skopeo", "docker", "raw"].map((t) => [t, med(op, t)]));
    const cell = (t) => (Number.isNaN(m[t]) || m[t] === undefined ? "-" : `${f(m[t])} (${(mb / m[t]).toFixed(0)})`);
    out += `| ${op} | ${cell("berth")} | ${cell("berth-cached")} | ${cell("skopeo")} | ${cell("docker")} | ${cell("raw")} | ${f(m.berth / m.skopeo)} | ${f(m.berth / m.docker)} | ${f(m.berth / m.raw)} |\n`;
  }
  const fresh = med("pull", "berth-new");
  out += `\npull into a store the pull creates: berth ${f(fresh)} s, berth/skopeo ${f(fresh / med("pull", "skopeo"))}, berth/raw ${f(fresh / med("pull", "raw"))}\n`;
  const mbOf = (t) => (med("size", t) / 1e6).toFixed(1);
  out += `\nlayer bytes in the registry (MB): berth ${mbOf("berth")}, skopeo ${mbOf("skopeo")}, docker ${mbOf("docker")}, raw ${mbOf("raw")}\n`;
  out += `\nre-push of the unchanged image: whole command ${f(med("repush", "command"))} s, network part (library push() in-process) ${med("repush", "network").toFixed(3)} s\n`;
  process.stdout.write(out);
' "$W/times.txt" "$LAYER_SIZE" "$RUNS" "$CONTENT" | tee "$W/results-$KIND.md"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$W/results-$KIND.md"

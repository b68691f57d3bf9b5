#!/usr/bin/env bash
# Registry server benchmark (issue 5): `berth serve` against Distribution's docker-registry
# (/usr/bin/docker-registry), both on loopback on this machine, measured interleaved by
# bench/registry-server.mjs. Writes bench/out/registry-server/registry-server.md (the table of
# medians and ratios) and results.json (every run).
#
#   bash bench/registry-server.sh            # ~6 minutes with the defaults
#
# Environment: BENCH_ROUNDS=3 (rounds per side), BENCH_WRK_SECONDS=8 (each wrk run),
# BENCH_BUILD=1 (build berth first), BENCH_KEEP=1 (keep both servers' data afterwards). Both servers log requests to files, as in production.
# The machine has 2 cores, shared with the load generator (wrk/undici) and other people's work:
# compare ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/registry-server
mkdir -p "$OUT"
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
[ "${BENCH_BUILD:-0}" = 1 ] && node scripts/build.mjs --no-types
# berth runs from a copy, so a rebuild by someone else during the run changes nothing measured
rm -rf "$OUT/berth" && mkdir -p "$OUT/berth" && cp -r bin dist package.json "$OUT/berth/"
ln -sfn "$PWD/node_modules" "$OUT/berth/node_modules"

port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
BERTH_PORT=$(port)
DIST_PORT=$(port)
rm -rf "$OUT/berth-root" "$OUT/dist-root" "$OUT/berth-access.log" "$OUT/dist-access.log"
mkdir -p "$OUT/dist-root"
cat >"$OUT/dist.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $PWD/$OUT/dist-root
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$DIST_PORT
YAML

# BENCH_WORKERS=N passes --workers N (default: berth's own, one process)
node "$OUT/berth/bin/berth" serve --addr "127.0.0.1:$BERTH_PORT" --root "$OUT/berth-root" \
  ${BENCH_WORKERS:+--workers "$BENCH_WORKERS"} --log-file "$OUT/berth-access.log" 2>"$OUT/berth.err" &
BERTH_PID=$!
/usr/bin/docker-registry serve "$OUT/dist.yml" >"$OUT/dist-access.log" 2>&1 &
DIST_PID=$!
# the two roots hold ~3 GB after a run: removed unless BENCH_KEEP=1
cleanup() {
  kill $BERTH_PID $DIST_PID 2>/dev/null || true
  [ "${BENCH_KEEP:-0}" = 1 ] || { sleep 1; rm -rf "$OUT/berth-root" "$OUT/dist-root"; }
}
trap cleanup EXIT
for u in "http://127.0.0.1:$BERTH_PORT/v2/" "http://127.0.0.1:$DIST_PORT/v2/"; do
  for _ in $(seq 1 100); do curl -sf "$u" >/dev/null && break; sleep 0.1; done
done
echo "berth pid $BERTH_PID port $BERTH_PORT, distribution pid $DIST_PID port $DIST_PORT; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/env.txt"
node bench/registry-server.mjs "$OUT" "berth=http://127.0.0.1:$BERTH_PORT=$BERTH_PID" \
  "distribution=http://127.0.0.1:$DIST_PORT=$DIST_PID"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt"

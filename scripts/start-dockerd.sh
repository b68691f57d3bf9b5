#!/usr/bin/env bash
# Starts a Docker engine for the compatibility tests when none answers. No bridge and no
# iptables: these machines have no network for containers, and the tests need none.
set -euo pipefail
docker=/usr/bin/docker
if "$docker" info >/dev/null 2>&1; then exit 0; fi
if [ ! -S /var/run/docker.sock ] || ! pgrep -x dockerd >/dev/null; then
  nohup dockerd --iptables=false --ip-masq=false --bridge=none >/tmp/berth-dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  "$docker" info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "start-dockerd: dockerd did not come up; see /tmp/berth-dockerd.log" >&2
tail -5 /tmp/berth-dockerd.log >&2 || true
exit 1

#!/usr/bin/env bash
# berth's main job on an example, offline: make a base image from busybox-static, build the
# Dockerfile in examples/hello on it, run the result, then list, inspect, save and load it,
# and share it through berth's own registry (serve, login, tag, push, pull), as the seeds do.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
berth="$here/../bin/berth"
export BERTH_ROOT=${BERTH_ROOT:-/tmp/berth-demo/store}
work=$(mktemp -d)
registry_pid=
trap 'if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

# A base image with no registry: a busybox-static root file system, imported.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in sh ls cat echo chmod mkdir; do ln -s busybox "$work/rootfs/bin/$applet"; done
echo "root:x:0:0:root:/root:/bin/sh" > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/rootfs.tar" .
SOURCE_DATE_EPOCH=0 "$berth" import "$work/rootfs.tar" demo/busybox:1.0 >/dev/null

echo "+ berth build -t vaishali/myapp:1.0 examples/hello"
"$berth" build -t vaishali/myapp:1.0 "$here/hello"
echo "+ berth run --rm vaishali/myapp:1.0"
"$berth" run --rm vaishali/myapp:1.0
echo "+ berth images"
"$berth" images
echo "+ berth history vaishali/myapp:1.0"
"$berth" history vaishali/myapp:1.0
echo "+ berth inspect --format '{{.Id}} {{.Config.Cmd}} {{.Size}}' vaishali/myapp:1.0"
"$berth" inspect --format '{{.Id}} {{.Config.Cmd}} {{.Size}}' vaishali/myapp:1.0
echo "+ berth save -o myapp.tar vaishali/myapp:1.0 && berth rmi vaishali/myapp:1.0 && berth load -i myapp.tar"
"$berth" save -o "$work/myapp.tar" vaishali/myapp:1.0
"$berth" rmi vaishali/myapp:1.0
"$berth" load -i "$work/myapp.tar"
echo "+ berth system df"
"$berth" system df

# The seeds' sharing workflow, against a registry with accounts on loopback.
port=$((20000 + RANDOM % 20000))
BERTH_ADMIN_PASSWORD=demo-admin-pw "$berth" serve --addr "127.0.0.1:$port" --root "$work/registry" --auth token \
  2>"$work/registry.log" &
registry_pid=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.2
done
"$berth" registry --root "$work/registry" user add amitpatil --password-stdin <<<"demo-user-pw" >/dev/null
export DOCKER_CONFIG="$work/docker-config"
echo "+ berth login 127.0.0.1:$port -u amitpatil --password-stdin"
"$berth" login "127.0.0.1:$port" -u amitpatil --password-stdin <<<"demo-user-pw"
echo "+ berth tag vaishali/myapp:1.0 127.0.0.1:$port/amitpatil/myapp:v1"
"$berth" tag vaishali/myapp:1.0 "127.0.0.1:$port/amitpatil/myapp:v1"
echo "+ berth push 127.0.0.1:$port/amitpatil/myapp:v1"
"$berth" push "127.0.0.1:$port/amitpatil/myapp:v1"
echo "+ berth rmi 127.0.0.1:$port/amitpatil/myapp:v1 && berth pull 127.0.0.1:$port/amitpatil/myapp:v1"
"$berth" rmi "127.0.0.1:$port/amitpatil/myapp:v1" >/dev/null
BERTH_ROOT="$work/other-store" "$berth" pull "127.0.0.1:$port/amitpatil/myapp:v1"
echo "+ berth run --rm 127.0.0.1:$port/amitpatil/myapp:v1   (in a second, empty store)"
BERTH_ROOT="$work/other-store" "$berth" run --rm "127.0.0.1:$port/amitpatil/myapp:v1"

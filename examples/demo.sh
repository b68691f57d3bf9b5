#!/usr/bin/env bash
# berth's main job on an example, offline: make a base image from busybox-static, then list,
# inspect, show the history of, save and load it again. (With the builder issue this becomes
# build-and-run.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
berth="$here/../bin/berth"
export BERTH_ROOT=${BERTH_ROOT:-/tmp/berth-demo/store}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in sh ls cat echo; do ln -s busybox "$work/rootfs/bin/$applet"; done
echo "hello from berth" > "$work/rootfs/etc/motd"
tar -C "$work/rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/rootfs.tar" .

echo "+ berth import --change 'CMD [\"cat\", \"/etc/motd\"]' rootfs.tar demo/busybox:1.0"
SOURCE_DATE_EPOCH=0 "$berth" import --change 'CMD ["cat", "/etc/motd"]' "$work/rootfs.tar" demo/busybox:1.0
echo "+ berth tag demo/busybox:1.0 vaishali/myapp:1.0"
"$berth" tag demo/busybox:1.0 vaishali/myapp:1.0
echo "+ berth images"
"$berth" images
echo "+ berth history vaishali/myapp:1.0"
"$berth" history vaishali/myapp:1.0
echo "+ berth inspect --format '{{.Id}} {{.Config.Cmd}} {{.Size}}' vaishali/myapp:1.0"
"$berth" inspect --format '{{.Id}} {{.Config.Cmd}} {{.Size}}' vaishali/myapp:1.0
echo "+ berth save -o myapp.tar vaishali/myapp:1.0 && berth rmi vaishali/myapp:1.0 demo/busybox:1.0 && berth load -i myapp.tar"
"$berth" save -o "$work/myapp.tar" vaishali/myapp:1.0
"$berth" rmi vaishali/myapp:1.0 demo/busybox:1.0
"$berth" load -i "$work/myapp.tar"
echo "+ berth system df"
"$berth" system df

#!/usr/bin/env bash
# Runs berth's whole test suite: sets the machine up (scripts/setup.sh), then every test file
# with node's test runner. Tests start the peers they need (dockerd, registries) themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/start-dockerd.sh
mapfile -t files < <(find src test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=2 --test-timeout=600000 "$@" "${files[@]}"

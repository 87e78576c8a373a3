#!/usr/bin/env bash
# The main job: build busctl and inspect this machine (read-only).
# Usage: run-busctl.sh [busctl arguments...]   (default: list)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bash "$top/tools/setup/bootstrap.sh" host
cmake -S "$top" -B "$top/build/busctl" -DUDRV_BUILD_TESTS=OFF -DUDRV_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$top/build/busctl" -j2 --target busctl >/dev/null
[ $# -gt 0 ] || set -- list
exec "$top/build/busctl/bin/busctl" "$@"

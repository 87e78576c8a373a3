#!/usr/bin/env bash
# Builds udrv for x86_64 and aarch64 and runs every test: unit tests on both
# architectures (aarch64 under qemu-user), host tools against lspci.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bash "$top/tools/setup/bootstrap.sh" all
build="$top/build/test"
cmake -S "$top" -B "$build" -DUDRV_CROSS_AARCH64=ON
cmake --build "$build" -j2
cd "$build"
# Two at a time (two guests boot side by side); benchmarks run alone (RUN_SERIAL).
exec ctest -j2 --output-on-failure --timeout 900

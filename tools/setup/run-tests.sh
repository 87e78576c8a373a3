#!/usr/bin/env bash
# Builds udrv for x86_64 and aarch64 and runs every test: unit tests on both
# architectures (aarch64 under qemu-user), host tools against lspci; then
# builds the fuzz tree (clang, libFuzzer) and runs each fuzz target for a
# bounded time. Fails if either test run fails.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bash "$top/tools/setup/bootstrap.sh" all
build="$top/build/test"
# Static libraries: the guests copy the programs of bin/ without udrv's
# shared libraries (an installed udrv is shared, the default).
cmake -S "$top" -B "$build" -DUDRV_CROSS_AARCH64=ON -DBUILD_SHARED_LIBS=OFF -DUDRV_PACKAGE_TESTS=ON
cmake --build "$build" -j2
# Two at a time (two guests boot side by side); benchmarks run alone (RUN_SERIAL).
tests=0
(cd "$build" && ctest -j2 --output-on-failure --timeout 900) || tests=$?

# The fuzz targets run after the rest, whatever it gave: each replays its
# regressions and seeds, then fuzzes for UDRV_FUZZ_SECONDS (docs/TESTING.md).
fuzz_build="$top/build/fuzz"
fuzz=0
{ cmake -S "$top" -B "$fuzz_build" -DUDRV_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-19 &&
  cmake --build "$fuzz_build" -j2 &&
  (cd "$fuzz_build" && ctest -j2 --output-on-failure); } || fuzz=$?

[ "$tests" -eq 0 ] || echo "run-tests: the unit, tool and guest tests failed" >&2
[ "$fuzz" -eq 0 ] || echo "run-tests: the fuzz tree failed to build or a fuzz target found a defect" >&2
[ "$tests" -eq 0 ] && [ "$fuzz" -eq 0 ]

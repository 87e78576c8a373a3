#!/usr/bin/env bash
# busctl --version reports the project's version twice: the one busctl was
# compiled with and the one libudrv-core (udrv::Version()) says it is.
# Usage: busctl_version_test.sh BUSCTL PROJECT_VERSION
set -euo pipefail
busctl=$1 version=$2
line=$("$busctl" --version)
expected="$(basename "$busctl") $version (libudrv-core $version)"
if [ "$line" != "$expected" ]; then
  echo "busctl --version printed: $line" >&2
  echo "expected:                 $expected" >&2
  exit 1
fi
echo "$line"

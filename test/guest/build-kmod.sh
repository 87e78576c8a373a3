#!/usr/bin/env bash
# Cross-builds udrv's UIO platform module (platform/kmod) for the cached
# aarch64 guest kernel, against the headers fetch-guest-packages.sh unpacks,
# into OUT/udrv_uio_platform.ko. Does nothing when OUT holds a build of the
# same sources for the same kernel.
# Usage: build-kmod.sh CACHE OUT
set -euo pipefail
cache=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$here/../../platform/kmod
version=$(cat "$cache/aarch64/kernel.version")
kdir=$cache/aarch64/headers/usr/src/linux-headers-$version
[ -f "$kdir/Makefile" ] || { echo "build-kmod: no headers for $version in $cache/aarch64/headers (the guest.fetch.aarch64 test fetches them)" >&2; exit 1; }
command -v aarch64-linux-gnu-gcc >/dev/null || { echo "build-kmod: aarch64-linux-gnu-gcc is not installed (gcc-aarch64-linux-gnu)" >&2; exit 1; }

stamp=$(cat "$src/udrv_uio_platform.c" "$src/Kbuild" "$src/Makefile" | sha256sum | cut -d' ' -f1)-$version
ko=$out/udrv_uio_platform.ko
[ -f "$ko" ] && [ "$(cat "$ko.stamp" 2>/dev/null)" = "$stamp" ] && exit 0

# Kbuild writes its objects next to the sources: build in a copy.
mkdir -p "$out"
build=$(mktemp -d "$out/build.XXXXXX")
trap 'rm -rf "$build"' EXIT
cp "$src/udrv_uio_platform.c" "$src/Kbuild" "$src/Makefile" "$build/"
make -s -C "$build" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- KDIR="$kdir" >"$build/log" 2>&1 \
  || { cat "$build/log" >&2; echo "build-kmod: the module does not build against $version" >&2; exit 1; }
# Concurrent guests may build the same module: each renames a whole file into place.
mv "$build/udrv_uio_platform.ko" "$ko.tmp.$$" && mv "$ko.tmp.$$" "$ko"
echo "$stamp" > "$ko.stamp.tmp.$$" && mv "$ko.stamp.tmp.$$" "$ko.stamp"

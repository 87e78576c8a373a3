#!/usr/bin/env bash
# Fetches and unpacks Debian's kernel and busybox-static for one guest
# architecture into CACHE/<arch>; does nothing when they are already there.
# Usage: fetch-guest-packages.sh CACHE x86_64|aarch64
# Leaves CACHE/<arch>/kernel.version naming the kernel ("6.1.0-56-amd64");
# x86_64 also gets CACHE/x86_64/usb-hwdb, lsusb's names (see below).
set -euo pipefail
mkdir -p "$1"
cache=$(cd "$1" && pwd)
arch=$2
case $arch in
  x86_64) debarch=amd64 ;;
  aarch64) debarch=arm64 ;;
  *) echo "fetch-guest-packages: unknown architecture '$arch'" >&2; exit 2 ;;
esac
dir=$cache/$arch
# lspci is the guests' oracle for PCI enumeration: x86_64 guests take the
# host's, arm64 ones Debian's pciutils with the libraries the host lacks.
fetch_arm64_pciutils() {
  [ "$arch" = aarch64 ] && [ ! -x "$dir/pciutils/usr/bin/lspci" ] || return 0
  local packages="pciutils libkmod2 liblzma5 libzstd1" package
  mkdir -p "$dir/debs" && cd "$dir/debs"
  apt-get download ${packages// /:arm64 }:arm64 >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get download ${packages// /:arm64 }:arm64; }
  rm -rf "$dir/pciutils"
  for package in $packages; do
    dpkg-deb -x "$package"_*_arm64.deb "$dir/pciutils"
    rm -f "$package"_*_arm64.deb
  done
  echo "fetch-guest-packages: arm64 lspci cached in $dir/pciutils"
}
# The arm64 kernel's headers and the host's kbuild tools of the same Debian
# version, for cross-building udrv's UIO platform module (build-kmod.sh).
# The headers' Makefile includes the -common tree by its absolute /usr/src
# path: pointed at the unpacked copy here.
fetch_arm64_kernel_headers() {
  [ "$arch" = aarch64 ] || return 0
  local version series host_arch deb_version deb
  version=$(cat "$dir/kernel.version")
  [ -f "$dir/headers/usr/src/linux-headers-$version/Makefile" ] && return 0
  series=${version%%.0-*}
  host_arch=$(dpkg --print-architecture)
  mkdir -p "$dir/debs" && cd "$dir/debs"
  rm -f linux-*.deb
  download "linux-headers-$version:arm64" "linux-headers-${version%-arm64}-common"
  deb_version=$(dpkg-deb -f linux-headers-"$version"_*_arm64.deb Version)
  download "linux-kbuild-$series:$host_arch=$deb_version"
  rm -rf "$dir/headers.tmp" "$dir/headers"
  for deb in linux-*.deb; do dpkg-deb -x "$deb" "$dir/headers.tmp"; done
  rm -f linux-*.deb
  sed -i "s#^include /usr/src/#include $dir/headers/usr/src/#" "$dir/headers.tmp/usr/src/linux-headers-$version/Makefile"
  mv "$dir/headers.tmp" "$dir/headers"
  echo "fetch-guest-packages: arm64 kernel headers $deb_version cached in $dir/headers"
}
# lsusb (usbutils 014) names vendors, products and classes from udev's
# hardware database, not from usb.ids: without a hwdb.bin it prints the
# devices' own strings instead. The x86_64 guests get a hwdb.bin compiled
# by Debian's systemd-hwdb from Debian's udev hwdb.d sources, only the USB
# ones (20-usb-vendor-model, 20-usb-classes: the only keys lsusb asks for).
fetch_x86_64_usb_hwdb() {
  [ "$arch" = x86_64 ] && [ ! -s "$dir/usb-hwdb/lib/udev/hwdb.bin" ] || return 0
  local work
  mkdir -p "$dir/debs" && cd "$dir/debs"
  rm -f udev_*.deb
  download udev:amd64
  work=$(mktemp -d "$dir/usb-hwdb.XXXXXX")
  dpkg-deb -x udev_*_amd64.deb "$work/udev"
  mkdir -p "$work/root/etc/udev/hwdb.d" "$work/root/lib/udev"
  cp "$work"/udev/lib/udev/hwdb.d/20-usb-*.hwdb "$work/root/etc/udev/hwdb.d/"
  "$work/udev/bin/systemd-hwdb" update --strict --root "$work/root"
  mkdir -p "$work/out/lib/udev"
  cp "$work/root/etc/udev/hwdb.bin" "$work/out/lib/udev/hwdb.bin"
  dpkg-deb -f udev_*_amd64.deb Version > "$work/out/udev.version"
  rm -rf "$dir/usb-hwdb"
  mv "$work/out" "$dir/usb-hwdb"
  rm -rf "$work" udev_*_amd64.deb
  echo "fetch-guest-packages: lsusb's hwdb.bin (udev $(cat "$dir/usb-hwdb/udev.version")) cached in $dir/usb-hwdb"
}
download() { apt-get download "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get download "$@"; }; }
if [ -s "$dir/kernel.version" ] && [ -x "$dir/busybox/bin/busybox" ]; then
  fetch_arm64_pciutils
  fetch_arm64_kernel_headers
  fetch_x86_64_usb_hwdb
  exit 0
fi

mkdir -p "$dir/debs"
# The kernel the metapackage points at today: ABI numbers move with security updates.
kernel_package() {
  apt-cache depends "linux-image-$debarch:$debarch" 2>/dev/null \
    | awk '/Depends: linux-image-[0-9]/ {print $2; exit}' | sed 's/:.*//'
}
package=$(kernel_package)
if [ -z "$package" ]; then
  apt-get update -q >/dev/null
  package=$(kernel_package)
fi
[ -n "$package" ] || { echo "fetch-guest-packages: apt knows no linux-image-$debarch (is the $debarch architecture added?)" >&2; exit 1; }

cd "$dir/debs"
download "$package:$debarch" "busybox-static:$debarch"
rm -rf "$dir/kernel" "$dir/busybox"
dpkg-deb -x linux-image-*_"$debarch".deb "$dir/kernel"
dpkg-deb -x busybox-static_*_"$debarch".deb "$dir/busybox"
rm -f "$dir/debs"/*.deb
version=${package#linux-image-}
[ -f "$dir/kernel/boot/vmlinuz-$version" ] || { echo "fetch-guest-packages: $package has no /boot/vmlinuz-$version" >&2; exit 1; }
echo "$version" > "$dir/kernel.version"
echo "fetch-guest-packages: $arch kernel $version cached in $dir"
fetch_arm64_pciutils
fetch_arm64_kernel_headers
fetch_x86_64_usb_hwdb

#!/usr/bin/env bash
# Installs what udrv needs from Debian 12's packages; a no-op when all of it
# is there. Usage: bootstrap.sh host|all
#   host: what building and running busctl needs
#   all:  also the aarch64 cross toolchain, qemu-user and the test tools
set -euo pipefail
profile=${1:-all}

host_packages=(build-essential cmake ccache pkg-config libpci-dev libfdt-dev libcli11-dev pciutils
               nlohmann-json3-dev libarchive-dev usb.ids scdoc bash-completion)
# scdoc renders the man pages at build time; bash-completion's helpers are
# what the installed completion (and its test) use.
# libfdt-dev is not multi-arch (it and libfdt-dev:arm64 replace each other):
# the aarch64 tree links libfdt1:arm64's libfdt.so.1 with the host's headers.
test_packages=(catch2 libbenchmark-dev valgrind g++-aarch64-linux-gnu gcc-aarch64-linux-gnu qemu-user-static
               libpci-dev:arm64 libfdt1:arm64 libarchive-dev:arm64 qemu-system-x86 qemu-system-arm cpio device-tree-compiler
               python3-jsonschema clang-19 libclang-rt-19-dev acpica-tools qemu-efi-aarch64 usbutils lintian file
               groff-base)

packages=("${host_packages[@]}")
[ "$profile" = all ] && packages+=("${test_packages[@]}")

# A package counts as installed for the architecture asked for (":arm64"),
# else for this machine's own or "all": with both libpci-dev and
# libpci-dev:arm64 installed, dpkg-query lists one line per architecture.
native=$(dpkg --print-architecture)
installed() {
  local name=${1%%:*} arch=${1#*:}
  [ "$arch" = "$1" ] && arch=$native
  dpkg-query -W -f='${Status} ${Architecture}\n' "$name" 2>/dev/null \
    | grep -Eqx "install ok installed ($arch|all)"
}
missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: missing packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi
need_arm64=0
for package in "${missing[@]}"; do [[ $package == *:arm64 ]] && need_arm64=1; done
if [ $need_arm64 -eq 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
fi
echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"

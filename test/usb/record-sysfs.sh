#!/usr/bin/env bash
# Records the USB devices of the testbed's x86_64 guest for host tests: boots
# the noiommu guest with test/guest/run-guest.sh, runs this script's guest
# half in it (sent as one plan line), and unpacks what it printed on the
# console into OUT/x86_64-q35/ (default test/usb/sysfs/x86_64-q35/):
#   sys/devices/.../usbN/...  every USB device and interface directory the
#       kernel made, with its regular attribute files (descriptors included)
#       and its `driver` link; subdirectories that are no device (power/,
#       ep_81/) left out; a root hub's host controller keeps only its
#       `driver` link (usbN/../driver, which lsusb -t names)
#   sys/bus/usb/devices/*     the links into sys/devices, as in the kernel
#   sys/bus/*/drivers/*       a directory per driver a link names
#   oracle/usb-devices        the kernel's own decoding of every descriptor
#                             (debugfs usb/devices)
#   oracle/lsusb, lsusb-v, lsusb-t   where the guest image has lsusb
# OUT/x86_64-q35 is replaced as a whole.
# Usage: record-sysfs.sh --cache DIR --work DIR [--out DIR]
#        record-sysfs.sh --guest   (the guest half: prints the archive)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
marker=udrv-usb-record

if [ "${1:-}" = --guest ]; then
  out=/tmp/usb-record
  rm -rf "$out"
  mkdir -p "$out/oracle"
  [ -d /sys/bus/usb/devices ] || { echo "$marker: no /sys/bus/usb/devices (usbcore not loaded?)" >&2; exit 1; }
  for link in /sys/bus/usb/devices/*; do
    name=${link##*/}
    real=$(readlink -f "$link")
    mkdir -p "$out$real" "$out/sys/bus/usb/devices"
    ln -s "$(readlink "$link")" "$out/sys/bus/usb/devices/$name"
    for path in "$real"/*; do
      if [ -L "$path" ]; then
        [ "${path##*/}" = driver ] || continue
        ln -s "$(readlink "$path")" "$out$path"
        mkdir -p "$out/sys/bus/usb/drivers/$(basename "$(readlink "$path")")"
      elif [ -f "$path" ]; then
        # Write-only attributes (remove) cannot be read: left out.
        cat "$path" > "$out$path" 2>/dev/null || rm -f "$out$path"
      fi
    done
    # A root hub's parent is its host controller: lsusb -t names that one's driver.
    controller=${real%/*}
    if [ "${name#usb}" != "$name" ] && [ -L "$controller/driver" ]; then
      ln -s "$(readlink "$controller/driver")" "$out$controller/driver"
      mkdir -p "$out$(readlink -f "$controller/driver")"
    fi
  done
  if [ ! -d /sys/kernel/debug/usb ]; then
    mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
  fi
  if [ -f /sys/kernel/debug/usb/devices ]; then
    cat /sys/kernel/debug/usb/devices > "$out/oracle/usb-devices"
  fi
  if command -v lsusb >/dev/null; then
    lsusb > "$out/oracle/lsusb"
    lsusb -v > "$out/oracle/lsusb-v" 2>&1 || true
    lsusb -t > "$out/oracle/lsusb-t"
  fi
  uname -r > "$out/oracle/kernel"
  tar -C "$out" -czf /tmp/usb-record.tar.gz .
  digest=$(sha256sum /tmp/usb-record.tar.gz | cut -d' ' -f1)
  bytes=$(wc -c < /tmp/usb-record.tar.gz)
  # The host checks the digest: a kernel message inside the block fails
  # the recording instead of spoiling it.
  echo "$marker: begin"
  base64 /tmp/usb-record.tar.gz
  echo "$marker: end $digest $bytes"
  exit 0
fi

out=$here/sysfs
while [ $# -gt 0 ]; do
  case $1 in
    --cache) cache=$2 ;; --work) work=$2 ;; --out) out=$2 ;;
    *) echo "record-sysfs: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift 2
done
[ -n "${cache:-}" ] && [ -n "${work:-}" ] || { echo "usage: record-sysfs.sh --cache DIR --work DIR [--out DIR]" >&2; exit 2; }

machine=x86_64-q35
name=usb-record
mkdir -p "$work/bindir"
cp "$cache/x86_64/busybox/bin/busybox" "$work/bindir/"
# The guest image holds only programs: the script travels in the plan line.
printf 'usb-record\techo %s | base64 -d | gunzip > /tmp/r.sh && sh /tmp/r.sh --guest\n' \
  "$(sed 's/^set -euo pipefail$/set -eu/' "$0" | gzip -9 | base64 -w0)" > "$work/$name.plan"
"$here/../guest/run-guest.sh" --arch x86_64 --machine noiommu --plan "$work/$name.plan" \
  --bindir "$work/bindir" --cache "$cache" --work "$work" --name "$name" --timeout 300
log=$work/$name/serial.log
tr -d '\r' < "$log" | sed -n "/^$marker: begin\$/,/^$marker: end /p" > "$work/$name.block"
read -r _ _ digest bytes < <(tail -1 "$work/$name.block")
sed '1d;$d' "$work/$name.block" | base64 -d > "$work/$name.tar.gz"
echo "$digest  $work/$name.tar.gz" | sha256sum -c --quiet \
  || { echo "record-sysfs: the block in $log is damaged (a kernel message in it?); record again" >&2; exit 1; }
[ "$(stat -c %s "$work/$name.tar.gz")" = "$bytes" ] || { echo "record-sysfs: size differs" >&2; exit 1; }
rm -rf "${out:?}/$machine"
mkdir -p "$out/$machine"
tar -C "$out/$machine" -xzf "$work/$name.tar.gz"
echo "record-sysfs: $(ls "$out/$machine/sys/bus/usb/devices" | wc -l) USB devices and interfaces," \
     "kernel $(cat "$out/$machine/oracle/kernel") in $out/$machine"

#!/usr/bin/env bash
# Records the ACPI firmware of the testbed's guests for host tests: boots
# each named machine with test/guest/run-guest.sh, runs udrv-acpi-record
# (test/guest/acpi-record.sh) in it, and unpacks what it printed on the
# console into OUT/MACHINE/: the tables as /sys/firmware/acpi/tables names
# them (DSDT, FACP, APIC, SSDT1, dynamic/...) and kernel/, the guest
# kernel's view of them mirrored as files (kernel/sys/bus/acpi/devices/NAME/
# {path,hid,uid,adr,status,modalias}, physical_node.link holding the link's
# text, kernel/sys/bus/pnp/devices/..., kernel/proc/{iomem,ioports}).
# OUT/MACHINE is replaced as a whole. Update OUT/README with the versions.
# Machines: x86_64-q35 (the noiommu guest, booted with hpet=disable as its
# ctest run is), aarch64-virt (the acpi guest: virt with UEFI).
# Usage: record-firmware.sh --cache DIR --work DIR [--out DIR] [--bindir-x86_64 DIR]
#                           [--bindir-aarch64 DIR] MACHINE...
# A bindir is only what the initramfs builder wants to find programs in;
# the recording uses none of them. Without one, the cached busybox stands in.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/firmware
declare -A bindirs=()
machines=()
while [ $# -gt 0 ]; do
  case $1 in
    --cache) cache=$2; shift ;; --work) work=$2; shift ;; --out) out=$2; shift ;;
    --bindir-x86_64) bindirs[x86_64]=$2; shift ;; --bindir-aarch64) bindirs[aarch64]=$2; shift ;;
    -*) echo "record-firmware: unknown option '$1'" >&2; exit 2 ;;
    *) machines+=("$1") ;;
  esac
  shift
done
[ -n "${cache:-}" ] && [ -n "${work:-}" ] && [ ${#machines[@]} -gt 0 ] \
  || { echo "usage: record-firmware.sh --cache DIR --work DIR [--out DIR] MACHINE..." >&2; exit 2; }

mkdir -p "$work"
for machine in "${machines[@]}"; do
  case $machine in
    x86_64-q35) arch=x86_64 guest=(--machine noiommu --append hpet=disable) ;;
    aarch64-virt) arch=aarch64 guest=(--machine acpi) ;;
    *) echo "record-firmware: no machine '$machine' (x86_64-q35, aarch64-virt)" >&2; exit 2 ;;
  esac
  bindir=${bindirs[$arch]:-}
  if [ -z "$bindir" ]; then
    bindir=$work/bindir-$arch
    mkdir -p "$bindir"
    cp "$cache/$arch/busybox/bin/busybox" "$bindir/"
  fi
  name=record-$machine
  printf 'acpi-record\tudrv-acpi-record\n' > "$work/$name.plan"
  "$here/../guest/run-guest.sh" --arch "$arch" "${guest[@]}" --plan "$work/$name.plan" \
    --bindir "$bindir" --cache "$cache" --work "$work" --name "$name" --timeout 300
  log=$work/$name/serial.log
  tr -d '\r' < "$log" | sed -n '/^udrv-acpi-record: begin$/,/^udrv-acpi-record: end /p' > "$work/$name.block"
  read -r _ _ digest bytes < <(tail -1 "$work/$name.block")
  sed '1d;$d' "$work/$name.block" | base64 -d > "$work/$name.tar.gz"
  echo "$digest  $work/$name.tar.gz" | sha256sum -c --quiet \
    || { echo "record-firmware: $machine: the block in $log is damaged (a kernel message in it?); record again" >&2; exit 1; }
  [ "$(stat -c %s "$work/$name.tar.gz")" = "$bytes" ] || { echo "record-firmware: $machine: size differs" >&2; exit 1; }
  rm -rf "${out:?}/$machine"
  mkdir -p "$out/$machine"
  tar -C "$out/$machine" -xzf "$work/$name.tar.gz"
  echo "record-firmware: $machine: $(find "$out/$machine" -maxdepth 2 -type f -not -path '*/kernel/*' | wc -l) tables," \
       "$(ls "$out/$machine/kernel/sys/bus/acpi/devices" | wc -l) ACPI devices," \
       "kernel $(grep -a -o 'udrv-guest: kernel [^ ]*' "$log" | cut -d' ' -f3) in $out/$machine"
done

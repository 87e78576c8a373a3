#!/bin/sh
# Records the PCI part of a sysfs tree as plain files, for tests that compare
# udrv's enumeration with lspci on the same tree (lspci -A linux-sysfs
# -O sysfs.path=DEST/bus/pci). For every PCI function it copies the
# attributes SysfsPci and libpci read, keeps the kernel's directory nesting
# (devices/pci0000:00/<bridge>/<function>, which says who the parent bridge
# is) and remakes the bus/pci/devices, driver and iommu_group links with the
# kernel's own relative targets. Reads only; config as much as the reader may
# (64 bytes unprivileged, 256/4096 as root). POSIX sh: runs under busybox.
# Usage: record-sysfs-tree.sh SRC_SYSFS DEST   (SRC_SYSFS is /sys on a live system)
set -eu
[ $# -eq 2 ] || { echo "usage: $0 SRC_SYSFS DEST" >&2; exit 2; }
src=$(cd "$1" && pwd -P)
dest=$2
[ -d "$src/bus/pci/devices" ] || { echo "record-sysfs-tree: $src has no bus/pci/devices" >&2; exit 1; }
[ ! -e "$dest" ] || { echo "record-sysfs-tree: $dest exists; record into a new directory" >&2; exit 1; }
mkdir -p "$dest/bus/pci/devices" "$dest/bus/pci/drivers"

attributes="vendor device subsystem_vendor subsystem_device class revision irq numa_node resource config driver_override"

for link in "$src"/bus/pci/devices/*; do
  [ -e "$link" ] || continue
  address=${link##*/}
  real=$(cd "$link" && pwd -P)
  rel=${real#"$src"/}
  mkdir -p "$dest/$rel"
  for attribute in $attributes; do
    # cat, not cp: sysfs reports 4096 bytes for files that hold a line.
    [ -r "$real/$attribute" ] && cat "$real/$attribute" > "$dest/$rel/$attribute" 2>/dev/null || true
  done
  ln -s "$(readlink "$link")" "$dest/bus/pci/devices/$address"
  if [ -L "$real/driver" ]; then
    target=$(readlink "$real/driver")
    mkdir -p "$dest/bus/pci/drivers/${target##*/}"
    # A file as in the kernel's driver directory, so git keeps the directory
    # and the driver link does not dangle in a clone.
    : > "$dest/bus/pci/drivers/${target##*/}/uevent"
    ln -s "$target" "$dest/$rel/driver"
  fi
  if [ -L "$real/iommu_group" ]; then
    ln -s "$(readlink "$real/iommu_group")" "$dest/$rel/iommu_group"
  fi
done

# The groups with their member links (targets relative, as the kernel's).
if [ -d "$src/kernel/iommu_groups" ]; then
  for group in "$src"/kernel/iommu_groups/*; do
    [ -d "$group/devices" ] || continue
    mkdir -p "$dest/kernel/iommu_groups/${group##*/}/devices"
    for member in "$group"/devices/*; do
      [ -L "$member" ] || continue
      ln -s "$(readlink "$member")" "$dest/kernel/iommu_groups/${group##*/}/devices/${member##*/}"
    done
  done
fi
echo "record-sysfs-tree: $(ls "$dest/bus/pci/devices" | wc -l) PCI functions from $src recorded in $dest"

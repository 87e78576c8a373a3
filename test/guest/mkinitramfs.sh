#!/usr/bin/env bash
# Builds a testbed initramfs: busybox, the VFIO/UIO modules of the cached
# Debian kernel, every program in BINDIR (stripped) with its shared-library
# closure, the plan, guest-init.sh as /init, and the guest's shell helpers
# as /udrv/bin/udrv-* (guest-request.sh: udrv-guest-request,
# net-traffic-run.sh: udrv-net-traffic-run, net-bench.sh: udrv-net-bench,
# usb-bench.sh: udrv-usb-bench,
# acpi-record.sh: udrv-acpi-record);
# with KMOD, udrv's own kernel modules (*.ko there) in /udrv/kmod, not
# loaded: the tests load them.
# Kernel drivers the tests load themselves (x86_64: Linux's e1000e, for the
# NIC udrv does not drive) lie in /lib/modules beside the others but are
# not in /udrv/modules.
# Usage: mkinitramfs.sh ARCH CACHE BINDIR PLAN OUT [KMOD]
set -euo pipefail
arch=$1 cache=$2 bindir=$3 plan=$4 out=$5 kmod=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$cache/$arch/kernel.version")
kernel=$cache/$arch/kernel
case $arch in
  x86_64) triple=x86_64-linux-gnu; strip=strip; lspci=/usr/bin/lspci; extra_root=
          modules="virt/lib/irqbypass drivers/vfio/vfio drivers/vfio/vfio_iommu_type1 drivers/vfio/vfio_virqfd drivers/vfio/pci/vfio-pci-core drivers/vfio/pci/vfio-pci drivers/uio/uio drivers/uio/uio_pci_generic"
          # USB: the xHCI controller, usb-storage with sd_mod (the oracle's
          # /dev/sda) and its CRC dependencies, and HID for the keyboard and
          # tablet, in dependency order.
          modules+=" drivers/usb/common/usb-common drivers/usb/core/usbcore drivers/usb/host/xhci-hcd drivers/usb/host/xhci-pci
                    drivers/scsi/scsi_common drivers/scsi/scsi_mod drivers/usb/storage/usb-storage
                    crypto/crct10dif_common crypto/crct10dif_generic lib/crc-t10dif lib/crc64 lib/crc64-rocksoft block/t10-pi drivers/scsi/sd_mod
                    drivers/hid/hid drivers/hid/usbhid/usbhid drivers/hid/hid-generic"
          idle_modules="drivers/net/ethernet/intel/e1000e/e1000e" ;;
  aarch64) triple=aarch64-linux-gnu; strip=aarch64-linux-gnu-strip
          lspci=$cache/aarch64/pciutils/usr/bin/lspci; extra_root=$cache/aarch64/pciutils
          modules="drivers/vfio/vfio drivers/vfio/vfio_iommu_type1 drivers/vfio/vfio_virqfd drivers/vfio/pci/vfio-pci-core drivers/vfio/pci/vfio-pci drivers/uio/uio drivers/uio/uio_pci_generic"
          idle_modules= ;;
  *) echo "mkinitramfs: unknown architecture '$arch'" >&2; exit 2 ;;
esac

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# mktemp makes the directory 0700; as the guest's / it would keep every
# user but root out (the isolated driver hosts run as other uids).
chmod 755 "$root"
mkdir -p "$root"/{bin,lib/modules,udrv/bin}
cp "$cache/$arch/busybox/bin/busybox" "$root/bin/busybox"
cp "$here/guest-init.sh" "$root/init"
chmod 755 "$root/init"
cp "$plan" "$root/udrv/plan"
for helper in guest-request net-traffic-run net-bench usb-bench acpi-record; do
  cp "$here/$helper.sh" "$root/udrv/bin/udrv-$helper"
  chmod 755 "$root/udrv/bin/udrv-$helper"
done

: > "$root/udrv/modules"
for module in $modules $idle_modules; do
  file=$kernel/lib/modules/$version/kernel/$module.ko
  [ -f "$file" ] || { echo "mkinitramfs: $version has no $module.ko" >&2; exit 1; }
  cp "$file" "$root/lib/modules/"
done
# usb-storage waits a second before it scans a disk unless told not to.
for module in $modules; do
  case $(basename "$module") in
    usb-storage) echo "usb-storage delay_use=0" ;;
    *) basename "$module" ;;
  esac
done >> "$root/udrv/modules"

if [ -n "$kmod" ]; then
  mkdir -p "$root/udrv/kmod"
  for module in "$kmod"/*.ko; do
    [ -f "$module" ] || { echo "mkinitramfs: no modules in $kmod" >&2; exit 1; }
    "$strip" --strip-debug -o "$root/udrv/kmod/$(basename "$module")" "$module"
  done
fi

# Copies a library (and, recursively, what it needs) to the same path in the guest.
declare -A copied=()
copy_closure() {
  local elf=$1 name path interp dest
  interp=$(readelf -l "$elf" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
  if [ -n "$interp" ] && [ -z "${copied[$interp]:-}" ]; then
    copied[$interp]=1
    mkdir -p "$root$(dirname "$interp")"
    cp -L "$interp" "$root$interp"
  fi
  for name in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -n "${copied[$name]:-}" ] && continue
    case $name in
      libudrv-*)
        echo "mkinitramfs: $elf needs udrv's shared $name: the guests take static programs" \
             "(configure the tree with -DBUILD_SHARED_LIBS=OFF, as tools/setup/run-tests.sh does)" >&2
        exit 1 ;;
    esac
    path=
    for dir in /lib/$triple /usr/lib/$triple /usr/$triple/lib \
               ${extra_root:+$extra_root/lib/$triple $extra_root/usr/lib/$triple}; do
      [ -e "$dir/$name" ] && { path=$dir/$name; break; }
    done
    [ -n "$path" ] || { echo "mkinitramfs: $elf needs $name, not found for $triple" >&2; exit 1; }
    copied[$name]=1
    # Libraries unpacked from packages land where the package puts them.
    dest=${path#"$extra_root"}
    mkdir -p "$root$(dirname "$dest")"
    cp -L "$path" "$root$dest"
    copy_closure "$path"
  done
}

# lspci and pci.ids: the guests' oracle for PCI enumeration.
[ -x "$lspci" ] || { echo "mkinitramfs: no $arch lspci at $lspci (fetch-guest-packages.sh fetches it)" >&2; exit 1; }
mkdir -p "$root/usr/bin" "$root/usr/share/misc"
cp "$lspci" "$root/usr/bin/lspci"
cp /usr/share/misc/pci.ids "$root/usr/share/misc/pci.ids"
copy_closure "$lspci"

# lsusb, the guests' oracle for USB, with the udev hwdb it takes names from
# (fetch-guest-packages.sh builds it) and usb.ids for busctl's names.
if [ "$arch" = x86_64 ]; then
  hwdb=$cache/x86_64/usb-hwdb/lib/udev/hwdb.bin
  [ -s "$hwdb" ] || { echo "mkinitramfs: no lsusb hwdb at $hwdb (fetch-guest-packages.sh builds it)" >&2; exit 1; }
  [ -x /usr/bin/lsusb ] || { echo "mkinitramfs: no /usr/bin/lsusb (tools/setup/bootstrap.sh installs usbutils)" >&2; exit 1; }
  mkdir -p "$root/lib/udev"
  cp /usr/bin/lsusb "$root/usr/bin/lsusb"
  cp "$hwdb" "$root/lib/udev/hwdb.bin"
  cp -L /usr/share/misc/usb.ids "$root/usr/share/misc/usb.ids"
  copy_closure /usr/bin/lsusb
fi

found=0
for program in "$bindir"/*; do
  [ -f "$program" ] && [ -x "$program" ] || continue
  readelf -h "$program" >/dev/null 2>&1 || continue
  "$strip" --strip-debug -o "$root/udrv/bin/$(basename "$program")" "$program"
  copy_closure "$program"
  found=$((found + 1))
done
[ $found -gt 0 ] || { echo "mkinitramfs: no programs in $bindir" >&2; exit 1; }

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"

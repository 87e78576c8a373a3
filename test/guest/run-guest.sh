#!/usr/bin/env bash
# Host side of a guest test: builds the initramfs, boots one QEMU guest of the
# testbed under a timeout, and turns the guest's closing line into the exit
# status. The serial log stays in WORK/NAME/serial.log.
# Usage: run-guest.sh --arch x86_64|aarch64 --machine iommu|noiommu --plan FILE
#                     --bindir DIR --cache DIR --work DIR --name NAME [--timeout S]
#                     [--memory MIB] [--append "KERNEL ARGS"]
# --memory: guest RAM (default 768); --append: added to the kernel command line
# (e.g. "hugepagesz=1G hugepages=1", which needs --memory 3584: see TESTING.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
timeout_s=420
memory_mib=768
extra_append=
while [ $# -gt 0 ]; do
  case $1 in
    --arch) arch=$2 ;; --machine) machine=$2 ;; --plan) plan=$2 ;; --bindir) bindir=$2 ;;
    --cache) cache=$2 ;; --work) work=$2 ;; --name) name=$2 ;; --timeout) timeout_s=$2 ;;
    --memory) memory_mib=$2 ;; --append) extra_append=$2 ;;
    *) echo "run-guest: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift 2
done

fail() { echo "FAIL: guest $name: $*"; exit 1; }
case $arch in
  x86_64) qemu=qemu-system-x86_64 ;;
  aarch64) qemu=qemu-system-aarch64 ;;
  *) fail "unknown architecture '$arch'" ;;
esac
command -v "$qemu" >/dev/null || fail "$qemu is not installed (Debian package qemu-system-${arch/x86_64/x86}; aarch64: qemu-system-arm)"
[ -d "$bindir" ] || fail "no $arch programs in $bindir (the aarch64 tree is built with -DUDRV_CROSS_AARCH64=ON)"
[ -s "$cache/$arch/kernel.version" ] || fail "no $arch kernel in $cache (the guest.fetch.$arch test fetches it)"

dir=$work/$name
mkdir -p "$dir"
version=$(cat "$cache/$arch/kernel.version")
# udrv's UIO platform module, for the aarch64 guests' platform devices.
kmod=
if [ "$arch" = aarch64 ]; then
  kmod=$work/kmod-$arch
  "$here/build-kmod.sh" "$cache" "$kmod" || fail "the UIO platform module does not build"
fi
"$here/mkinitramfs.sh" "$arch" "$cache" "$bindir" "$plan" "$dir/initrd.gz" $kmod || fail "initramfs build failed"
tests=$(grep -c . "$plan")

# Disks of known content for the storage devices: a text marker in the first
# sector, then zeros. Remade when missing.
images=$cache/images
mkdir -p "$images"
for disk in nvme usb; do
  if [ ! -s "$images/$disk.img" ]; then
    truncate -s 8M "$images/$disk.img.tmp"
    printf 'UDRV-TESTBED-%s-DISK\n' "$disk" | dd of="$images/$disk.img.tmp" conv=notrunc status=none
    mv "$images/$disk.img.tmp" "$images/$disk.img"
  fi
done

kernel=$cache/$arch/kernel/boot/vmlinuz-$version
append="quiet panic=-1 hugepagesz=2M hugepages=16${extra_append:+ $extra_append}"
args=(-nographic -no-reboot -m "$memory_mib" -smp 1 -net none -kernel "$kernel" -initrd "$dir/initrd.gz")
case $arch/$machine in
  x86_64/iommu|x86_64/noiommu)
    args+=(-accel tcg -cpu max -machine q35,kernel-irqchip=split)
    [ "$machine" = iommu ] && { args+=(-device intel-iommu,intremap=on,caching-mode=on); append+=" intel_iommu=on"; }
    args+=(-device edu -device e1000e
           -drive "file=$images/nvme.img,if=none,id=nvme0,format=raw,snapshot=on" -device nvme,serial=udrv-nvme-0,drive=nvme0
           -device qemu-xhci,id=xhci
           -drive "file=$images/usb.img,if=none,id=usb0,format=raw,snapshot=on" -device usb-storage,bus=xhci.0,drive=usb0)
    append+=" console=ttyS0" ;;
  aarch64/iommu)
    # GICv3 brings the ITS that SMMUv3 needs for MSI remapping (VFIO_SET_IOMMU is EPERM without).
    args+=(-machine virt,iommu=smmuv3,gic-version=3 -cpu max -device edu)
    append+=" console=ttyAMA0" ;;
  *) fail "no machine '$machine' for $arch" ;;
esac

log=$dir/serial.log
start=$(date +%s.%N)
set +e
timeout --kill-after=10 "$timeout_s" "$qemu" "${args[@]}" -append "$append" > "$log" 2>&1
qemu_status=$?
set -e
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
grep -a -o 'udrv-guest:.*' "$log" | tr -d '\r' || true

if [ $qemu_status -eq 124 ] || [ $qemu_status -eq 137 ]; then
  tail -30 "$log"
  fail "timed out after ${timeout_s}s; log: $log"
fi
closing=$(grep -a -o 'udrv-guest: [0-9]* passed, [0-9]* failed' "$log" | tail -1 || true)
[ -n "$closing" ] || { tail -30 "$log"; fail "no closing line (qemu exit $qemu_status); log: $log"; }
read -r passed failed < <(echo "$closing" | sed 's/udrv-guest: \([0-9]*\) passed, \([0-9]*\) failed/\1 \2/')
[ "$failed" -eq 0 ] || { tail -60 "$log"; fail "$failed of $tests failed; log: $log"; }
[ "$passed" -eq "$tests" ] || fail "only $passed of $tests tests reported; log: $log"
echo "guest $name: $passed passed, 0 failed in ${elapsed}s (kernel $version)"

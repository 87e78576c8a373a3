#!/usr/bin/env bash
# Host side of a guest test: builds the initramfs, boots one QEMU guest of the
# testbed under a timeout, and turns the guest's closing line into the exit
# status. The serial log stays in WORK/NAME/serial.log.
# Guest requests: a console line "udrv-guest-request: set_link NIC on|off"
# or "udrv-guest-request: system_powerdown" (udrv-guest-request in the guest
# prints it) becomes that command on QEMU's monitor, once per line; what was
# done is in WORK/NAME/monitor.log.
# Usage: run-guest.sh --arch x86_64|aarch64 --machine MACHINE --plan FILE
#                     --bindir DIR --cache DIR --work DIR --name NAME [--timeout S]
#                     [--memory MIB] [--append "KERNEL ARGS"]
# Machines: x86_64 iommu, noiommu (q35); aarch64 iommu (virt + SMMUv3),
# nested (the same virt with pl031/pl061 moved behind nested buses: see
# nest-virt-dts.py), acpi (virt with UEFI firmware: ACPI, no device tree),
# raspi3b (Debian's bcm2837-rpi-3-b.dtb; 1 GiB fixed).
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
args=(-nographic -no-reboot -m "$memory_mib" -smp 1 -kernel "$kernel" -initrd "$dir/initrd.gz")
case $arch/$machine in
  x86_64/iommu|x86_64/noiommu)
    args+=(-accel tcg -cpu max -machine q35,kernel-irqchip=split)
    [ "$machine" = iommu ] && { args+=(-device intel-iommu,intremap=on,caching-mode=on); append+=" intel_iommu=on"; }
    # Two e1000e NICs on one hub: udrv drives nic0 (00:03.0, where the single
    # NIC was), Linux's e1000e the other. nic1 sits at 00:06.0, after the
    # devices that were there before, so their addresses stay (ICH9's 1f.x
    # group is 7 now: groups are numbered in address order).
    args+=(-device edu
           -netdev hubport,id=p0,hubid=0 -device e1000e,netdev=p0,id=nic0,addr=03.0
           -drive "file=$images/nvme.img,if=none,id=nvme0,format=raw,snapshot=on" -device nvme,serial=udrv-nvme-0,drive=nvme0
           -device qemu-xhci,id=xhci
           -drive "file=$images/usb.img,if=none,id=usb0,format=raw,snapshot=on" -device usb-storage,bus=xhci.0,drive=usb0
           -device usb-kbd,bus=xhci.0 -device usb-tablet,bus=xhci.0
           -netdev hubport,id=p1,hubid=0 -device e1000e,netdev=p1,id=nic1,addr=06.0)
    append+=" console=ttyS0" ;;
  aarch64/iommu|aarch64/nested)
    # GICv3 brings the ITS that SMMUv3 needs for MSI remapping (VFIO_SET_IOMMU is EPERM without).
    machine_options=virt,iommu=smmuv3,gic-version=3
    args+=(-net none -cpu max -device edu)
    if [ "$machine" = nested ]; then
      # virt's own tree, dumped with the very options it boots with, then nested.
      command -v dtc >/dev/null || fail "dtc is not installed (Debian package device-tree-compiler)"
      "$qemu" "${args[@]}" -machine "$machine_options,dumpdtb=$dir/virt.dtb" > "$dir/dumpdtb.log" 2>&1 \
        || { cat "$dir/dumpdtb.log"; fail "qemu could not dump virt's device tree"; }
      dtc -q -I dtb -O dts -o "$dir/virt.dts" "$dir/virt.dtb" || fail "dtc cannot read virt's device tree"
      "$here/nest-virt-dts.py" < "$dir/virt.dts" > "$dir/nested.dts" || fail "virt's device tree could not be nested"
      dtc -q -I dts -O dtb -o "$dir/nested.dtb" "$dir/nested.dts" || fail "dtc cannot compile $dir/nested.dts"
      args+=(-dtb "$dir/nested.dtb")
    fi
    args+=(-machine "$machine_options")
    append+=" console=ttyAMA0" ;;
  aarch64/acpi)
    # virt booted through UEFI (edk2), which hands Linux QEMU's ACPI tables
    # instead of a device tree: the ACPI bus's guest.
    firmware=/usr/share/qemu-efi-aarch64/QEMU_EFI.fd
    [ -f "$firmware" ] || fail "no $firmware (Debian package qemu-efi-aarch64)"
    args+=(-net none -cpu max -machine virt,gic-version=3 -bios "$firmware")
    append+=" acpi=force console=ttyAMA0" ;;
  aarch64/raspi3b)
    # The board's 1 GiB and 4 cores are fixed; Debian's kernel brings the board's tree.
    dtb=$cache/$arch/kernel/usr/lib/linux-image-$version/broadcom/bcm2837-rpi-3-b.dtb
    [ -f "$dtb" ] || fail "the $version package has no $dtb"
    args=(-nographic -no-reboot -m 1G -net none -kernel "$kernel" -initrd "$dir/initrd.gz"
          -machine raspi3b -dtb "$dtb")
    append+=" console=ttyAMA0,115200 earlycon=pl011,0x3f201000" ;;
  *) fail "no machine '$machine' for $arch" ;;
esac

# The monitor's socket in a short directory of its own: a unix socket's
# path has at most 107 bytes, and WORK may be deep.
monitor_dir=$(mktemp -d /tmp/udrv-monitor.XXXXXX)
trap 'rm -rf "$monitor_dir"' EXIT
monitor=$monitor_dir/monitor.sock
args+=(-monitor "unix:$monitor,server=on,wait=off")

log=$dir/serial.log
closing_pattern='udrv-guest: [0-9]* passed, [0-9]* failed'
# What udrv-guest-request prints (guest-request.sh). A line still being
# written cannot match: its last word is on or off, and "o" or "of" is
# neither.
# The guest is not trusted with more: only set_link with a short NIC name,
# system_powerdown (the ACPI power button's event, which a guest test takes
# at the GED with the kernel's driver unbound; the guest's kernel only
# reports it as a key press), and at most max_requests of them (each
# starts a monitor client).
request_pattern='udrv-guest-request: (set_link [A-Za-z0-9_.-]{1,32} (on|off)|system_powerdown)$'
max_requests=64
requests_handled=0
requests_failed=0
: > "$dir/monitor.log"
# Carries out the requests in the log not handled yet, in order.
handle_requests() {
  local requests request answer
  mapfile -t requests < <(tr -d '\r' < "$log" | grep -a -o -E "$request_pattern" || true)
  while [ "$requests_handled" -lt "${#requests[@]}" ]; do
    request=${requests[$requests_handled]#udrv-guest-request: }
    requests_handled=$((requests_handled + 1))
    if [ "$requests_handled" -gt "$max_requests" ]; then
      requests_failed=$((requests_failed + 1))
      echo "run-guest: guest request $requests_handled: $request: REFUSED: more than $max_requests requests" | tee -a "$dir/monitor.log"
      continue
    fi
    # shellcheck disable=SC2086 # the request's words are the command's
    if answer=$("$here/qemu-monitor.py" "$monitor" $request 2>&1); then
      echo "run-guest: guest request $requests_handled: $request: done" | tee -a "$dir/monitor.log"
    else
      requests_failed=$((requests_failed + 1))
      echo "run-guest: guest request $requests_handled: $request: FAILED: $answer" | tee -a "$dir/monitor.log"
    fi
  done
}
start=$(date +%s.%N)
# Emptied before QEMU starts: the watch below must not find the closing line
# of the log's previous run.
: > "$log"
set +e
timeout --kill-after=10 "$timeout_s" "$qemu" "${args[@]}" -append "$append" > "$log" 2>&1 &
qemu_pid=$!
# The closing line ends the guest: on machines where `poweroff -f` only halts
# (raspi3b), QEMU is ended here (timeout passes the signal on to it) once the
# guest had a few seconds to power off itself.
while kill -0 "$qemu_pid" 2>/dev/null; do
  handle_requests
  if grep -aq "$closing_pattern" "$log" 2>/dev/null; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qemu_pid" 2>/dev/null && sleep 0.5; done
    kill "$qemu_pid" 2>/dev/null
    break
  fi
  sleep 0.5
done
wait "$qemu_pid"
qemu_status=$?
set -e
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
grep -a -o 'udrv-guest:.*' "$log" | tr -d '\r' || true

if [ $qemu_status -eq 124 ] || [ $qemu_status -eq 137 ]; then
  tail -30 "$log"
  fail "timed out after ${timeout_s}s; log: $log"
fi
closing=$(grep -a -o "$closing_pattern" "$log" | tail -1 || true)
[ -n "$closing" ] || { tail -30 "$log"; fail "no closing line (qemu exit $qemu_status); log: $log"; }
read -r passed failed < <(echo "$closing" | sed 's/udrv-guest: \([0-9]*\) passed, \([0-9]*\) failed/\1 \2/')
[ "$failed" -eq 0 ] || { tail -60 "$log"; fail "$failed of $tests failed; log: $log"; }
[ "$passed" -eq "$tests" ] || fail "only $passed of $tests tests reported; log: $log"
[ "$requests_failed" -eq 0 ] || fail "$requests_failed of $requests_handled guest requests failed; see $dir/monitor.log"
echo "guest $name: $passed passed, 0 failed in ${elapsed}s (kernel $version)"

#!/usr/bin/env bash
# Bad command lines for udrv-driver-manager and udrv-driver-host: each must
# be refused with exit status 2 (1 for the host without its socket) and a
# message naming the problem. All of them fail while parsing or connecting,
# before anything is bound or opened, so this runs on the host machine.
set -u
bindir=$1
sysfs_tree=$2  # a recorded sysfs tree for --list
failures=0

expect() {  # STATUS PATTERN PROGRAM ARGS...
  local status=$1 pattern=$2; shift 2
  local out rc
  out=$("$@" 2>&1 </dev/null); rc=$?
  if [ "$rc" -ne "$status" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: $* -> exit $rc, wanted $status and /$pattern/; said:"; echo "$out"
    failures=$((failures + 1))
  else
    echo "ok: $* -> exit $rc: $(grep -E -- "$pattern" <<<"$out" | head -1)"
  fi
}

m=$bindir/udrv-driver-manager
h=$bindir/udrv-driver-host
expect 2 "needs an IOMMU" "$m" --isolated --route uio --unsafe-physical-dma
expect 2 "applies to --isolated only" "$m" --restarts 3
expect 2 "applies to --isolated" "$m" --host-uid 1000
expect 2 "--host-uid" "$m" --isolated --host-uid 0
expect 2 "--host-uid" "$m" --isolated --host-uid 4294967295
expect 2 "applies to --isolated \\(and --list\\) only" "$m" --host-pins 8
expect 2 "applies to --isolated \\(and --list\\) only" "$m" --host-pinned-memory 1MiB
expect 2 "--host-pins" "$m" --isolated --host-pins 0
expect 2 "--host-pinned-memory" "$m" --isolated --host-pinned-memory 0
expect 2 "--host-processes" "$m" --isolated --host-processes 0
expect 2 "starts no driver" "$m" --list --isolated
# Another machine's ACPI tables are for listing the ACPI bus only.
expect 2 "--acpi: applies to --list --bus acpi only" "$m" --acpi /nonexistent-tables
expect 2 "--acpi: applies to --list --bus acpi only" "$m" --list --acpi /nonexistent-tables
# No driver host serves the ACPI bus: refused before any table is read (the
# --sysfs-root makes a manager without this check stop too, on its own error).
expect 2 "--isolated: the driver hosts do not serve the ACPI bus" "$m" --isolated --bus acpi --sysfs-root /nonexistent
expect 2 "--isolated: the driver hosts do not serve the ACPI bus" "$m" --isolated --bus pci --bus acpi --sysfs-root /nonexistent
# A good --acpi lists the recorded q35's namespace, HPET matched, and reads nothing of this machine.
expect 0 "driver hpet: matches, binds" "$m" --list --bus acpi --acpi "$(dirname "$0")/../acpi/firmware/x86_64-q35"
expect 2 "--driver is required|driver" "$h" --node pci/0000:00:02.0
# Driver options are checked against the registry's declarations, by both.
expect 2 "no driver 'nic' \(the drivers are: edu, e1000e, net-traffic, pl031, hpet, virtio-mmio-probe, usb-mass-storage\)" "$m" --list --sysfs-root "$sysfs_tree" --driver-option nic.mtu=1500
expect 2 "driver 'edu' option 'colour': no such option \(edu has self-test, dma-until-stopped" \
  "$m" --driver-option edu.colour=red
expect 2 "driver 'edu' option 'idle-timeout': 'soon' is no duration" "$m" --isolated --driver-option edu.idle-timeout=soon
expect 2 "expected DRIVER.OPTION=VALUE" "$m" --driver-option idle-timeout=2s
expect 2 "driver 'edu' option 'self-test': 'maybe' is no bool" \
  "$h" --driver edu --node pci/0000:00:02.0 --driver-option edu.self-test=maybe
# --list says what each host would get.
expect 0 "^driver hosts \\(--isolated\\): uids from 61000; each may use pinned memory 256 MiB, 4096 pins, 64 processes and threads$" \
  "$m" --list --sysfs-root "$sysfs_tree"
expect 0 "^driver hosts \\(--isolated\\): uids from 70000; each may use pinned memory 3 MiB, 8 pins, 4 processes and threads$" \
  "$m" --list --sysfs-root "$sysfs_tree" --host-uid 70000 --host-pinned-memory 3MiB --host-pins 8 --host-processes 4
# ... and each driver's options, as declared and as set.
expect 0 "^  option idle-timeout \(duration, default 2s\): " "$m" --list --sysfs-root "$sysfs_tree"
expect 0 "^  options now: self-test=false dma-until-stopped=true idle-timeout=250ms completion-timeout=5s$" \
  "$m" --list --sysfs-root "$sysfs_tree" --driver-option edu.self-test=false --driver-option edu.dma-until-stopped \
  --driver-option edu.idle-timeout=250ms
# USB: the recorded guest's interfaces with --bus usb; a tree without
# /sys/bus/usb has none (no error), and lists no USB node by default.
usb_tree=$(dirname "$0")/../usb/sysfs/x86_64-q35/sys
expect 0 "^node usb/usb2/2-1/2-1:1.0 \(bus usb, parent usb/usb2/2-1\)$" "$m" --list --bus usb --sysfs-root "$usb_tree"
expect 0 "^driver hosts" "$m" --list --bus usb --sysfs-root "$sysfs_tree"
if "$m" --list --sysfs-root "$sysfs_tree" 2>&1 | grep -q "^node usb/"; then
  echo "FAIL: a tree without /sys/bus/usb lists USB nodes"; failures=$((failures + 1))
fi
# --node: only the nodes named; one the buses lack is refused.
expect 0 "^node pci/0000:00:02.0 \(bus pci, parent none\)$" "$m" --list --sysfs-root "$sysfs_tree" --node pci/0000:00:02.0
expect 1 "--node pci/0000:00:09.0: no such node" "$m" --list --sysfs-root "$sysfs_tree" --node pci/0000:00:09.0
listed=$("$m" --list --sysfs-root "$sysfs_tree" --node pci/0000:00:02.0 --node pci/0000:00:1f.0 | grep -c "^node ")
if [ "$listed" -ne 2 ]; then
  echo "FAIL: --node twice listed $listed nodes, not 2"; failures=$((failures + 1))
fi
# Started by hand: as root it refuses to run a driver; as anyone else
# without a socket on fd 3 it says it cannot reach the root bus.
if [ "$(id -u)" -eq 0 ]; then
  expect 1 "FAILED: .*refuses to run a driver as root" "$h" --driver edu --node pci/0000:00:02.0
  expect 1 "FAILED: .*fd 3 is not a socket to the root bus" \
    setpriv --reuid 65534 --regid 65534 --clear-groups "$h" --driver edu --node pci/0000:00:02.0 3>&-
else
  expect 1 "FAILED: .*fd 3 is not a socket to the root bus" "$h" --driver edu --node pci/0000:00:02.0 3>&-
fi

[ "$failures" -eq 0 ] && echo "driver_manager_cli: all refused as they should be"
exit $((failures != 0))

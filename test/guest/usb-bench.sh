#!/bin/sh
# udrv-usb-bench MIB REPS: the guest half of bench.usb.x86_64. On the
# testbed's usb-storage disk (2-1, /dev/sda: 8 MiB) it reads MIB MiB
# sequentially, the disk over and over, REPS times each way and for each
# transfer size, alternating:
#   linux  dd if=/dev/sda bs=SIZE iflag=direct, through usb-storage and
#          sd_mod, timed with /proc/uptime (10 ms ticks: MIB is large
#          enough that they matter little), dd's process starts included;
#          /proc/diskstats must count every sector read from the disk (no
#          page cache answered);
#   udrv   udrv-driver-manager binding usb-mass-storage over usbfs with
#          read-benchmark-mib=MIB: READ(10)s of SIZE, timed by the driver
#          around its reads alone; the disk goes back to usb-storage after;
#   udrv-isolated  the same with --isolated: the driver in a driver host
#          of its own, on the usbfs fd the root bus lent it.
# Each run prints
#   usb-bench: result SIDE SIZE_KIB MB_PER_S
set -u
mib=${1:-64} reps=${2:-5}
interface=/sys/bus/usb/devices/2-1:1.0
status=0
fail() { echo "usb-bench: FAIL: $*"; status=1; }

# usb-storage holds the interface again and /dev/sda is back (at most 10 s).
wait_for_disk() {
  for _ in $(seq 100); do
    [ -b /dev/sda ] && [ "$(basename "$(readlink $interface/driver)")" = usb-storage ] && return 0
    sleep 0.1
  done
  return 1
}

# Sectors the kernel read from sda (field 6 of /proc/diskstats).
sectors_read() { awk '$3 == "sda" { print $6 }' /proc/diskstats; }

disk_bytes=$(($(cat /sys/block/sda/size) * 512))
[ "$disk_bytes" -gt 0 ] || { echo "usb-bench: no /dev/sda"; exit 1; }

linux_read() {
  size_kib=$1
  passes=$((mib * 1024 * 1024 / disk_bytes))
  sectors_before=$(sectors_read)
  start=$(cut -d' ' -f1 /proc/uptime)
  pass=0
  while [ $pass -lt $passes ]; do
    dd if=/dev/sda of=/dev/null bs=${size_kib}k iflag=direct 2>/dev/null || { fail "dd bs=${size_kib}k"; return; }
    pass=$((pass + 1))
  done
  end=$(cut -d' ' -f1 /proc/uptime)
  sectors=$(($(sectors_read) - sectors_before))
  [ $sectors -eq $((passes * disk_bytes / 512)) ] ||
    { fail "dd bs=${size_kib}k: the disk read $sectors sectors, not $((passes * disk_bytes / 512))"; return; }
  echo "$start $end" | awk -v bytes=$((passes * disk_bytes)) -v kib="$size_kib" \
    '{ printf "usb-bench: result linux %d %.1f\n", kib, bytes / ($2 - $1) / 1e6 }'
}

# SIZE_KIB SIDE [--isolated]
udrv_read() {
  size_kib=$1 side=$2
  shift 2
  udrv-driver-manager "$@" --bus usb --restore-kernel-driver \
    --driver-option usb-mass-storage.read-benchmark-mib="$mib" \
    --driver-option usb-mass-storage.read-transfer-kib="$size_kib" > /tmp/usb-bench.log 2>&1 ||
    { fail "udrv-driver-manager $*, transfers of $size_kib KiB"; cat /tmp/usb-bench.log; }
  rate=$(sed -n 's/.*read benchmark: .* \([0-9.][0-9.]*\) MB\/s.*/\1/p' /tmp/usb-bench.log)
  if [ -n "$rate" ]; then
    echo "usb-bench: result $side $size_kib $rate"
  else
    fail "no rate from $side ($size_kib KiB):"; cat /tmp/usb-bench.log
  fi
  wait_for_disk || fail "usb-storage did not take the disk back"
}

wait_for_disk || { echo "usb-bench: usb-storage does not hold $interface"; exit 1; }
for size_kib in 64 256; do
  rep=0
  while [ $rep -lt "$reps" ]; do
    linux_read $size_kib
    udrv_read $size_kib udrv
    udrv_read $size_kib udrv-isolated --isolated
    rep=$((rep + 1))
  done
done
[ $status -eq 0 ] && echo "usb-bench: done"
exit $status

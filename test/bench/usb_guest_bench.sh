#!/usr/bin/env bash
# ctest bench.usb.x86_64: boots the x86_64 guest once and, on the same
# emulated usb-storage disk (qemu-xhci, SuperSpeed), reads it sequentially
# through Linux's usb-storage (dd iflag=direct from /dev/sda) and through
# udrv's usb-mass-storage driver over usbfs, in-process and isolated in a
# driver host (test/guest/usb-bench.sh), in transfers of 64 and 256 KiB.
# Prints the median MB/s of each and udrv's against Linux's. A benchmark: fails when the guest fails or a figure is
# missing, never on a ratio.
# Usage: usb_guest_bench.sh --bindir DIR --cache DIR --work DIR [--plan FILE] [--timeout S]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/guest_bench.sh"
plan=$here/plans/usb-bench.plan
timeout_s=600
guest_bench_arguments usb_guest_bench "$@"
name=bench-usb.x86_64
guest_bench_require udrv-driver-manager

# noiommu: usbfs does not go through the IOMMU (the kernel's xHCI driver
# does the DMA either way), and this machine boots fastest.
guest_bench_run noiommu "$name" usb-bench

# "usb-bench: result SIDE SIZE_KIB MB_PER_S": medians per side and size, then udrv's against Linux's.
tr -d '\r' < "$log" | grep -a '^usb-bench: result ' | awk "$guest_bench_median_awk"'
  {
    key = $3 " " $4
    if (!(key in rates)) { order[++kinds] = key; runs[key] = 0 }
    rates[key] = rates[key] " " $5
    all[key] = all[key] " " $5
    runs[key]++
  }
  END {
    printf "%-23s %5s %8s   %s\n", "side transfer", "runs", "MB/s", "each run"
    for (k = 1; k <= kinds; k++) {
      key = order[k]; m[key] = median(rates[key])
      split(key, f, " ")
      printf "%-23s %5d %8.1f  %s\n", f[1] " " f[2] " KiB", runs[key], m[key], all[key]
    }
    print "udrv against Linux (MB/s, higher is better):"
    missing = 0
    for (k = 1; k <= kinds; k++) {
      split(order[k], f, " ")
      if (f[1] == "linux") continue
      linux = "linux " f[2]
      if (!(linux in m) || m[linux] == 0) { missing = 1; continue }
      printf "  %-13s %4s KiB transfers: x%.2f\n", f[1], f[2], m[order[k]] / m[linux]
    }
    if (kinds < 6 || missing) { print "FAIL: " kinds " of 6 kinds of run reported"; exit 1 }
  }'

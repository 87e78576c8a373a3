#!/usr/bin/env bash
# ctest bench.net.x86_64: boots the x86_64 VT-d guest once and, on the same
# emulated 82574L (nic0), measures Linux's e1000e driver and then udrv's in
# polling and in MSI-X mode (test/guest/net-bench.sh), sending and receiving
# 60- and 1514-byte test frames, the peer Linux's e1000e on nic1. Prints the
# median of each, and udrv's against Linux's: frames per second (higher is
# better), and per frame the CPU time of the measuring process and the busy
# time of the whole guest (/proc/stat: it counts the kernel driver's
# interrupts and softirqs, which no process is charged for; lower is
# better). A benchmark: fails when
# the guest fails or a figure is missing, never on a ratio.
# Usage: net_guest_bench.sh --bindir DIR --cache DIR --work DIR [--plan FILE] [--timeout S]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/guest_bench.sh"
plan=$here/plans/net-bench.plan
timeout_s=900
guest_bench_arguments net_guest_bench "$@"
name=bench-net.x86_64
guest_bench_require udrv-net linux_peer

guest_bench_run iommu "$name" net-bench
grep -a 'net-bench: note' "$log" | tr -d '\r' || true

# "net-bench: result SIDE DIR MODE SIZE PPS CPU_US MACHINE_US": medians per kind, then
# udrv's against Linux's.
tr -d '\r' < "$log" | grep -a '^net-bench: result ' | awk "$guest_bench_median_awk"'
  {
    key = $3 " " $4 " " $5 " " $6
    if (!(key in pps)) { order[++kinds] = key; runs[key] = 0 }
    pps[key] = pps[key] " " $7; cpu[key] = cpu[key] " " $8; machine[key] = machine[key] " " $9
    runs[key]++
  }
  END {
    printf "%-26s %5s %12s %14s %18s\n", "driver direction mode size", "runs", "frames/s",
           "CPU us/frame", "machine us/frame"
    for (k = 1; k <= kinds; k++) {
      key = order[k]; p[key] = median(pps[key]); c[key] = median(cpu[key]); m[key] = median(machine[key])
      printf "%-26s %5d %12.0f %14.1f %18.1f\n", key, runs[key], p[key], c[key], m[key]
    }
    print "udrv against Linux (frames/s: higher is better; per frame the CPU time of the process"
    print "and the busy time of the whole guest, kernel interrupts and softirqs included: lower is better):"
    missing = 0
    for (k = 1; k <= kinds; k++) {
      split(order[k], f, " ")
      if (f[1] != "udrv") continue
      linux = "linux " f[2] " - " f[4]
      if (!(linux in p)) { missing = 1; continue }
      printf "  %-4s %-7s %4s bytes: frames/s x%.2f, CPU per frame x%.2f, machine per frame x%.2f\n",
             f[2], f[3], f[4], p[order[k]] / p[linux], c[order[k]] / c[linux],
             (m[linux] > 0 ? m[order[k]] / m[linux] : 0)
    }
    if (kinds < 12 || missing) { print "FAIL: " kinds " of 12 kinds of run reported"; exit 1 }
  }'

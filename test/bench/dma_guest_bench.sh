#!/usr/bin/env bash
# ctest bench.dma.ARCH: boots ARCH's IOMMU guest with room for one 1 GiB huge
# page, runs dma_bench there (the plan), and prints its figures. Fails when
# the guest fails or the figures are not all there.
# Usage: dma_guest_bench.sh --arch ARCH --plan FILE --bindir DIR --cache DIR --work DIR [--timeout S]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
timeout_s=240
while [ $# -gt 0 ]; do
  case $1 in
    --arch) arch=$2 ;; --plan) plan=$2 ;; --bindir) bindir=$2 ;; --cache) cache=$2 ;;
    --work) work=$2 ;; --timeout) timeout_s=$2 ;;
    *) echo "dma_guest_bench: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift 2
done
name=bench-dma.$arch
[ -x "$bindir/dma_bench" ] || { echo "FAIL: no dma_bench in $bindir (configure with -DUDRV_BUILD_BENCHMARKS=ON)"; exit 1; }

# The 1 GiB page is reserved at boot and needs a 1 GiB-aligned run of RAM that
# nothing else took yet. q35 puts the first 2 GiB below 4 GiB, with the
# initramfs at its top (inside 1-2 GiB), and the rest from 4 GiB up, where
# the kernel's first allocations (node data, the memory map) come from the top
# down. So 3 GiB fails (4-5 GiB is no longer whole); 3.5 GiB leaves 4-5 GiB
# free. QEMU allocates guest memory as the guest touches it.
status=0
"$here/../guest/run-guest.sh" --arch "$arch" --machine iommu --plan "$plan" --bindir "$bindir" \
  --cache "$cache" --work "$work" --name "$name" --timeout "$timeout_s" \
  --memory 3584 --append "hugepagesz=1G hugepages=1" || status=$?

log=$work/$name/serial.log
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg), $(qemu-system-"$arch" --version | head -1)"
grep -a 'dma-bench:' "$log" | tr -d '\r' || true
[ $status -eq 0 ] || { echo "FAIL: the guest run failed (exit $status); log: $log"; exit 1; }
grep -aq 'dma-bench: done' "$log" || { echo "FAIL: dma_bench did not finish; log: $log"; exit 1; }

#!/usr/bin/env bash
# Bad command lines for udrv-driver-manager and udrv-driver-host: each must
# be refused with exit status 2 (1 for the host without its socket) and a
# message naming the problem. All of them fail while parsing or connecting,
# before anything is bound or opened, so this runs on the host machine.
set -u
bindir=$1
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
expect 2 "applies to --isolated only" "$m" --host-uid 1000
expect 2 "--host-uid" "$m" --isolated --host-uid 0
expect 2 "starts no driver" "$m" --list --isolated
expect 2 "--driver is required|driver" "$h" --node pci/0000:00:02.0
# No socket on fd 3: the host says it cannot reach the root bus.
expect 1 "FAILED: .*fd 3 is not a socket to the root bus" "$h" --driver edu --node pci/0000:00:02.0 3>&-

[ "$failures" -eq 0 ] && echo "driver_manager_cli: all refused as they should be"
exit $((failures != 0))

#!/bin/sh
# mmio_callgrind.sh WORKLOAD [ITERATIONS]
# Instruction counts (callgrind "Ir") of one 32-bit register access by each
# path, from mmio_callgrind_workload: every mode runs with ITERATIONS and with
# 0 iterations, and (Ir(N) - Ir(0)) / N is what one loop iteration costs.
# "net" subtracts the empty loop; the ratios compare MmioBuffer with a raw
# volatile access on the same mapped memory. Instruction counts, not time:
# they are stable from run to run, which wall-clock numbers here are not.
set -eu

workload=${1:?usage: mmio_callgrind.sh WORKLOAD [ITERATIONS]}
iterations=${2:-100000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Total Ir of one run, from the "totals:" (or "summary:") line callgrind writes.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$workload" "$1" "$2" \
    >"$out/log" 2>&1 || { cat "$out/log" >&2; echo "valgrind failed on $1 $2" >&2; exit 1; }
  total=$(awk '/^totals:/ {print $2; found=1} /^summary:/ && !found {s=$2} END {if (!found) print s}' \
    "$out/cg.out")
  [ -n "$total" ] || { echo "no totals in callgrind output for $1" >&2; exit 1; }
  echo "$total"
}

per_access() {
  full=$(instructions "$1" "$iterations")
  base=$(instructions "$1" 0)
  awk -v a="$full" -v b="$base" -v n="$iterations" 'BEGIN {printf "%.2f", (a - b) / n}'
}

loop=$(per_access loop)
printf '%-22s %12s %12s\n' mode "Ir/iteration" "net of loop"
printf '%-22s %12s %12s\n' loop "$loop" "-"
results=""
for mode in raw-read32 raw-write32 mmio-read32 mmio-write32 mmio-read32-relaxed \
            mmio-write32-relaxed try-read32 try-write32; do
  cost=$(per_access "$mode")
  net=$(awk -v c="$cost" -v l="$loop" 'BEGIN {printf "%.2f", c - l}')
  printf '%-22s %12s %12s\n' "$mode" "$cost" "$net"
  results="$results $mode=$cost"
done

value() { echo "$results" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
ratio() {
  awk -v m="$(value "$1")" -v r="$(value "$2")" -v l="$loop" -v t="$3" \
    'BEGIN {printf "%-22s %8.2fx  (net of loop %.2fx)\n", t, m / r, (m - l) / (r - l)}'
}
echo
echo "ratio to raw volatile, $iterations iterations:"
ratio mmio-read32 raw-read32 "MmioBuffer::Read32"
ratio mmio-write32 raw-write32 "MmioBuffer::Write32"
ratio mmio-read32-relaxed raw-read32 "Read32Relaxed"
ratio mmio-write32-relaxed raw-write32 "Write32Relaxed"
ratio try-read32 raw-read32 "TryRead32"
ratio try-write32 raw-write32 "TryWrite32"

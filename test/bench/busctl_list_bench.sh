#!/usr/bin/env bash
# busctl_list_bench.sh BUSCTL [FUNCTIONS [RUNS]]
# `busctl list` against `lspci -Dnn` (and `list --tree` against `lspci -tvnn`)
# on the same synthetic sysfs tree of FUNCTIONS (default 1024, at least 1000)
# PCI functions that make-bench-tree.py writes, as a ratio busctl / lspci:
#   - instructions (callgrind "Ir", user space only): stable from run to run;
#   - wall-clock median of RUNS (default 21) alternating runs of each,
#     system calls included: indicative only on a busy machine.
# Both must print the same 1000+ functions first (lspci through
# -A linux-sysfs -O sysfs.path=TREE/bus/pci, udev's hwdb off so both name
# devices from pci.ids), or the benchmark fails: it never reports a ratio of
# two programs that read different things. Asserts no limit on the ratio.
set -euo pipefail
busctl=${1:?usage: busctl_list_bench.sh BUSCTL [FUNCTIONS [RUNS]]}
functions=${2:-1024}
runs=${3:-21}
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in lspci valgrind python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (tools/setup/bootstrap.sh installs it)"
done
[ "$functions" -ge 1000 ] || fail "the benchmark wants at least 1000 functions, not $functions"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/tree

python3 "$here/make-bench-tree.py" "$tree" "$functions"
lspci_list=(lspci -A linux-sysfs -O "sysfs.path=$tree/bus/pci" -O hwdb.disable=1 -Dnn)
lspci_tree=(lspci -A linux-sysfs -O "sysfs.path=$tree/bus/pci" -O hwdb.disable=1 -tvnn)
busctl_list=("$busctl" --sysfs-root "$tree" list)
busctl_tree=("$busctl" --sysfs-root "$tree" list --tree)

"${lspci_list[@]}" > "$work/lspci.txt" || fail "lspci cannot read $tree"
"${busctl_list[@]}" > "$work/busctl.txt" || fail "busctl list cannot read $tree"
lines=$(wc -l < "$work/lspci.txt")
[ "$lines" -ge 1000 ] || fail "lspci printed $lines functions of $tree, not 1000 or more: is it reading the tree?"
sed 's/ driver=[^ ]*$//' "$work/busctl.txt" | diff -u "$work/lspci.txt" - > "$work/diff" ||
  { head -20 "$work/diff"; fail "busctl list and lspci -Dnn differ on $tree"; }
"${lspci_tree[@]}" > "$work/lspci-tree.txt"
"${busctl_tree[@]}" > "$work/busctl-tree.txt"
tree_lines=$(wc -l < "$work/lspci-tree.txt")
[ "$(wc -l < "$work/busctl-tree.txt")" -eq "$tree_lines" ] ||
  fail "busctl list --tree draws $(wc -l < "$work/busctl-tree.txt") lines, lspci -tvnn $tree_lines"
if ! cmp -s "$work/lspci-tree.txt" "$work/busctl-tree.txt"; then
  echo "note: busctl list --tree and lspci -tvnn draw the same $tree_lines lines differently:"
  diff "$work/lspci-tree.txt" "$work/busctl-tree.txt" | head -4 || true
fi

# Total Ir of one run, from the "totals:" (or "summary:") line callgrind writes.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@" > /dev/null 2> "$work/vg.log" ||
    { cat "$work/vg.log" >&2; fail "valgrind failed on $*"; }
  local total
  total=$(awk '/^totals:/ {print $2; found=1} /^summary:/ && !found {s=$2} END {if (!found) print s}' \
    "$work/cg.out")
  [ -n "$total" ] || fail "no totals in callgrind's output for $*"
  echo "$total"
}

# Median wall-clock milliseconds of `runs` runs of each command, alternating.
medians() {
  local -a a b
  for ((n = 0; n < runs; n++)); do
    local start=$(date +%s%N)
    "${busctl_list[@]}" > /dev/null
    local middle=$(date +%s%N)
    "${lspci_list[@]}" > /dev/null
    local end=$(date +%s%N)
    a+=($((middle - start)))
    b+=($((end - middle)))
  done
  median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {printf "%.1f", v[int((NR + 1) / 2)] / 1e6}'; }
  echo "$(median "${a[@]}") $(median "${b[@]}")"
}

list_busctl=$(instructions "${busctl_list[@]}")
list_lspci=$(instructions "${lspci_list[@]}")
tree_busctl=$(instructions "${busctl_tree[@]}")
tree_lspci=$(instructions "${lspci_tree[@]}")
read -r wall_busctl wall_lspci <<< "$(medians)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "busctl list vs lspci on a synthetic tree of $lines PCI functions ($(nproc) CPUs)"
printf '%-34s %15s %15s %8s\n' measure busctl lspci ratio
printf '%-34s %15s %15s %7sx\n' "list vs -Dnn: instructions (Ir)" "$list_busctl" "$list_lspci" \
  "$(ratio "$list_busctl" "$list_lspci")"
printf '%-34s %15s %15s %7sx\n' "list --tree vs -tvnn: instructions" "$tree_busctl" "$tree_lspci" \
  "$(ratio "$tree_busctl" "$tree_lspci")"
printf '%-34s %15s %15s %7sx\n' "list vs -Dnn: wall median of $runs, ms" "$wall_busctl" "$wall_lspci" \
  "$(ratio "$wall_busctl" "$wall_lspci")"
echo "ratio busctl/lspci for list: $(ratio "$list_busctl" "$list_lspci") (instructions)," \
  "$(ratio "$wall_busctl" "$wall_lspci") (wall clock)"

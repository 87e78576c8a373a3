#!/usr/bin/env bash
# busctl's text output against lspci's on one sysfs tree (a recorded one from
# test/pci/data, a synthetic one, or the live /sys, which both only read):
#   list      -nn and -n lines, drivers (lspci -k), with lspci's -s and -d
#             selections, wildcards included;
#   list -t   the tree as lspci -tvnn / -tvn draw it; selections too when
#             lspci is 3.10 or later (3.9 misdraws filtered trees; busctl
#             follows the fix, pciutils f0aa3a4, and busctl_tree_golden.sh
#             checks those against lspci 3.14's drawings);
#   config    the hex dump as lspci -x and -xxxx (not on the live /sys: the
#             status register changes under a running device), and the
#             capability lines with their detail lines as lspci -vv;
#   show      the lines lspci -vv also prints: Interrupt, NUMA node, IOMMU
#             group, Region, Expansion ROM, Kernel driver in use.
# Usage: busctl_vs_lspci.sh BUSCTL SYSFS_ROOT
set -euo pipefail
busctl=$1
root=$(cd "$2" && pwd)
command -v lspci >/dev/null || { echo "FAIL: lspci (pciutils) is not installed"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

on_tree() { lspci -A linux-sysfs -O "sysfs.path=$root/bus/pci" "$@" 2>/dev/null; }
busctl() { "$busctl" --sysfs-root "$root" "$@"; }
version=$(lspci --version | sed -n 's/^lspci version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r major minor <<< "$version"
draws_filtered_trees=$(( major > 3 || (major == 3 && minor >= 10) ))
live=$([ "$root" = /sys ] && echo 1 || echo 0)

status=0
checks=0
# compare NAME EXPECTED ACTUAL: diffs two files, lspci's first.
compare() {
  checks=$((checks + 1))
  if ! diff -u --label "lspci: $1" --label "busctl: $1" "$2" "$3" > "$work/diff"; then
    cat "$work/diff"
    echo "FAIL: $1"
    status=1
  fi
}

on_tree -D > "$work/all"
[ -s "$work/all" ] || { echo "FAIL: lspci found no PCI functions under $root"; exit 1; }
devices=$(cut -d' ' -f1 "$work/all")

# Selections: every field form of -s and -d, with '*' and 'x' wildcards.
selections=("" "-s 0:" "-s 00:" "-s 0:1f" "-s .0" "-s .1" "-s 1f." "-s 3" "-s 02:" "-s ::"
            "-s *:*:*.*" "-s 0000:00:1f.2" "-s 0001::" "-s 03:00" "-d 8086:" "-d :10d3"
            "-d *:*" "-d 1af4:1041" "-d ::0c03" "-d ::06xx" "-d ::01xx" "-d ::xxxx" "-d ::0604"
            "-d ::0106:01" "-d 1b36::0108:02" "-d ffff:ffff" "-s 0: -d 1b36:")
for selection in "${selections[@]}"; do
  read -ra args <<< "$selection"  # words, never globs: selections hold '*'
  on_tree -D -nn "${args[@]}" > "$work/lspci"
  # PCI's lines alone, without the ACPI view (acpi=PATH) busctl adds to them.
  busctl list --bus pci "${args[@]}" | sed 's/ acpi=[^ ]*//; s/ driver=[^ ]*$//' > "$work/busctl"
  compare "list ${selection:-(all)} vs lspci -Dnn" "$work/lspci" "$work/busctl"
  on_tree -D -n "${args[@]}" > "$work/lspci"
  busctl list --bus pci -n "${args[@]}" | sed 's/ acpi=[^ ]*//; s/ driver=[^ ]*$//' > "$work/busctl"
  compare "list -n ${selection:-(all)} vs lspci -Dn" "$work/lspci" "$work/busctl"
  if [ -z "$selection" ] || [ "$draws_filtered_trees" = 1 ]; then
    on_tree -tvnn "${args[@]}" > "$work/lspci"
    busctl list -t "${args[@]}" > "$work/busctl"
    compare "list -t ${selection:-(all)} vs lspci -tvnn" "$work/lspci" "$work/busctl"
    on_tree -tvn "${args[@]}" > "$work/lspci"
    busctl list -t -n "${args[@]}" > "$work/busctl"
    compare "list -t -n ${selection:-(all)} vs lspci -tvn" "$work/lspci" "$work/busctl"
  fi
done

on_tree -Dk | awk '/^[0-9a-f]/ {addr=$1} /Kernel driver in use:/ {print addr, $NF}' > "$work/lspci"
busctl list | sed -n 's/^\([^ ]*\) .* driver=\([^ ]*\)$/\1 \2/p' > "$work/busctl"
compare "drivers vs lspci -k" "$work/lspci" "$work/busctl"

# Capability blocks as "HEADER" and "HEADER|DETAIL" lines: busctl's headers
# must be lspci's, and each detail line busctl prints must be one lspci
# prints under the same header.
capability_lines() {
  awk '/^\tCapabilities: / {head = $0; print head; next}
       /^\t\t/ && head != "" {print head "|" $0; next}
       {head = ""}' "$1"
}

for device in $devices; do
  on_tree -D -vv -s "$device" > "$work/lspci-vv"
  busctl show "$device" > "$work/show" 2> "$work/show.err" \
    || { cat "$work/show.err"; echo "FAIL: busctl show $device"; status=1; continue; }
  pattern=$'^\t(Interrupt: |NUMA node: |IOMMU group: |Region [0-5]: |Expansion ROM at |Kernel driver in use: )'
  grep -E "$pattern" "$work/lspci-vv" > "$work/lspci" || true
  grep -E "$pattern" "$work/show" > "$work/busctl" || true
  compare "show $device vs lspci -vv" "$work/lspci" "$work/busctl"

  busctl config "$device" > "$work/config" 2> "$work/config.err" \
    || { cat "$work/config.err"; echo "FAIL: busctl config $device"; status=1; continue; }
  capability_lines "$work/lspci-vv" > "$work/lspci-caps"
  capability_lines "$work/config" > "$work/busctl-caps"
  grep -v '|' "$work/lspci-caps" > "$work/lspci" || true
  grep -v '|' "$work/busctl-caps" > "$work/busctl" || true
  compare "config $device capabilities vs lspci -vv" "$work/lspci" "$work/busctl"
  grep '|' "$work/busctl-caps" | sort > "$work/busctl-details" || true
  sort "$work/lspci-caps" | comm -13 - "$work/busctl-details" > "$work/extra"
  : > "$work/none"
  compare "config $device capability details not in lspci -vv" "$work/none" "$work/extra"

  if [ "$live" = 0 ]; then
    on_tree -D -s "$device" -x | grep -E '^[0-9a-f]{2,3}:' > "$work/lspci" || true
    busctl config "$device" | grep -E '^[0-9a-f]{2,3}:' > "$work/busctl" || true
    compare "config $device vs lspci -x" "$work/lspci" "$work/busctl"
    on_tree -D -s "$device" -xxxx | grep -E '^[0-9a-f]{2,3}:' > "$work/lspci" || true
    busctl config "$device" --all | grep -E '^[0-9a-f]{2,3}:' > "$work/busctl" || true
    compare "config $device --all vs lspci -xxxx" "$work/lspci" "$work/busctl"
  fi
done

if [ $status -eq 0 ]; then
  echo "busctl matches lspci $major.$minor on $root: $(echo "$devices" | wc -w) functions, $checks comparisons"
fi
exit $status

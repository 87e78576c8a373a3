#!/usr/bin/env bash
# `busctl list` must print what `lspci -Dnn` prints for every function of this
# machine, and the driver `lspci -k` reports. Only reads sysfs.
set -euo pipefail
busctl=$1
command -v lspci >/dev/null || { echo "FAIL: lspci (pciutils) is not installed"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# PCI's lines alone: ACPI's devices follow them, and a function's ACPI view
# (acpi=PATH) is not lspci's.
"$busctl" list --bus pci | sed 's/ acpi=[^ ]*//' > "$work/busctl"
lspci -Dnn > "$work/lspci"
[ -s "$work/lspci" ] || { echo "FAIL: lspci printed nothing; this test needs a machine with PCI"; exit 1; }

# Drivers as lspci -k sees them: "ADDR driver" per bound function.
lspci -Dk 2>/dev/null | awk '/^[0-9a-f]/ {addr=$1} /Kernel driver in use:/ {print addr, $NF}' \
  | sort > "$work/lspci-drivers"
sed -n 's/^\([^ ]*\) .* driver=\([^ ]*\)$/\1 \2/p' "$work/busctl" | sort > "$work/busctl-drivers"
sed 's/ driver=[^ ]*$//' "$work/busctl" > "$work/busctl-lines"

status=0
if ! diff -u "$work/lspci" "$work/busctl-lines"; then
  echo "FAIL: busctl list differs from lspci -Dnn"; status=1
fi
if ! diff -u "$work/lspci-drivers" "$work/busctl-drivers"; then
  echo "FAIL: drivers differ from lspci -k"; status=1
fi
n=$(wc -l < "$work/lspci")
[ $status -eq 0 ] && echo "busctl list matches lspci -Dnn and lspci -k on $n functions"
exit $status

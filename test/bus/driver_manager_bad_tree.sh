#!/usr/bin/env bash
# udrv-driver-manager --list on a copy of a recorded guest tree with one
# function's vendor malformed, another's class a FIFO and a third bound to a
# driver whose name sets the terminal's title: it must return, name the two
# functions it skipped and why, show the name escaped, and still match edu.
set -u
bindir=$1 data=$2
work=$(mktemp -d /tmp/udrv-driver-manager-bad-tree.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -a "$data/guest-x86_64" "$work/tree"
devices=$work/tree/bus/pci/devices
echo 0xzz86 > "$devices/0000:00:03.0/vendor"
rm "$devices/0000:00:04.0/class" && mkfifo "$devices/0000:00:04.0/class"
title=$'e1000e\e]0;owned\a'
mkdir -p "$work/tree/bus/pci/drivers/$title"
ln -s "../../../bus/pci/drivers/$title" "$devices/0000:00:05.0/driver"

out=$(timeout 30 "$bindir/udrv-driver-manager" --list --sysfs-root "$work/tree" 2>&1 </dev/null)
rc=$?
failures=0
expect() {  # PATTERN WHAT
  if grep -qE -- "$1" <<<"$out"; then
    echo "ok: $2"
  else
    echo "FAIL: $2: no /$1/"; failures=$((failures + 1))
  fi
}
[ "$rc" -eq 0 ] && echo "ok: exit status 0" || { echo "FAIL: exit status $rc (124: it hung)"; failures=$((failures + 1)); }
expect "skipped 0000:00:03.0: IO_INVALID: unexpected content '0xzz86'" "the malformed vendor is named"
expect "skipped 0000:00:04.0: NOT_FILE: read .*0000:00:04.0/class: a FIFO" "the FIFO is named"
expect "driver edu: matches, binds" "edu still matches"
expect 'pci.driver = "e1000e\\e\]0;owned\\x07"' "the driver's name is shown escaped"
if grep -q $'\e' <<<"$out"; then
  echo "FAIL: a raw escape reached the output"; failures=$((failures + 1))
fi
if grep -q "^node pci/0000:00:0[34].0 " <<<"$out"; then
  echo "FAIL: a skipped function is listed as a node"; failures=$((failures + 1))
fi
[ "$failures" -eq 0 ] || { echo "said:"; echo "$out"; }
exit $((failures != 0))

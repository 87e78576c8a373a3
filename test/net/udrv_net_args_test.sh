#!/usr/bin/env bash
# udrv-net's command lines that must be refused before anything is opened:
# each exits 2 with a message naming the problem. Every line names a PCI
# function no machine has (ffff:ff:1f.7), so a refusal that failed to
# happen finds no device (exit 1) and binds nothing: never point this test
# at a real device.
# Usage: udrv_net_args_test.sh UDRV_NET
set -uo pipefail
tool=$1
dev=ffff:ff:1f.7
failures=0

# refuse "WHAT THE MESSAGE SAYS" ARGS...: exit status 2, the message on stderr.
refuse() {
  local expected=$1
  shift
  local err
  err=$("$tool" "$@" 2>&1 >/dev/null)
  local status=$?
  if [ $status -ne 2 ]; then
    echo "FAIL: udrv-net $*: exit status $status, not 2 ($err)"
    failures=$((failures + 1))
  elif ! grep -qF -- "$expected" <<<"$err"; then
    echo "FAIL: udrv-net $*: the message does not say '$expected': $err"
    failures=$((failures + 1))
  else
    echo "ok: udrv-net $*: $expected"
  fi
}

refuse "DEV is required"
refuse "PCI address 'tx'" tx --count 1
refuse "zz" zz info
refuse "0000:00:20.0" 0000:00:20.0 info
refuse "--count is required" $dev tx
refuse "59" $dev tx --count 1 --size 59
refuse "1515" $dev tx --count 1 --size 60 --size 1515
refuse "--count" $dev tx --count 0
refuse "--count is required" $dev rx --timeout 1
refuse "--timeout" $dev rx --count 1 --timeout 0
refuse "MAC address" $dev tx --count 1 --dst 52:54:00:12:34
refuse "nosuch" --driver-option nosuch.speed=1 $dev info
refuse "edu" --driver-option edu.no-such-option=1 $dev info
refuse "DRIVER.OPTION" --driver-option justtext $dev info
refuse "--route" --route pio $dev info
refuse "applies to --route uio only" --unsafe-physical-dma $dev info
refuse "OTHER is required" $dev fwd
refuse "is DEV itself" $dev fwd $dev --count 1
refuse "--size" $dev rx --count 1 --size 60
refuse "The following argument was not expected: extra" $dev info extra

if ! "$tool" --help | grep -q "tx"; then
  echo "FAIL: udrv-net --help does not list tx"
  failures=$((failures + 1))
fi
[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all refusals as expected"

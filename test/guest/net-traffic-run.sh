#!/bin/sh
# udrv-net-traffic-run TX RX SIZES [udrv-driver-manager ARGS...]: the
# net-traffic driver under udrv-driver-manager on nic0 (0000:00:03.0, the
# e1000e driver's net child), with Linux's e1000e on nic1 (0000:00:06.0) as
# the oracle (linux_peer): udrv sends TX test frames of SIZES (comma-
# separated, cycled) that Linux must receive, every one, in order; then
# Linux sends RX that net-traffic must receive the same way. The manager's
# and the peers' logs are printed; any failure fails the run. Linux's
# driver is loaded only for the run (nic0 kept from it by driver_override)
# and removed after. Both receive rings hold the whole test (4096
# descriptors): QEMU lets a frame overtake those it queued for a full ring.
set -u
[ $# -ge 3 ] && [ "$1" -le 4096 ] && [ "$2" -le 4096 ] ||
  { echo "usage: udrv-net-traffic-run TX RX SIZES [MANAGER ARGS...] (TX, RX up to 4096)" >&2; exit 2; }
tx=$1 rx=$2 sizes=$3
shift 3
nic0=0000:00:03.0 nic1=0000:00:06.0
d0=/sys/bus/pci/devices/$nic0 d1=/sys/bus/pci/devices/$nic1
work=$(mktemp -d /tmp/net-traffic.XXXXXX)
status=0
fail() { echo "udrv-net-traffic-run: FAIL: $*"; status=1; }

# Waits until FILE holds PATTERN; fails when PID ends first or after SECONDS.
wait_for() {
  file=$1 pattern=$2 seconds=$3 pid=$4 tenths=0
  while ! grep -q "$pattern" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { grep -q "$pattern" "$file" 2>/dev/null && return 0; return 1; }
    [ $tenths -lt $((seconds * 10)) ] || return 1
    sleep 0.1
    tenths=$((tenths + 1))
  done
}

echo vfio-pci > $d0/driver_override
insmod /lib/modules/e1000e.ko || { echo > $d0/driver_override; echo "insmod e1000e failed"; exit 1; }
iface=$(ls $d1/net 2>/dev/null)
[ -n "$iface" ] && [ ! -e $d0/driver ] || fail "Linux's e1000e did not take only $nic1"
size_args=
for size in $(echo "$sizes" | tr , ' '); do size_args="$size_args --size $size"; done

if [ $status -eq 0 ]; then
  ip link set "$iface" up
  linux_peer recv --iface "$iface" --count "$tx" --timeout 120 --rx-ring 4096 > $work/peer-recv.log 2>&1 &
  recv_pid=$!
  wait_for $work/peer-recv.log "ready" 30 $recv_pid || fail "linux_peer recv did not get ready"
  udrv-driver-manager --node pci/$nic0 --driver-option e1000e.rx-ring=4096 \
    --driver-option net-traffic.tx-count="$tx" \
    --driver-option net-traffic.rx-count="$rx" --driver-option net-traffic.sizes="$sizes" \
    "$@" > $work/manager.log 2>&1 &
  manager_pid=$!
  if [ "$rx" -gt 0 ]; then
    if wait_for $work/manager.log "receiving $rx test frames" 120 $manager_pid; then
      # shellcheck disable=SC2086 # the sizes are separate arguments
      linux_peer send --iface "$iface" --count "$rx" $size_args > $work/peer-send.log 2>&1 ||
        fail "linux_peer send failed"
    else
      fail "net-traffic never said it was receiving"
    fi
  fi
  wait $manager_pid || fail "udrv-driver-manager $* failed"
  wait $recv_pid || fail "linux_peer recv failed"
  for log in manager peer-recv peer-send; do
    [ -f $work/$log.log ] && { echo "--- $log"; cat $work/$log.log; }
  done
  # The NIC counted what net-traffic sent, no frame more.
  grep -q "the NIC's counters grew by tx_packets $tx, " $work/manager.log ||
    fail "the NIC's tx_packets did not grow by exactly $tx"
  grep -q ": net-traffic started" $work/manager.log || fail "net-traffic did not start on the net child"
fi
ip link set "$iface" down 2>/dev/null
rmmod e1000e
echo > $d0/driver_override
rm -rf "$work"
[ $status -eq 0 ] && echo "udrv-net-traffic-run: $tx frames out and $rx in, verified by Linux and by udrv"
exit $status

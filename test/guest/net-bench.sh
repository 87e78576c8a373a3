#!/bin/sh
# udrv-net-bench COUNT REPS: the guest half of bench.net.x86_64. On nic0
# (0000:00:03.0) it measures Linux's e1000e, then udrv's e1000e driver in
# polling and in MSI-X mode, sending and receiving COUNT test frames of 60
# and of 1514 bytes, REPS times each; the peer is always Linux's e1000e on
# nic1 (0000:00:06.0) with linux_peer. Each run prints
#   net-bench: result SIDE DIRECTION MODE SIZE FRAMES_PER_S CPU_US_PER_FRAME MACHINE_US_PER_FRAME
# (SIDE linux or udrv, DIRECTION tx or rx as nic0 sees it; the rate and CPU
# time are the nic0 side's own: linux_peer's or udrv-net's; the machine's
# busy time is the whole guest's, peer included). Both receive
# rings hold COUNT (up to 4096): QEMU lets a frame overtake those it queued
# for a full ring, and every frame is verified.
set -u
count=${1:-4000} reps=${2:-3}
[ "$count" -le 4096 ] || { echo "net-bench: COUNT is at most 4096 (the rings)"; exit 2; }
nic0=0000:00:03.0 nic1=0000:00:06.0
d0=/sys/bus/pci/devices/$nic0 d1=/sys/bus/pci/devices/$nic1
work=$(mktemp -d /tmp/net-bench.XXXXXX)
status=0
fail() { echo "net-bench: FAIL: $*"; status=1; }

# Waits until FILE holds PATTERN, at most 60 s, while PID runs.
wait_for() {
  tenths=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || return 1
    [ $tenths -lt 600 ] || return 1
    sleep 0.1
    tenths=$((tenths + 1))
  done
}

# SIDE DIRECTION MODE SIZE LOG: the result line from a tool's summary
# ("... 16000 frames/s...; CPU 30.1 us/frame").
record() {
  summary=$(grep "frames/s" "$5" | tail -1)
  rate=$(echo "$summary" | sed -n 's/.* \([0-9][0-9]*\) frames\/s.*/\1/p')
  cpu=$(echo "$summary" | sed -n 's/.*CPU \([0-9.][0-9.]*\) us\/frame.*/\1/p')
  machine=$(echo "$summary" | sed -n 's/.*machine \([0-9.][0-9.]*\) us\/frame.*/\1/p')
  if [ -n "$rate" ] && [ -n "$cpu" ] && [ -n "$machine" ]; then
    echo "net-bench: result $1 $2 $3 $4 $rate $cpu $machine"
  else
    fail "$1 $2 $3 $4: no rate in:"; cat "$5"
  fi
}

# A Linux receiver on IFACE started, ready: RECEIVER_PID set.
start_linux_receiver() {
  linux_peer recv --iface "$1" --count "$count" --timeout 20 --rx-ring 4096 > $work/recv.log 2>&1 &
  receiver_pid=$!
  wait_for $work/recv.log "ready" $receiver_pid || { fail "linux_peer recv on $1 not ready"; cat $work/recv.log; }
}
# Waits for the receiver: false, saying why, when it did not get every frame
# in order. A run whose frames did not all arrive is no measurement: it is
# left out of the figures (and the lost frames shown), not a failed benchmark.
# QEMU 7.2 sometimes loses the first few dozen frames a Linux e1000e
# receives at 1514 bytes (the guest tests, which send fewer, see none lost).
finish_linux_receiver() {
  wait $receiver_pid && return 0
  echo "net-bench: note: a run left out, the Linux receiver on $1 did not get every frame:" \
    "$(grep -m1 FAILED $work/recv.log)"
  return 1
}

insmod /lib/modules/e1000e.ko || { echo "net-bench: insmod e1000e failed"; exit 1; }
if0=$(ls $d0/net) if1=$(ls $d1/net)
ip link set "$if0" up && ip link set "$if1" up
# Warm-up, not recorded: the first receive on each interface resizes its
# ring, and the link goes down and up (linux_peer's carrier wait can see the
# old carrier: the frames right after it may be lost).
for pair in "$if1 $if0" "$if0 $if1"; do
  set -- $pair
  linux_peer recv --iface "$1" --count 100 --timeout 20 --rx-ring 4096 > $work/warm.log 2>&1 &
  warm_pid=$!
  wait_for $work/warm.log "ready" $warm_pid && sleep 3
  linux_peer send --iface "$2" --count 100 > /dev/null 2>&1
  wait $warm_pid || echo "net-bench: warm-up $2 -> $1 lost frames (not counted)"
done
for size in 60 1514; do
  rep=0
  while [ $rep -lt "$reps" ]; do
    start_linux_receiver "$if1"
    linux_peer send --iface "$if0" --count "$count" --size $size > $work/send.log 2>&1 || fail "linux tx $size"
    finish_linux_receiver "$if1" && record linux tx - $size $work/send.log
    start_linux_receiver "$if0"
    linux_peer send --iface "$if1" --count "$count" --size $size > $work/send.log 2>&1 || fail "linux rx $size"
    finish_linux_receiver "$if0" && record linux rx - $size $work/recv.log
    rep=$((rep + 1))
  done
done

# nic0 to udrv: Linux lets it go, driver_override keeps it from taking it back.
ip link set "$if0" down
echo vfio-pci > $d0/driver_override
echo $nic0 > /sys/bus/pci/drivers/e1000e/unbind
for mode in polling msix; do
  options="--driver-option e1000e.interrupts=$mode --driver-option e1000e.rx-ring=4096"
  for size in 60 1514; do
    rep=0
    while [ $rep -lt "$reps" ]; do
      start_linux_receiver "$if1"
      # shellcheck disable=SC2086 # the options are separate arguments
      udrv-net $nic0 $options tx --count "$count" --size $size > $work/udrv.log 2>&1 || fail "udrv $mode tx $size"
      finish_linux_receiver "$if1" && record udrv tx $mode $size $work/udrv.log
      # shellcheck disable=SC2086
      udrv-net $nic0 $options rx --count "$count" --timeout 60 > $work/udrv.log 2>&1 &
      udrv_pid=$!
      if wait_for $work/udrv.log "ready, receiving" $udrv_pid; then
        linux_peer send --iface "$if1" --count "$count" --size $size > $work/send.log 2>&1 || fail "udrv $mode rx $size: the sender"
      else
        fail "udrv-net rx never got ready"
      fi
      wait $udrv_pid || { fail "udrv $mode rx $size"; cat $work/udrv.log; }
      record udrv rx $mode $size $work/udrv.log
      rep=$((rep + 1))
    done
  done
done
echo > $d0/driver_override
ip link set "$if1" down
rmmod e1000e
rm -rf "$work"
[ $status -eq 0 ] && echo "net-bench: done"
exit $status

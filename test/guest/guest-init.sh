#!/bin/busybox sh
# PID 1 of a testbed guest: mounts the kernel's filesystems, loads the VFIO
# and UIO modules, runs the plan (/udrv/plan: NAME<TAB>COMMAND per line),
# prints a result per test and a closing "N passed, M failed", powers off.
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp /run
/bin/busybox --install -s
export PATH=/udrv/bin:/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
echo "udrv-guest: kernel $(uname -r) $(uname -m) up after $(cut -d' ' -f1 /proc/uptime)s"

# One module per line, with its parameters after the name.
while read -r module parameters; do
  [ -n "$module" ] || continue
  # shellcheck disable=SC2086 # the parameters are words of their own
  insmod "/lib/modules/$module.ko" $parameters || echo "udrv-guest: insmod $module failed"
done < /udrv/modules

# USB devices (and the disks usb-storage finds on them) appear after their
# hub's driver probed its ports, after the modules loaded: wait until the
# devices and disks stay the same for a second (at most 15 s).
if [ -d /sys/bus/usb/devices ]; then
  previous=
  stable=0
  for _ in $(seq 150); do
    now=$(ls /sys/bus/usb/devices /sys/block 2>/dev/null | tr '\n' ' ')
    if [ "$now" = "$previous" ]; then stable=$((stable + 1)); else stable=0; previous=$now; fi
    [ $stable -ge 10 ] && break
    sleep 0.1
  done
  echo "udrv-guest: USB settled after $(cut -d' ' -f1 /proc/uptime)s: $(ls /sys/bus/usb/devices | grep -vc :) devices"
fi

passed=0
failed=0
tab=$(printf '\t')
while IFS="$tab" read -r name command; do
  [ -n "$name" ] || continue
  echo "udrv-guest: RUN $name: $command"
  (cd /tmp && sh -c "$command") < /dev/null
  status=$?
  if [ $status -eq 0 ]; then
    echo "udrv-guest: PASS $name"
    passed=$((passed + 1))
  else
    echo "udrv-guest: FAIL $name (exit $status)"
    failed=$((failed + 1))
  fi
done < /udrv/plan
echo "udrv-guest: done after $(cut -d' ' -f1 /proc/uptime)s"
echo "udrv-guest: $passed passed, $failed failed"
sync
poweroff -f

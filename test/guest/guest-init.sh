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

while read -r module; do
  [ -n "$module" ] || continue
  insmod "/lib/modules/$module.ko" || echo "udrv-guest: insmod $module failed"
done < /udrv/modules

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

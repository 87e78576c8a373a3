#!/bin/sh
# udrv-guest-request: asks the host for what only QEMU can do. It prints one
# line on the console, which run-guest.sh watches and carries out once on
# QEMU's monitor. The request is asynchronous: wait for its effect (a
# carrier change).
# Usage: udrv-guest-request set_link NIC on|off   (NIC: nic0 or nic1, x86_64)
#        udrv-guest-request system_powerdown      (the power button: ACPI's
#                                                  GED event on aarch64 virt)
usage() { echo "usage: udrv-guest-request set_link NIC on|off | system_powerdown" >&2; exit 2; }
if [ $# -eq 1 ] && [ "$1" = system_powerdown ]; then
  printf '\nudrv-guest-request: system_powerdown\n' > /dev/console
  exit 0
fi
[ $# -eq 3 ] && [ "$1" = set_link ] || usage
case $2 in "" | *[!A-Za-z0-9_.-]*) usage ;; esac
case $3 in on | off) ;; *) usage ;; esac
# One write, on a line of its own: run-guest.sh matches whole lines.
printf '\nudrv-guest-request: %s %s %s\n' "$1" "$2" "$3" > /dev/console

#!/bin/sh
# udrv-acpi-record: prints the guest's ACPI tables and the kernel's view of
# its ACPI devices on the console, as a base64 gzip tar between the lines
# "udrv-acpi-record: begin" and "udrv-acpi-record: end SHA256 BYTES"
# (test/acpi/record-firmware.sh cuts it out of the serial log).
# In the tar: each table as /sys/firmware/acpi/tables names it (DSDT, FACP,
# SSDT1, dynamic/...), and under kernel/ a mirror of what the kernel made of
# them: kernel/sys/bus/acpi/devices/NAME/{path,hid,uid,adr,status,modalias}
# (only those the device has), driver.link and physical_node*.link (the
# links' text),
# kernel/sys/bus/pnp/devices/NAME/{id,resources,firmware_node.link},
# kernel/sys/bus/{platform,amba}/devices/NAME/{modalias,resource,
# driver.link,firmware_node.link}, kernel/proc/{iomem,ioports}.
set -eu
out=/tmp/acpi-record
rm -rf "$out"
mkdir -p "$out/kernel/proc"

tables=/sys/firmware/acpi/tables
[ -d "$tables" ] || { echo "udrv-acpi-record: no $tables (ACPI off?)" >&2; exit 1; }
for table in "$tables"/* "$tables"/dynamic/*; do
  [ -f "$table" ] || continue
  name=${table#"$tables"/}
  mkdir -p "$out/$(dirname "$name")"
  cat "$table" > "$out/$name"
done

# Copies the attributes (files) and the links (as NAME.link holding the
# link's text) of sysfs directory $1 that exist, into mirror directory $2.
mirror() {
  from=$1 to=$2
  shift 2
  mkdir -p "$to"
  for entry in "$@"; do
    for path in "$from"/$entry; do
      if [ -L "$path" ]; then
        readlink "$path" > "$to/${path##*/}.link"
      elif [ -f "$path" ]; then
        # Some attributes exist but cannot be read (no such method): left out.
        cat "$path" > "$to/${path##*/}" 2>/dev/null || rm -f "$to/${path##*/}"
      fi
    done
  done
}

for device in /sys/bus/acpi/devices/*; do
  mirror "$device" "$out/kernel$device" path hid uid adr status modalias driver 'physical_node*'
done
for bus in pnp platform amba; do
  for device in /sys/bus/"$bus"/devices/*; do
    [ -e "$device" ] || continue
    mirror "$device" "$out/kernel$device" id resources modalias resource driver firmware_node
  done
done
cat /proc/iomem > "$out/kernel/proc/iomem"
cat /proc/ioports > "$out/kernel/proc/ioports"

tar -C "$out" -czf /tmp/acpi-record.tar.gz .
digest=$(sha256sum /tmp/acpi-record.tar.gz | cut -d' ' -f1)
bytes=$(wc -c < /tmp/acpi-record.tar.gz)
# The host checks the digest: a kernel message on the console inside the
# block (rare under "quiet") fails the recording instead of spoiling it.
echo "udrv-acpi-record: begin"
base64 /tmp/acpi-record.tar.gz
echo "udrv-acpi-record: end $digest $bytes"

#!/usr/bin/env python3
"""Writes a synthetic sysfs tree with PCI bridges, shaped as the kernel's, for
comparing `busctl list --tree` with `lspci -t` (the recorded trees of
test/pci/data have no bridges). Functions nest under the bridge they sit
behind (devices/pci0000:00/0000:00:1c.0/0000:01:00.0), bus/pci/devices holds
relative links, and each config file carries the header lspci builds the tree
from (header type, primary/secondary/subordinate bus).

Usage: make-bridge-tree.py DEST single|multi|vmd
  single: one domain: root ports, a switch with a multi-function endpoint
          behind it, an empty downstream port, a bridge with nothing behind it.
  multi:  two domains, 0000 and 0001.
  vmd:    domain 10000 behind an Intel VMD function of domain 0000: its root
          bus sits in the directory of a function that is no bridge by its
          header.
"""
import os
import sys

# (address, parent address or None, vendor, device, class, header type, (primary, secondary, subordinate))
SINGLE = [
    ("0000:00:00.0", None, 0x8086, 0x29c0, 0x060000, 0x00, None),
    ("0000:00:01.0", None, 0x1234, 0x1111, 0x030000, 0x00, None),
    ("0000:00:1c.0", None, 0x8086, 0x2940, 0x060400, 0x81, (0x00, 0x01, 0x04)),
    ("0000:00:1c.1", None, 0x8086, 0x2942, 0x060400, 0x81, (0x00, 0x05, 0x05)),
    ("0000:01:00.0", "0000:00:1c.0", 0x10b5, 0x8747, 0x060400, 0x01, (0x01, 0x02, 0x04)),
    ("0000:02:01.0", "0000:01:00.0", 0x10b5, 0x8747, 0x060400, 0x01, (0x02, 0x03, 0x03)),
    ("0000:02:02.0", "0000:01:00.0", 0x10b5, 0x8747, 0x060400, 0x01, (0x02, 0x04, 0x04)),
    ("0000:03:00.0", "0000:02:01.0", 0x8086, 0x10d3, 0x020000, 0x80, None),
    ("0000:03:00.1", "0000:02:01.0", 0x8086, 0x10d3, 0x020000, 0x80, None),
    ("0000:05:00.0", "0000:00:1c.1", 0x1b36, 0x0010, 0x010802, 0x00, None),
    ("0000:00:1e.0", None, 0x8086, 0x244e, 0x060401, 0x01, (0x00, 0x06, 0x06)),
    ("0000:00:1f.0", None, 0x8086, 0x2918, 0x060100, 0x80, None),
    ("0000:00:1f.2", None, 0x8086, 0x2922, 0x010601, 0x80, None),
]

MULTI = [
    ("0000:00:00.0", None, 0x8086, 0x29c0, 0x060000, 0x00, None),
    ("0000:00:1c.0", None, 0x8086, 0x2940, 0x060400, 0x01, (0x00, 0x01, 0x01)),
    ("0000:01:00.0", "0000:00:1c.0", 0x1b36, 0x0010, 0x010802, 0x00, None),
    ("0001:00:00.0", None, 0x1b36, 0x0008, 0x060000, 0x00, None),
    ("0001:00:02.0", None, 0x1234, 0x11e8, 0x00ff00, 0x00, None),
]

# Intel VMD: a RAID-class function (no bridge by its header) whose directory
# holds the root bus of domain 10000.
VMD = [
    ("0000:00:00.0", None, 0x8086, 0x29c0, 0x060000, 0x00, None),
    ("0000:00:0e.0", None, 0x8086, 0x467f, 0x010400, 0x00, None),
    ("0000:00:1f.0", None, 0x8086, 0x2918, 0x060100, 0x80, None),
    ("10000:e0:00.0", "0000:00:0e.0", 0x8086, 0x7a38, 0x060400, 0x01, (0xe0, 0xe1, 0xe1)),
    ("10000:e1:00.0", "10000:e0:00.0", 0x144d, 0xa808, 0x010802, 0x00, None),
]


def config_bytes(vendor, device, cls, header, buses):
    config = bytearray(256)
    config[0:2] = vendor.to_bytes(2, "little")
    config[2:4] = device.to_bytes(2, "little")
    config[4:6] = (0x0006).to_bytes(2, "little")  # memory space, bus master
    config[8] = 0
    config[9:12] = cls.to_bytes(3, "little")
    config[0x0e] = header
    if buses:
        config[0x18], config[0x19], config[0x1a] = buses
    return bytes(config)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def main():
    kinds = {"single": SINGLE, "multi": MULTI, "vmd": VMD}
    if len(sys.argv) != 3 or sys.argv[2] not in kinds:
        sys.exit(__doc__)
    dest, functions = sys.argv[1], kinds[sys.argv[2]]
    os.makedirs(os.path.join(dest, "bus/pci/devices"))
    os.makedirs(os.path.join(dest, "bus/pci/drivers"))
    directory = {}
    for address, parent, vendor, device, cls, header, buses in functions:
        if parent is None:
            domain, bus = address.split(":")[0:2]
            base = "devices/pci%s:%s" % (domain, bus)
        else:
            base = directory[parent]
        relative = os.path.join(base, address)
        directory[address] = relative
        path = os.path.join(dest, relative)
        os.makedirs(path)
        write(os.path.join(path, "vendor"), "0x%04x\n" % vendor)
        write(os.path.join(path, "device"), "0x%04x\n" % device)
        write(os.path.join(path, "subsystem_vendor"), "0x%04x\n" % vendor)
        write(os.path.join(path, "subsystem_device"), "0x0000\n")
        write(os.path.join(path, "class"), "0x%06x\n" % cls)
        write(os.path.join(path, "revision"), "0x00\n")
        write(os.path.join(path, "irq"), "0\n")
        write(os.path.join(path, "numa_node"), "-1\n")
        write(os.path.join(path, "resource"), "0x0000000000000000 0x0000000000000000 0x0000000000000000\n" * 7)
        with open(os.path.join(path, "config"), "wb") as f:
            f.write(config_bytes(vendor, device, cls, header, buses))
        os.symlink(os.path.join("../../..", relative), os.path.join(dest, "bus/pci/devices", address))


if __name__ == "__main__":
    main()

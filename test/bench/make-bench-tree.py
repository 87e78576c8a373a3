#!/usr/bin/env python3
"""Writes a synthetic sysfs tree of a large server's PCI hierarchy for
benchmarking `busctl list` against `lspci` (test/bench/busctl_list_bench.sh):
both read it through --sysfs-root / `-A linux-sysfs -O sysfs.path=DEST/bus/pci`.

Shape, per PCI domain (segment) until at least FUNCTIONS functions exist: a
host bridge and 16 root ports on bus 00; behind each root port a PEX 8747
switch (upstream port, four downstream ports); behind each downstream port
one endpoint, in turn an X710 (2 PFs, 14 VFs), an NVMe SSD, a Tesla T4 with
its audio function, an I350 (4 functions) or a ConnectX-5 (2 PFs, 8 VFs).
Every function has the attributes the kernel gives it (IDs, class,
revision, irq, numa_node, resource with the kernel's line count, a 4096-byte
config space with PM, MSI, PCIe and MSI-X capabilities and AER, DSN, ARI,
ACS and SR-IOV extended capabilities as the function type has them,
driver_override, enable, local_cpulist, modalias), nests under its bridge
as in /sys/devices, and has its driver and IOMMU group links (one group per
device, VFs and bridges alone).

Usage: make-bench-tree.py DEST [FUNCTIONS]   (FUNCTIONS defaults to 1024)
"""
import os
import struct
import sys

DEST = sys.argv[1]
TARGET = int(sys.argv[2]) if len(sys.argv) > 2 else 1024

# (vendor, device, class, driver)
HOST_BRIDGE = (0x8086, 0x2f00, 0x060000, None)
ROOT_PORT = (0x8086, 0x2030, 0x060400, "pcieport")
SWITCH_PORT = (0x10b5, 0x8747, 0x060400, "pcieport")
# Endpoints: a list of (device number, function, ids, is_vf) per kind.
X710_PF = (0x8086, 0x1572, 0x020000, "i40e")
X710_VF = (0x8086, 0x154c, 0x020000, "iavf")
NVME = (0x144d, 0xa808, 0x010802, "nvme")
T4 = (0x10de, 0x1eb8, 0x030200, None)
T4_AUDIO = (0x10de, 0x10fa, 0x040300, "snd_hda_intel")  # not in pci.ids: "Device [10de:10fa]"
I350 = (0x8086, 0x1521, 0x020000, "igb")
CX5_PF = (0x15b3, 0x1017, 0x020000, "mlx5_core")
CX5_VF = (0x15b3, 0x1018, 0x020000, "mlx5_core")


def endpoint_functions(kind):
    """(device, function, ids, is_pf_with_vfs, is_vf) of one endpoint kind."""
    if kind == 0:
        funcs = [(0, f, X710_PF, True, False) for f in range(2)]
        funcs += [(2 + n // 8, n % 8, X710_VF, False, True) for n in range(14)]
    elif kind == 1:
        funcs = [(0, 0, NVME, False, False)]
    elif kind == 2:
        funcs = [(0, 0, T4, False, False), (0, 1, T4_AUDIO, False, False)]
    elif kind == 3:
        funcs = [(0, f, I350, False, False) for f in range(4)]
    else:
        funcs = [(0, f, CX5_PF, True, False) for f in range(2)]
        funcs += [(0 + (2 + n) // 8, (2 + n) % 8, CX5_VF, False, True) for n in range(8)]
    return funcs


class Config:
    """A 4096-byte config space built capability by capability."""

    def __init__(self, ids, header_type, multifunction):
        self.b = bytearray(4096)
        vendor, device, cls, _ = ids
        self.w16(0x00, vendor)
        self.w16(0x02, device)
        self.w16(0x04, 0x0406)  # memory space, bus master, INTx disabled
        self.w16(0x06, 0x0010)  # capabilities list
        self.b[0x08] = 0x01  # revision
        self.b[0x09] = cls & 0xff
        self.w16(0x0a, cls >> 8)
        self.b[0x0e] = header_type | (0x80 if multifunction else 0)
        self.last_cap = None
        self.last_ext = None

    def w16(self, offset, value):
        struct.pack_into("<H", self.b, offset, value)

    def w32(self, offset, value):
        struct.pack_into("<I", self.b, offset, value)

    def cap(self, offset, cap_id, body=b""):
        if self.last_cap is None:
            self.b[0x34] = offset
        else:
            self.b[self.last_cap + 1] = offset
        self.b[offset] = cap_id
        self.b[offset + 1] = 0
        self.b[offset + 2:offset + 2 + len(body)] = body
        self.last_cap = offset

    def ext(self, offset, cap_id, version, body=b""):
        if self.last_ext is not None:
            head = struct.unpack_from("<I", self.b, self.last_ext)[0]
            self.w32(self.last_ext, (head & 0xfffff) | offset << 20)
        self.w32(offset, cap_id | version << 16)
        self.b[offset + 4:offset + 4 + len(body)] = body
        self.last_ext = offset


def pcie_body(port_type):
    # Capabilities (v2, type), DevCap, DevCtl, DevSta, LnkCap (8 GT/s x8), LnkCtl, LnkSta.
    return struct.pack("<HIHHIHH", 0x0002 | port_type << 4, 0x00008fc2, 0x2930, 0x0000,
                       0x00000083 | 8 << 4, 0x0040, 0x0083)


def build_config(ids, header_type, multifunction, port_type, bars, buses=None, msix=False,
                 vfs=None, ari=False, acs=False, serial=0):
    config = Config(ids, header_type, multifunction)
    if header_type == 0:
        for index, address, _, flags in bars:
            low = (address & 0xfffffff0) | (0x4 if flags & 0x100000 else 0) | (0x8 if flags & 0x2000 else 0)
            config.w32(0x10 + 4 * index, low)
            config.w32(0x14 + 4 * index, address >> 32)
        config.w16(0x2c, ids[0])
        config.w16(0x2e, ids[1])
        config.b[0x3d] = 0x01  # INTA
    else:
        primary, secondary, subordinate = buses
        config.b[0x18:0x1b] = bytes([primary, secondary, subordinate])
        config.w16(0x20, 0xfb00)  # memory window
        config.w16(0x22, 0xfbf0)
        config.b[0x3d] = 0x01
    config.cap(0x40, 0x01, struct.pack("<HH", 0x0003, 0x0008))  # PM v3, D0
    config.cap(0x50, 0x05, struct.pack("<HIIH", 0x0080, 0xfee00000, 0, 0x4021))  # MSI, 64-bit
    config.cap(0x70, 0x10, pcie_body(port_type))
    if msix:
        config.cap(0xb0, 0x11, struct.pack("<HII", 63, 0x00000002, 0x00002002))  # 64 vectors in BAR 2
    config.ext(0x100, 0x0001, 2, b"\0" * 0x40)  # AER
    if header_type == 0 and not vfs and serial:
        config.ext(0x148, 0x0003, 1, struct.pack("<Q", serial))  # device serial number
    if ari:
        config.ext(0x150, 0x000e, 1, struct.pack("<HH", 0x0100, 0))
    if acs:
        config.ext(0x160, 0x000d, 1, struct.pack("<HH", 0x005f, 0x001d))
    if vfs:
        total, offset, stride, vf_device = vfs
        config.ext(0x180, 0x0010, 1, struct.pack("<IHHHHHHHHHH", 0x2, 0x19, 0, total, total, total, 0,
                                                   offset, stride, 0, vf_device))
    return bytes(config.b)


def resource_text(bars, is_bridge):
    lines = [(0, 0, 0)] * (17 if is_bridge else 13)
    for index, address, size, flags in bars:
        lines[index] = (address, address + size - 1, flags)
    if is_bridge:
        lines[14] = (0xfb000000, 0xfbffffff, 0x200)  # memory window
    return "".join(f"0x{a:016x} 0x{b:016x} 0x{c:016x}\n" for a, b, c in lines)


MEM64 = 0x140204  # IORESOURCE_MEM | MEM_64 | SIZEALIGN | 64-bit type bits
MEM64_PREF = 0x14220c

functions = []  # (address, dir relative to DEST, ids, config, resource, group, numa)
group_of_device = {}
next_group = [0]


def new_group():
    next_group[0] += 1
    return next_group[0] - 1


def add(domain, bus, dev, fn, parent_dir, ids, config, bars, is_bridge, group, numa):
    address = f"{domain:04x}:{bus:02x}:{dev:02x}.{fn}"
    directory = os.path.join(parent_dir, address)
    functions.append((address, directory, ids, config, resource_text(bars, is_bridge), group, numa))
    return directory


mmio = [0x38000000000]


def bar(index, size, flags):
    address = mmio[0]
    mmio[0] += max(size, 0x100000)
    return (index, address, size, flags)


domain = 0
endpoint_kind = 0
while len(functions) < TARGET:
    root_dir = f"devices/pci{domain:04x}:00"
    numa = domain % 2
    add(domain, 0, 0, 0, root_dir, HOST_BRIDGE,
        build_config(HOST_BRIDGE, 0, False, 0, [], serial=0), [], False, new_group(), numa)
    bus = 1
    for port in range(16):
        if len(functions) >= TARGET:
            break
        up_bus, down_bus = bus, bus + 1
        last_bus = down_bus + 4
        rp_dir = add(domain, 0, port + 1, 0, root_dir, ROOT_PORT,
                     build_config(ROOT_PORT, 1, False, 4, [], buses=(0, up_bus, last_bus), acs=True),
                     [], True, new_group(), numa)
        up_dir = add(domain, up_bus, 0, 0, rp_dir, SWITCH_PORT,
                     build_config(SWITCH_PORT, 1, False, 5, [], buses=(up_bus, down_bus, last_bus)),
                     [], True, new_group(), numa)
        for downstream in range(4):
            ep_bus = down_bus + 1 + downstream
            dp_dir = add(domain, down_bus, downstream, 0, up_dir, SWITCH_PORT,
                         build_config(SWITCH_PORT, 1, False, 6, [], buses=(down_bus, ep_bus, ep_bus),
                                      acs=True),
                         [], True, new_group(), numa)
            funcs = endpoint_functions(endpoint_kind % 5)
            endpoint_kind += 1
            pf_group = new_group()
            pf_count = sum(1 for f in funcs if not f[4])
            for dev, fn, ids, has_vfs, is_vf in funcs:
                bars = [bar(0, 0x100000, MEM64), bar(2, 0x4000, MEM64_PREF)]
                vfs = None
                if has_vfs:
                    vf_ids = [f for f in funcs if f[4]]
                    per_pf = len(vf_ids) // pf_count
                    vfs = (per_pf, 16 - fn, 1, vf_ids[0][2][1])
                config = build_config(ids, 0, not is_vf and pf_count > 1, 0, bars, msix=True, vfs=vfs,
                                      ari=len(funcs) > 1,
                                      serial=0x0011223344550000 + len(functions))
                add(domain, ep_bus, dev, fn, dp_dir, ids, config, bars, False,
                    new_group() if is_vf else pf_group, numa)
        bus = last_bus + 1
    domain += 1

os.makedirs(os.path.join(DEST, "bus/pci/devices"))
os.makedirs(os.path.join(DEST, "bus/pci/drivers"))
for address, directory, ids, config, resource, group, numa in functions:
    path = os.path.join(DEST, directory)
    os.makedirs(path, exist_ok=True)
    vendor, device, cls, driver = ids
    attributes = {
        "vendor": f"0x{vendor:04x}", "device": f"0x{device:04x}",
        "subsystem_vendor": f"0x{vendor:04x}", "subsystem_device": f"0x{device:04x}",
        "class": f"0x{cls:06x}", "revision": "0x01", "irq": "0" if cls >> 8 == 0x0604 else "16",
        "numa_node": str(numa), "driver_override": "(null)", "enable": "1",
        "local_cpulist": "0-31" if numa == 0 else "32-63", "msi_bus": "1",
        "modalias": f"pci:v{vendor:08X}d{device:08X}sv{vendor:08X}sd{device:08X}"
                    f"bc{cls >> 16:02X}sc{cls >> 8 & 0xff:02X}i{cls & 0xff:02X}",
    }
    for name, value in attributes.items():
        with open(os.path.join(path, name), "w") as f:
            f.write(value + "\n")
    with open(os.path.join(path, "resource"), "w") as f:
        f.write(resource)
    with open(os.path.join(path, "config"), "wb") as f:
        f.write(config)
    os.symlink(os.path.relpath(path, os.path.join(DEST, "bus/pci/devices")),
               os.path.join(DEST, "bus/pci/devices", address))
    if driver:
        driver_dir = os.path.join(DEST, "bus/pci/drivers", driver)
        os.makedirs(driver_dir, exist_ok=True)
        os.symlink(os.path.relpath(driver_dir, path), os.path.join(path, "driver"))
    group_dir = os.path.join(DEST, "kernel/iommu_groups", str(group))
    if not os.path.isdir(group_dir):
        os.makedirs(os.path.join(group_dir, "devices"))
        with open(os.path.join(group_dir, "type"), "w") as f:
            f.write("DMA\n")
        with open(os.path.join(group_dir, "reserved_regions"), "w") as f:
            f.write("0x00000000fee00000 0x00000000feefffff msi\n")
    os.symlink(os.path.relpath(group_dir, path), os.path.join(path, "iommu_group"))
    os.symlink(os.path.relpath(path, os.path.join(group_dir, "devices")),
               os.path.join(group_dir, "devices", address))
print(f"make-bench-tree: {len(functions)} PCI functions in {domain} domains under {DEST}")

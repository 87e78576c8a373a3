#!/usr/bin/env python3
"""Rewrites QEMU virt's device tree (dtc -O dts, on stdin) so that pl031 and
pl061 sit two simple-bus levels down, behind ranges that are not identity
and an interrupt-map nexus, as real SoCs put their peripherals; the kernel
must still find them at their CPU addresses (9010000.pl031, 9030000.pl061)
with their GIC interrupts. The result goes to stdout.

  /bus@9000000           #address-cells 1: child 0x0 -> CPU 0x9000000 (1 MiB)
    bus@10000            child 0x100000 -> outer 0x10000 (192 KiB); the nexus:
                         interrupt-map-mask <0xfff000 0x7>, one entry per device
                         mapping (its reg address, its 1-cell interrupt) to the
                         GIC (parent unit address: the GIC's 2 address cells)
      pl031@100000       reg <0x100000 0x1000>, interrupts <1>
      pl061@120000       reg <0x120000 0x1000>, interrupts <2>
"""
import re
import sys

OUTER_CPU = 0x9000000   # outer child 0x0 sits here
INNER_IN_OUTER = 0x10000
INNER_CHILD = 0x100000  # inner child address of INNER_IN_OUTER


def fail(why):
    sys.exit(f"nest-virt-dts: {why}")


def cells(text):
    return [int(c, 16) for c in text.split()]


def main():
    dts = sys.stdin.read()
    gic = re.search(r"\n\tinterrupt-parent = <(0x[0-9a-f]+)>;", dts)
    if not gic:
        fail("the root has no interrupt-parent")
    gic_cells = re.search(r"\n\tintc@[0-9a-f]+ \{\n\t\tphandle = <" + gic.group(1) + r">;.*?\n\t\t#address-cells = <(0x[0-9a-f]+)>;",
                          dts, re.S)
    if not gic_cells:
        fail(f"no GIC node with phandle {gic.group(1)} and #address-cells")
    parent_unit = " ".join(["0x00"] * int(gic_cells.group(1), 16))

    moved, imap = [], []
    for number, name in enumerate(("pl031", "pl061"), start=1):
        node = re.search(r"\n\t" + name + r"@([0-9a-f]+) \{\n(.*?)\n\t\};\n", dts, re.S)
        if not node:
            fail(f"no top-level {name} node")
        body = node.group(2)
        reg = re.search(r"\t\treg = <([^>]*)>;", body)
        irq = re.search(r"\t\tinterrupts = <([^>]*)>;", body)
        if not reg or not irq or len(cells(reg.group(1))) != 4 or len(cells(irq.group(1))) != 3:
            fail(f"{name}: expected a 2+2-cell reg and a 3-cell GIC interrupt")
        high, cpu, _, size = cells(reg.group(1))
        child = cpu - OUTER_CPU - INNER_IN_OUTER + INNER_CHILD
        if high or not INNER_CHILD <= child < INNER_CHILD + 0x30000:
            fail(f"{name} at {cpu:#x} is outside the window this script nests")
        body = body.replace(reg.group(0), f"\t\treg = <{child:#x} {size:#x}>;")
        body = body.replace(irq.group(0), f"\t\tinterrupts = <{number:#x}>;")
        moved.append(f"\t\t\t{name}@{child:x} {{\n" + body.replace("\n\t\t", "\n\t\t\t\t").replace("\t\t", "\t\t\t\t", 1) + "\n\t\t\t};\n")
        imap.append(f"{child:#x} {number:#x} {gic.group(1)} {parent_unit} {irq.group(1)}")
        dts = dts.replace(node.group(0), "\n", 1)

    nested = (
        "\n\tbus@9000000 {\n"
        "\t\tcompatible = \"simple-bus\";\n"
        "\t\t#address-cells = <0x01>;\n"
        "\t\t#size-cells = <0x01>;\n"
        f"\t\tranges = <0x00 0x00 {OUTER_CPU:#x} 0x100000>;\n\n"
        f"\t\tbus@{INNER_IN_OUTER:x} {{\n"
        "\t\t\tcompatible = \"simple-bus\";\n"
        "\t\t\t#address-cells = <0x01>;\n"
        "\t\t\t#size-cells = <0x01>;\n"
        f"\t\t\tranges = <{INNER_CHILD:#x} {INNER_IN_OUTER:#x} 0x30000>;\n"
        "\t\t\t#interrupt-cells = <0x01>;\n"
        "\t\t\tinterrupt-map-mask = <0xfff000 0x07>;\n"
        f"\t\t\tinterrupt-map = <{' '.join(imap)}>;\n\n"
        + "\n".join(moved) +
        "\t\t};\n"
        "\t};\n")
    end = dts.rstrip().rfind("};")
    if end < 0:
        fail("no end of the root node")
    sys.stdout.write(dts[:end].rstrip("\t") + nested + dts[end:])


main()

#!/usr/bin/env python3
"""busctl list --ids on recorded trees and firmware: one node id a line,
the devices `list --json` lists in its order, each as its bus names it on
the root bus (what the shell completion offers):

  - PCI: pci/ and the path of addresses from the root bus down (the
    function's parent chain in the document), on the recorded trees and on
    synthetic ones with bridges (make-bridge-tree.py);
  - USB: the device's node_id, then its interfaces' node_ids;
  - ACPI: the entry's id, from a recorded firmware (--acpi) and the kernel's
    view of it (--sysfs-root);
  - platform: platform and the node's path, of a dtc-built board (--dtb);
  - every id is a DEV `show` takes, and what it shows is that device; every
    id of a root-bus node (all but a disabled device-tree node and the
    tree's root) is an ID `match` takes;
  - --bus and PCI's -s select as they do for the listing; --ids with --tree
    or --json is a usage error (exit status 2).

Usage: busctl_list_ids_test.py BUSCTL PCI_DATA USB_TREE ACPI_FIRMWARE BOARD_DTS MAKE_BRIDGE_TREE
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

BUSCTL, PCI_DATA, USB_TREE, ACPI_FIRMWARE, BOARD_DTS, MAKE_BRIDGE_TREE = sys.argv[1:7]

failures = []
checks = 0


def check(condition, what, detail=""):
    global checks
    checks += 1
    if not condition:
        failures.append(what)
        print(f"FAIL: {what}\n  {str(detail)[:3000]}")


def run(*arguments):
    return subprocess.run([BUSCTL, *arguments], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def ids_of_document(document):
    """The node ids of list's JSON entries, in their order, and those of
    them that are no root-bus node (match refuses them)."""
    ids = []
    off_the_root_bus = set()
    pci = {}  # address: node id, bridges before the functions behind them
    for entry in document["devices"]:
        bus = entry["bus"]
        if bus == "pci":
            parent = pci.get(entry["parent"]) if entry["parent"] else None
            pci[entry["address"]] = (parent or "pci") + "/" + entry["address"]
            ids.append(pci[entry["address"]])
        elif bus == "usb":
            ids.append(entry["node_id"])
            ids += [interface["node_id"] for interface in entry["interfaces"]]
        elif bus == "acpi":
            ids.append(entry["id"])
        elif bus == "platform":
            ids.append("platform" + entry["path"])
            if not entry["enabled"] or entry["path"] == "/":
                off_the_root_bus.add(ids[-1])
        else:
            check(False, f"list --json has an entry of a bus this test knows no ids of: {bus}")
    return ids, off_the_root_bus


def compare(source, name, selection=(), show_each=True):
    """list --ids against list --json for `source` (options naming the tree)."""
    listed = run(*source, "list", "--ids", *selection)
    check(listed.returncode == 0, f"{name}: list --ids {' '.join(selection)}", listed.stderr)
    document = run(*source, "--json", "list", *selection)
    check(document.returncode == 0, f"{name}: --json list {' '.join(selection)}", document.stderr)
    ids = listed.stdout.splitlines()
    expected, off_the_root_bus = ids_of_document(json.loads(document.stdout))
    check(ids == expected, f"{name}: list --ids {' '.join(selection)} is the document's devices",
          f"--ids: {ids}\n--json: {expected}")
    check(len(set(ids)) == len(ids), f"{name}: every id once", ids)
    if show_each:
        for node_id in ids:
            shown = run(*source, "--json", "show", node_id)
            check(shown.returncode == 0, f"{name}: show {node_id}", shown.stderr)
            matched = run(*source, "--json", "match", node_id)
            expected_status = 1 if node_id in off_the_root_bus else 0
            check(matched.returncode == expected_status,
                  f"{name}: match {node_id}: exit status {expected_status}", matched.stderr)
    return ids


def pci_with_parents(source, name):
    ids = compare(source, name, ["--bus", "pci"])
    check(ids and all(i.startswith("pci/") for i in ids), f"{name}: PCI ids", ids)
    return ids


with tempfile.TemporaryDirectory(prefix="udrv-busctl-ids-") as scratch:
    # PCI: the recorded trees and a synthetic one with bridges and domains.
    for tree in sorted(os.listdir(PCI_DATA)):
        root = os.path.join(PCI_DATA, tree)
        pci_with_parents(["--sysfs-root", root], tree)
    for shape in ("single", "multi", "vmd"):
        bridged = os.path.join(scratch, shape)
        made = subprocess.run([sys.executable, MAKE_BRIDGE_TREE, bridged, shape], capture_output=True,
                              text=True, timeout=60)
        check(made.returncode == 0, f"make-bridge-tree.py {shape}", made.stderr)
        ids = pci_with_parents(["--sysfs-root", bridged], f"bridged tree {shape}")
        check(any(i.count("/") >= 2 for i in ids),
              f"bridged tree {shape}: functions behind bridges have their path", ids)

    # Selections: PCI's -s, and --bus.
    guest = os.path.join(PCI_DATA, "guest-x86_64")
    everything = compare(["--sysfs-root", guest], "guest-x86_64", show_each=False)
    slot = compare(["--sysfs-root", guest], "guest-x86_64", ["-s", "00:1f"], show_each=False)
    check(slot and set(slot) < set(everything) and all(":00:1f." in i for i in slot),
          "-s 00:1f: its functions alone", slot)

    # USB: devices and their interfaces (match builds the whole root bus:
    # the tree gets an empty PCI bus).
    usb_tree = os.path.join(scratch, "usb")
    shutil.copytree(USB_TREE, usb_tree, symlinks=True)
    os.makedirs(os.path.join(usb_tree, "bus", "pci", "devices"))
    usb = compare(["--sysfs-root", usb_tree], "USB tree")
    check(any(":1.0" in i for i in usb) and any(i == "usb/usb2/2-1" for i in usb),
          "USB tree: devices and interfaces", usb)
    shown = run("--sysfs-root", usb_tree, "--json", "show", "usb/usb2/2-1")
    check(shown.returncode == 0 and json.loads(shown.stdout)["device"]["node_id"] == "usb/usb2/2-1",
          "show of an id shows that device", shown.stdout[:500] + shown.stderr)

    # ACPI: a firmware offline, and the kernel's view of it.
    acpi = compare(["--acpi", ACPI_FIRMWARE], "ACPI firmware")
    check(acpi and all(i.startswith("acpi/") for i in acpi), "ACPI firmware: acpi ids", acpi)
    compare(["--sysfs-root", os.path.join(ACPI_FIRMWARE, "kernel", "sys")], "ACPI kernel view",
            ["--bus", "acpi"])

    # platform: a board's device tree.
    dtb = os.path.join(scratch, "board.dtb")
    built = subprocess.run(["dtc", "-I", "dts", "-O", "dtb", "-o", dtb, BOARD_DTS],
                           capture_output=True, text=True, timeout=60)
    check(built.returncode == 0, "dtc builds the board", built.stderr)
    platform = compare(["--dtb", dtb], "board")
    check(platform and all(i.startswith("platform/") for i in platform), "board: platform ids",
          platform)
    check("platform/" in platform, "board: the root node's id, platform/", platform)

    # What --ids does not go with.
    for other in (["--tree"], ["-t"], ["--json"]):
        refused = run("--sysfs-root", guest, "list", "--ids", *other)
        check(refused.returncode == 2 and not refused.stdout,
              f"list --ids {other[0]}: a usage error", refused.stdout + refused.stderr)

print(f"{checks} checks, {len(failures)} failed")
sys.exit(1 if failures else 0)

#!/usr/bin/env python3
"""busctl's USB module on the recorded x86_64 guest (test/usb/sysfs/x86_64-q35:
its sys/ tree and what the guest's own lsusb printed there, oracle/), reading
only:

  - `list --bus usb` is oracle/lsusb byte for byte (order, bus and device
    numbers, IDs, names), `list --bus usb -t` is oracle/lsusb-t;
  - `show` of every device is lsusb -v's block of it, less what lsusb asked
    the device itself (hub descriptor and port status, BOS, device qualifier,
    debug descriptor, status: busctl asks only on the live machine, as root)
    and with usb.ids's names of "no particular class" (the hwdb lsusb names
    classes from leaves them out);
  - show takes DEV as the kernel's name, the node id, lsusb -s's BUS:DEVNUM
    and an interface's name or node id alike; a device that is not there, or a node id of the wrong place, is
    NOT_FOUND (exit 1);
  - --json: list's entries carry vid, pid, busnum, devnum, port_path and the
    interfaces; show's descriptors hold every endpoint with its companion;
  - a tree without sys/bus/usb lists nothing, without an error;
  - a snapshot of the tree replays as the tree;
  - a CDC ACM function behind an interface association, added to the tree
    (the guest has none), shows as lsusb -v shows one: the association,
    the CDC functional descriptors, a descriptor lsusb does not know; with
    its descriptors cut short it is skipped, and list and show say why.
Every --json document is validated against docs/busctl.schema.json.

Usage: busctl_usb_test.py BUSCTL SCHEMA RECORDED_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import busctl_testlib

BUSCTL, SCHEMA_PATH, RECORDED = sys.argv[1], sys.argv[2], sys.argv[3]
SYS = os.path.join(RECORDED, "sys")
ORACLE = os.path.join(RECORDED, "oracle")
SCHEMA, VALIDATOR = busctl_testlib.load_schema(SCHEMA_PATH)
CHECKS = busctl_testlib.Checks()
check = CHECKS.check


def run(args, root=SYS):
    return subprocess.run([BUSCTL, "--sysfs-root", root, *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def json_of(completed, what):
    """The --json document busctl printed, checked against the schema."""
    document = json.loads(completed.stdout)
    CHECKS.valid(VALIDATOR, document, what)
    return document


def read(name):
    with open(os.path.join(ORACLE, name), encoding="utf-8") as f:
        return f.read()


for required in ("lsusb", "lsusb-t", "lsusb-v"):
    if not os.path.isfile(os.path.join(ORACLE, required)):
        print(f"FAIL: the recording has no oracle/{required}")
        sys.exit(1)

# list: lsusb's lines.
listed = run(["list", "--bus", "usb"])
check(listed.returncode == 0 and listed.stdout == read("lsusb"),
      "list --bus usb is lsusb", listed.stdout + listed.stderr)

# list -t: lsusb -t's tree (a root hub's Driver= is its controller's driver).
drawn = run(["list", "--bus", "usb", "-t"])
check(drawn.returncode == 0 and drawn.stdout == read("lsusb-t"), "list --bus usb -t is lsusb -t",
      drawn.stdout + drawn.stderr)

# show: lsusb -v's block of each device.
ASKED = re.compile(r"^(Hub Descriptor|Binary Object Store Descriptor|Device Qualifier \(for other device speed\)"
                   r"|Debug descriptor|Device Status):")
FILLER = re.compile(r"^( *b(Device|Interface|Function)(Class|SubClass|Protocol) +\d+ )"
                    r"(\(Defined at Interface level\)|Unused|No Subclass|None)$")


def without_asked(lines):
    kept, skipping = [], False
    for line in lines:
        if ASKED.match(line):
            skipping = True
        elif line.startswith("Bus ") or line == "udrv:":
            skipping = False
        if not skipping:
            kept.append(line)
    return kept


blocks = {}
for block in read("lsusb-v").split("\n\n"):
    lines = [line for line in block.splitlines() if line]
    if lines and lines[0].startswith("Bus "):
        blocks[lines[0]] = without_asked(lines)
check(len(blocks) == len(read("lsusb").splitlines()), "lsusb -v has a block per device", str(list(blocks)))

devices = []
for line in read("lsusb").splitlines():
    bus, devnum = re.match(r"Bus (\d+) Device (\d+):", line).groups()
    devices.append(f"{bus}:{devnum}")
    shown = run(["show", f"{bus}:{devnum}"])
    check(shown.returncode == 0, f"show {bus}:{devnum} succeeds", shown.stderr)
    text = shown.stdout.split("\nudrv:\n")[0].splitlines()
    text = [FILLER.sub(r"\1", line) for line in text]
    expected = blocks.get(line, [])
    check(text == expected, f"show {bus}:{devnum} is lsusb -v's block less what lsusb asked the device",
          "\n  ".join(f"{a!r} | {b!r}" for a, b in zip(text + [""] * 99, expected) if a != b))
    check("not this machine's /sys" in shown.stderr,
          f"show {bus}:{devnum} says it did not ask the recorded devices", shown.stderr)
    udrv = shown.stdout.split("\nudrv:\n")[1] if "\nudrv:\n" in shown.stdout else ""
    check(re.search(r"^  Node: usb/usb\d+", udrv, re.M) is not None, f"show {bus}:{devnum} names its node", udrv)
    shown = run(["--json", "show", f"{bus}:{devnum}"])
    check(shown.returncode == 0, f"--json show {bus}:{devnum} succeeds", shown.stderr)
    json_of(shown, f"--json show {bus}:{devnum}")

# DEV forms.
by_name = run(["show", "2-1"])
for form in ("usb/usb2/2-1", "002:002", "2:2", "2-1:1.0", "usb/usb2/2-1/2-1:1.0"):
    other = run(["show", form])
    check(other.returncode == 0 and other.stdout == by_name.stdout, f"show {form} is show 2-1", other.stderr)
root_hub = run(["show", "usb2"])
for form in ("2-0:1.0", "usb/usb2/2-0:1.0", "002:001"):
    other = run(["show", form])
    check(other.returncode == 0 and other.stdout == root_hub.stdout, f"show {form} is show usb2", other.stderr)
for missing in ("9-9", "usb/usb1/2-1", "009:001", "usb7", "2-1:1.9", "usb/usb2/2-1/1-2:1.0"):
    gone = run(["show", missing])
    check(gone.returncode == 1 and "NOT_FOUND" in gone.stderr, f"show {missing} is NOT_FOUND", gone.stderr)
gone = run(["--json", "show", "9-9"])
check(gone.returncode == 1 and json_of(gone, "--json show 9-9")["error"]["status"] == "NOT_FOUND",
      "--json show 9-9 is a NOT_FOUND error document", gone.stdout)
bad = run(["show", "usb/usb2/x"])
check(bad.returncode == 2, "show of a malformed USB node id is a usage error", bad.stderr)

# JSON.
document = json_of(run(["--json", "list", "--bus", "usb"]), "--json list --bus usb")
entries = document["devices"]
check([f"{e['busnum']:03d}:{e['devnum']:03d}" for e in entries] == devices,
      "--json list has the devices in lsusb's order", str(entries)[:300])
storage = [e for e in entries if e["name"] == "2-1"]
check(len(storage) == 1, "--json list has 2-1")
if storage:
    s = storage[0]
    check((s["bus"], s["vid"], s["pid"], s["busnum"], s["devnum"], s["port_path"], s["parent"]) ==
          ("usb", "46f4", "0001", 2, 2, "1", "usb2"), "2-1's entry: vid, pid, bus, port path", str(s))
    check([(i["name"], i["class"], i["subclass"], i["protocol"], i["driver"]) for i in s["interfaces"]] ==
          [("2-1:1.0", "08", "06", "50", "usb-storage")], "2-1's interface: 08/06/50, usb-storage",
          str(s["interfaces"]))
shown = json_of(run(["--json", "show", "2-1"]), "--json show 2-1")
check(shown["command"] == "show" and shown["device"] == (storage[0] if storage else None),
      "--json show's device is list's entry")
endpoints = shown["descriptors"]["configurations"][0]["interfaces"][0]["alternates"][0]["endpoints"]
check([(e["address"], e["type"], e["max_packet_size"], e["ss_companion"]["max_burst"]) for e in endpoints] ==
      [(0x81, "bulk", 1024, 15), (0x02, "bulk", 1024, 15)], "2-1's endpoints with their companions",
      str(endpoints))
check(shown["answers"] is None and shown["skipped"], "--json show of a recorded tree asks no device",
      str(shown.get("skipped")))

with tempfile.TemporaryDirectory() as scratch:
    # No USB at all: an empty listing.
    empty = os.path.join(scratch, "empty")
    os.makedirs(os.path.join(empty, "bus", "pci", "devices"))
    none = run(["list", "--bus", "usb"], empty)
    check(none.returncode == 0 and none.stdout == "" and none.stderr == "", "no sys/bus/usb lists nothing",
          none.stdout + none.stderr)
    none = run(["--json", "list", "--bus", "usb"], empty)
    check(none.returncode == 0 and json_of(none, "--json list of no USB")["devices"] == [],
          "no sys/bus/usb: no entries")
    none = run(["list", "--bus", "usb", "-t"], empty)
    check(none.returncode == 0 and none.stdout == "", "no sys/bus/usb: no tree", none.stderr)

    # A snapshot replays as the tree (the recorder wants a PCI bus: an empty one).
    tree_copy = os.path.join(scratch, "sys")
    shutil.copytree(SYS, tree_copy, symlinks=True)
    os.makedirs(os.path.join(tree_copy, "bus", "pci", "devices"), exist_ok=True)
    snapshot = os.path.join(scratch, "usb.snap")
    made = run(["snapshot", snapshot], tree_copy)
    check(made.returncode == 0, "snapshot of the tree", made.stderr)
    for command in (["list", "--bus", "usb"], ["list", "--bus", "usb", "-t"], ["--json", "list", "--bus", "usb"],
                    *[["show", device] for device in devices], ["--json", "show", "2-1"]):
        live = run(command, tree_copy)
        replayed = subprocess.run([BUSCTL, "--from", snapshot, *command], capture_output=True, text=True,
                                  timeout=60)
        check(replayed.returncode == 0 and replayed.stdout == live.stdout,
              f"busctl {' '.join(command)} replays from the snapshot as on the tree",
              replayed.stderr)


def cdc_acm_descriptors():
    """A CDC ACM gadget's descriptors: device (class EF/02/01, IAD), one
    configuration: an association of interfaces 0-1, the communication
    interface (02/02/01) with its header, call management, ACM and union
    functional descriptors, a vendor's descriptor (type 0x41) and an
    interrupt endpoint, then the data interface (0A/00/00) and its bulk pair."""
    body = bytes([8, 0x0B, 0, 2, 2, 2, 1, 0,
                  9, 4, 0, 0, 1, 2, 2, 1, 0,
                  5, 0x24, 0x00, 0x10, 0x01,
                  5, 0x24, 0x01, 0x00, 0x01,
                  4, 0x24, 0x02, 0x02,
                  5, 0x24, 0x06, 0x00, 0x01,
                  3, 0x41, 0xAB,
                  7, 5, 0x83, 3, 8, 0, 9,
                  9, 4, 1, 0, 2, 0x0A, 0, 0, 0,
                  7, 5, 0x81, 2, 0x00, 0x02, 0,
                  7, 5, 0x02, 2, 0x00, 0x02, 0])
    total = 9 + len(body)
    config = bytes([9, 2, total & 0xff, total >> 8, 2, 1, 0, 0xC0, 50])
    device = bytes([18, 1, 0x00, 0x02, 0xEF, 0x02, 0x01, 64, 0x25, 0x05, 0xA7, 0xA4, 0x00, 0x01, 1, 2, 0, 1])
    return device + config + body


with tempfile.TemporaryDirectory() as scratch:
    tree_copy = os.path.join(scratch, "sys")
    shutil.copytree(SYS, tree_copy, symlinks=True)
    hub = os.path.realpath(os.path.join(tree_copy, "bus/usb/devices/usb1"))
    gadget = os.path.join(hub, "1-4")
    os.makedirs(gadget)
    attributes = {"busnum": "1", "devnum": "4", "devpath": "4", "speed": "480", "version": " 2.00",
                  "maxchild": "0", "bConfigurationValue": "1", "authorized": "1",
                  "manufacturer": "udrv", "product": "Gadget Serial v2.4"}
    for name, value in attributes.items():
        with open(os.path.join(gadget, name), "w") as f:
            f.write(value + "\n")
    with open(os.path.join(gadget, "descriptors"), "wb") as f:
        f.write(cdc_acm_descriptors())
    os.symlink(os.path.relpath(gadget, os.path.join(tree_copy, "bus/usb/devices")),
               os.path.join(tree_copy, "bus/usb/devices/1-4"))
    shown = run(["show", "1-4"], tree_copy)
    check(shown.returncode == 0, "show of a CDC ACM gadget", shown.stderr)
    expected = """Bus 001 Device 004: ID 0525:a4a7 Netchip Technology, Inc. Linux-USB Serial Gadget (CDC ACM mode)
Device Descriptor:
  bLength                18
  bDescriptorType         1
  bcdUSB               2.00
  bDeviceClass          239 Miscellaneous Device
  bDeviceSubClass         2 ?
  bDeviceProtocol         1 Interface Association
  bMaxPacketSize0        64
  idVendor           0x0525 Netchip Technology, Inc.
  idProduct          0xa4a7 Linux-USB Serial Gadget (CDC ACM mode)
  bcdDevice            1.00
  iManufacturer           1 udrv
  iProduct                2 Gadget Serial v2.4
  iSerial                 0 
  bNumConfigurations      1
  Configuration Descriptor:
    bLength                 9
    bDescriptorType         2
    wTotalLength       0x004e
    bNumInterfaces          2
    bConfigurationValue     1
    iConfiguration          0 
    bmAttributes         0xc0
      Self Powered
    MaxPower              100mA
    Interface Association:
      bLength                 8
      bDescriptorType        11
      bFirstInterface         0
      bInterfaceCount         2
      bFunctionClass          2 Communications
      bFunctionSubClass       2 Abstract (modem)
      bFunctionProtocol       1 AT-commands (v.25ter)
      iFunction               0 
    Interface Descriptor:
      bLength                 9
      bDescriptorType         4
      bInterfaceNumber        0
      bAlternateSetting       0
      bNumEndpoints           1
      bInterfaceClass         2 Communications
      bInterfaceSubClass      2 Abstract (modem)
      bInterfaceProtocol      1 AT-commands (v.25ter)
      iInterface              0 
      CDC Header:
        bcdCDC               1.10
      CDC Call Management:
        bmCapabilities       0x00
        bDataInterface          1
      CDC ACM:
        bmCapabilities       0x02
          line coding and serial state
      CDC Union:
        bMasterInterface        0
        bSlaveInterface         1 
      ** UNRECOGNIZED:  03 41 ab
      Endpoint Descriptor:
        bLength                 7
        bDescriptorType         5
        bEndpointAddress     0x83  EP 3 IN
        bmAttributes            3
          Transfer Type            Interrupt
          Synch Type               None
          Usage Type               Data
        wMaxPacketSize     0x0008  1x 8 bytes
        bInterval               9
    Interface Descriptor:
      bLength                 9
      bDescriptorType         4
      bInterfaceNumber        1
      bAlternateSetting       0
      bNumEndpoints           2
      bInterfaceClass        10 CDC Data
      bInterfaceSubClass      0 Unused
      bInterfaceProtocol      0 
      iInterface              0 
      Endpoint Descriptor:
        bLength                 7
        bDescriptorType         5
        bEndpointAddress     0x81  EP 1 IN
        bmAttributes            2
          Transfer Type            Bulk
          Synch Type               None
          Usage Type               Data
        wMaxPacketSize     0x0200  1x 512 bytes
        bInterval               0
      Endpoint Descriptor:
        bLength                 7
        bDescriptorType         5
        bEndpointAddress     0x02  EP 2 OUT
        bmAttributes            2
          Transfer Type            Bulk
          Synch Type               None
          Usage Type               Data
        wMaxPacketSize     0x0200  1x 512 bytes
        bInterval               0
udrv:
"""
    got = shown.stdout.split("udrv:\n")[0] + "udrv:\n"
    check(got == expected, "a CDC ACM gadget shows as lsusb -v lays one out (names from usb.ids)",
          "\n  ".join(f"{a!r} | {b!r}" for a, b in zip(got.splitlines(), expected.splitlines()) if a != b))
    json_of(run(["--json", "show", "1-4"], tree_copy), "--json show of a CDC ACM gadget")
    listed = run(["list", "--bus", "usb"], tree_copy).stdout.splitlines()
    check(listed[2:3] == [expected.splitlines()[0]], "list --bus usb has the gadget in lsusb's order",
          str(listed))

    # The kernel kept less than the configuration's wTotalLength says (a
    # device with excess bytes): sysfs's file holds what it kept, the header
    # what the device said, and the gadget is still listed and shown.
    quirky = bytearray(cdc_acm_descriptors())
    quirky[18 + 2] += 1
    with open(os.path.join(gadget, "descriptors"), "wb") as f:
        f.write(quirky)
    listed = run(["list", "--bus", "usb"], tree_copy)
    check(listed.returncode == 0 and listed.stdout.splitlines()[2:3] == [expected.splitlines()[0]],
          "a configuration whose wTotalLength says more than sysfs holds is listed", listed.stderr)
    shown = run(["show", "1-4"], tree_copy)
    check(shown.returncode == 0 and "wTotalLength       0x%04x" % (quirky[20] | quirky[21] << 8) in shown.stdout,
          "show prints wTotalLength as the device sent it", shown.stderr)
    check(re.search(r"^  Note: configuration 1: wTotalLength \d+ but \d+ bytes of descriptors", shown.stdout, re.M) is not None,
          "show notes the disagreement", shown.stdout[-400:])
    noted = json_of(run(["--json", "show", "1-4"], tree_copy), "--json show of the quirky gadget")
    check(len(noted["descriptors"]["notes"]) == 1 and "wTotalLength" in noted["descriptors"]["notes"][0],
          "--json show carries the note", str(noted["descriptors"]["notes"]))

    # Its descriptors cut short: the reading skips it, and says so.
    with open(os.path.join(gadget, "descriptors"), "wb") as f:
        f.write(cdc_acm_descriptors()[:40])
    listed = run(["list", "--bus", "usb"], tree_copy)
    check(listed.returncode == 0 and listed.stdout == read("lsusb") and
          "busctl list: skipped USB device 1-4: " in listed.stderr and "past the end" in listed.stderr,
          "a device whose descriptors do not parse is left out of list, said on stderr", listed.stderr)
    shown = run(["show", "1-4"], tree_copy)
    check(shown.returncode == 1 and "NOT_FOUND" in shown.stderr and "was skipped" in shown.stderr,
          "show of a skipped device says why it was skipped", shown.stderr)

print(f"{CHECKS.count - len(CHECKS.failures)} of {CHECKS.count} checks passed")
sys.exit(1 if CHECKS.failures else 0)

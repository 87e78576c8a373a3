#!/usr/bin/env python3
"""busctl's ACPI module on the host, never touching this machine's devices:

  - for each recorded guest firmware (test/acpi/firmware/MACHINE: QEMU q35
    and aarch64 virt under UEFI):
      * `busctl --acpi DIR acpi tables`: one line per table file, its header
        as the file's bytes say (struct-unpacked here), the checksum
        computed here;
      * `busctl --acpi DIR acpi tables show NAME` against `iasl -d` of the
        same table (the oracle nobody here wrote): every field iasl prints
        with an offset is busctl's, at the same offset and length, with the
        same name and value;
      * `busctl --acpi DIR list`: every device the guest kernel enumerated
        (its recorded /sys/bus/acpi/devices: path, hid) is listed with that
        path and HID, and the memory and I/O the kernel's PNP resources
        give a device with a static _CRS are busctl's mmio and io;
      * a sysfs tree made from the recording (the kernel's view, the tables,
        /proc/iomem; PCI functions for q35's _ADR devices): the kernel's
        device and physical node of each ACPI device; a device whose
        physical node is a listed PCI function is not listed twice, the
        function's entry carries its ACPI view (one device, both views);
      * show of the devices the issue's drivers use (the HPET, the
        virtio-mmio slots, the PL011), and DEV forms (paths, unpadded
        paths, node ids, malformed ones);
  - a table with a bad checksum, a missing --acpi directory, a table that
    is not there;
  - this machine's own tables, read-only: `busctl acpi tables` against
    `acpidump -s`, each table's bytes as sysfs holds them; list --json's
    ACPI devices against /sys/bus/acpi/devices; unprivileged (as nobody)
    `acpi tables` says root is needed and list still lists the kernel's
    view.
Every --json document is validated against docs/busctl.schema.json.

Usage: busctl_acpi_test.py BUSCTL SCHEMA FIRMWARE_DIR
"""
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import busctl_testlib

BUSCTL, SCHEMA_PATH, FIRMWARE = sys.argv[1], sys.argv[2], sys.argv[3]
SCHEMA, VALIDATOR = busctl_testlib.load_schema(SCHEMA_PATH)
CHECKS = busctl_testlib.Checks()
check = CHECKS.check
WORK = tempfile.mkdtemp(prefix="udrv-busctl-acpi-")
IASL = shutil.which("iasl")
if IASL is None:
    print("FAIL: iasl (acpica-tools) is not installed: it is this test's oracle")
    sys.exit(1)


class Run:
    def __init__(self, args, prefix=()):
        result = subprocess.run([*prefix, BUSCTL, *args], stdin=subprocess.DEVNULL,
                                capture_output=True, text=True)
        self.args, self.code, self.out, self.err = args, result.returncode, result.stdout, result.stderr
        self.json = None
        if "--json" in args:
            try:
                self.json = json.loads(self.out)
            except json.JSONDecodeError:
                pass

    def __str__(self):
        return (f"busctl {' '.join(self.args)}: exit {self.code}\nstdout: {self.out[:2000]}\n"
                f"stderr: {self.err[:2000]}")


def valid(doc, what):
    CHECKS.valid(VALIDATOR, doc, what)


def expect(run, code, what, out=(), err=()):
    ok = run.code == code and all(s in run.out for s in out) and all(s in run.err for s in err)
    check(ok, what, str(run))
    if run.json is not None:
        valid(run.json, what)
    elif "--json" in run.args:
        check(False, f"{what}: stdout is one JSON document", run.out[:500])
    return run


def read(path):
    with open(path, "rb") as f:
        return f.read()


def text_of(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return default


def table_files(directory):
    """The table files of a recorded firmware directory: every plain file
    whose first four bytes are a signature (the kernel/ view aside)."""
    return sorted(name for name in os.listdir(directory)
                  if os.path.isfile(os.path.join(directory, name)))


def header_of(data):
    signature, length, revision, checksum = struct.unpack_from("<4sIBB", data, 0)
    oem_id, table_id, oem_revision, creator, creator_revision = struct.unpack_from("<6s8sI4sI", data, 10)
    def clean(raw):
        return raw.decode("latin-1").rstrip(" \0")
    return {"signature": signature.decode("latin-1"), "length": length, "revision": revision,
            "checksum": checksum, "oem_id": clean(oem_id), "oem_table_id": clean(table_id),
            "oem_revision": oem_revision, "creator_id": clean(creator),
            "creator_revision": creator_revision}


# ---- tables against the bytes and iasl ----

IASL_FIELD = re.compile(r"^\[([0-9A-F]{3,})h ([0-9]{4,}) +([0-9]+)\] +(.*?) : (.*)$")
BUSCTL_FIELD = IASL_FIELD


def iasl_fields(path):
    """(offset, length, name, value) of every line iasl -d prints with an
    offset: the fields of a data table."""
    out = os.path.join(WORK, "iasl")
    os.makedirs(out, exist_ok=True)
    copy = os.path.join(out, os.path.basename(path) + ".dat")
    shutil.copyfile(path, copy)
    subprocess.run([IASL, "-d", copy], capture_output=True, cwd=out)
    dsl = copy[:-4] + ".dsl"
    fields = []
    if not os.path.exists(dsl):
        return None
    with open(dsl, errors="replace") as f:
        for line in f:
            m = IASL_FIELD.match(line.rstrip("\n"))
            if m:
                fields.append((int(m.group(2)), int(m.group(3)), m.group(4).strip(), m.group(5).strip()))
    os.unlink(dsl)
    # iasl 20200925's known slip: SPCR's byte after Terminal Type is printed
    # at the offset of the last Reserved field (its layout names the wrong
    # member); test/acpi/tables_test.cc corrects it the same way.
    for i in range(1, len(fields)):
        if fields[i][2] == "Reserved" and fields[i][1] == 1 and fields[i - 1][2] == "Terminal Type":
            fields[i] = (fields[i - 1][0] + 1,) + fields[i][1:]
    return fields


def same_value(iasl_value, busctl_value):
    """iasl's text and busctl's agree: equal as written, or as numbers (iasl
    writes hex without 0x), or busctl's text starts with iasl's value."""
    a, b = iasl_value.strip(), busctl_value.strip()
    if a == b:
        return True
    # iasl quotes names and adds a description to the signature.
    a = re.sub(r'^"(.*)"( +\[.*\])?$', r"\1", a)
    b = re.sub(r'^"(.*)"$', r"\1", b)
    if a.rstrip() == b.rstrip():
        return True
    first_a, first_b = a.split(" ")[0], b.split(" ")[0]
    try:
        if int(first_a, 16) == int(first_b, 16 if not first_b.startswith("0x") else 0):
            return True
    except ValueError:
        pass
    return a.strip('"').rstrip() == b.strip('"').rstrip()


def check_tables(machine, directory):
    files = table_files(directory)
    run = expect(Run(["--acpi", directory, "--json", "acpi", "tables"]), 0,
                 f"{machine}: acpi tables --json")
    text = expect(Run(["--acpi", directory, "acpi", "tables"]), 0, f"{machine}: acpi tables")
    if run.json is None:
        return
    listed = {table["name"]: table for table in run.json["tables"]}
    check(sorted(listed) == files, f"{machine}: one table per file", f"{sorted(listed)} vs {files}")
    for name in files:
        data = read(os.path.join(directory, name))
        table = listed.get(name)
        if table is None:
            continue
        if name == "FACS":
            check(table["signature"] == "FACS" and table["length"] == len(data),
                  f"{machine}: FACS's signature and length", table)
        else:
            want = header_of(data)
            got = {key: table[key] for key in want}
            check(got == want, f"{machine}: {name}'s header is the file's", f"{got} vs {want}")
            good = sum(data) % 256 == 0 and want["length"] == len(data)
            check((table["problems"] == []) == good,
                  f"{machine}: {name} has problems exactly when its checksum or length is wrong",
                  table["problems"])
        line = next((l for l in text.out.splitlines() if l.split(" ")[0] == name), "")
        check(line.startswith(name) and (" checksum ok" in line) == (table["problems"] == []),
              f"{machine}: {name}'s line", line)

        shown = expect(Run(["--acpi", directory, "--json", "acpi", "tables", "show", name]), 0,
                       f"{machine}: acpi tables show {name} --json")
        shown_text = expect(Run(["--acpi", directory, "acpi", "tables", "show", name]), 0,
                            f"{machine}: acpi tables show {name}")
        if shown.json is None:
            continue
        check(shown.json["decoded"] == table["decoder"],
              f"{machine}: {name} is decoded exactly when it has a decoder", shown.json["why_not"])
        if not table["decoder"]:
            check("No decoder" in shown_text.out or name.startswith(("DSDT", "SSDT")),
                  f"{machine}: {name} without a decoder says so", shown_text.out[-300:])
        ours = {}
        for line in shown_text.out.splitlines():
            m = BUSCTL_FIELD.match(line)
            if m:
                ours.setdefault((int(m.group(2)), m.group(4).strip()), []).append(
                    (int(m.group(3)), m.group(5).strip()))
        if name.startswith(("DSDT", "SSDT")):
            continue  # AML: iasl disassembles it; the namespace checks below read it
        oracle = iasl_fields(os.path.join(directory, name))
        check(oracle, f"{machine}: iasl -d decodes {name}")
        if not oracle:
            continue
        header_only = not shown.json["decoded"]
        missing = []
        for offset, length, field, value in oracle:
            if header_only and offset >= 36:
                continue
            candidates = ours.get((offset, field), [])
            if not any(l == length and same_value(value, v) for l, v in candidates):
                missing.append(f"[{offset} {length}] {field} : {value} (busctl: {candidates})")
        check(not missing, f"{machine}: {name}: every field iasl -d prints is busctl's "
              f"({len(oracle)} fields)", "\n".join(missing[:10]))


# ---- devices against the guest kernel's view ----

# The kernel's devices that are no Device() of the namespace: the root and
# the \_SB_ and \_TZ_ scopes (LNXSYSTM, LNXSYBUS), and Processor() objects
# (LNXCPU: q35's CPUs), which the namespace reader does not list.
NOT_DEVICES = ("LNXSYSTM", "LNXSYBUS", "LNXCPU")


def kernel_devices(machine_dir):
    root = os.path.join(machine_dir, "kernel/sys/bus/acpi/devices")
    devices = {}
    for name in sorted(os.listdir(root)):
        directory = os.path.join(root, name)
        devices[name] = {key: text_of(os.path.join(directory, key))
                         for key in ("path", "hid", "uid", "adr", "status")}
        devices[name]["physical_node"] = text_of(os.path.join(directory, "physical_node.link"))
        if devices[name]["hid"] in NOT_DEVICES:
            del devices[name]
    return devices


def pnp_resources(machine_dir, pnp_name):
    text = text_of(os.path.join(machine_dir, "kernel/sys/bus/pnp/devices", pnp_name, "resources"), "")
    mem, io = [], []
    for line in text.splitlines():
        m = re.match(r"(mem|io) 0x([0-9a-f]+)-0x([0-9a-f]+)$", line.strip())
        if m:
            start, end = int(m.group(2), 16), int(m.group(3), 16)
            (mem if m.group(1) == "mem" else io).append((start, end - start + 1))
    return mem, io


def check_offline_devices(machine, machine_dir):
    listing = expect(Run(["--acpi", machine_dir, "--json", "list"]), 0, f"{machine}: --acpi list --json")
    text = expect(Run(["--acpi", machine_dir, "list"]), 0, f"{machine}: --acpi list")
    if listing.json is None:
        return {}
    devices = {d["path"]: d for d in listing.json["devices"]}
    check(all(d["bus"] == "acpi" for d in listing.json["devices"]),
          f"{machine}: --acpi lists that firmware's ACPI devices alone")
    check(len(text.out.splitlines()) == len(devices), f"{machine}: one line per device",
          f"{len(text.out.splitlines())} vs {len(devices)}")
    check(all(d["kernel_device"] is None and d["physical_nodes"] == [] and not d["live"]
              for d in devices.values()), f"{machine}: offline, no kernel device is claimed")
    for name, kernel in kernel_devices(machine_dir).items():
        path = kernel["path"]
        if not path or path == "\\":
            continue
        device = devices.get(path)
        check(device is not None, f"{machine}: the kernel's {name} ({path}) is listed",
              sorted(devices)[:40])
        if device is None:
            continue
        if kernel["hid"] and not kernel["hid"].startswith(("LNX", "device")):
            check(device["hid"] == kernel["hid"], f"{machine}: {path}'s HID is the kernel's",
                  f"{device['hid']} vs {kernel['hid']}")
        if kernel["uid"] is not None and device["uid"] is not None:
            check(device["uid"] == kernel["uid"], f"{machine}: {path}'s UID is the kernel's",
                  f"{device['uid']} vs {kernel['uid']}")
        link = kernel["physical_node"] or ""
        if "/pnp0/" in link:
            mem, io = pnp_resources(machine_dir, link.rsplit("/", 1)[1])
            static = all(r["source"] == "crs-static" for r in device["mmio"] + device["io"])
            if static and (device["mmio"] or device["io"]):
                got_mem = [(r["phys"], r["size"]) for r in device["mmio"]]
                got_mem += [(w["phys"], w["size"]) for w in device["windows"] if w["type"] == "memory"]
                got_io = [(r["base"], r["size"]) for r in device["io"]]
                check(sorted(got_mem) == sorted(mem) and sorted(got_io) == sorted(io),
                      f"{machine}: {path}'s _CRS ranges are the kernel's PNP resources",
                      f"mem {got_mem} vs {mem}; io {got_io} vs {io}")
    return devices


def symlink(target, link):
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.lexists(link):
        os.symlink(target, link)


def recorded_tree(machine, machine_dir, pci_functions):
    """A sysfs tree (and a proc beside it) as the guest kernel had it, made
    from the recording: the tables, the ACPI devices with their physical
    node links, the PNP and platform devices they lead to, PCI functions."""
    tree = busctl_testlib.Tree()
    sysfs = os.path.join(WORK, machine, "sys")
    os.makedirs(os.path.dirname(sysfs))
    shutil.move(tree.root, sysfs)  # its links are relative
    tree.root = sysfs
    for address in pci_functions:
        tree.add(address, 0x1b36, 0x0001, 0, {})
    tables = os.path.join(sysfs, "firmware/acpi/tables")
    os.makedirs(tables)
    for name in table_files(machine_dir):
        shutil.copyfile(os.path.join(machine_dir, name), os.path.join(tables, name))
    kernel = os.path.join(machine_dir, "kernel")
    # PNP, platform and AMBA devices: under devices/ as their firmware_node
    # links place them, each with its subsystem link and bus entry.
    for bus in ("pnp", "platform", "amba"):
        for name in sorted(glob.glob(os.path.join(kernel, "sys/bus", bus, "devices", "*"))):
            device = os.path.basename(name)
            real = os.path.join(sysfs, "devices", "pnp0" if bus == "pnp" else bus, device)
            os.makedirs(real, exist_ok=True)
            for entry in os.listdir(name):
                source = os.path.join(name, entry)
                if entry.endswith(".link"):
                    if entry == "driver.link":
                        driver = text_of(source).rsplit("/", 1)[1]
                        os.makedirs(os.path.join(sysfs, "bus", bus, "drivers", driver), exist_ok=True)
                        symlink(os.path.join(sysfs, "bus", bus, "drivers", driver),
                                os.path.join(real, "driver"))
                else:
                    shutil.copyfile(source, os.path.join(real, entry))
            symlink(os.path.join(sysfs, "bus", bus), os.path.join(real, "subsystem"))
            symlink(real, os.path.join(sysfs, "bus", bus, "devices", device))
    for directory in glob.glob(os.path.join(sysfs, "devices/pci0000:00/*")):
        symlink(os.path.join(sysfs, "bus/pci"), os.path.join(directory, "subsystem"))
    # ACPI devices: their attributes, and physical_node links to the device
    # they lead to (the recorded link is relative to the ACPI device's own
    # directory; what it leads to is below devices/).
    for name in sorted(glob.glob(os.path.join(kernel, "sys/bus/acpi/devices/*"))):
        device = os.path.join(sysfs, "bus/acpi/devices", os.path.basename(name))
        os.makedirs(device)
        for entry in os.listdir(name):
            source = os.path.join(name, entry)
            if not entry.endswith(".link"):
                shutil.copyfile(source, os.path.join(device, entry))
                continue
            target = text_of(source)
            if entry.startswith("physical_node"):
                below = re.sub(r"^(\.\./)+", "", target)
                real = os.path.join(sysfs, "devices", below)
                os.makedirs(real, exist_ok=True)
                symlink(real, os.path.join(device, entry[:-len(".link")]))
            elif entry == "driver.link":
                driver = target.rsplit("/", 1)[1]
                os.makedirs(os.path.join(sysfs, "bus/acpi/drivers", driver), exist_ok=True)
                symlink(os.path.join(sysfs, "bus/acpi/drivers", driver), os.path.join(device, "driver"))
    proc = os.path.join(os.path.dirname(sysfs), "proc")
    os.makedirs(proc, exist_ok=True)
    for name in ("iomem", "ioports"):
        shutil.copyfile(os.path.join(kernel, "proc", name), os.path.join(proc, name))
    return sysfs


def pci_functions_of(machine_dir):
    functions = []
    for name, kernel in kernel_devices(machine_dir).items():
        m = re.search(r"pci0000:00/([0-9a-f]{4}:00:[0-9a-f]{2}\.[0-7])$", kernel["physical_node"] or "")
        if m:
            functions.append(m.group(1))
    return sorted(functions)


def check_recorded_live(machine, machine_dir):
    functions = pci_functions_of(machine_dir)
    sysfs = recorded_tree(machine, machine_dir, functions)
    kernel = kernel_devices(machine_dir)
    listing = expect(Run(["--sysfs-root", sysfs, "--json", "list"]), 0,
                     f"{machine} (recorded kernel view): list --json")
    text = expect(Run(["--sysfs-root", sysfs, "list"]), 0, f"{machine} (recorded kernel view): list")
    if listing.json is None:
        return
    acpi = {d["path"]: d for d in listing.json["devices"] if d["bus"] == "acpi"}
    pci = {d["address"]: d for d in listing.json["devices"] if d["bus"] == "pci"}
    for name, device in kernel.items():
        path = device["path"]
        if not path:
            continue
        link = device["physical_node"] or ""
        m = re.search(r"pci0000:00/([0-9a-f]{4}:00:[0-9a-f]{2}\.[0-7])$", link)
        if m:
            function = pci.get(m.group(1), {})
            check(path not in acpi, f"{machine}: {path}, whose physical node is PCI "
                  f"{m.group(1)}, is not listed twice")
            check(function.get("acpi", {}).get("path") == path,
                  f"{machine}: PCI {m.group(1)}'s entry carries {path}", function)
            line = next((l for l in text.out.splitlines() if l.startswith(m.group(1))), "")
            check(f" acpi={path}" in line, f"{machine}: PCI {m.group(1)}'s line names {path}", line)
            continue
        entry = acpi.get(path)
        check(entry is not None, f"{machine}: {path} ({name}) is listed", sorted(acpi)[:50])
        if entry is None:
            continue
        check(entry["kernel_device"] == name and entry["live"],
              f"{machine}: {path}'s kernel device is {name}", entry["kernel_device"])
        if link and not link.endswith("pci0000:00"):
            node = entry["physical_node"] or {}
            check(node.get("device") == link.rsplit("/", 1)[1],
                  f"{machine}: {path}'s physical node is the kernel's", f"{node} vs {link}")
        if device["status"] is not None:
            check(entry["status"] == int(device["status"]),
                  f"{machine}: {path}'s status is the kernel's", f"{entry['status']} vs {device['status']}")
    # show of a PCI function: its ACPI view.
    if functions:
        shown = expect(Run(["--sysfs-root", sysfs, "--json", "show", functions[0]]), 0,
                       f"{machine}: show {functions[0]} --json")
        if shown.json is not None:
            view = shown.json["function"].get("acpi", {})
            check(view.get("path", "").startswith("\\_SB_"),
                  f"{machine}: show {functions[0]} carries its ACPI view", shown.json["function"])
        shown = expect(Run(["--sysfs-root", sysfs, "show", functions[0]]), 0,
                       f"{machine}: show {functions[0]}")
        check("\tACPI: \\_SB_" in shown.out, f"{machine}: show {functions[0]}'s ACPI line", shown.out)
    # list --bus acpi: the ACPI view alone lists every device, those of PCI
    # functions too.
    only = expect(Run(["--sysfs-root", sysfs, "--json", "list", "--bus", "acpi"]), 0,
                  f"{machine}: list --bus acpi --json")
    if only.json is not None:
        paths = {d["path"] for d in only.json["devices"]}
        missing = [d["path"] for d in kernel.values() if d["path"] and d["path"] not in paths]
        check(not missing, f"{machine}: list --bus acpi lists every kernel device", missing)
    return sysfs


def check_show(machine, machine_dir):
    if machine.startswith("x86_64"):
        run = expect(Run(["--acpi", machine_dir, "--json", "show", "\\_SB_.HPET"]), 0,
                     f"{machine}: show \\_SB_.HPET --json")
        if run.json:
            device = run.json["device"]
            check(device["hid"] == "PNP0103" and
                  [(r["phys"], r["size"]) for r in device["mmio"]] == [(0xFED00000, 0x400)],
                  f"{machine}: the HPET's _HID and its one region", device)
        text = expect(Run(["--acpi", machine_dir, "show", "\\_SB.HPET"]), 0,
                      f"{machine}: show \\_SB.HPET (unpadded)", out=["\\_SB_.HPET PNP0103"])
        check("Memory32Fixed" in text.out and "Memory 0: 0xfed00000 size 0x400" in text.out,
              f"{machine}: show names the HPET's descriptor and region", text.out)
        expect(Run(["--acpi", machine_dir, "show", "acpi/_SB_/HPET"]), 0,
               f"{machine}: show acpi/_SB_/HPET (the node id)", out=["\\_SB_.HPET PNP0103"])
        com1 = expect(Run(["--acpi", machine_dir, "--json", "show", "\\_SB_.PCI0.SF8_.COM1"]), 0,
                      f"{machine}: show COM1 --json")
        if com1.json:
            check([(r["base"], r["size"]) for r in com1.json["device"]["io"]] == [(0x3F8, 8)]
                  and [i["gsi"] for i in com1.json["device"]["interrupts"]] == [4],
                  f"{machine}: COM1's ports and IRQ", com1.json["device"])
    else:
        listing = Run(["--acpi", machine_dir, "--json", "list"])
        if listing.json:
            virtio = [d for d in listing.json["devices"] if d["hid"] == "LNRO0005"]
            check(len(virtio) == 32 and all(len(d["mmio"]) == 1 and d["mmio"][0]["size"] == 0x200
                                            for d in virtio),
                  f"{machine}: 32 virtio-mmio slots of 0x200 bytes", virtio[:2])
            uart = [d for d in listing.json["devices"] if d["hid"] == "ARMH0011"]
            check(len(uart) == 1 and uart[0]["mmio"][0]["phys"] == 0x9000000,
                  f"{machine}: the PL011 at 0x9000000, where the kernel has it", uart)
        expect(Run(["--acpi", machine_dir, "show", "\\_SB_.COM0"]), 0,
               f"{machine}: show \\_SB_.COM0", out=["ARMH0011", "0x9000000"])
    expect(Run(["--acpi", machine_dir, "show", "\\_SB_.NONE"]), 1,
           f"{machine}: a path that names no device is NOT_FOUND", err=["NOT_FOUND"])
    expect(Run(["--acpi", machine_dir, "--json", "show", "acpi/_SB_/NONE"]), 1,
           f"{machine}: NOT_FOUND --json is an error document")
    expect(Run(["--acpi", machine_dir, "show", "\\_SB_.hp-t"]), 2,
           f"{machine}: a malformed path is a usage error", err=["ACPI path"])


for machine in sorted(os.listdir(FIRMWARE)):
    machine_dir = os.path.join(FIRMWARE, machine)
    if not os.path.isdir(os.path.join(machine_dir, "kernel")):
        continue
    check_tables(machine, machine_dir)
    check_offline_devices(machine, machine_dir)
    check_show(machine, machine_dir)
    check_recorded_live(machine, machine_dir)

# A table file that is broken: listed with its problem, shown as far as it goes.
broken = os.path.join(WORK, "broken")
os.makedirs(broken)
q35 = os.path.join(FIRMWARE, "x86_64-q35")
data = bytearray(read(os.path.join(q35, "HPET")))
data[9] ^= 0xFF
with open(os.path.join(broken, "HPET"), "wb") as f:
    f.write(data)
shutil.copyfile(os.path.join(q35, "DSDT"), os.path.join(broken, "DSDT"))
run = expect(Run(["--acpi", broken, "--json", "acpi", "tables"]), 0, "a bad checksum: acpi tables --json")
if run.json:
    hpet = next(t for t in run.json["tables"] if t["name"] == "HPET")
    check(hpet["problems"] and "HPET" in json.dumps(hpet["problems"]), "a bad checksum is HPET's problem",
          hpet)
run = expect(Run(["--acpi", broken, "acpi", "tables"]), 0, "a bad checksum: acpi tables")
check(any(l.startswith("HPET") and "checksum ok" not in l for l in run.out.splitlines()),
      "a bad checksum's line says so", run.out)
expect(Run(["--acpi", os.path.join(WORK, "nonexistent"), "acpi", "tables"]), 1,
       "a missing --acpi directory fails")
expect(Run(["--acpi", q35, "acpi", "tables", "show", "NOPE"]), 1,
       "a table that is not there is NOT_FOUND", err=["NOT_FOUND", "DSDT"])
expect(Run(["--acpi", q35, "--json", "acpi", "tables", "show", "NOPE"]), 1,
       "a table that is not there: --json is an error document")

# ---- this machine's own tables and kernel view (read-only) ----
if os.path.isdir("/sys/firmware/acpi/tables") and os.geteuid() == 0:
    run = expect(Run(["--json", "acpi", "tables"]), 0, "live: acpi tables --json")
    text = expect(Run(["acpi", "tables"]), 0, "live: acpi tables")
    if run.json is not None:
        for table in run.json["tables"]:
            path = os.path.join("/sys/firmware/acpi/tables", table["name"])
            if os.path.exists(path):
                check(table["bytes"] == len(read(path)), f"live: {table['name']} is sysfs's bytes")
    dump = subprocess.run(["acpidump", "-s"], capture_output=True, text=True)
    if dump.returncode == 0 and shutil.which("acpidump"):
        # "ACPI: APIC 0x0000000000000000 000048 (v06 FIRECK FCVMMADT 00000000 FCAT 20240119)"
        want = sorted(" ".join(re.sub(r"^ACPI: (\S+) 0x[0-9A-F]+ ", r"\1 ", line.strip()).split())
                      for line in dump.stdout.splitlines() if line.startswith("ACPI: "))
        got = sorted(" ".join(line.split(")")[0].split()[1:]) + ")" for line in text.out.splitlines())
        check(sorted(set(want)) == sorted(set(got)), "live: acpi tables agrees with acpidump -s",
              f"{want}\n{got}")
    for name in (t["name"] for t in (run.json or {"tables": []})["tables"]):
        expect(Run(["--json", "acpi", "tables", "show", name]), 0, f"live: acpi tables show {name} --json")
    listing = expect(Run(["--json", "list"]), 0, "live: list --json")
    if listing.json is not None and os.path.isdir("/sys/bus/acpi/devices"):
        seen = {d["path"] for d in listing.json["devices"] if d["bus"] == "acpi"}
        seen |= {d["acpi"]["path"] for d in listing.json["devices"] if "acpi" in d}
        missing = []
        for name in os.listdir("/sys/bus/acpi/devices"):
            path = text_of(f"/sys/bus/acpi/devices/{name}/path")
            if text_of(f"/sys/bus/acpi/devices/{name}/hid") in NOT_DEVICES:
                continue
            if path and path not in seen:
                missing.append(path)
        check(not missing, "live: every kernel ACPI device with a path is listed, or is a "
              "listed device's ACPI view", missing)
    if shutil.which("setpriv"):
        nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        expect(Run(["acpi", "tables"], nobody), 1, "live, as nobody: acpi tables needs root",
               err=["ACCESS_DENIED", "root"])
        run = expect(Run(["--json", "list"], nobody), 0, "live, as nobody: list --json")
        if run.json is not None and os.path.isdir("/sys/bus/acpi/devices"):
            check(any(d["bus"] == "acpi" for d in run.json["devices"])
                  and any("ACPI" in s["what"] or "acpi" in s["why"] for s in run.json.get("skipped", [])),
                  "live, as nobody: list lists the kernel's view and says the tables were skipped",
                  run.json.get("skipped"))
else:
    print("note: no ACPI tables on this machine, or not root: the live checks did not run")

shutil.rmtree(WORK, ignore_errors=True)
print(f"{CHECKS.count - len(CHECKS.failures)} of {CHECKS.count} checks passed")
sys.exit(1 if CHECKS.failures else 0)

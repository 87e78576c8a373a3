#!/usr/bin/env python3
"""busctl's platform module on the host, never touching this machine's
devices:

  - `busctl --dtb` list and show of a small board (platform/board.dts,
    built with dtc) against the answers the board was written with and
    against fdtget's raw values: compatible, reg cells, status, every
    property; --json documents valid against docs/busctl.schema.json;
  - with GUEST_CACHE, only this: every board DTB of Debian's arm64 kernel
    in the guest cache lists without error, and one (bcm2711-rpi-4-b)
    agrees with fdtget device by device;
  - match of the board's nodes (the driver manager's platform root bus);
  - a recorded "live" tree (--sysfs-root with firmware/fdt and the kernel's
    platform and AMBA devices): drivers and routes in list and show; the
    tree unreadable as nobody is a note, not a failure; register access is
    checked against the regions (write --dry-run) and refused off the live
    machine;
  - unbind and restore of an AMBA device in a mount namespace where the
    tree is /sys and /dev is empty (as busctl_change_test.py does).

Usage: busctl_platform_test.py BUSCTL SCHEMA [GUEST_CACHE]
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import jsonschema

import busctl_testlib

BUSCTL, SCHEMA_PATH = sys.argv[1], sys.argv[2]
GUEST_CACHE = sys.argv[3] if len(sys.argv) > 3 else ""
HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA, VALIDATOR = busctl_testlib.load_schema(SCHEMA_PATH)
CHECKS = busctl_testlib.Checks()
check = CHECKS.check


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
        return f"busctl {' '.join(self.args)}: exit {self.code}\nstdout: {self.out[:1500]}\nstderr: {self.err[:1500]}"


def valid(doc, what):
    CHECKS.valid(VALIDATOR, doc, what)


def expect(run, code, what, out=(), err=()):
    ok = run.code == code and all(s in run.out for s in out) and all(s in run.err for s in err)
    check(ok, what, str(run))
    if run.json is not None:
        valid(run.json, what)
    return run


def fdtget(dtb, path, prop, kind):
    result = subprocess.run(["fdtget", "-t", kind, dtb, path, prop], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def cells_of(dtb, path, prop, default):
    value = fdtget(dtb, path, prop, "u")
    return int(value) if value is not None else default


def parent_of(path):
    parent = path.rsplit("/", 1)[0]
    return parent or "/"


def check_against_fdtget(dtb, devices, name):
    """compatible, status and the raw reg cells of every device as fdtget reads them."""
    for device in devices:
        path = device["path"]
        compatible = fdtget(dtb, path, "compatible", "s")
        check(compatible == " ".join(device["compatible"]),
              f"{name} {path}: compatible is fdtget's", f"{compatible} != {device['compatible']}")
        status = fdtget(dtb, path, "status", "s")
        check(device["status"] == status, f"{name} {path}: status is fdtget's", f"{status}")
        reg = fdtget(dtb, path, "reg", "x")
        if reg is None:
            check(device["mmio"] == [], f"{name} {path}: no reg, no mmio", device["mmio"])
            continue
        parent = parent_of(path)
        address_cells = cells_of(dtb, parent, "#address-cells", 2)
        size_cells = cells_of(dtb, parent, "#size-cells", 1)
        cells = [int(c, 16) for c in reg.split()]
        stride = address_cells + size_cells
        if stride == 0 or len(cells) % stride:
            check(device["problems"] != [], f"{name} {path}: a reg of the wrong length is a problem")
            continue
        entries = [cells[i:i + stride] for i in range(0, len(cells), stride)]
        check(len(entries) == len(device["mmio"]), f"{name} {path}: one mmio entry per reg entry",
              f"{entries} vs {device['mmio']}")
        for entry, region in zip(entries, device["mmio"]):
            address = 0
            for cell in entry[:address_cells][-2:]:
                address = address << 32 | cell
            size = 0
            for cell in entry[address_cells:][-2:]:
                size = size << 32 | cell
            check(region["bus_address"] == address and region["size"] == size,
                  f"{name} {path}: region {region['index']} is reg's cells",
                  f"{entry} vs {region}")


BOARD_PHYS = {  # what board.dts was written to translate to
    "/interrupt-controller@8000000": [(0x8000000, 0x10000), (0x80a0000, 0xf60000)],
    "/pl031@9010000": [(0x9010000, 0x1000)],
    "/soc/timer@7e003000": [(0xfe003000, 0x1000), (0xfe004000, 0x20)],
    "/soc/i2c@7e205000": [(0xfe205000, 0x200)],
    "/soc/i2c@7e205000/eeprom@50": [(None, 0)],
    "/soc/gpio@7e200000": [(0xfe200000, 0xb4)],
    "/emmc2bus/mmc@7e340000": [(0xfe340000, 0x100)],
}
BOARD_IRQS = {
    "/pl031@9010000": ["GICv3 SPI 2 level-high"],
    "/soc/timer@7e003000": ["GICv3 SPI 64 level-high", "GICv3 SPI 65 edge-rising"],
    "/soc/gpio@7e200000": ["GICv3 SPI 41 edge-rising", "GICv3 PPI 13 level-low"],
}


def test_board(dtb):
    listing = expect(Run(["--dtb", dtb, "--json", "list"]), 0, "board: list --json")
    text = expect(Run(["--dtb", dtb, "list"]), 0, "board: list").out.splitlines()
    if not listing.json:
        return
    devices = listing.json["devices"]
    check(all(d["bus"] == "platform" for d in devices), "board: --dtb lists the board alone",
          [d["bus"] for d in devices])
    check([d["path"] for d in devices] == [line.split()[0] for line in text],
          "board: text and JSON list the same nodes in tree order", text)
    by_path = {d["path"]: d for d in devices}
    for path, regions in BOARD_PHYS.items():
        got = [(r["phys"], r["size"]) for r in by_path.get(path, {}).get("mmio", [])]
        check(got == regions, f"board {path}: regions translated", f"{got} != {regions}")
    for path, irqs in BOARD_IRQS.items():
        device = by_path[path]
        got = [f"{i['gic']} {i['type']} {i['number']} {i['trigger']}" for i in device["interrupts"]]
        check(got == irqs, f"board {path}: interrupts decoded", got)
        check(all(i["controller"] == "/interrupt-controller@8000000" for i in device["interrupts"]),
              f"board {path}: interrupts reach the GIC", device["interrupts"])
    check(by_path["/pl031@9010000"]["interrupts"][0]["hwirq"] == 34, "board: SPI 2 is hwirq 34")
    check(not by_path["/pl011@9000000"]["enabled"] and "disabled" in
          [l for l in text if l.startswith("/pl011@9000000 ")][0], "board: disabled node listed as such")
    check(by_path["/soc/timer@7e003000"]["mmio"][1]["name"] == "txp", "board: reg-names name regions")
    eeprom = by_path["/soc/i2c@7e205000/eeprom@50"]["mmio"][0]
    check(eeprom["phys"] is None and eeprom["untranslated"], "board: an I2C child is not memory-mapped",
          eeprom)
    check(all(d["kernel"] is None and d["driver"] is None and d["routes"] == [] for d in devices),
          "board: offline, no kernel devices or routes")
    check("/pl031@9010000 arm,pl031 arm,primecell; mmio 0x9010000 size 0x1000; irq GICv3 SPI 2 "
          "level-high" in text, "board: pl031's list line", text)
    check_against_fdtget(dtb, devices, "board")

    for path in by_path:
        shown = expect(Run(["--dtb", dtb, "--json", "show", path]), 0, f"board: show {path} --json")
        if not shown.json:
            continue
        check(shown.json["device"] == by_path[path], f"board {path}: show's device is list's entry")
        names = subprocess.run(["fdtget", "-p", dtb, path], capture_output=True,
                               text=True).stdout.split()
        props = shown.json["properties"]
        check([p["name"] for p in props] == names, f"board {path}: every property, as fdtget -p",
              f"{[p['name'] for p in props]} != {names}")
        for prop in props:
            if prop["value"].startswith("<"):
                raw = fdtget(dtb, path, prop["name"], "x").split()
                check(prop["value"] == "<" + " ".join("0x" + c for c in raw) + ">",
                      f"board {path} {prop['name']}: cells as fdtget -t x", prop)
            elif prop["value"].startswith('"'):
                raw = fdtget(dtb, path, prop["name"], "s")
                check(prop["value"] == ", ".join(f'"{s}"' for s in raw.split()),
                      f"board {path} {prop['name']}: strings as fdtget -t s", prop)
    timer = Run(["--dtb", dtb, "show", "platform/soc/timer@7e003000"])
    expect(timer, 0, "board: show by node id", out=[
        '\tRegion 1 "txp": 0xfe004000 size 0x20\n',
        '\tInterrupt 1 "match1": GICv3 SPI 65 edge-rising (hwirq 97) at /interrupt-controller@8000000 <0x0 0x41 0x1>\n',
        "\tDMA window: bus 0xc0000000-0xffffffff, CPU address = bus address - 0xc0000000\n",
        '\t\treg-names = "timer", "txp"\n'])
    expect(Run(["--dtb", dtb, "show", "/soc/nothing@0"]), 1, "board: show of no node",
           err=["NOT_FOUND", "/soc/nothing@0"])
    expect(Run(["--dtb", dtb, "--json", "show", "/soc/nothing@0"]), 1, "board: show of no node --json")
    expect(Run(["--dtb", dtb, "show", "/bad path"]), 2, "board: a path with a space is a usage error")
    expect(Run(["--dtb", "/nonexistent.dtb", "list"]), 1, "a missing --dtb file fails",
           err=["/nonexistent.dtb"])
    with tempfile.NamedTemporaryFile(suffix=".dtb") as broken:
        with open(dtb, "rb") as f:
            broken.write(f.read()[:200])
        broken.flush()
        expect(Run(["--dtb", broken.name, "--json", "list"]), 1, "a truncated --dtb fails cleanly",
               err=["busctl list: IO_INVALID"])

    # match asks the driver manager about the board's nodes too.
    expect(Run(["--dtb", dtb, "match", "platform/pl031@9010000"]), 0, "board: match a node",
           out=["node platform/pl031@9010000 (bus platform, parent none)\n",
                '  fdt.compatible = ["arm,pl031", "arm,primecell"]\n'])
    expect(Run(["--dtb", dtb, "--json", "match", "platform/soc/timer@7e003000"]), 0,
           "board: match --json of a node behind a bus")
    expect(Run(["--dtb", dtb, "match", "platform/pl011@9000000"]), 1,
           "board: a disabled node is no node of the root bus", err=["NOT_FOUND"])

    # Registers: checked against the regions; never reached off the live machine.
    expect(Run(["--dtb", dtb, "write", "/pl031@9010000", "0x10", "1", "--dry-run"]), 0,
           "board: write --dry-run", out=["dry run: would write 0x00000001 to /pl031@9010000 region 0 "
                                         "offset 0x10 (32-bit, through devmem); nothing written\n"])
    dry = expect(Run(["--dtb", dtb, "--json", "write", "/soc/timer@7e003000", "txp", "0x1c", "7",
                      "--dry-run"]), 0, "board: write --dry-run to a region by name")
    check(dry.json and dry.json["region"] == 1 and dry.json["phys"] == 0xfe00401c
          and dry.json["written"] is False, "board: region by name, phys of the register", dry.json)
    for args, code, what, err in [
            (["/pl031@9010000", "0x1000", "1"], 1, "past the region", "OUT_OF_RANGE"),
            (["/pl031@9010000", "0x1000", "1", "--width", "64"], 1, "a 64-bit access past the end", "OUT_OF_RANGE"),
            (["/pl031@9010000", "2", "1"], 1, "unaligned", "not aligned"),
            (["/pl031@9010000", "3", "0", "1"], 1, "no region 3", "has no region 3; it has region 0 (0x1000 bytes)"),
            (["/soc/timer@7e003000", "nope", "0", "1"], 1, "no such region name", 'no region "nope"'),
            (["/soc/i2c@7e205000/eeprom@50", "0", "1"], 1, "a region not memory-mapped", "NOT_SUPPORTED"),
            (["/pl011@9000000", "0", "1"], 1, "a disabled node", "BAD_STATE"),
            (["/pl031@9010000", "0", "0x100", "--width", "8"], 2, "a value too wide", "does not fit")]:
        expect(Run(["--dtb", dtb, "write", *args, "--dry-run"]), code, f"board: write {what}", err=[err])
    for command in (["read", "/pl031@9010000", "0xfe0"], ["write", "/pl031@9010000", "0", "1", "--yes"],
                    ["unbind", "/pl031@9010000"], ["bind", "/pl031@9010000", "uio"]):
        expect(Run(["--dtb", dtb, *command]), 1, f"board: {command[0]} refuses --dtb",
               err=["NOT_SUPPORTED", "works on the live machine only: --dtb"])


def test_debian_dtbs():
    dtbs = sorted(glob.glob(f"{GUEST_CACHE}/aarch64/kernel/usr/lib/linux-image-*/**/*.dtb",
                            recursive=True))
    check(len(dtbs) > 100, f"the guest cache holds Debian's board DTBs ({len(dtbs)})")
    failed = []
    for index, dtb in enumerate(dtbs):
        run = Run(["--dtb", dtb, "--json", "list"])
        if run.code != 0 or not run.json:
            failed.append(f"{dtb}: {run.err[:200]}")
        elif index % 40 == 0:
            valid(run.json, f"{os.path.basename(dtb)}: list --json")
    check(not failed, f"every one of {len(dtbs)} Debian DTBs lists", "\n".join(failed[:10]))
    rpi4 = [d for d in dtbs if d.endswith("/bcm2711-rpi-4-b.dtb")]
    if rpi4:
        run = Run(["--dtb", rpi4[0], "--json", "list"])
        if run.json:
            check_against_fdtget(rpi4[0], run.json["devices"], "bcm2711-rpi-4-b")
            by_path = {d["path"]: d for d in run.json["devices"]}
            check(by_path["/soc/serial@7e201000"]["mmio"][0]["phys"] == 0xfe201000,
                  "bcm2711: /soc maps 0x7e000000 to 0xfe000000")
            check(by_path["/emmc2bus/mmc@7e340000"]["mmio"][0]["phys"] == 0xfe340000,
                  "bcm2711: /emmc2bus's two-cell child address")


def live_tree(root, dtb):
    """A sysfs tree as the aarch64 guest's kernel lays out the board: its
    blob in firmware/fdt, pl031 on the AMBA bus bound to rtc-pl031, the GIC
    and the I2C controller on the platform bus (the latter unbound)."""
    for directory in ["bus/pci/devices", "bus/platform/devices", "bus/platform/drivers",
                      "bus/amba/devices", "bus/amba/drivers/rtc-pl031", "firmware/devicetree/base"]:
        os.makedirs(f"{root}/{directory}", exist_ok=True)
    shutil.copy(dtb, f"{root}/firmware/fdt")
    for bus in ("platform", "amba"):
        busctl_testlib.write(f"{root}/bus/{bus}/drivers_probe", "")
    for name in ("bind", "unbind"):
        busctl_testlib.write(f"{root}/bus/amba/drivers/rtc-pl031/{name}", "")
    for bus, name, node, driver in [("amba", "9010000.pl031", "pl031@9010000", "rtc-pl031"),
                                    ("platform", "fe205000.i2c", "soc/i2c@7e205000", None),
                                    ("platform", "serial8250", None, None)]:
        device = f"{root}/devices/platform/{name}"
        os.makedirs(device)
        busctl_testlib.write(f"{device}/driver_override", "(null)")
        os.symlink(f"../../../devices/platform/{name}", f"{root}/bus/{bus}/devices/{name}")
        if node:
            os.makedirs(f"{root}/firmware/devicetree/base/{node}", exist_ok=True)
            os.symlink(f"../../../firmware/devicetree/base/{node}", f"{device}/of_node")
        if driver:
            os.symlink(f"../../../bus/{bus}/drivers/{driver}", f"{device}/driver")
    os.chmod(f"{root}/firmware/fdt", 0o400)  # as the kernel makes it


def test_live(root):
    listing = expect(Run(["--sysfs-root", root, "--json", "list"]), 0, "live: list --json")
    text = expect(Run(["--sysfs-root", root, "list"]), 0, "live: list").out.splitlines()
    pl031 = [l for l in text if l.startswith("/pl031@9010000 ")]
    check(pl031 and pl031[0].endswith("; driver rtc-pl031; map: no (kernel driver rtc-pl031 holds it, "
                                      "and IO_STRICT_DEVMEM refuses its regions until it lets go "
                                      "(busctl unbind /pl031@9010000))"),
          "live: pl031's driver and why nothing can map it", pl031)
    i2c = [l for l in text if l.startswith("/soc/i2c@7e205000 ")]
    check(i2c and i2c[0].endswith("; no driver; map: devmem"), "live: an unbound device maps through devmem", i2c)
    timer = [l for l in text if l.startswith("/soc/timer@7e003000 ")]
    check(timer and timer[0].endswith("; no kernel device; map: no (the kernel made no device for the node)"),
          "live: a node the kernel made no device for", timer)
    if listing.json:
        by_path = {d["path"]: d for d in listing.json["devices"]}
        device = by_path["/pl031@9010000"]
        check(device["kernel"] == {"bus": "amba", "device": "9010000.pl031"} and
              device["driver"] == "rtc-pl031", "live: pl031's kernel device", device)
        routes = {r["route"]: r for r in device["routes"]}
        check(not routes["uio"]["available"] and "udrv_uio_platform is not loaded" in routes["uio"]["why_not"],
              "live: uio says its module is not loaded", routes)
    pci = Run(["--sysfs-root", root, "list", "--bus", "pci"])
    check(pci.code == 0 and pci.out == "", "live: list --bus pci leaves the platform bus out", str(pci))
    shown = expect(Run(["--sysfs-root", root, "show", "/pl031@9010000"]), 0, "live: show",
                   out=["\tSource: " + root + "/firmware/fdt (this machine's tree)\n",
                        "\tKernel device: amba 9010000.pl031\n", "\tKernel driver in use: rtc-pl031\n",
                        "\tRoute: uio [bound to rtc-pl031, not udrv-uio-platform (busctl bind "
                        "/pl031@9010000 udrv-uio-platform); its module udrv_uio_platform is not loaded"])
    expect(Run(["--sysfs-root", root, "--json", "show", "/pl031@9010000"]), 0, "live: show --json")
    expect(Run(["--sysfs-root", root, "read", "/pl031@9010000", "0xfe0"]), 1,
           "live: read refuses --sysfs-root", err=["NOT_SUPPORTED", "works on the live machine only"])
    if os.geteuid() == 0 and shutil.which("setpriv"):
        nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        run = expect(Run(["--sysfs-root", root, "list"], nobody), 0,
                     "live as nobody: list goes on without the unreadable tree",
                     err=["busctl list: skipped the platform bus (the device tree " + root +
                          "/firmware/fdt): Linux lets only root read the live device tree"])
        check(run.out == "", "live as nobody: nothing listed", run.out)
        doc = expect(Run(["--sysfs-root", root, "--json", "list"], nobody), 0, "live as nobody: --json")
        check(doc.json and doc.json.get("skipped"), "live as nobody: the JSON says what was skipped", doc.json)
        expect(Run(["--sysfs-root", root, "show", "/pl031@9010000"], nobody), 1,
               "live as nobody: show fails saying why", err=["Linux lets only root read the live device tree"])
    else:
        print("note: not root (or no setpriv): the unprivileged run is skipped")


def test_binding(root):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("note: not root (or no unshare): bind, unbind and restore are skipped")
        return
    state = f"{root}/../state.json"
    prefix = busctl_testlib.in_tree(root)
    unbind = expect(Run(["unbind", "/pl031@9010000", "--state-file", state], prefix), 0,
                    "tree: unbind an AMBA device",
                    out=["unbound /pl031@9010000 (amba 9010000.pl031) from rtc-pl031; "
                         "undo with: busctl restore /pl031@9010000\n"])
    with open(f"{root}/bus/amba/drivers/rtc-pl031/unbind") as f:
        check(f.read() == "9010000.pl031", "tree: the device's name went to the driver's unbind file")
    with open(state) as f:
        records = json.load(f)
    state_schema = {"$ref": "#/$defs/bindings_state_file", "$defs": SCHEMA["$defs"]}
    errors = list(jsonschema.Draft202012Validator(state_schema).iter_errors(records))
    check(not errors, "tree: the state file is valid ($defs/bindings_state_file)", errors[:3])
    check(records["records"][0]["bus"] == "amba" and records["records"][0]["device"] == "9010000.pl031"
          and records["records"][0]["path"] == "/pl031@9010000"
          and records["records"][0]["previous_driver"] == "rtc-pl031", "tree: the record", records)
    expect(Run(["read", "/pl031@9010000", "0xfe0"], prefix), 1,
           "tree: read reaches for /dev/mem, which this namespace does not have", err=["/dev/mem"])
    expect(Run(["bind", "/pl031@9010000", "uio", "--state-file", state], prefix), 1,
           "tree: bind to the UIO module that is not loaded",
           err=["NOT_FOUND", "insmod udrv_uio_platform.ko"])
    expect(Run(["bind", "/soc/timer@7e003000", "foo", "--state-file", state], prefix), 1,
           "tree: bind of a node the kernel made no device for", err=["the kernel made no device"])
    restored = expect(Run(["--json", "restore", "/pl031@9010000", "--state-file", state], prefix), 0,
                      "tree: restore by the node's path")
    check(restored.json and restored.json["path"] == "/pl031@9010000" and
          len(restored.json["restored"]) == 1 and restored.json["remaining"] == 0,
          "tree: restore undid the unbind", restored.json)
    expect(Run(["restore", "platform/pl031@9010000", "--state-file", state], prefix), 1,
           "tree: nothing left to restore", err=["no rollback record for the device"])


def main():
    if GUEST_CACHE:
        test_debian_dtbs()
        return report()
    with tempfile.TemporaryDirectory() as work:
        os.chmod(work, 0o755)
        dtb = f"{work}/board.dtb"
        subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", dtb,
                        f"{HERE}/platform/board.dts"], check=True)
        test_board(dtb)
        root = f"{work}/sys"
        live_tree(root, dtb)
        test_live(root)
        test_binding(root)
    # A machine without a device tree (x86) lists no platform device: PCI's
    # lines, then ACPI's (which start with their namespace path).
    if not os.path.exists("/sys/firmware/fdt"):
        lines = [line for line in Run(["list"]).out.splitlines() if not line.startswith("\\")]
        check(lines == Run(["list", "--bus", "pci"]).out.splitlines(),
              "no device tree: list is PCI's list, then ACPI's")
    return report()


def report():
    if CHECKS.failures:
        print(f"{len(CHECKS.failures)} of {CHECKS.count} checks failed")
        return 1
    print(f"all {CHECKS.count} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""busctl read, write, bind, unbind and restore on the host, never touching
this machine's devices:

  privileged     (as root) on a sysfs tree this script writes into a temporary
                 directory, which busctl sees as /sys in a mount namespace of
                 its own (these commands refuse --sysfs-root): resourceN are
                 ordinary files, so reads and writes land in them; the
                 drivers' bind/unbind files and drivers_probe are plain files
                 no kernel answers, so a bind never takes (the guests prove
                 the kernel's side, test/guest/busctl_test.cc).
  unprivileged   as nobody (setpriv, when run as root; else as the caller):
                 the commands that change things refuse with ACCESS_DENIED on
                 the written tree (as /sys, when run as root), and `read` of a
                 BAR of the live /sys is refused by the kernel (open of a
                 root-only resource file), which busctl explains.

Every --json document is validated against docs/busctl.schema.json, and the
state file against its $defs/bindings_state_file.

Usage: busctl_change_test.py BUSCTL SCHEMA privileged|unprivileged
Exit status 0 when every check passed, 1 otherwise, 77 (skipped) for
`privileged` when not run as root.
"""
import json
import os
import pty
import shutil
import struct
import subprocess
import sys

import jsonschema

import busctl_testlib
from busctl_testlib import IO, MEM32, MEM64_PREFETCH, Tree, write

BUSCTL, SCHEMA_PATH, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
SCHEMA, VALIDATOR = busctl_testlib.load_schema(SCHEMA_PATH)
CHECKS = busctl_testlib.Checks(verbose=True)
check = CHECKS.check

def validate(document, what, ref=None):
    """Against the whole schema (one of its documents), or one of its $defs."""
    validator = VALIDATOR
    if ref:
        validator = jsonschema.Draft202012Validator(
            {"$defs": SCHEMA["$defs"], "$ref": "#/$defs/" + ref})
    try:
        validator.validate(document)
        check(True, f"{what}: valid against the schema" + (f" ($defs/{ref})" if ref else ""))
    except jsonschema.ValidationError as error:
        check(False, f"{what}: valid against the schema", f"{error.message}\n{document}")


class Run:
    def __init__(self, args, prefix=(), stdin=subprocess.DEVNULL):
        result = subprocess.run([*prefix, BUSCTL, *args], stdin=stdin, capture_output=True,
                                text=True)
        self.args = args
        self.code = result.returncode
        self.out = result.stdout
        self.err = result.stderr
        self.json = None
        if "--json" in args:
            try:
                self.json = json.loads(self.out)
            except json.JSONDecodeError:
                pass

    def __str__(self):
        return (f"busctl {' '.join(self.args)}: exit {self.code}\n  stdout: {self.out!r}\n"
                f"  stderr: {self.err!r}")


def expect(run, code, what, err=(), out=()):
    ok = run.code == code and all(e in run.err for e in err) and all(o in run.out for o in out)
    check(ok, what, str(run))
    if run.json is not None:
        validate(run.json, what)
    elif "--json" in run.args and code != 2:
        check(False, f"{what}: one JSON document on stdout", str(run))
    return run


def build_tree():
    tree = Tree()
    # edu-like: BAR0 16 KiB, BAR2 64-bit prefetchable 8 KiB, BAR4 I/O, BAR5
    # smaller than a page; memory decoding on. Shares group 7 with an AHCI
    # function on ahci, which blocks vfio-pci.
    tree.add("0000:00:04.0", 0x1234, 0x11E8, 0x0006,
             {0: (0xFE000000, 0x4000, MEM32), 2: (0xC0000000, 0x2000, MEM64_PREFETCH),
              4: (0xC000, 0x20, IO), 5: (0xFE100000, 0x100, MEM32)}, group=7)
    tree.add("0000:00:1f.2", 0x8086, 0x2922, 0x0007, {5: (0xFE200000, 0x1000, MEM32)},
             driver="ahci", group=7)
    # A NIC on e1000e with memory decoding off.
    tree.add("0000:00:05.0", 0x8086, 0x10D3, 0x0000, {0: (0xFE300000, 0x1000, MEM32)},
             driver="e1000e", group=8)
    return tree


def in_tree(tree):
    return busctl_testlib.in_tree(tree.root)


def bar_bytes(tree, address, bar, offset, size):
    with open(f"{tree.device_dir(address)}/resource{bar}", "rb") as f:
        f.seek(offset)
        return f.read(size)


def read_state(path):
    with open(path) as f:
        state = json.load(f)
    validate(state, f"state file {path}", ref="bindings_state_file")
    return state["records"]


def test_read(tree):
    def busctl(args):
        return Run(args, in_tree(tree))

    dev = "00:04.0"
    expect(busctl(["read", dev, "0", "0", "--width", "32"]), 0, "read 32 bits",
           out=["0xb0000000 0000:00:04.0 BAR 0 offset 0x0 (32-bit, through sysfs)\n"])
    expect(busctl(["read", dev, "0", "0x3ffc"]), 0, "read the last word, 32 bits by default",
           out=["0xb0003ffc "])
    expect(busctl(["read", dev, "0", "0x105", "--width", "8"]), 0, "read 8 bits",
           out=["0x01 0000:00:04.0 BAR 0 offset 0x105 (8-bit"])
    expect(busctl(["read", dev, "0", "0x106", "--width", "16"]), 0, "read 16 bits",
           out=["0xb000 "])
    expect(busctl(["read", dev, "0", "0x3ff8", "--width", "64"]), 0, "read 64 bits",
           out=["0xb0003ffcb0003ff8 "])
    expect(busctl(["read", dev, "2", "0x10"]), 0, "read a 64-bit prefetchable BAR",
           out=["0xb2000010 0000:00:04.0 BAR 2 offset 0x10"])
    run = expect(busctl(["--json", "read", "0000:00:04.0", "0", "8", "--width", "32"]), 0,
                 "read --json")
    check(run.json and run.json["value"] == 0xB0000008 and run.json["value_hex"] == "0xb0000008"
          and run.json["route"] == "sysfs" and run.json["width"] == 32
          and run.json["offset"] == 8 and "warnings" not in run.json, "read --json members",
          str(run))

    # Checked against sysfs before the device is opened.
    expect(busctl(["read", dev, "0", "2"]), 1, "unaligned read refused",
           err=["INVALID_ARGS", "offset 0x2 is not aligned", "32-bit access needs a multiple of 4"])
    expect(busctl(["--json", "read", dev, "0", "0x4", "--width", "64"]), 1,
           "unaligned 64-bit read refused (JSON)", err=["INVALID_ARGS"])
    expect(busctl(["read", dev, "0", "0x4000"]), 1, "read past the BAR refused",
           err=["OUT_OF_RANGE", "4 bytes at 0x4000 are past the end of BAR 0 (size 0x4000)"])
    expect(busctl(["--json", "read", dev, "0", "0xfffffffffffffff8", "--width", "64"]), 1,
           "read at an offset near 2^64 refused", err=["OUT_OF_RANGE"])
    expect(busctl(["read", dev, "1", "0"]), 1, "read of an unimplemented BAR refused",
           err=["NOT_FOUND", "has no BAR 1; it has BAR 0 (memory, 0x4000 bytes), BAR 2 (memory, "
                "0x2000 bytes), BAR 4 (I/O, 0x20 bytes), BAR 5 (memory, 0x100 bytes)"])
    expect(busctl(["--json", "read", dev, "4", "0"]), 1, "read of an I/O BAR: NOT_SUPPORTED",
           err=["NOT_SUPPORTED", "BAR 4 is an I/O port BAR (0x20 ports at 0xc000)"])
    expect(busctl(["read", dev, "5", "0"]), 1, "read of a BAR smaller than a page",
           err=["NOT_SUPPORTED"])
    expect(busctl(["--json", "read", "00:09.0", "0", "0"]), 1, "read of a missing function",
           err=["NOT_FOUND", "no such PCI function"])

    # Memory decoding off: the value comes with a warning.
    run = expect(busctl(["read", "00:05.0", "0", "0"]), 0, "read with memory decoding off",
                 err=["busctl read: warning: memory decoding is off"])
    run = expect(busctl(["--json", "read", "00:05.0", "0", "0"]), 0,
                 "read --json with memory decoding off")
    check(run.json and "memory decoding is off" in run.json["warnings"][0],
          "read --json carries the warning", str(run))

    for args, what in [(["read", "zz", "0", "0"], "malformed DEV"),
                       (["read", dev, "6", "0"], "BAR 6"),
                       (["read", dev, "0", "0x"], "offset 0x"),
                       (["read", dev, "0", "010z"], "offset 010z"),
                       (["read", dev, "0", "-4"], "negative offset"),
                       (["read", dev, "0", "0", "--width", "12"], "width 12"),
                       (["read", dev, "0"], "no OFFSET")]:
        expect(busctl([*args]), 2, f"usage error: {what}")


def test_write(tree):
    def busctl(args):
        return Run(args, in_tree(tree))

    dev = "00:04.0"
    expect(busctl(["write", dev, "0", "0x20", "0xdeadbeef", "--yes"]), 0, "write 32 bits",
           out=["wrote 0xdeadbeef to 0000:00:04.0 BAR 0 offset 0x20 (32-bit, through sysfs)\n"])
    check(bar_bytes(tree, "0000:00:04.0", 0, 0x20, 4) == struct.pack("<I", 0xDEADBEEF),
          "write 32 bits: the resource file holds the value")
    expect(busctl(["write", dev, "0", "0x25", "0xab", "--width", "8", "-y"]), 0, "write 8 bits")
    expect(busctl(["write", dev, "0", "0x26", "4660", "--width", "16", "--yes"]), 0,
           "write 16 bits, decimal value")
    expect(busctl(["write", dev, "0", "0x28", "0x0123456789abcdef", "--width", "64", "--yes"]),
           0, "write 64 bits")
    check(bar_bytes(tree, "0000:00:04.0", 0, 0x24, 12) ==
          struct.pack("<BBHQ", 0x24, 0xAB, 0x1234, 0x0123456789ABCDEF),
          "writes of 8, 16 and 64 bits change exactly their bytes",
          bar_bytes(tree, "0000:00:04.0", 0, 0x24, 12).hex())
    run = expect(busctl(["--json", "write", dev, "2", "0", "7", "--yes"]), 0, "write --json")
    check(run.json and run.json["written"] and not run.json["dry_run"] and run.json["value"] == 7
          and run.json["value_hex"] == "0x00000007", "write --json members", str(run))
    check(bar_bytes(tree, "0000:00:04.0", 2, 0, 4) == struct.pack("<I", 7),
          "write to BAR 2 lands in resource2")

    snapshot = bar_bytes(tree, "0000:00:04.0", 0, 0, 0x4000)
    expect(busctl(["write", dev, "0", "0x30", "0x55", "--dry-run"]), 0, "write --dry-run",
           out=["dry run: would write 0x00000055 to 0000:00:04.0 BAR 0 offset 0x30 (32-bit, "
                "through sysfs); nothing written\n"])
    run = expect(busctl(["--json", "write", dev, "0", "0x30", "0x55", "--dry-run", "--yes"]),
                 0, "write --dry-run --json")
    check(run.json and run.json["dry_run"] and not run.json["written"],
          "write --dry-run --json: nothing written", str(run))
    expect(busctl(["write", dev, "0", "0x30", "0x55"]), 1,
           "write without --yes, stdin not a terminal: refused",
           err=["CANCELED", "not confirmed: pass --yes (stdin is not a terminal to ask on)"])
    expect(busctl(["--json", "write", dev, "0", "0x30", "0x55"]), 1,
           "write without --yes (JSON)", err=["CANCELED"])
    expect(busctl(["write", dev, "0", "0x31", "1", "--yes"]), 1, "unaligned write refused",
           err=["INVALID_ARGS"])
    expect(busctl(["write", dev, "0", "0x4000", "1", "--yes", "--dry-run"]), 1,
           "write --dry-run past the BAR refused", err=["OUT_OF_RANGE", "(size 0x4000)"])
    expect(busctl(["write", dev, "0", "0", "0x100", "--width", "8", "--yes"]), 2,
           "a value wider than the access: usage error", err=["0x100 does not fit in 8 bits"])
    expect(busctl(["write", dev, "0", "0", "0x100000000", "--yes"]), 2,
           "a value wider than 32 bits: usage error")
    expect(busctl(["write", dev, "0", "0", "--yes"]), 2, "no VALUE: usage error")
    check(bar_bytes(tree, "0000:00:04.0", 0, 0, 0x4000) == snapshot,
          "refused and dry-run writes changed nothing")

    # At a terminal busctl asks; only "y" or "yes" writes.
    for answer, code, expected in [(b"no\n", 1, snapshot[0x40:0x44]),
                                   (b"y\n", 0, struct.pack("<I", 0x66))]:
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp("unshare", [*in_tree(tree), BUSCTL, "write", dev, "0", "0x40", "0x66"])
        output = b""
        while b"[y/N]" not in output:
            output += os.read(fd, 1024)
        os.write(fd, answer)
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        _, status = os.waitpid(pid, 0)
        check(os.waitstatus_to_exitcode(status) == code and
              b"write 0x00000066 to 0000:00:04.0 BAR 0 offset 0x40 (32-bit, through sysfs)? [y/N]"
              in output and bar_bytes(tree, "0000:00:04.0", 0, 0x40, 4) == expected,
              f"the prompt, answered {answer!r}", output.decode(errors="replace"))


def test_bindings(tree):
    state = f"{tree.root}/run/udrv/bindings.json"  # its directory is created
    def busctl(args):
        return Run(args, in_tree(tree))

    with_state = ["--state-file", state]
    unbind_file = f"{tree.root}/bus/pci/drivers/e1000e/unbind"

    # vfio-pci for 04.0: 1f.2 on ahci blocks group 7; the verdict is printed.
    run = expect(busctl(["bind", "00:04.0", "vfio-pci", *with_state]), 1,
                 "bind to vfio-pci refused by the group",
                 err=["busctl bind: IOMMU group 7 is not viable for VFIO; its members:\n"
                      "  0000:00:04.0  (no driver)\n  0000:00:1f.2  ahci\n"
                      "  blocked by 0000:00:1f.2 bound to ahci\n",
                      "BAD_STATE", "0000:00:1f.2 bound to ahci blocks IOMMU group 7"])
    run = expect(busctl(["--json", "bind", "00:04.0", "vfio-pci", *with_state]), 1,
                 "bind to vfio-pci refused (JSON)")
    if run.json:
        validate(run.json.get("iommu_group"), "the refusal's group verdict", ref="group_viability")
        check(run.json["iommu_group"]["viable"] is False and
              run.json["iommu_group"]["blockers"] == ["0000:00:1f.2 bound to ahci"],
              "the refusal's verdict names the blocker", str(run))
    check(read_state(state) == [], "a refused bind records nothing")
    check(not os.path.exists(f"{tree.device_dir('0000:00:04.0')}/driver"),
          "a refused bind leaves the function alone")

    expect(busctl(["bind", "00:04.0", "no_such_driver", *with_state]), 1,
           "bind to a driver that is not loaded",
           err=["NOT_FOUND", "'no_such_driver' is not loaded"])
    expect(busctl(["bind", "00:09.0", "vfio-pci", *with_state]), 1, "bind a missing function",
           err=["NOT_FOUND", "no such PCI function"])
    run = expect(busctl(["--json", "bind", "1f.2", "ahci", *with_state]), 0,
                 "bind to the driver it has: nothing changes")
    check(run.json and run.json["changed"] is False and run.json["previous_driver"] == "ahci",
          "bind to the same driver: changed false", str(run))
    expect(busctl(["bind", "1f.2", "ahci", *with_state]), 0, "bind to the same driver (text)",
           out=["0000:00:1f.2 is bound to ahci already; nothing changed\n"])
    check(read_state(state) == [], "a bind that changed nothing records nothing")

    # unbind writes the address to the driver's unbind file and records it.
    run = expect(busctl(["unbind", "00:05.0", *with_state]), 0, "unbind",
                 out=["unbound 0000:00:05.0 from e1000e; undo with: busctl restore 0000:00:05.0\n"])
    with open(unbind_file) as f:
        check(f.read() == "0000:00:05.0", "unbind wrote the address to e1000e/unbind")
    records = read_state(state)
    check(len(records) == 1 and records[0]["command"] == "unbind" and
          records[0]["address"] == "0000:00:05.0" and records[0]["previous_driver"] == "e1000e"
          and records[0]["driver"] is None and records[0]["previous_override"] is None,
          "unbind recorded the previous driver", records)
    run = expect(busctl(["--json", "unbind", "00:04.0", *with_state]), 0,
                 "unbind of an unbound function: nothing changes")
    check(run.json and run.json["changed"] is False and run.json["previous_driver"] is None,
          "unbind of an unbound function: changed false", str(run))
    check(len(read_state(state)) == 1, "an unbind that changed nothing records nothing")

    expect(busctl(["restore", "00:04.0", *with_state]), 1, "restore without a record",
           err=["NOT_FOUND", f"no rollback record for the device in {state}"])
    # The tree's driver link never went away (no kernel): already as recorded.
    run = expect(busctl(["--json", "restore", "00:05.0", *with_state]), 0, "restore DEV")
    check(run.json and len(run.json["restored"]) == 1 and run.json["remaining"] == 0 and
          run.json["restored"][0]["previous_driver"] == "e1000e", "restore DEV members", str(run))
    check(read_state(state) == [], "restore removed the record")

    # Two records; --all undoes them newest first.
    expect(busctl(["unbind", "00:05.0", *with_state]), 0, "unbind again")
    write(f"{tree.device_dir('0000:00:1f.2')}/driver_override", "ahci")
    expect(busctl(["unbind", "1f.2", *with_state]), 0, "unbind another function")
    records = read_state(state)
    check([r["address"] for r in records] == ["0000:00:05.0", "0000:00:1f.2"] and
          records[1]["previous_override"] == "ahci", "two records, oldest first", records)
    run = expect(busctl(["--json", "restore", "--all", *with_state]), 0, "restore --all")
    check(run.json and [r["address"] for r in run.json["restored"]] ==
          ["0000:00:1f.2", "0000:00:05.0"] and run.json["remaining"] == 0,
          "restore --all: newest first", str(run))
    expect(busctl(["restore", "--all", *with_state]), 0, "restore --all with nothing recorded",
           out=["nothing to restore"])

    expect(busctl(["restore", *with_state]), 2, "restore needs DEV or --all")
    expect(busctl(["restore", "00:05.0", "--all", *with_state]), 2,
           "restore takes DEV or --all, not both")

    # A state file busctl did not write is refused, and left alone.
    bad = f"{tree.root}/not-a-state-file.json"
    write(bad, '{"schema": "something else", "records": []}')
    expect(busctl(["unbind", "00:05.0", "--state-file", bad]), 1, "a foreign state file",
           err=["IO_INVALID", "not a busctl state file"])
    write(bad, '{"schema": "udrv.busctl.bindings/1", "records": [')
    expect(busctl(["--json", "restore", "--all", "--state-file", bad]), 1,
           "a truncated state file", err=["IO_INVALID", "parse JSON"])
    with open(bad) as f:
        check(f.read() == '{"schema": "udrv.busctl.bindings/1", "records": [\n',
              "a broken state file is left as it was")
    # Bounded and never through a link: refused before a byte is read.
    os.truncate(bad, (1 << 20) + 1)
    expect(busctl(["restore", "--all", "--state-file", bad]), 1, "a state file past 1 MiB",
           err=["FILE_BIG", "read state file: 1048577 bytes, more than a busctl state file may "
                "hold (1048576 bytes)", bad])
    link = f"{tree.root}/linked-state.json"
    os.symlink(bad, link)
    expect(busctl(["--json", "unbind", "00:05.0", "--state-file", link]), 1,
           "a state file that is a symbolic link", err=["IO_INVALID", "a symbolic link", link])
    check(os.path.getsize(bad) == (1 << 20) + 1, "the file behind the link is left as it was")

    # A snapshot records sysfs, not registers or drivers: nothing to replay.
    snapshot = f"{tree.root}/snapshot"
    expect(busctl(["snapshot", snapshot]), 0, "snapshot of the tree")
    for command in [["read", "00:04.0", "0", "0"], ["write", "00:04.0", "0", "0", "1", "--yes"],
                    ["bind", "00:05.0", "e1000e"], ["unbind", "00:05.0"], ["restore", "--all"]]:
        expect(Run(["--json", "--from", snapshot, *command]), 1,
               f"{command[0]} --from a snapshot: refused",
               err=["NOT_SUPPORTED", f"{command[0]} works on the live machine only"])


def test_unprivileged(tree):
    prefix = ()
    if os.geteuid() == 0:
        prefix = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        test_unprivileged_tree(tree, (*in_tree(tree), *prefix))
    else:
        print("note: not root: no mount namespace to see the written tree as /sys in; only "
              "the live /sys is read")
    test_unprivileged_live(prefix)


def test_unprivileged_tree(tree, prefix):
    state = f"{tree.root}/state/bindings.json"
    for command in [["bind", "00:04.0", "uio"], ["unbind", "00:05.0"], ["restore", "00:05.0"],
                    ["restore", "--all"], ["write", "00:04.0", "0", "0", "1", "--yes"]]:
        args = [*command, "--state-file", state] if command[0] != "write" else command
        expect(Run([*args], prefix), 1, f"unprivileged {command[0]}: refused",
               err=["ACCESS_DENIED", f"{command[0]} needs root"])
        expect(Run(["--json", *args], prefix), 1, f"unprivileged {command[0]} (JSON)",
               err=["ACCESS_DENIED"])
    check(not os.path.exists(state), "unprivileged commands did not create the state file")
    snapshot = bar_bytes(tree, "0000:00:04.0", 0, 0, 0x4000)
    expect(Run(["--json", "write", "00:04.0", "0", "0", "1", "--dry-run"], prefix), 0,
           "unprivileged write --dry-run works")
    check(bar_bytes(tree, "0000:00:04.0", 0, 0, 0x4000) == snapshot,
          "unprivileged commands wrote nothing")
    expect(Run(["read", "00:04.0", "0", "0"], prefix), 1,
           "unprivileged read of a root-only resource file: refused, with the reason",
           err=["ACCESS_DENIED", "read needs root: BAR registers are reachable only through "
                "the root-only sysfs resourceN files or VFIO device files"])
    expect(Run(["--json", "read", "00:04.0", "0", "0"], prefix), 1,
           "unprivileged read of a root-only resource file (JSON)", err=["ACCESS_DENIED"])


def test_unprivileged_live(prefix):
    # The live /sys, read-only: the kernel keeps resourceN to root, and busctl
    # says so. The refusal comes from open(2): the device is never touched.
    live = None
    for address in sorted(os.listdir("/sys/bus/pci/devices")):
        with open(f"/sys/bus/pci/devices/{address}/resource") as f:
            lines = f.read().split("\n")
        for index, line in enumerate(lines[:6]):
            start, end, flags = (int(field, 16) for field in line.split())
            if flags & 0x200 and end - start + 1 >= 4096:
                live = (address, index)
                break
        if live:
            break
    if live is None:
        print("note: no live PCI function with a memory BAR of a page or more; live read skipped")
        return
    if os.geteuid() != 0 or prefix:
        # Kernels without PCI mmap (some VMs' minimal ones) offer no
        # resourceN at all: then that is the reason.
        resource = f"/sys/bus/pci/devices/{live[0]}/resource{live[1]}"
        reason = (["ACCESS_DENIED", "read needs root", "root-only sysfs resourceN"]
                  if os.path.exists(resource) else
                  ["NOT_SUPPORTED", f"the kernel offers no resource{live[1]}"])
        expect(Run(["read", live[0], str(live[1]), "0"], prefix), 1,
               f"unprivileged read of {live[0]} BAR {live[1]} on the live /sys: refused",
               err=reason)
        expect(Run(["--json", "read", live[0], str(live[1]), "0"], prefix), 1,
               "unprivileged read on the live /sys (JSON)", err=reason[:1])


def main():
    if MODE == "privileged" and os.geteuid() != 0:
        print("skipped: the privileged checks run as root (on a tree of their own)")
        return 77
    tree = build_tree()
    try:
        if MODE == "privileged":
            test_read(tree)
            test_write(tree)
            test_bindings(tree)
        else:
            test_unprivileged(tree)
    finally:
        shutil.rmtree(tree.root)
    if CHECKS.failures:
        print(f"{len(CHECKS.failures)} checks failed:\n  " + "\n  ".join(CHECKS.failures))
        return 1
    print("all checks passed")
    return 0


sys.exit(main())

#!/usr/bin/env python3
"""busctl given bad input, as a crafted tree, snapshot or state file gives it,
on trees this script writes (it never reads or touches this machine's
devices):

  - FIFOs and device nodes where attributes belong: every command returns,
    naming the file, instead of waiting for a writer forever;
  - a config file larger than any config space (20 GB, sparse) is called
    that, not blamed on privileges;
  - an iommu_group link that loops: show reports the group unreadable with
    ELOOP, not a machine without an IOMMU;
  - terminal escapes (a window title, a screen clear, C1 controls, bytes
    that are not UTF-8) in names, attribute values, paths and pci.ids: text
    output and messages show them escaped, JSON carries the real value;
  - replays of a snapshot name its members in messages ("snapshot F: member
    sys/..."), never the private directory they were unpacked into;
  - a snapshot of a tree with control characters and bytes that are not
    UTF-8 in its values and names replays to what the tree itself gives,
    and a snapshot of that replay is the same file;
  - --sysfs-root with the commands that reach devices (read, write, bind,
    unbind, restore): refused before anything is read or opened, on a tree
    that says vfio-pci (with a group no machine has, so that even a busctl
    without the refusal reaches no device) and on one that does not exist;
  - --from files past the limits: a 256 MiB + 1 file (sparse), a member one
    byte past 4 MiB, member paths deeper than 32 components (thousands of
    them, a few MB), a FIFO: each refused at once, naming the file or member
    and the limit.

Every --json document is validated against docs/busctl.schema.json.

Usage: busctl_bad_input_test.py BUSCTL SCHEMA
"""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import traceback

import busctl_testlib
from busctl_testlib import MEM32, Tree, write

BUSCTL, SCHEMA_PATH = sys.argv[1], sys.argv[2]
SCHEMA, VALIDATOR = busctl_testlib.load_schema(SCHEMA_PATH)
CHECKS = busctl_testlib.Checks()
check = CHECKS.check
WORK = tempfile.mkdtemp(prefix="busctl-bad-input-test.")
TIMEOUT = 20


class Run:
    """busctl ARGS, stopped after TIMEOUT seconds: a run that blocks fails
    the check instead of the suite. Output as bytes, and as text with the
    bytes that are no UTF-8 kept as surrogates."""

    def __init__(self, args, prefix=()):
        self.args = args
        try:
            result = subprocess.run([*prefix, BUSCTL, *args], stdin=subprocess.DEVNULL,
                                    capture_output=True, timeout=TIMEOUT)
            self.code, self.stdout, self.stderr = result.returncode, result.stdout, result.stderr
        except subprocess.TimeoutExpired as expired:
            self.code, self.stdout, self.stderr = None, expired.stdout or b"", expired.stderr or b""
        self.out = self.stdout.decode(errors="surrogateescape")
        self.err = self.stderr.decode(errors="surrogateescape")
        check(self.code is not None, f"busctl {' '.join(args)}: returns within {TIMEOUT} s",
              self.err)

    def document(self):
        """stdout as one JSON document valid against the schema, or None."""
        try:
            doc = json.loads(self.stdout)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            check(False, f"busctl {' '.join(self.args)}: stdout is one JSON document",
                  f"{error}: {self.stdout[:500]!r}")
            return None
        errors = list(VALIDATOR.iter_errors(doc))
        check(not errors, f"busctl {' '.join(self.args)}: valid against the schema",
              "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:3]))
        return doc

    def __str__(self):
        return f"busctl {' '.join(self.args)}: exit {self.code}\n  stdout: {self.out!r}\n  stderr: {self.err!r}"


def build_tree():
    tree = Tree()
    tree.add("0000:00:04.0", 0x1234, 0x11E8, 0x0006, {0: (0xFE000000, 0x4000, MEM32)}, group=7)
    tree.add("0000:00:05.0", 0x8086, 0x10D3, 0x0006, {0: (0xFE300000, 0x1000, MEM32)},
             driver="e1000e", group=8)
    write(f"{tree.root}/kernel/iommu_groups/7/type", "DMA")
    return tree


def replace_with_fifo(path):
    os.remove(path)
    os.mkfifo(path)


def test_fifos():
    tree = build_tree()
    base = ["--sysfs-root", tree.root]
    replace_with_fifo(f"{tree.device_dir('0000:00:05.0')}/vendor")
    vendor = f"{tree.root}/bus/pci/devices/0000:00:05.0/vendor"  # as busctl names it
    run = Run([*base, "list"])
    check(run.code == 1 and f"busctl list: NOT_FILE: read {vendor}: a FIFO" in run.err
          and run.out.startswith("0000:00:04.0 "),
          "list: a function with a FIFO for an attribute is skipped, naming the file", run)
    run = Run([*base, "show", "00:05.0"])
    check(run.code == 1 and f"read {vendor}: a FIFO" in run.err, "show names the FIFO", run)
    snapshot = os.path.join(WORK, "fifo.snap")
    run = Run([*base, "snapshot", snapshot])
    check(run.code == 0 and "busctl snapshot: skipped devices/pci0000:00/0000:00:05.0/vendor: "
          in run.err and "a FIFO" in run.err, "snapshot skips the FIFO and says so", run)

    replace_with_fifo(f"{tree.device_dir('0000:00:04.0')}/config")
    config = f"{tree.root}/bus/pci/devices/0000:00:04.0/config"
    run = Run([*base, "--json", "show", "00:04.0"])
    doc = run.document()
    check(run.code == 1 and doc and doc["error"]["status"] == "NOT_FILE"
          and f"read {config}: a FIFO" in doc["error"]["what"],
          "show --json: a FIFO for config space is the error", run)
    group_type = f"{tree.root}/kernel/iommu_groups/7/type"
    replace_with_fifo(group_type)
    run = Run([*base, "--json", "iommu"])
    doc = run.document()
    check(run.code == 0 and doc and any(s["what"] == group_type and "a FIFO" in s["why"]
                                        for s in doc["skipped"]),
          "iommu: a FIFO for a group's type is skipped, naming it", run)
    shutil.rmtree(tree.root)


def test_huge_config():
    tree = build_tree()
    base = ["--sysfs-root", tree.root]
    os.truncate(f"{tree.device_dir('0000:00:04.0')}/config", 20 << 30)
    for command in ("show", "config"):
        run = Run([*base, command, "00:04.0"])
        check(run.code == 1 and f"busctl {command}: FILE_BIG: read config space: the file holds "
              "21474836480 bytes, more than any config space (4096): not a config space" in run.err
              and "root" not in run.err, f"{command}: a 20 GB config file is no config space", run)
    snapshot = os.path.join(WORK, "huge-config.snap")
    run = Run([*base, "--json", "snapshot", snapshot])
    doc = run.document()
    check(run.code == 0 and doc and doc["config_limited"] == []
          and any(s["what"] == "devices/pci0000:00/0000:00:04.0/config"
                  and "21474836480 bytes or more, more than 4096" in s["why"]
                  for s in doc["skipped"]),
          "snapshot: a 20 GB config file is skipped as no config space, not recorded in part", run)
    shutil.rmtree(tree.root)


def test_group_loop():
    tree = build_tree()
    base = ["--sysfs-root", tree.root]
    link = f"{tree.device_dir('0000:00:04.0')}/iommu_group"
    os.remove(link)
    os.symlink("iommu_group", link)
    run = Run([*base, "show", "00:04.0"])
    check(run.code == 0 and "\tIOMMU group: unreadable: IO_INVALID: read IOMMU group: the "
          "iommu_group link cannot be followed" in run.err + run.out
          and "(errno 40: Too many levels of symbolic links)" in run.out
          and "\tVFIO: read IOMMU group: the iommu_group link cannot be followed" in run.out
          and "intel_iommu" not in run.out, "show: a looping iommu_group link is reported", run)
    run = Run([*base, "--json", "show", "00:04.0"])
    doc = run.document()
    check(doc and doc["function"]["iommu_group"] is None
          and doc["function"]["iommu_group_error"]["errno"] == 40
          and doc["function"]["iommu_group_error"]["object"].endswith("0000:00:04.0/iommu_group")
          and "cannot be followed" in doc["iommu"]["why_none"],
          "show --json: iommu_group_error says why the group is null", run)
    run = Run([*base, "--json", "list"])
    doc = run.document()
    check(doc and [f["iommu_group_error"] is not None for f in doc["devices"]] == [True, False],
          "list --json: iommu_group_error on the function whose link loops only", run)
    shutil.rmtree(tree.root)


# What must never reach a terminal: C0 controls but newline and tab, DEL, C1
# controls (U+0080..U+009F), and bytes that are not UTF-8 (decoded as
# surrogates).
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\udc80-\udcff]")
TITLE = b"\x1b]0;owned\x07"
CLEAR = b"\x1b[2J\x9b2J\xc2\x9b"  # ESC CSI, a raw C1 byte, C1 as UTF-8


def check_escaped(run, what):
    for stream, text in (("stdout", run.out), ("stderr", run.err)):
        bad = UNSAFE.search(text)
        check(bad is None, f"{what}: {stream} holds no terminal control",
              f"{bad.group()!r} at {bad.start()}: {text[max(0, bad.start() - 80):bad.start() + 20]!r}"
              if bad else "")


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def hostile_tree():
    """A tree whose every outside string steers a terminal: its own path, a
    driver's name, driver_override, a group's type and reserved region, an
    IOMMU unit, a group member, and a malformed resource file."""
    tree = build_tree()
    tree.add("0000:00:06.0", 0x8086, 0x10D3, 0x0006, {})
    root = os.fsencode(tree.root) + b"-\x1b[2J"
    os.rename(tree.root, root)
    tree.root = os.fsdecode(root)
    functions = os.fsencode(f"{tree.root}/devices/pci0000:00/")
    write_bytes(functions + b"0000:00:04.0/driver_override", CLEAR + b"\n")
    write_bytes(functions + b"0000:00:06.0/resource", b"0x0 " + TITLE + b"\n")
    driver = b"e1000e" + TITLE
    os.makedirs(os.fsencode(f"{tree.root}/bus/pci/drivers/") + driver)
    os.remove(functions + b"0000:00:05.0/driver")
    os.symlink(b"../../../bus/pci/drivers/" + driver, functions + b"0000:00:05.0/driver")
    group = os.fsencode(f"{tree.root}/kernel/iommu_groups/7/")
    write_bytes(group + b"type", b"DMA" + CLEAR + b"\n")
    write_bytes(group + b"reserved_regions",
                b"0x00000000fee00000 0x00000000feefffff msi" + TITLE + b"\n")
    os.makedirs(os.fsencode(f"{tree.root}/class/iommu/dmar") + TITLE)
    platform = b"9000000.uart" + CLEAR
    os.makedirs(os.fsencode(f"{tree.root}/devices/platform/") + platform)
    os.symlink(b"../../../../devices/platform/" + platform, group + b"devices/" + platform)
    return tree


def test_terminal_escapes():
    tree = hostile_tree()
    pci_ids = os.path.join(WORK, "pci.ids")
    write_bytes(pci_ids, b"1234  Vendor" + TITLE + b"\n\t11e8  Device" + CLEAR + b"\n")
    base = ["--sysfs-root", tree.root, "--pci-ids", pci_ids]
    snapshot = os.path.join(WORK, "escapes.snap")
    for args in (["list"], ["list", "--tree"], ["show", "00:04.0"], ["show", "00:05.0"],
                 ["show", "00:06.0"], ["config", "00:04.0"], ["iommu"],
                 ["snapshot", "--force", snapshot]):
        run = Run([*base, *args])
        check_escaped(run, " ".join(args))
    run = Run([*base, "show", "00:04.0"])
    check("\tDriver override: \\e[2J\\x9b2J\\xc2\\x9b\n" in run.out
          and "Vendor\\e]0;owned\\x07 Device\\e[2J\\x9b2J\\xc2\\x9b [1234:11e8]" in run.out
          and "(DMA\\e[2J\\x9b2J\\xc2\\x9b)" in run.out,
          "show: driver_override, names and the group's type are shown escaped", run)
    run = Run([*base, "list"])
    check(" driver=e1000e\\e]0;owned\\x07\n" in run.out
          and "line 0 '0x0 \\e]0;owned\\x07' is not" in run.err,
          "list: the driver's name and a malformed resource line are shown escaped", run)
    run = Run(["--from", snapshot, "list"])
    check_escaped(run, "--from list")

    run = Run([*base, "--json", "show", "00:04.0"])
    doc = run.document()
    check(doc and doc["driver_override"] == "\x1b[2J\ufffd2J\x9b"
          and doc["iommu"]["type"] == "DMA\x1b[2J\ufffd2J\x9b"
          and doc["function"]["vendor"] == "Vendor\x1b]0;owned\x07",
          "show --json: the real values, in JSON's escapes", run)
    check(b"\x1b" not in run.stdout and b"\x9b" not in run.stdout,
          "show --json: no raw escape on stdout", run)
    run = Run([*base, "--json", "list"])
    doc = run.document()
    check(doc and [f["driver"] for f in doc["devices"]] == [None, "e1000e\x1b]0;owned\x07"],
          "list --json: the driver's real name", run)
    run = Run([*base, "--json", "iommu"])
    doc = run.document()
    check(doc and "dmar\x1b]0;owned\x07" in doc["iommus"]
          and any(r["type"] == "msi\x1b]0;owned\x07" for g in doc["groups"]
                  for r in g["reserved_regions"] or []),
          "iommu --json: the real unit name and region type", run)
    shutil.rmtree(tree.root)


def test_member_names():
    tree = build_tree()
    write(f"{tree.device_dir('0000:00:05.0')}/vendor", "0xzz")
    link = f"{tree.device_dir('0000:00:04.0')}/iommu_group"
    os.remove(link)
    os.symlink("iommu_group", link)
    snapshot = os.path.join(WORK, "members.snap")
    Run(["--sysfs-root", tree.root, "snapshot", snapshot])
    member = f"snapshot {snapshot}: member sys/bus/pci/devices/0000:00:05.0/vendor"
    run = Run(["--from", snapshot, "list"])
    check(run.code == 1 and f"busctl list: IO_INVALID: unexpected content '0xzz' [{member}]"
          in run.err and "busctl-snapshot." not in run.err,
          "--from list: the error names the snapshot's member", run)
    run = Run(["--json", "--from", snapshot, "show", "00:05.0"])
    doc = run.document()
    check(run.code == 1 and doc and doc["error"]["object"] == member
          and f"[{member}]" in run.err, "--from show --json: the error names the member", run)
    run = Run(["--json", "--from", snapshot, "show", "00:04.0"])
    doc = run.document()
    check(doc and doc["function"]["iommu_group_error"]["object"]
          == f"snapshot {snapshot}: member sys/bus/pci/devices/0000:00:04.0/iommu_group"
          and "busctl-snapshot." not in run.out,
          "--from show --json: the unreadable group names the member", run)
    shutil.rmtree(tree.root)


def odd_tree():
    """The hostile tree's values and names, and more names with newlines,
    tabs, backslashes and bytes that are not UTF-8, at a plain path (the
    replay names it as the snapshot's member)."""
    tree = hostile_tree()
    plain = os.fsdecode(os.fsencode(tree.root).replace(b"-\x1b[2J", b"-odd"))
    os.rename(tree.root, plain)
    tree.root = plain
    function = os.fsencode(tree.device_dir("0000:00:04.0"))
    driver = b"odd\nname\t\\x \xff"
    os.makedirs(os.fsencode(tree.root) + b"/bus/pci/drivers/" + driver)
    os.symlink(b"../../../bus/pci/drivers/" + driver, function + b"/driver")
    os.makedirs(function + b"/msi_irqs")
    write_bytes(function + b"/msi_irqs/24", b"msi\n")
    os.mkfifo(function + b"/msi_irqs/25\n\t\x1b\\")  # skipped: in the manifest
    write_bytes(function + b"/label", b"\x1b]0;label\x07 \xff\n")
    return tree


def test_odd_bytes_replay():
    tree = odd_tree()
    snapshot = os.path.join(WORK, "odd.snap")
    direct = Run(["--sysfs-root", tree.root, "snapshot", snapshot])
    check(direct.code == 0 and "msi_irqs/25\\n\\t\\e\\: " in direct.err,
          "snapshot of the odd tree, the FIFO skipped", direct)

    def named(text):
        return text.replace(f"snapshot {snapshot}: member sys", tree.root)

    def without_dev_nodes(text, json_mode):
        """iommu less what is the running machine's (/dev nodes) and not the tree's."""
        if not json_mode:
            return "\n".join(l for l in text.splitlines() if not l.startswith("/dev/"))
        doc = json.loads(text)
        doc.pop("dev_vfio_vfio", None)
        doc.pop("dev_iommu", None)
        doc["skipped"] = [s for s in doc["skipped"] if "/dev/" not in s["what"]]
        return json.dumps(doc)

    commands = [["list"], ["list", "--tree"], ["iommu"]]
    for address in ("00:04.0", "00:05.0", "00:06.0"):
        commands += [["show", address], ["config", address]]
    for command in commands:
        for flags in ([], ["--json"]):
            live = Run(["--sysfs-root", tree.root, *flags, *command])
            replay = Run(["--from", snapshot, *flags, *command])
            want, got = live.out, named(replay.out)
            if command[0] == "iommu":
                want, got = without_dev_nodes(want, flags), without_dev_nodes(got, flags)
            check(replay.code == live.code and got == want,
                  f"--from {' '.join(flags + command)}: the odd tree's output",
                  f"live {live.code}: {want[:1500]!r}\nreplay {replay.code}: {got[:1500]!r}")
    for flags in ([], ["--json"]):
        again = os.path.join(WORK, "odd-again.snap")
        replay = Run(["--from", snapshot, *flags, "snapshot", "--force", again])
        live = Run(["--sysfs-root", tree.root, *flags, "snapshot", "--force",
                    os.path.join(WORK, "odd-live.snap")])
        check(replay.code == 0 and replay.err == live.err
              and replay.out.replace(again, "F") == live.out.replace(
                  os.path.join(WORK, "odd-live.snap"), "F"),
              f"{' '.join(flags)} snapshot of the replay says what the live snapshot said",
              f"{live}\n{replay}")
        with open(snapshot, "rb") as a, open(again, "rb") as b:
            check(a.read() == b.read(), f"{' '.join(flags)} snapshot of the replay is the same file")
    shutil.rmtree(tree.root)


def test_sysfs_root_refused():
    tree = build_tree()
    os.symlink("../../../bus/pci/drivers/vfio-pci", f"{tree.device_dir('0000:00:04.0')}/driver")
    group = f"{tree.device_dir('0000:00:04.0')}/iommu_group"
    os.remove(group)
    os.symlink("../../../kernel/iommu_groups/4000000", group)
    state = os.path.join(WORK, "state", "bindings.json")
    before = busctl_testlib.tree_files(tree.root)
    commands = [["read", "00:04.0", "0", "0"], ["write", "00:04.0", "0", "0", "1", "--yes"],
                ["bind", "00:05.0", "vfio-pci", "--state-file", state],
                ["unbind", "00:05.0", "--state-file", state],
                ["restore", "00:05.0", "--state-file", state],
                ["restore", "--all", "--state-file", state]]
    for root in (tree.root, os.path.join(WORK, "no-such-tree")):
        for command in commands:
            run = Run(["--sysfs-root", root, *command])
            check(run.code == 1 and f"busctl {command[0]}: NOT_SUPPORTED: {command[0]} works on the "
                  f"live machine only: --sysfs-root {root} is a tree to inspect" in run.err,
                  f"--sysfs-root {os.path.basename(root)} {command[0]}: refused", run)
            run = Run(["--sysfs-root", root, "--json", *command])
            doc = run.document()
            check(run.code == 1 and doc and doc["command"] == command[0]
                  and doc["error"]["status"] == "NOT_SUPPORTED",
                  f"--sysfs-root {os.path.basename(root)} --json {command[0]}: the error document",
                  run)
    check(busctl_testlib.tree_files(tree.root) == before and not os.path.exists(state),
          "the refused commands changed nothing in the tree and made no state file")
    run = Run(["--sysfs-root", tree.root, "write", "00:05.0", "0", "0", "1", "--dry-run"])
    check(run.code == 0 and run.out.startswith("dry run: would write 0x00000001 to 0000:00:05.0 "),
          "write --dry-run, which opens nothing, still checks a tree", run)
    shutil.rmtree(tree.root)


def snapshot_file(name, members):
    """A snapshot file of (path, bytes or None for a directory) members after
    a proper manifest, in pax format as GNU tar --format=pax writes it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, data in [("udrv-snapshot", b"format udrv.busctl.snapshot/2\n"), ("sys", None),
                           *members]:
            info = tarfile.TarInfo(path)
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    path = os.path.join(WORK, name)
    write_bytes(path, out.getvalue())
    return path


def test_snapshot_limits():
    huge = os.path.join(WORK, "huge.snap")
    write_bytes(huge, b"")
    os.truncate(huge, (256 << 20) + 1)
    run = Run(["--from", huge, "list"])
    check(run.code == 1 and f"busctl list: FILE_BIG: read snapshot: 268435457 bytes, more than a "
          f"busctl snapshot may hold (268435456 bytes) [{huge}]" in run.err,
          "--from a file one byte past 256 MiB: refused by its size", run)
    fifo = os.path.join(WORK, "from-a-fifo.snap")
    os.mkfifo(fifo)
    run = Run(["--from", fifo, "list"])
    check(run.code == 1 and "not a regular file, so not a busctl snapshot" in run.err,
          "--from a FIFO: refused, not waited on", run)

    big = snapshot_file("big-member.snap", [("sys/config", b"x" * ((4 << 20) + 1))])
    run = Run(["--from", big, "--json", "list"])
    doc = run.document()
    check(run.code == 1 and doc and "member 'sys/config': declares 4194305 bytes of data, more "
          "than a snapshot member may hold (4194304)" in doc["error"]["what"]
          and doc["error"]["object"] == big, "--from a member one byte past 4 MiB: refused", run)

    deep = "/".join(["sys"] + ["d"] * 39)
    many = snapshot_file("deep.snap", [(f"{deep}/{n}", b"x") for n in range(3000)])
    check(os.path.getsize(many) > (2 << 20), "the deep snapshot is a few MB",
          os.path.getsize(many))
    run = Run(["--from", many, "list"])
    check(run.code == 1 and f"member '{deep}/0' has 41 path components, more than a snapshot "
          "holds (32" in run.err, "--from thousands of members 41 deep: refused, naming one",
          run)


def main():
    tests = [test_fifos, test_huge_config, test_group_loop, test_terminal_escapes,
             test_member_names, test_odd_bytes_replay, test_sysfs_root_refused,
             test_snapshot_limits]
    try:
        for test in tests:
            try:
                test()
            except Exception:  # a member missing from older output: fails, the others still run
                check(False, f"{test.__name__} runs to its end", traceback.format_exc())
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    if CHECKS.failures:
        print(f"{len(CHECKS.failures)} of {CHECKS.count} checks failed")
        return 1
    print(f"all {CHECKS.count} checks passed")
    return 0


sys.exit(main())

#!/usr/bin/env python3
"""busctl given bad input, as a crafted tree, snapshot or state file gives it,
on trees this script writes (it never reads or touches this machine's
devices):

  - FIFOs and device nodes where attributes belong: every command returns,
    naming the file, instead of waiting for a writer forever;
  - a config file larger than any config space (20 GB, sparse) is called
    that, not blamed on privileges;
  - an iommu_group link that loops: show reports the group unreadable with
    ELOOP, not a machine without an IOMMU.

Every --json document is validated against docs/busctl.schema.json.

Usage: busctl_bad_input_test.py BUSCTL SCHEMA
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

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
                  and "not a config space" in s["why"] for s in doc["skipped"]),
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
    check(doc and [f["iommu_group_error"] is not None for f in doc["functions"]] == [True, False],
          "list --json: iommu_group_error on the function whose link loops only", run)
    shutil.rmtree(tree.root)


def main():
    try:
        test_fifos()
        test_huge_config()
        test_group_loop()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    if CHECKS.failures:
        print(f"{len(CHECKS.failures)} of {CHECKS.count} checks failed")
        return 1
    print(f"all {CHECKS.count} checks passed")
    return 0


sys.exit(main())

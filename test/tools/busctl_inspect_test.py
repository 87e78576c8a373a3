#!/usr/bin/env python3
"""busctl's inspection commands (list, show, config, iommu) as a user runs
them, reading only: the recorded trees of test/pci/data, a tree with bridges
that make-bridge-tree.py writes, and the live /sys.

  - every --json document is validated against docs/busctl.schema.json, and
    the documents agree with each other and with the text output (the same
    functions, show's "function" is list's entry, config's bytes are what
    lspci -xxxx dumps);
  - failures: an unknown function, a missing sysfs tree: exit status 1, the
    error on stderr as "busctl COMMAND: STATUS: ...", and with --json the
    error document;
  - bad arguments (malformed DEV, -s and -d that do not parse, a missing
    DEV, unknown options): exit status 2 with a message saying what is wrong,
    never a crash;
  - unprivileged (as nobody through setpriv, when run as root): show and
    config of the live /sys still work and list what they skipped and why.

Usage: busctl_inspect_test.py BUSCTL SCHEMA PCI_TEST_DATA
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import busctl_testlib

BUSCTL, SCHEMA_PATH, DATA = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA, VALIDATOR = busctl_testlib.load_schema(SCHEMA_PATH)
CHECKS = busctl_testlib.Checks()
check = CHECKS.check


def run(args, prefix=()):
    result = subprocess.run([*prefix, BUSCTL, *args], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True)
    check(result.returncode >= 0, f"busctl {' '.join(args)} exits (no signal)",
          f"killed by signal {-result.returncode}: {result.stderr}")
    return result


def document(args, prefix=(), command=None, code=0):
    """Runs busctl --json ARGS; checks the exit status, that stdout is one
    document valid against the schema, and names COMMAND."""
    result = run(["--json", *args], prefix)
    what = f"busctl --json {' '.join(args)}"
    check(result.returncode == code, f"{what}: exit status {code}",
          f"got {result.returncode}; stderr: {result.stderr}")
    try:
        doc = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        check(False, f"{what}: one JSON document on stdout", f"{error}: {result.stdout[:500]}")
        return None
    errors = list(VALIDATOR.iter_errors(doc))
    detail = ""
    for error in errors:
        for sub in error.context or []:
            detail += f"\n  [{'/'.join(map(str, sub.absolute_path))}] {sub.message[:200]}"
        detail += f"\n  {error.message[:200]}"
    check(not errors, f"{what}: valid against {SCHEMA_PATH}", detail)
    if command is None:
        command = args[2] if args[0] == "--sysfs-root" else args[0]
    check(doc.get("command") == command, f"{what}: command member", doc.get("command"))
    return doc


def check_tree(root, name):
    listing = document(["--sysfs-root", root, "list"])
    if listing is None:
        return
    text = run(["--sysfs-root", root, "list"]).stdout.splitlines()
    # The ACPI devices (the live machine's) come after PCI's and start with
    # their path; the PCI functions are what is checked here.
    text = [line for line in text if not line.startswith("\\")]
    # The global options work after the command too, where users type them,
    # and node ids name functions.
    after = run(["list", "--json", "--sysfs-root", root])
    check(after.returncode == 0 and json.loads(after.stdout) == listing,
          f"{name}: list --json --sysfs-root (after the command) is --json list", after.stderr)
    check(all(entry["bus"] in ("pci", "acpi") for entry in listing["devices"]),
          f"{name}: every device says its bus", listing["devices"][:1])
    functions = [entry for entry in listing["devices"] if entry["bus"] == "pci"]
    if functions:
        first = functions[0]["address"]
        before = run(["--json", "--sysfs-root", root, "show", first])
        for args in (["show", first, "--json", "--sysfs-root", root],
                     ["--sysfs-root", root, "show", "pci/" + first, "--json"]):
            shown = run(args)
            check(shown.returncode == before.returncode and shown.stdout == before.stdout,
                  f"{name}: busctl {' '.join(args)} is busctl --json show {first}", shown.stderr)
    bus = run(["--sysfs-root", root, "list", "--bus", "pci"]).stdout.splitlines()
    check(bus == text, f"{name}: list --bus pci lists what list does for PCI", bus[:3])
    other = run(["--sysfs-root", root, "list", "--bus", "i2c"])
    check(other.returncode == 2, f"{name}: list --bus of no module is a usage error", other.stderr)
    addresses = [entry["address"] for entry in functions]
    check(addresses == [line.split()[0] for line in text],
          f"{name}: list --json has the functions list prints, in its order", addresses)
    check(addresses == sorted(addresses), f"{name}: functions sorted by address")
    for selection in (["-s", "0:"], ["-d", "8086:"], ["-d", "::06xx"], ["-s", ".1"]):
        selected = document(["--sysfs-root", root, "list", *selection])
        shown = run(["--sysfs-root", root, "list", *selection]).stdout.splitlines()
        if selected is not None:
            check([e["address"] for e in selected["devices"]] == [l.split()[0] for l in shown],
                  f"{name}: list {' '.join(selection)} selects the same in JSON and text")
    document(["--sysfs-root", root, "list", "--tree"])
    document(["--sysfs-root", root, "iommu"])
    by_address = {entry["address"]: entry for entry in functions}
    for address in addresses:
        shown = document(["--sysfs-root", root, "show", address])
        if shown is not None:
            check(shown["function"] == by_address[address],
                  f"{name} {address}: show's function is list's entry",
                  f"{shown['function']} != {by_address[address]}")
        config = document(["--sysfs-root", root, "config", address])
        if config is None:
            continue
        check(len(config["bytes"]) == 2 * config["size"],
              f"{name} {address}: config bytes hold size bytes")
        if root != "/sys" and shutil.which("lspci"):
            dump = subprocess.run(
                ["lspci", "-D", "-A", "linux-sysfs", "-O", f"sysfs.path={root}/bus/pci", "-s",
                 address, "-xxxx"], capture_output=True, text=True).stdout
            lspci_bytes = "".join("".join(line.split()[1:]) for line in dump.splitlines()
                                  if re.match(r"[0-9a-f]{2,3}: ", line))
            check(config["bytes"] == lspci_bytes,
                  f"{name} {address}: config --json bytes are lspci -xxxx's")
        offsets = [c["offset"] for c in config["capabilities"] if not c["extended"]]
        text = run(["--sysfs-root", root, "config", address]).stdout
        for capability in config["capabilities"]:
            check(capability["description"] in text,
                  f"{name} {address}: capability {capability['offset']:#x} in the text too")
        check(len(set(offsets)) == len(offsets), f"{name} {address}: each capability once")


def check_failures(root):
    for command in ("show", "config"):
        result = run(["--sysfs-root", root, command, "00:1e.7"])
        check(result.returncode == 1, f"{command} of an unknown function: exit status 1",
              f"{result.returncode} {result.stderr}")
        check(result.stderr.startswith(f"busctl {command}: IO_NOT_PRESENT: "),
              f"{command} of an unknown function: says so on stderr", result.stderr)
        doc = document(["--sysfs-root", root, command, "00:1e.7"], code=1)
        if doc is not None:
            check(doc["error"]["status"] == "IO_NOT_PRESENT" and "0000:00:1e.7" in doc["error"]["object"],
                  f"{command} of an unknown function: the error document names it", doc)
    missing = os.path.join(tempfile.gettempdir(), "busctl-no-such-tree")
    for command in (["list"], ["iommu"], ["show", "00:00.0"], ["config", "00:00.0"]):
        doc = document(["--sysfs-root", missing, *command], code=1)
        if doc is not None:
            check(doc["error"]["errno"] == 2, f"{command[0]} on a missing tree: ENOENT", doc)


def check_bad_arguments(root):
    cases = [
        (["show", "00:1f"], "no '.function'"),
        (["show", "1:2:3:4.0"], "too many ':'"),
        (["show", "00:20.0"], "device '20' must be hex 0..1f"),
        (["show", "00:1f.8"], "function '8' must be hex 0..7"),
        (["show", "100:00.0"], "bus '100' must be hex 0..ff"),
        (["show", "g:00.0"], "bus 'g' must be hex 0..ff"),
        (["config", "00:1f.2.1"], "more than one '.'"),
        (["config", "0:00:.0"], "device '' must be hex 0..1f"),
        (["config", "*:1f.2"], "bus '*' must be hex 0..ff"),
        (["show"], "DEV is required"),
        (["config"], "DEV is required"),
        (["list", "-s", "1:2:3:4"], "Too many fields"),
        (["list", "-s", "100:"], "Invalid bus number"),
        (["list", "-s", "20"], "Invalid slot number"),
        (["list", "-s", ".8"], "Invalid function number"),
        (["list", "-s", "1.2.3"], "Invalid slot/function number"),
        (["list", "-s", "80000000::"], "Invalid domain number"),
        (["list", "-d", "8086"], "At least two fields must be given"),
        (["list", "-d", "12345:"], "Invalid vendor ID"),
        (["list", "-d", ":1g"], "Invalid device ID"),
        (["list", "-d", "::0z"], "Invalid class code"),
        (["list", "-d", "::xxxxx"], "Invalid class code"),
        (["list", "-d", "::0106:100"], "Invalid programming interface code"),
        (["list", "-d", "1:2:3:4:5"], "Too many fields"),
        (["list", "--no-such-option"], "no-such-option"),
        (["no-such-command"], "subcommand"),
    ]
    for args, reason in cases:
        result = run(["--sysfs-root", root, *args])
        check(result.returncode == 2, f"busctl {' '.join(args)}: exit status 2",
              f"got {result.returncode}: {result.stderr}")
        check(reason in result.stderr, f"busctl {' '.join(args)}: says '{reason}'",
              result.stderr)
    # The same argument forms lspci accepts are accepted.
    for args in (["show", "0000:00:00.0"], ["show", "00:00.0"], ["show", "0.0"],
                 ["list", "-s", "*:*:*.*"], ["list", "-d", "*:*:*:*"], ["list", "-s", "::.0"]):
        result = run(["--sysfs-root", root, *args])
        check(result.returncode == 0, f"busctl {' '.join(args)}: accepted", result.stderr)


def check_unprivileged():
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("note: not root (or no setpriv): the unprivileged run is the caller's own")
        prefix = ()
    else:
        prefix = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    listing = document(["list"], prefix)
    if listing is None:
        return
    for entry in listing["devices"]:
        if entry["bus"] != "pci":
            continue
        address = entry["address"]
        size = os.path.getsize(f"/sys/bus/pci/devices/{address}/config")
        for command in ("show", "config"):
            doc = document([command, address], prefix)
            if doc is None or not prefix or size <= 64:
                continue
            check(any("config space 0x40-" in s["what"] and "CAP_SYS_ADMIN" in s["why"]
                      for s in doc["skipped"]),
                  f"{command} {address} as nobody: says config space past 64 bytes was skipped",
                  doc["skipped"])
            result = run([command, address], prefix)
            check(result.returncode == 0 and f"busctl {command}: skipped config space 0x40-"
                  in result.stderr, f"{command} {address} as nobody: skipped on stderr",
                  result.stderr)
    document(["iommu"], prefix)


def main():
    trees = [(os.path.join(DATA, name), name)
             for name in ("host-x86_64", "guest-x86_64", "guest-aarch64")]
    with tempfile.TemporaryDirectory() as work:
        bridges = os.path.join(work, "bridges")
        subprocess.run([sys.executable, os.path.join(HERE, "make-bridge-tree.py"), bridges,
                        "single"], check=True)
        trees.append((bridges, "bridges"))
        if os.path.isdir("/sys/bus/pci/devices"):
            trees.append(("/sys", "live /sys"))
        for root, name in trees:
            check_tree(root, name)
        check_failures(trees[0][0])
        check_bad_arguments(trees[0][0])
    if os.path.isdir("/sys/bus/pci/devices"):
        check_unprivileged()
    if CHECKS.failures:
        print(f"{len(CHECKS.failures)} of {CHECKS.count} checks failed")
        return 1
    print(f"all {CHECKS.count} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

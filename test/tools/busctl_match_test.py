#!/usr/bin/env python3
"""busctl match against udrv-driver-manager --list on the recorded sysfs
trees: for every node --list prints, `busctl match ID` prints the same block
(node, properties, every driver's verdict), and its --json document says the
same and validates against docs/busctl.schema.json. Both read the trees only.

Usage: busctl_match_test.py BUSCTL DRIVER_MANAGER SCHEMA DATA_DIR"""
import os
import subprocess
import sys

from busctl_testlib import Checks, load_schema

busctl, manager, schema_path, data = sys.argv[1:5]
_, validator = load_schema(schema_path)
checks = Checks()
check = checks.check


def run(command):
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def node_blocks(listing):
    """--list's output as {node id: its block of lines}."""
    blocks, current = {}, None
    for line in listing.splitlines():
        if line.startswith("node "):
            current = line.split()[1]
            blocks[current] = [line]
        elif current is not None and line.startswith("  "):
            blocks[current].append(line)
        else:
            current = None
    return blocks


trees = sorted(os.listdir(data))
check(len(trees) >= 3, "the recorded trees are there", trees)
nodes = 0
for tree in trees:
    root = os.path.join(data, tree)
    listed = run([manager, "--list", "--sysfs-root", root])
    check(listed.returncode == 0, f"{tree}: udrv-driver-manager --list", listed.stderr)
    blocks = node_blocks(listed.stdout)
    check(blocks, f"{tree}: --list names nodes", listed.stdout[:500])
    for node, block in blocks.items():
        nodes += 1
        matched = run([busctl, "--sysfs-root", root, "match", node])
        check(matched.returncode == 0 and matched.stdout.splitlines() == block,
              f"{tree}: busctl match {node} prints --list's block",
              f"busctl:\n{matched.stdout}{matched.stderr}\n--list:\n" + "\n".join(block))
        # The JSON document, with the options after the command.
        result = run([busctl, "match", node, "--sysfs-root", root, "--json"])
        try:
            doc = __import__("json").loads(result.stdout)
            errors = [e.message for e in validator.iter_errors(doc)]
        except ValueError as error:
            doc, errors = None, [str(error)]
        check(result.returncode == 0 and not errors,
              f"{tree}: busctl match {node} --json: valid against the schema", errors)
        if not doc:
            continue
        verdicts = [f"  driver {c['driver']}: {c['verdict']}" for c in doc["candidates"]]
        check(doc["node"]["id"] == node and all(line in block for line in verdicts),
              f"{tree}: busctl match {node} --json: the same verdicts", verdicts)
        binds = [c["driver"] for c in doc["candidates"] if c["binds"]]
        check(binds == ([doc["driver"]] if doc["driver"] else []),
              f"{tree}: busctl match {node} --json: the driver that binds is the one marked", doc)

# A node that is not there, and a bus busctl has no module for.
root = os.path.join(data, trees[0])
result = run([busctl, "--sysfs-root", root, "match", "pci/0000:7f:1f.7"])
check(result.returncode == 1 and "busctl match: NOT_FOUND: no such node on the root bus" in result.stderr,
      "match of a node that is not there: NOT_FOUND", result.stderr)
result = run([busctl, "--sysfs-root", root, "match", "usb/1-1"])
check(result.returncode == 1 and "NOT_FOUND" in result.stderr, "match of another bus's id: NOT_FOUND",
      result.stderr)

if checks.failures:
    print(f"{len(checks.failures)} of {checks.count} checks failed")
    sys.exit(1)
print(f"busctl match agrees with udrv-driver-manager --list: {nodes} nodes of {len(trees)} trees, "
      f"{checks.count} checks")

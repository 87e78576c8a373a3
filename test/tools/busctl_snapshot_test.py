#!/usr/bin/env python3
"""busctl snapshot and --from as a user runs them, reading only:

  - the live /sys: a snapshot replays (--from) to what the live commands
    print: list, list --tree, show and config of every function, iommu (less
    the /dev nodes, which are the running machine's), text and --json; the
    unpacked tree's files and links are the live ones;
  - the recorded trees of test/pci/data and make-bridge-tree.py's trees with
    bridges, domains and VMD: the same replays, and GNU tar unpacks the
    snapshot to the recorded tree itself;
  - unprivileged (as nobody through setpriv when run as root): the snapshot
    holds 64 bytes of config space per function and says so (stderr, JSON,
    manifest), and replays of it say so too;
  - refusals: read, write, bind, unbind and restore with --from; existing
    files without --force; malformed, truncated, compressed and unknown-
    version snapshots: exit status 1, "busctl COMMAND: STATUS: ..." naming
    what and where, the error document with --json, no temporary directory
    left behind.
Every --json document is validated against docs/busctl.schema.json.

Usage: busctl_snapshot_test.py BUSCTL SCHEMA PCI_TEST_DATA
"""
import difflib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

import busctl_testlib

BUSCTL, SCHEMA_PATH, DATA = sys.argv[1], sys.argv[2], sys.argv[3]
HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA, VALIDATOR = busctl_testlib.load_schema(SCHEMA_PATH)
WORK = tempfile.mkdtemp(prefix="busctl-snapshot-test.")
os.chmod(WORK, 0o755)
# busctl unpacks --from snapshots under $TMPDIR: an empty directory of our
# own shows whether every run removed what it unpacked.
TMP = os.path.join(WORK, "tmp")
os.mkdir(TMP)
os.chmod(TMP, 0o1777)
ENV = dict(os.environ, TMPDIR=TMP)
NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
CHECKS = busctl_testlib.Checks()
check = CHECKS.check


def run(args, prefix=()):
    result = subprocess.run([*prefix, BUSCTL, *args], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, env=ENV)
    check(result.returncode >= 0, f"busctl {' '.join(args)} exits (no signal)",
          f"killed by signal {-result.returncode}: {result.stderr}")
    leftovers = os.listdir(TMP)
    check(not leftovers, f"busctl {' '.join(args)} leaves nothing in $TMPDIR", leftovers)
    for name in leftovers:
        shutil.rmtree(os.path.join(TMP, name), ignore_errors=True)
    return result


def validated(result, what):
    try:
        doc = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        check(False, f"{what}: stdout is one JSON document", f"{error}: {result.stdout[:500]}")
        return None
    errors = list(VALIDATOR.iter_errors(doc))
    check(not errors, f"{what}: valid against the schema",
          "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:3]))
    return doc


# The private directory a replay unpacks into, which messages never name.
REPLAY_ROOT = re.compile(r"/[^ \"']*/busctl-snapshot\.[A-Za-z0-9]{6}/")


def normalized_iommu(text, json_mode):
    """iommu less what belongs to the running machine rather than to sysfs."""
    if json_mode:
        doc = json.loads(text)
        doc.pop("dev_vfio_vfio", None)
        doc.pop("dev_iommu", None)
        doc["skipped"] = [s for s in doc.get("skipped", []) if "/dev/" not in s["what"]]
        return json.dumps(doc, indent=1)
    return "\n".join(line for line in text.splitlines() if not line.startswith("/dev/"))


def without_acpi(text, json_mode):
    """The output less the live machine's ACPI view (its devices' lines and
    entries, the acpi=PATH and ACPI: of PCI functions), which a snapshot
    does not record."""
    if json_mode:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(doc.get("devices"), list):
            doc["devices"] = [d for d in doc["devices"] if d.get("bus") != "acpi"]
            for device in doc["devices"]:
                device.pop("acpi", None)
        for member in ("function", "device"):
            if isinstance(doc.get(member), dict):
                doc[member].pop("acpi", None)
        if "skipped" in doc:
            doc["skipped"] = [s for s in doc["skipped"] if "ACPI" not in s["what"]]
            if doc.get("command") == "list" and not doc["skipped"]:
                del doc["skipped"]
        return json.dumps(doc, indent=1)
    lines = [line for line in text.splitlines(keepends=True)
             if not line.startswith("\\") and not line.startswith("\tACPI: ")]
    return re.sub(r" acpi=[^ \n]*", "", "".join(lines))


def functions_of(root_args):
    result = run([*root_args, "--json", "list"])
    doc = validated(result, f"{' '.join(root_args)} list --json")
    return [f["address"] for f in doc["devices"] if f["bus"] == "pci"] if doc else []


def compare_replay(label, root_args, root, snapshot):
    """Every read command prints the same from the snapshot as from the tree."""
    commands = [["list"], ["list", "--tree"], ["iommu"]]
    for address in functions_of(root_args):
        commands += [["show", address], ["config", address]]
    for command in commands:
        for json_mode in (False, True):
            flags = ["--json"] if json_mode else []
            direct = run([*root_args, *flags, *command])
            replay = run(["--from", snapshot, *flags, *command])
            name = f"{label}: {' '.join(flags + command)}"
            check(replay.returncode == direct.returncode,
                  f"{name}: same exit status from the snapshot",
                  f"{direct.returncode} vs {replay.returncode}: {replay.stderr}")
            if json_mode:
                validated(replay, f"{name} from the snapshot")
            # Messages that name a sysfs file name it as the snapshot's member.
            check(not REPLAY_ROOT.search(replay.stdout + replay.stderr),
                  f"{name}: the replay names no file in its private directory",
                  replay.stdout + replay.stderr)
            want = direct.stdout
            got = replay.stdout.replace(f"snapshot {snapshot}: member sys", root)
            if command[0] == "iommu":
                want = normalized_iommu(want, json_mode)
                got = normalized_iommu(got, json_mode)
            else:
                want = without_acpi(want, json_mode)
                got = without_acpi(got, json_mode)
            check(got == want, f"{name}: the snapshot replays to the same output",
                  "\n".join(line for line in difflib.unified_diff(
                      want.splitlines(), got.splitlines(), "direct", "replay", lineterm=""))[:3000])


def snapshot(root_args, path, prefix=(), extra=()):
    result = run([*root_args, "snapshot", *extra, path], prefix)
    check(result.returncode == 0, f"snapshot {' '.join(root_args)} -> {path}", result.stderr)
    return result


def manifest(path):
    with tarfile.open(path) as archive:
        first = archive.next()
        check(first is not None and first.name == "udrv-snapshot" and first.isfile(),
              f"{path}: the manifest is the first member", first.name if first else None)
        return archive.extractfile(first).read().decode()


def tree_entries(root):
    """path -> ("f", bytes) | ("l", target). Directories count through what
    they hold: git keeps no empty one (a fresh clone lacks them), and the
    uevent placeholders that keep recorded driver directories in git are
    left out too."""
    entries = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            if os.path.islink(path):
                entries[relative] = ("l", os.readlink(path))
                if name in dirs:
                    dirs.remove(name)
            elif os.path.isdir(path):
                continue
            elif not ("/drivers/" in "/" + relative and name == "uevent"):
                with open(path, "rb") as f:
                    entries[relative] = ("f", f.read())
    return entries


# ---- recorded and synthetic trees ----

trees = [(name, os.path.join(DATA, name)) for name in ("host-x86_64", "guest-x86_64", "guest-aarch64")]
for kind in ("single", "multi", "vmd"):
    dest = os.path.join(WORK, f"bridge-{kind}")
    subprocess.run([sys.executable, os.path.join(HERE, "make-bridge-tree.py"), dest, kind], check=True,
                   capture_output=True)
    trees.append((f"bridge-{kind}", dest))

for name, root in trees:
    path = os.path.join(WORK, f"{name}.snap")
    result = snapshot(["--sysfs-root", root], path)
    check(re.search(r"PCI functions, \d+ IOMMU groups from ", result.stdout),
          f"{name}: snapshot says what it recorded", result.stdout)
    compare_replay(name, ["--sysfs-root", root], root, path)
    unpacked = os.path.join(WORK, f"{name}.unpacked")
    os.mkdir(unpacked)
    tar = subprocess.run(["tar", "-xf", path, "-C", unpacked], capture_output=True, text=True)
    check(tar.returncode == 0, f"{name}: GNU tar unpacks the snapshot", tar.stderr)
    got, want = tree_entries(os.path.join(unpacked, "sys")), tree_entries(root)
    check(got == want, f"{name}: the snapshot holds the recorded tree, links as links",
          f"missing {sorted(set(want) - set(got))[:5]}, extra {sorted(set(got) - set(want))[:5]}, "
          f"differing {[k for k in want if k in got and want[k] != got[k]][:5]}")
    again = os.path.join(WORK, f"{name}.again.snap")
    snapshot(["--from", path], again)
    with open(path, "rb") as a, open(again, "rb") as b:
        check(a.read() == b.read(), f"{name}: a snapshot of the replay is the same file")

# ---- the live /sys (read-only) ----

live = os.path.join(WORK, "live.snap")
snapshot([], live)
compare_replay("live", [], "/sys", live)
# The kernel's ACPI devices are recorded: a PCI function's ACPI view
# (acpi=PATH, "acpi" in JSON) replays as on the machine.
for flags in ([], ["--json"]):
    direct = run([*flags, "list", "--bus", "pci"])
    replay = run(["--from", live, *flags, "list", "--bus", "pci"])
    check(replay.returncode == 0 and replay.stdout == direct.stdout,
          f"live: list --bus pci {' '.join(flags)} replays with the functions' ACPI view",
          "\n".join(difflib.unified_diff(direct.stdout.splitlines(), replay.stdout.splitlines(),
                                         "direct", "replay", lineterm=""))[:3000])
unpacked = os.path.join(WORK, "live.unpacked")
os.mkdir(unpacked)
subprocess.run(["tar", "-xf", live, "-C", unpacked], check=True)
files = links = 0
for relative, entry in tree_entries(os.path.join(unpacked, "sys")).items():
    live_path = os.path.join("/sys", relative)
    if entry[0] == "l":
        links += 1
        check(os.path.islink(live_path) and os.readlink(live_path) == entry[1],
              f"live: {relative} is the link sysfs has", entry[1])
    elif entry[0] == "f":
        files += 1
        if re.search(r"/resource[0-5](_wc)?$", relative):
            # Stands for a BAR's register file, which the snapshot never reads.
            check(entry[1] == b"" and os.path.isfile(live_path),
                  f"live: {relative} is an empty stand-in for an existing file")
            continue
        if relative.endswith("/power_state"):
            continue  # runtime power management may have moved it since
        with open(live_path, "rb") as f:
            check(f.read() == entry[1], f"live: {relative} holds what sysfs holds")
    else:
        check(os.path.isdir(live_path), f"live: {relative} is a directory in sysfs")
check(files > 0 and links > 0, "live: the snapshot holds files and links", f"{files} {links}")

json_snap = os.path.join(WORK, "live-json.snap")
result = run(["--json", "snapshot", json_snap])
doc = validated(result, "snapshot --json")
if doc:
    check(doc["file"] == json_snap and doc["format"] == "udrv.busctl.snapshot/2"
          and doc["bytes"] == os.path.getsize(json_snap)
          and doc["functions"] == len(functions_of([])),
          "snapshot --json: file, format, size and function count", doc)

# Existing files: refused without --force, replaced with it.
size = os.path.getsize(live)
with open(live, "ab") as f:
    f.write(b"x")
result = run(["snapshot", live])
check(result.returncode == 1 and "busctl snapshot: ALREADY_EXISTS" in result.stderr
      and "--force" in result.stderr and os.path.getsize(live) == size + 1,
      "snapshot refuses to replace a file without --force", result.stderr)
result = run(["--json", "snapshot", live])
doc = validated(result, "snapshot --json over an existing file")
check(result.returncode == 1 and doc and doc["error"]["status"] == "ALREADY_EXISTS",
      "snapshot --json: the error document", result.stdout)
result = run(["snapshot", "--force", live])
check(result.returncode == 0 and os.path.getsize(live) == size, "snapshot --force replaces the file",
      result.stderr)
check(sorted(os.listdir(WORK)).count("live.snap") == 1
      and not [n for n in os.listdir(WORK) if n.startswith(".live.snap")],
      "snapshot leaves no temporary file next to FILE", os.listdir(WORK))

# ---- unprivileged ----

if os.geteuid() == 0:
    if not shutil.which("setpriv"):
        check(False, "setpriv (util-linux) is installed, to run as nobody")
    prefix = NOBODY
else:
    print("note: not root: the unprivileged run is this user's own")
    prefix = ()
nobody_snap = os.path.join(WORK, "nobody", "nobody.snap")
os.makedirs(os.path.dirname(nobody_snap))
os.chmod(os.path.dirname(nobody_snap), 0o1777)
result = snapshot([], nobody_snap, prefix)
addresses = functions_of([])
for address in addresses:
    check(f"busctl snapshot: skipped config space of {address} beyond byte 64" in result.stderr,
          f"unprivileged snapshot says it skipped config space of {address} past 64 bytes", result.stderr)
text = manifest(nobody_snap)
check(re.search(r"^uid \d+$", text, re.M) and (os.geteuid() != 0 or "uid 65534" in text),
      "unprivileged snapshot: the manifest names the recorder", text)
limited = re.findall(r"^config-limited (\S+) 64 (\d+)$", text, re.M)
check(sorted(a for a, _ in limited) == sorted(addresses),
      "unprivileged snapshot: the manifest lists every function's config as 64 bytes", text)
with tarfile.open(nobody_snap) as archive:
    configs = [m for m in archive.getmembers() if m.name.endswith("/config")]
    check(configs and all(m.size == 64 for m in configs), "unprivileged snapshot: 64-byte config files",
          [(m.name, m.size) for m in configs])
result = run(["--json", "snapshot", nobody_snap + ".json"], prefix)
doc = validated(result, "unprivileged snapshot --json")
if doc:
    check(sorted(c["device"] for c in doc["config_limited"]) == sorted(addresses)
          and all(c["recorded"] == 64 for c in doc["config_limited"])
          and len(doc["skipped"]) >= len(addresses),
          "unprivileged snapshot --json: config_limited and skipped", doc)
result = run(["--from", nobody_snap, "list"])
check(result.returncode == 0 and "recorded without root" in result.stderr,
      "a replay of an unprivileged snapshot says its config space is partial", result.stderr)
direct = run(["list"])
check(without_acpi(result.stdout, False) == without_acpi(direct.stdout, False),
      "an unprivileged snapshot replays list as the live one")
if addresses:
    result = run(["--json", "--from", nobody_snap, "config", addresses[0]])
    doc = validated(result, "config from an unprivileged snapshot")
    check(result.returncode == 0, "config from an unprivileged snapshot works", result.stderr)

# ---- refusals ----

device = addresses[0] if addresses else "0000:00:00.0"
for command in (["read", device, "0", "0"], ["write", device, "0", "0", "0", "--yes"],
                ["bind", device, "vfio-pci"], ["unbind", device], ["restore", device],
                ["restore", "--all"]):
    result = run(["--from", live, *command])
    check(result.returncode == 1 and f"busctl {command[0]}: NOT_SUPPORTED" in result.stderr
          and "live machine" in result.stderr,
          f"--from {command[0]}: refused, the snapshot is read-only", result.stderr)
    result = run(["--json", "--from", live, *command])
    doc = validated(result, f"--json --from {command[0]}")
    check(result.returncode == 1 and doc and doc["command"] == command[0]
          and doc["error"]["status"] == "NOT_SUPPORTED",
          f"--json --from {command[0]}: the error document", result.stdout)

result = run(["--from", live, "--sysfs-root", "/sys", "list"])
check(result.returncode == 2 and "excludes" in result.stderr, "--from with --sysfs-root: bad arguments",
      result.stderr)


def tar_bytes(members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


with open(live, "rb") as f:
    good = f.read()
bad = {
    "truncated": (good[:len(good) // 2 + 100], "IO_INVALID", r"byte \d+: "),
    "empty": (b"", "IO_INVALID", "byte 0: not a tar archive"),
    "text": (b"not a snapshot\n" * 100, "IO_INVALID", "not a busctl snapshot"),
    "gzip": (b"\x1f\x8b\x08\x00" + b"\0" * 100, "IO_INVALID", "gzip-compressed"),
    "version": (tar_bytes([("udrv-snapshot", b"format udrv.busctl.snapshot/9\n")]), "NOT_SUPPORTED",
                "snapshot format version '9'; this busctl reads version 2"),
    # busctl's own earlier format, as its hand-written tar writer made it.
    "version-1": (tar_bytes([("udrv-snapshot", b"format udrv.busctl.snapshot/1\n")]), "NOT_SUPPORTED",
                  r"snapshot format version '1'; this busctl reads version 2 \(udrv.busctl.snapshot/2\): "
                  "record it again"),
    "foreign": (tar_bytes([("README", b"hello")]), "IO_INVALID",
                "first member is 'README', not the manifest udrv-snapshot"),
    "escape": (tar_bytes([("udrv-snapshot", b"format udrv.busctl.snapshot/2\n"), ("etc/passwd", b"x")]),
               "IO_INVALID", "member 'etc/passwd' lies outside sys/"),
    "corrupt": (good[:1024] + bytes([good[1024] ^ 0x01]) + good[1025:], "IO_INVALID",
                r"byte \d+: Damaged tar archive"),
}
for name, (data, status, words) in bad.items():
    path = os.path.join(WORK, f"bad-{name}.snap")
    with open(path, "wb") as f:
        f.write(data)
    result = run(["--from", path, "list"])
    check(result.returncode == 1 and result.stderr.startswith(f"busctl list: {status}: ")
          and re.search(words, result.stderr) and path in result.stderr and not result.stdout,
          f"--from a {name} snapshot: exit 1 saying what and where", result.stderr)
    result = run(["--json", "--from", path, "show", device])
    doc = validated(result, f"--json --from a {name} snapshot")
    check(result.returncode == 1 and doc and doc["command"] == "show" and doc["error"]["status"] == status,
          f"--json --from a {name} snapshot: the error document", result.stdout)
result = run(["--from", os.path.join(WORK, "absent.snap"), "list"])
check(result.returncode == 1 and "busctl list: NOT_FOUND" in result.stderr, "--from a missing file",
      result.stderr)

shutil.rmtree(WORK)
if CHECKS.failures:
    print(f"{len(CHECKS.failures)} of {CHECKS.count} checks failed")
    sys.exit(1)
print(f"busctl snapshot/--from: {CHECKS.count} checks passed ({len(trees)} trees and the live /sys)")

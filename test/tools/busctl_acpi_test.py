#!/usr/bin/env python3
"""busctl's ACPI tables on the host, never touching this machine's devices:

  - for each recorded guest firmware (test/acpi/firmware/MACHINE: QEMU q35
    and aarch64 virt under UEFI):
      * `busctl --acpi DIR acpi tables`: one line per table file, its header
        as the file's bytes say (struct-unpacked here), the checksum
        computed here;
      * `busctl --acpi DIR acpi tables show NAME` against `iasl -d` of the
        same table (the oracle nobody here wrote): every field iasl prints
        with an offset is busctl's, at the same offset and length, with the
        same name and value;
  - a table with a bad checksum, a missing --acpi directory, a table that
    is not there;
  - this machine's own tables, read-only: `busctl acpi tables` against
    `acpidump -s`, each table's bytes as sysfs holds them; unprivileged (as
    nobody) `acpi tables` says root is needed.
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
    errors = [f"[{'/'.join(map(str, e.absolute_path))}] {e.message[:300]}"
              for e in VALIDATOR.iter_errors(doc)]
    check(not errors, f"{what}: valid against the schema", "\n".join(errors[:5]))


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


for machine in sorted(os.listdir(FIRMWARE)):
    machine_dir = os.path.join(FIRMWARE, machine)
    if not os.path.isdir(os.path.join(machine_dir, "kernel")):
        continue
    check_tables(machine, machine_dir)

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
    if shutil.which("setpriv"):
        nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        expect(Run(["acpi", "tables"], nobody), 1, "live, as nobody: acpi tables needs root",
               err=["ACCESS_DENIED", "root"])
else:
    print("note: no ACPI tables on this machine, or not root: the live checks did not run")

shutil.rmtree(WORK, ignore_errors=True)
print(f"{CHECKS.count - len(CHECKS.failures)} of {CHECKS.count} checks passed")
sys.exit(1 if CHECKS.failures else 0)

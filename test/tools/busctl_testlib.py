"""What busctl's Python tool tests share: the schema every --json document
is validated against, the tally of checks with the failures named, and a
sysfs tree shaped as the kernel's that a test writes and changes."""
import json
import os
import struct
import tempfile

import jsonschema


def load_schema(path):
    """The schema at `path`, itself checked, and a validator for it."""
    with open(path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema, jsonschema.Draft202012Validator(schema)


class Checks:
    """Counts checks and keeps the failed ones; prints each failure with its
    detail (and each pass too when `verbose`)."""

    def __init__(self, verbose=False, detail_limit=3000):
        self.count = 0
        self.failures = []
        self.verbose = verbose
        self.detail_limit = detail_limit

    def check(self, condition, what, detail=""):
        self.count += 1
        if condition:
            if self.verbose:
                print(f"ok: {what}")
        else:
            self.failures.append(what)
            print(f"FAIL: {what}\n  {str(detail)[:self.detail_limit]}")

    def valid(self, validator, document, what):
        """Checks `document` against `validator`'s schema, naming the first
        errors and where they are."""
        errors = [f"[{'/'.join(map(str, e.absolute_path))}] {e.message[:300]}"
                  for e in validator.iter_errors(document)]
        self.check(not errors, f"{what}: valid against the schema", "\n".join(errors[:5]))


# Recorded as the kernel prints `resource`: start end flags.
MEM32 = 0x40200
MEM64_PREFETCH = 0x14220C
IO = 0x40101


def write(path, text):
    with open(path, "w") as f:
        f.write(text + "\n")


def pattern(size, base):
    """32-bit words base + offset, little endian: every word says where it is."""
    return b"".join(struct.pack("<I", base + offset) for offset in range(0, size, 4))


def resource_line(start, size, flags):
    end = start + size - 1 if size else 0
    return f"0x{start:016x} 0x{end:016x} 0x{flags:016x}"


class Tree:
    """A sysfs tree as the kernel lays it out, in a temporary directory."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="udrv-busctl-tree-")
        os.chmod(self.root, 0o755)  # nobody reads it too
        for directory in ["bus/pci/devices", "bus/pci/drivers", "devices/pci0000:00",
                          "class/iommu/dmar0"]:
            os.makedirs(f"{self.root}/{directory}")
        write(f"{self.root}/bus/pci/drivers_probe", "")
        for driver in ["vfio-pci", "uio_pci_generic", "ahci", "e1000e"]:
            os.makedirs(f"{self.root}/bus/pci/drivers/{driver}")
            write(f"{self.root}/bus/pci/drivers/{driver}/bind", "")
            write(f"{self.root}/bus/pci/drivers/{driver}/unbind", "")

    def device_dir(self, address):
        return f"{self.root}/devices/pci0000:00/{address}"

    def add(self, address, vendor, device, command, bars, driver=None, group=None):
        directory = self.device_dir(address)
        os.makedirs(directory)
        for name, value in [("vendor", vendor), ("device", device), ("subsystem_vendor", vendor),
                            ("subsystem_device", 0), ("class", 0x00FF00), ("revision", 0x10)]:
            write(f"{directory}/{name}", f"0x{value:04x}")
        write(f"{directory}/irq", "11")
        write(f"{directory}/driver_override", "(null)")
        config = bytearray(64)
        struct.pack_into("<HHH", config, 0, vendor, device, command)
        with open(f"{directory}/config", "wb") as f:
            f.write(config)
        lines = []
        for index in range(7):
            start, size, flags = bars.get(index, (0, 0, 0))
            lines.append(resource_line(start, size, flags))
            if size and flags != IO:
                with open(f"{directory}/resource{index}", "wb") as f:
                    f.write(pattern(size, 0xB0000000 + (index << 24)))
                os.chmod(f"{directory}/resource{index}", 0o600)  # as the kernel makes them
        write(f"{directory}/resource", "\n".join(lines))
        os.symlink(f"../../../devices/pci0000:00/{address}",
                   f"{self.root}/bus/pci/devices/{address}")
        if driver:
            os.symlink(f"../../../bus/pci/drivers/{driver}", f"{directory}/driver")
        if group is not None:
            group_dir = f"{self.root}/kernel/iommu_groups/{group}/devices"
            os.makedirs(group_dir, exist_ok=True)
            os.symlink(f"../../../kernel/iommu_groups/{group}", f"{directory}/iommu_group")
            os.symlink(f"../../../../devices/pci0000:00/{address}", f"{group_dir}/{address}")
        return directory


def tree_files(root):
    """Every file and link below `root`: path -> bytes or link target, to
    tell whether a command changed anything."""
    files = {}
    for directory, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                files[path] = os.readlink(path)
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    files[path] = f.read()
    return files


def in_tree(root):
    """A command prefix that runs busctl in a mount namespace of its own where
    `root` is /sys: the commands that change things, which refuse
    --sysfs-root, see only the tree, and this machine's /sys is out of their
    reach. So is its /dev: a tree that says vfio-pci or uio would otherwise
    have busctl open this machine's /dev/vfio/N, /dev/uioN or /dev/mem. An
    empty tmpfs with /dev/null alone stands in for it (a pty test's
    terminal is inherited, not opened)."""
    return ("unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$0" /sys && mount -t tmpfs -o mode=755 udrv-test-dev /dev && '
            'mknod -m 666 /dev/null c 1 3 && exec "$@"', root)

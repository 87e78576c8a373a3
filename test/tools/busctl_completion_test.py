#!/usr/bin/env python3
"""busctl's bash completion (tools/busctl/completion/udrv-busctl), sourced
into bash with bash-completion's helpers and asked to complete lines as
readline would (the words split at COMP_WORDBREAKS, the cursor at the end):

  - it registers udrv-busctl and not busctl (systemd's D-Bus tool);
  - `udrv-busctl <TAB>` offers the commands `udrv-busctl --help` lists,
    `udrv-busctl acpi <TAB>` and `acpi tables <TAB>` theirs, and `-<TAB>`
    after each command that command's options (its --help's) with the
    global ones;
  - `--bus <TAB>` offers the buses list --help names as --bus's values,
    `--width <TAB>` read's widths;
  - device ids are busctl's own `list --ids` of where the line says devices
    come from: --sysfs-root of the recorded PCI and USB trees, --from a
    snapshot of one, --acpi the recorded firmware (whose `acpi tables show
    <TAB>` offers its tables), never this machine's; colons (0000:00:1f.2,
    2-1:1.0) complete as readline inserts them; each command offers its buses'
    ids (config: PCI's);
  - the program run is the command word: udrv-busctl, found on PATH, is the
    build tree's busctl here.

Usage: busctl_completion_test.py BUSCTL COMPLETION BASH_COMPLETION PCI_TREE USB_TREE ACPI_FIRMWARE
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

BUSCTL, COMPLETION, BASH_COMPLETION, PCI_TREE, USB_TREE, ACPI_FIRMWARE = sys.argv[1:7]

failures = []
checks = 0


def check(condition, what, detail=""):
    global checks
    checks += 1
    if not condition:
        failures.append(what)
        print(f"FAIL: {what}\n  {str(detail)[:3000]}")


scratch = tempfile.TemporaryDirectory(prefix="udrv-busctl-completion-")
bin_dir = os.path.join(scratch.name, "bin")
os.mkdir(bin_dir)
os.symlink(os.path.abspath(BUSCTL), os.path.join(bin_dir, "udrv-busctl"))
ENVIRONMENT = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))

# bash's default; set in the script too, so the test does not depend on
# the environment's.
WORDBREAKS = " \t\n\"'><=;|&(:"


def split_words(line):
    """COMP_WORDS and COMP_CWORD for `line` with the cursor at its end, as
    bash splits them (pcomplete.c, split_at_delims): blanks separate words,
    and a run of the other break characters is a word of its own."""
    words = re.findall(r"[^" + re.escape(WORDBREAKS) + r"]+|[" + re.escape(WORDBREAKS.strip()) +
                       r"]+", line)
    words = [word for word in words if not word.isspace()]
    if not line or line[-1] in " \t\n":
        words.append("")
    return words, len(words) - 1


def complete(line):
    """The candidates the completion offers for `line`, whole: where readline
    inserts after the last ':' of the word, the word's part before it is put
    back, so that they read as the ids they are."""
    words, cword = split_words(line)
    script = f"""
source {shlex.quote(BASH_COMPLETION)}
source {shlex.quote(COMPLETION)}
COMP_WORDBREAKS={shlex.quote(WORDBREAKS)}
COMP_LINE={shlex.quote(line)}
COMP_POINT=${{#COMP_LINE}}
COMP_WORDS=({' '.join(shlex.quote(word) for word in words)})
COMP_CWORD={cword}
spec=$(complete -p udrv-busctl) || exit 3
function=${{spec#*-F }}
function=${{function%% *}}
"$function" "${{COMP_WORDS[0]}}" "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    completed = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                               env=ENVIRONMENT, stdin=subprocess.DEVNULL, timeout=60)
    check(completed.returncode == 0 and not completed.stderr, f"completing {line!r} runs cleanly",
          completed.stderr)
    candidates = [candidate for candidate in completed.stdout.split("\n") if candidate]
    # The word being completed, as _init_completion -n : reassembles it.
    word = line.split()[-1] if line and not line[-1].isspace() else ""
    if ":" in word:
        prefix = word[:word.rfind(":") + 1]
        candidates = [prefix + candidate for candidate in candidates]
    return sorted(candidates)


def busctl(*arguments):
    completed = subprocess.run([BUSCTL, *arguments], capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=60)
    check(completed.returncode == 0, f"busctl {' '.join(arguments)}", completed.stderr)
    return completed.stdout


def help_of(*path):
    """Options (every name) and commands that `busctl PATH --help` lists, and
    each option's fixed values ({"--bus": ["pci", ...]})."""
    text = busctl(*path, "--help")
    options, commands, values = [], [], {}
    section = None
    for line in text.splitlines():
        if re.fullmatch(r"\S.*:", line):
            section = line[:-1]
            continue
        entry = re.match(r"  (\S+)(?: (\S+))?", line)
        if not entry:
            continue
        if section == "Options" and entry.group(1).startswith("-"):
            names = entry.group(1).split(",")
            options += names
            choice = re.search(r":\{([^}]*)\}", entry.group(2) or "")
            if choice:
                for name in names:
                    values[name] = choice.group(1).split(",")
        elif section == "Subcommands":
            commands.append(entry.group(1))
    return sorted(options), commands, values


def ids(*source, buses=None):
    """busctl's own `list --ids` for `source`, of `buses` (all when None)."""
    listed = busctl(*source, "list", "--ids").split()
    return sorted(i for i in listed if buses is None or i.split("/")[0] in buses)


# Registered for udrv-busctl, never for busctl.
registered = subprocess.run(
    ["bash", "-c", f"source {shlex.quote(BASH_COMPLETION)}; source {shlex.quote(COMPLETION)}; "
                   "complete -p udrv-busctl && ! complete -p busctl"],
    capture_output=True, text=True, env=ENVIRONMENT, timeout=60)
check(registered.returncode == 0, "the completion registers udrv-busctl and not busctl",
      registered.stdout + registered.stderr)

# Commands and options, as --help has them. --version is every udrv
# program's (the release's contract): offered whether or not this busctl's
# --help lists it yet.
global_options, commands, _ = help_of()
global_options = sorted(set(global_options) | {"--version"})
check(len(commands) > 5 and "list" in commands, "busctl --help lists the commands", commands)
check(complete("udrv-busctl ") == sorted(commands), "udrv-busctl <TAB>: the commands",
      complete("udrv-busctl "))
check(complete("udrv-busctl --sysfs-root /sys l") == ["list"],
      "udrv-busctl --sysfs-root DIR l<TAB>: list", complete("udrv-busctl --sysfs-root /sys l"))
check(complete("udrv-busctl -") == global_options, "udrv-busctl -<TAB>: the global options",
      complete("udrv-busctl -"))
for command in commands:
    options, subcommands, _ = help_of(command)
    # CLI11 takes the global options after the command too (fallthrough).
    expected = sorted(set(options) | set(global_options))
    check(complete(f"udrv-busctl {command} -") == expected,
          f"udrv-busctl {command} -<TAB>: its options and the global ones",
          f"offered {complete(f'udrv-busctl {command} -')}, --help has {expected}")
    if subcommands:
        check(complete(f"udrv-busctl {command} ") == sorted(subcommands),
              f"udrv-busctl {command} <TAB>: its commands", complete(f"udrv-busctl {command} "))
        for subcommand in subcommands:
            options, subsubcommands, _ = help_of(command, subcommand)
            check(complete(f"udrv-busctl {command} {subcommand} ") == sorted(subsubcommands),
                  f"udrv-busctl {command} {subcommand} <TAB>: its commands",
                  complete(f"udrv-busctl {command} {subcommand} "))
            for subsubcommand in subsubcommands:
                options, _, _ = help_of(command, subcommand, subsubcommand)
                expected = sorted(set(options) | set(global_options))
                line = f"udrv-busctl {command} {subcommand} {subsubcommand} -"
                check(complete(line) == expected, f"{line}<TAB>: its options and the global ones",
                      f"offered {complete(line)}, --help has {expected}")

list_options, _, list_values = help_of("list")
check(complete("udrv-busctl list --") == sorted(o for o in set(list_options) | set(global_options)
                                                if o.startswith("--")),
      "udrv-busctl list --<TAB>: list's long options", complete("udrv-busctl list --"))
check(len(list_values.get("--bus", [])) >= 4, "list --help names --bus's values", list_values)
check(complete("udrv-busctl list --bus ") == sorted(list_values.get("--bus", [])),
      "udrv-busctl list --bus <TAB>: the buses", complete("udrv-busctl list --bus "))
check(complete("udrv-busctl list --bus p") == sorted(b for b in list_values.get("--bus", [])
                                                     if b.startswith("p")),
      "udrv-busctl list --bus p<TAB>", complete("udrv-busctl list --bus p"))
check(complete("udrv-busctl list --bus=u") == ["usb"], "udrv-busctl list --bus=u<TAB>: usb",
      complete("udrv-busctl list --bus=u"))
_, _, read_values = help_of("read")
check(complete("udrv-busctl read --width ") == sorted(read_values.get("--width", [])),
      "udrv-busctl read --width <TAB>: the widths", complete("udrv-busctl read --width "))

# Device ids: busctl's list --ids of the tree the line names.
pci = ids("--sysfs-root", PCI_TREE)
check(len(pci) > 3 and all(i.startswith("pci/") for i in pci), "the PCI tree lists PCI ids", pci)
line = f"udrv-busctl --sysfs-root {PCI_TREE} show "
check(complete(line) == pci, "show <TAB> on the recorded PCI tree: its ids", complete(line))
line = f"udrv-busctl show --sysfs-root={PCI_TREE} "
check(complete(line) == pci, "--sysfs-root=DIR after the command: the same ids", complete(line))
line = f"udrv-busctl --sysfs-root {PCI_TREE} config pci/0000:00:"
check(complete(line) == [i for i in pci if i.startswith("pci/0000:00:")],
      "config pci/0000:00:<TAB>: the ids after the colons", complete(line))
line = f"udrv-busctl --sysfs-root {PCI_TREE} show {pci[0]} "
check(complete(line) == [], "show DEV <TAB>: nothing more", complete(line))

# The USB tree, with an empty PCI bus for list's PCI part.
usb_tree = os.path.join(scratch.name, "usb")
shutil.copytree(USB_TREE, usb_tree, symlinks=True)
os.makedirs(os.path.join(usb_tree, "bus", "pci", "devices"))
usb = ids("--sysfs-root", usb_tree)
check(any(re.search(r":\d+\.\d+$", i) for i in usb), "the USB tree lists interfaces' ids", usb)
line = f"udrv-busctl match --sysfs-root {usb_tree} "
check(complete(line) == usb, "match <TAB> on the recorded USB tree: its ids", complete(line))
interface = next(i for i in usb if ":" in i)
line = f"udrv-busctl --sysfs-root {usb_tree} show {interface[:interface.rfind(':') + 1]}"
check(complete(line) == [i for i in usb if i.startswith(interface[:interface.rfind(":") + 1])],
      f"show {interface[:interface.rfind(':') + 1]}<TAB>: the interface's id", complete(line))
line = f"udrv-busctl --sysfs-root {usb_tree} config "
check(complete(line) == [], "config <TAB> without PCI: no ids (config is PCI's)", complete(line))

# A snapshot of the PCI tree, replayed for the ids.
snapshot = os.path.join(scratch.name, "pci.snap")
busctl("--sysfs-root", PCI_TREE, "snapshot", snapshot)
line = f"udrv-busctl --from {snapshot} unbind "
check(complete(line) == pci, "unbind <TAB> --from a snapshot of the tree: its ids", complete(line))

# A recorded firmware's ACPI devices and tables (--acpi).
acpi = ids("--acpi", ACPI_FIRMWARE)
check(acpi and all(i.startswith("acpi/") for i in acpi), "the firmware lists ACPI ids", acpi)
line = f"udrv-busctl --acpi {ACPI_FIRMWARE} show acpi/"
check(complete(line) == acpi, "show acpi/<TAB> of the firmware: its ids", complete(line))
line = f"udrv-busctl --acpi {ACPI_FIRMWARE} read "
check(complete(line) == [], "read <TAB> of ACPI devices alone: none (read is PCI's and platform's)",
      complete(line))
tables = sorted(line.split()[0] for line in busctl("--acpi", ACPI_FIRMWARE, "acpi", "tables").splitlines())
check("DSDT" in tables, "the firmware has tables", tables)
line = f"udrv-busctl --acpi {ACPI_FIRMWARE} acpi tables show "
check(complete(line) == tables, "acpi tables show <TAB>: the firmware's tables", complete(line))

# bind DEV <TAB>: vfio-pci and busctl's uio among the drivers.
line = f"udrv-busctl bind {pci[0]} "
check({"vfio-pci", "uio"} <= set(complete(line)), "bind DEV <TAB>: vfio-pci, uio", complete(line))

print(f"{checks} checks, {len(failures)} failed")
sys.exit(1 if failures else 0)

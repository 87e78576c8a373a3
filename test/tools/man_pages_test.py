#!/usr/bin/env python3
"""The man pages (docs/man/*.8.scd, rendered by the build) against the
programs' own --help: every command and every option, long and short, that
--help shows must be in the page, each where a reader looks for it.

For each PROGRAM PAGE pair, `PROGRAM --help` and, recursively, every
command's `--help` (CLI11's output: Options:, Subcommands:) give the
commands and options. The page is rendered to text as man shows it (groff
-man, one line per paragraph, no hyphenation), and then:

  - the program's own options are described in the section OPTIONS: each
    is a term of a definition there ("-n, --numeric", its description
    indented below it), not merely mentioned;
  - each command (list; acpi tables show) has a subsection of its name under
    COMMANDS, and its options are described in that subsection; an option
    the program shows for every command (-h, --help) is in OPTIONS once;
  - an option's fixed values (CLI11's TEXT:{pci,platform,usb,acpi}) are
    named in its definition;
  - COMMANDS has no subsection for a command the program does not have.

Each missing one is named. So that the check cannot pass vacuously, each
page is checked again with one of its options cut out of the text, and
that option must then be reported missing.

Usage: man_pages_test.py GROFF PROGRAM PAGE [PROGRAM PAGE ...]
"""
import re
import subprocess
import sys

GROFF = sys.argv[1]
PAIRS = list(zip(sys.argv[2::2], sys.argv[3::2]))

failures = []


def fail(what):
    failures.append(what)
    print(f"FAIL: {what}")


class Help:
    """One --help text: the options (each a list of its names, "-n",
    "--numeric", with its fixed values) and the commands it lists."""

    def __init__(self, text):
        self.options = []  # [(names, values)]
        self.commands = []
        section = None
        for line in text.splitlines():
            if re.fullmatch(r"\S.*:", line):
                section = line[:-1]
                continue
            # An entry starts two columns in; its description's further
            # lines are indented past it.
            entry = re.match(r"  (\S+)(?: (\S+))?", line)
            if not entry:
                continue
            if section == "Options" and entry.group(1).startswith("-"):
                names = entry.group(1).split(",")
                values = []
                choice = re.search(r":\{([^}]*)\}", entry.group(2) or "")
                if choice:
                    values = choice.group(1).split(",")
                self.options.append((names, values))
            elif section == "Subcommands":
                self.commands.append(entry.group(1))


def help_of(program, path):
    completed = subprocess.run([program, *path, "--help"], capture_output=True, text=True,
                               stdin=subprocess.DEVNULL, timeout=60)
    if completed.returncode != 0:
        fail(f"{' '.join([program, *path])} --help: exit status {completed.returncode}: "
             f"{completed.stderr.strip()}")
    return Help(completed.stdout)


def every_command(program):
    """{command path (a tuple): its Help}, the program's own as ()."""
    found = {}
    pending = [()]
    while pending:
        path = pending.pop(0)
        found[path] = help_of(program, list(path))
        pending += [path + (command,) for command in found[path].commands]
    return found


def render(page):
    """The page as man shows it, in sections: {"OPTIONS": [lines],
    ("COMMANDS", "list"): [lines], ...}. groff -man: headings flush left,
    subsection headings three columns in, text seven, a definition's
    description eleven; -rLL: a paragraph on one line."""
    completed = subprocess.run([GROFF, "-man", "-Tascii", "-P-cbou", "-rLL=10000n", "-rHY=0",
                                page], capture_output=True, text=True, timeout=60)
    if completed.returncode != 0 or not completed.stdout.strip():
        fail(f"{page}: groff: exit status {completed.returncode}: {completed.stderr.strip()}")
        return {}
    if completed.stderr.strip():
        fail(f"{page}: groff warns: {completed.stderr.strip()}")
    lines = completed.stdout.splitlines()
    # The first and last lines with text are the running header and footer.
    text_lines = [i for i, line in enumerate(lines) if line.strip()]
    lines = lines[text_lines[0] + 1:text_lines[-1]]
    sections = {}
    heading = None
    subsection = None
    for line in lines:
        if re.match(r"\S", line):
            heading, subsection = line.strip(), None
            sections.setdefault(heading, [])
        elif re.match(r" {3}\S", line):
            subsection = line.strip()
            sections.setdefault((heading, subsection), [])
        elif heading is not None and line.strip():
            sections[(heading, subsection) if subsection else heading].append(line)
    return sections


def definitions(lines):
    """The definitions among a section's lines: (term, term and description)."""
    found = []
    for i, line in enumerate(lines[:-1]):
        if re.match(r" {7}\S", line) and re.match(r" {11}\S", lines[i + 1]):
            description = []
            for following in lines[i + 1:]:
                if not re.match(r" {11}", following):
                    break
                description.append(following)
            found.append((line, "\n".join([line, *description])))
    return found


def mentions(text, word):
    """Whether `word` (an option, a value) stands in `text` as a word of its
    own: --bus, not --bus-name or --busy; -n, not -nn or --numeric."""
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def missing(program, commands, sections):
    """What of `commands` (every_command's) the rendered `sections` lack,
    as sentences."""
    gaps = []
    shown_everywhere = {name for names, _ in commands[()].options for name in names}
    options_section = sections.get("OPTIONS")
    if options_section is None:
        gaps.append("the section OPTIONS")
        options_section = []
    for path, help_text in commands.items():
        command = " ".join(path)
        if path:
            where = f"COMMANDS > {command}"
            section = sections.get(("COMMANDS", command))
            if section is None:
                gaps.append(f"command '{command}' ({program} {command} --help): no subsection "
                            f"'{command}' under COMMANDS")
                continue
        else:
            where, section = "OPTIONS", options_section
        for names, values in help_text.options:
            for name in names:
                here, lines = where, section
                if path and name in shown_everywhere:
                    here, lines = "OPTIONS", options_section
                entries = [entry for term, entry in definitions(lines) if mentions(term, name)]
                if not entries:
                    gaps.append(f"option {name} of '{command or program}' "
                                f"({' '.join([program, *path])} --help): no definition in {here}")
                    continue
                for value in values:
                    if not any(mentions(entry, value) for entry in entries):
                        gaps.append(f"value '{value}' of {name} of '{command or program}': "
                                    f"not in its definition in {here}")
    for key in sections:
        if isinstance(key, tuple) and key[0] == "COMMANDS" and tuple(key[1].split()) not in commands:
            gaps.append(f"subsection COMMANDS > {key[1]}: {program} has no such command")
    return gaps


def without(sections, word):
    """`sections` with every mention of `word` cut out."""
    cut = re.compile(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])")
    return {key: [cut.sub("", line) for line in lines] for key, lines in sections.items()}


for program, page in PAIRS:
    commands = every_command(program)
    own_options = [names for names, _ in commands[()].options
                   if not set(names) & {"-h", "--help"}]
    if not own_options:
        fail(f"{program} --help: no option found besides --help (did CLI11's format change?)")
        continue
    if any(not help_text.options for help_text in commands.values()):
        fail(f"{program}: a command's --help shows no options (did CLI11's format change?)")
    sections = render(page)
    if not sections:
        continue
    gaps = missing(program, commands, sections)
    for gap in gaps:
        fail(f"{page}: {gap}")
    print(f"{page}: {len(commands)} command(s) of {program}, "
          f"{sum(len(h.options) for h in commands.values())} option entries checked")

    # The check itself: an option cut from the page is reported. The last
    # command's last option (the program's own where it has no commands).
    path = list(commands)[-1]
    name = commands[path].options[-1][0][-1]
    if path and name in {n for names, _ in commands[()].options for n in names}:
        path, name = (), own_options[-1][-1]
    cut_gaps = missing(program, commands, without(sections, name))
    if not any(f"option {name} of " in gap for gap in cut_gaps):
        fail(f"{page}: with {name} cut out of the page, the check did not report it")

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("every command and option of --help is in its man page")

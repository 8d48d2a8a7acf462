#!/usr/bin/python3
"""rampartctl's command table and its man page agree.

Runs `rampartctl --help` (printed from the table in ctl/commands.cpp), reads the COMMANDS section
of man/rampartctl.8, and fails when a command or verb is in one but not the other, or when an
option --help shows for a command is missing from the man page's entry for it. Also checks that
`rampartctl help` prints the same list and that an unknown command prints it on stderr, exit 2.

usage: ctl_command_table.py RAMPARTCTL MANPAGE
"""
import re
import subprocess
import sys


def help_commands(text):
    """{command name: options in its synopsis} from the usage text's list rows ("  NAME SYNOPSIS  summary")."""
    out = {}
    for line in text.splitlines():
        if not re.match(r"^  [a-z]", line):
            continue
        head = line[2:].split("  ")[0]
        words = head.split(" ")
        name = []
        for w in words:
            if not re.fullmatch(r"[a-z][a-z-]*", w):
                break
            name.append(w)
        synopsis = " ".join(words[len(name):])
        out[" ".join(name)] = set(re.findall(r"--[a-z][a-z-]*", synopsis))
    return out


def man_commands(text):
    """{command name: options in its entry} from the .TP entries of the COMMANDS section."""
    m = re.search(r"^\.SH COMMANDS\n(.*?)^\.SH ", text, re.S | re.M)
    if not m:
        sys.exit("no .SH COMMANDS section in the man page")
    lines = m.group(1).replace("\\-", "-").split("\n")
    out = {}
    for i, line in enumerate(lines):
        if line != ".TP" or i + 1 >= len(lines):
            continue
        tag = lines[i + 1]
        first = re.match(r"\\fB([a-z][a-z -]*?)\\fR", tag)
        if not first:
            continue
        names = [first.group(1)]
        rest = tag[first.end():]
        # "\fBconfig defaults\fR | \fBshow\fR": alternatives for the last word.
        while True:
            alt = re.match(r"\s*\|\s*\\fB([a-z][a-z-]*)\\fR", rest)
            if not alt:
                break
            names.append(" ".join(names[0].split(" ")[:-1] + [alt.group(1)]))
            rest = rest[alt.end():]
        options = set(re.findall(r"--[a-z][a-z-]*", re.sub(r"\\f[BIRP]", "", tag)))
        for n in names:
            out[n] = options
    return out


def run(ctl, *args):
    return subprocess.run([ctl, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def main():
    ctl, manpage = sys.argv[1], sys.argv[2]
    problems = []
    helped = run(ctl, "--help")
    if helped.returncode != 0:
        problems.append(f"rampartctl --help exited {helped.returncode}")
    listed = help_commands(helped.stdout)
    with open(manpage, encoding="utf-8") as f:
        documented = man_commands(f.read())
    if len(listed) < 10:
        problems.append(f"rampartctl --help lists only {sorted(listed)}")
    if len(documented) < 10:
        problems.append(f"the man page documents only {sorted(documented)}")
    for name in sorted(set(listed) - set(documented)):
        problems.append(f"rampartctl --help lists \"{name}\", {manpage} does not document it")
    for name in sorted(set(documented) - set(listed)):
        problems.append(f"{manpage} documents \"{name}\", rampartctl --help does not list it")
    for name in sorted(set(listed) & set(documented)):
        for opt in sorted(listed[name] - documented[name]):
            problems.append(f"rampartctl --help shows {opt} for \"{name}\", {manpage} does not")

    word = run(ctl, "help")
    if word.returncode != 0 or word.stdout != helped.stdout:
        problems.append(f"rampartctl help (exit {word.returncode}) does not print what --help prints")
    bad = run(ctl, "no-such-command")
    if bad.returncode != 2 or help_commands(bad.stderr) != listed:
        problems.append(f"rampartctl no-such-command: exit {bad.returncode}, the list not on stderr")

    for p in problems:
        print(p)
    print(f"{len(listed)} commands in --help, {len(documented)} in the man page, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""What the bench/ scripts and their helpers share: Markdown tables, the rewriting of one script's section of
docs/benchmarks.md (between its `<!-- name:begin -->` / `<!-- name:end -->` markers), the facts each section
states about the machine, and reading and writing the JSON records of a run. Standard library only."""

import json
import os
import re
import tempfile

HEADER = """# Benchmarks

Every figure in this file is produced by a script in `bench/` and written here by that script; none is typed by
hand. Each script owns one section between its own `<!-- name:begin -->` / `<!-- name:end -->` markers and rewrites
only that section. To refresh a section, run its script (the command is given in the section) and commit the result.
"""


def table(headers, rows, right=None):
    """A Markdown table; the columns whose indexes are in `right` (default: all but the first) align right."""
    right = right if right is not None else set(range(1, len(headers)))
    lines = ["| " + " | ".join(headers) + " |",
             "| " + " | ".join("---:" if i in right else "---" for i in range(len(headers))) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def produced_by(meta):
    """The first words of a section: the command, when, at which commit, and whether it was a quick trial."""
    quick = " (quick mode: a trial, not the reference run)" if meta.get("quick") == "1" else ""
    return f"Produced by `{meta['command']}` on {meta['date']} (UTC) at commit `{meta['commit']}`{quick}"


def publish(docs, name, lines, sections, target_heading, target_label, targets):
    """Ends a report: its tables (`sections`: (title, table) pairs) and target lines go after `lines` into the section
    `name` of `docs` (under `target_heading`) and to the terminal (under `target_label`)."""
    out = list(lines)
    for title, t in sections:
        out += [f"### {title}", "", t, ""]
    out += [f"### {target_heading}", "", "\n".join(targets), ""]
    print()
    for title, t in sections:
        print(f"{title}:")
        print(t)
        print()
    print(f"{target_label}:")
    print("\n".join(targets))
    print()
    write_section(docs, name, "\n".join(out).rstrip() + "\n")
    print(f"wrote the {name} section of {docs}")


def write_section(docs, name, section):
    """Replaces the section `name` of `docs` with `section` (appends it when missing), keeps the rest of the file."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = open(docs, encoding="utf-8").read() if os.path.exists(docs) else HEADER
    block = f"{begin}\n{section.rstrip()}\n{end}\n"
    if begin in text and end in text and text.index(begin) < text.index(end):
        rest = text[text.index(end) + len(end):].lstrip("\n")
        text = text[:text.index(begin)] + block + ("\n" + rest if rest else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    os.makedirs(os.path.dirname(os.path.abspath(docs)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(docs)), prefix=".benchmarks.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, docs)


def read_meta(workdir):
    """The KEY<TAB>VALUE lines of a run's meta.tsv (written by the bench scripts) as a dict."""
    meta = {}
    with open(os.path.join(workdir, "meta.tsv"), encoding="utf-8") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            meta[key] = value
    return meta


def load(path):
    """A JSON record (or summary) written by a bench tool."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save(path, record):
    """Writes a JSON record, indented."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)


def add_fields(record, pairs):
    """Adds the K=V strings of a script's command line to `record`: whole numbers as int, decimals as float."""
    for pair in pairs:
        key, _, value = pair.partition("=")
        if re.fullmatch(r"-?\d+", value):
            record[key] = int(value)
        elif re.fullmatch(r"-?\d+\.\d*", value):
            record[key] = float(value)
        else:
            record[key] = value
    return record


def machine():
    """The facts every section states about the machine, as (key, value) pairs: CPUs, memory, kernel, .NET."""
    import platform
    import subprocess

    model = "unknown model"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal"))

    def run(*argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    runtime = ""
    for line in run("dotnet", "--list-runtimes").splitlines():
        if line.startswith("Microsoft.NETCore.App "):
            runtime = line.split()[1]
    sdk = run("dotnet", "--version").strip()
    return [("nproc", str(len(os.sched_getaffinity(0)))), ("cpu", model), ("memory", f"{kib / 1048576:.1f} GiB"),
            ("kernel", platform.release()), ("dotnet", f"{runtime or 'unknown'} (SDK {sdk or 'unknown'})")]


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["machine"]:
        for key, value in machine():
            print(f"{key}\t{value}")
    else:
        print("usage: benchdoc.py machine    the machine's facts as KEY<TAB>VALUE lines (for a script's meta.tsv)",
              file=sys.stderr)
        sys.exit(2)

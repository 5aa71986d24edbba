"""What the helpers of the bench/ scripts share: Markdown tables and the rewriting of one script's section of
docs/benchmarks.md (between its `<!-- name:begin -->` / `<!-- name:end -->` markers). Standard library only."""

import os
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

"""Write one benchmark's figures into its own section of docs/benchmarks.md.

Each benchmark owns the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` and
replaces only that, so several benchmarks (and people) can share the page without clobbering
each other's figures or prose.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import tempfile
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"

HEADER = """# Benchmarks

Figures on this page are measured on the development machine (a shared virtual machine with
2 CPU cores, so expect some noise between runs); each section names the exact command that made
it and the machine it ran on, and is rewritten in place when that command runs again.
"""

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _markers(name: str) -> tuple[str, str]:
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid section name {name!r}")
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def write_section(name: str, markdown: str, doc: Path = DOC) -> Path:
    """Replace the text between this section's markers (append the section when it is absent)."""
    start, end = _markers(name)
    body = markdown.strip("\n")
    block = f"{start}\n{body}\n{end}"
    text = doc.read_text(encoding="utf-8") if doc.exists() else HEADER
    i = text.find(start)
    if i >= 0:
        j = text.find(end, i + len(start))
        if j < 0:
            raise ValueError(f"{doc}: {start} has no closing {end}; fix the file by hand")
        text = text[:i] + block + text[j + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    # Atomic replace: a crash mid-write must not truncate the other sections.
    fd, tmp = tempfile.mkstemp(dir=doc.parent, prefix=".benchmarks-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, doc)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return doc


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description() -> str:
    """One line naming the CPU, cores, Python, reelforge version and date of a run."""
    try:
        from reelforge import __version__ as version
    except ImportError:
        version = "unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    today = _dt.date.today().isoformat()
    return (
        f"{cpu_model()}, {cores} cores, Python {platform.python_version()}, "
        f"reelforge {version}, {today}"
    )


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A GitHub-flavoured markdown table; numbers right-aligned."""
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|")

    numeric = [
        any(str(r[i]) for r in rows)
        and all(isinstance(r[i], int | float) or _looks_numeric(r[i]) for r in rows if str(r[i]))
        for i in range(len(headers))
    ]
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def _looks_numeric(v: object) -> bool:
    s = str(v).replace(",", "").replace("×", "").replace("%", "").strip()
    try:
        float(s)
    except ValueError:
        return False
    return True

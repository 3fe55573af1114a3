"""The CLI starts fast: importing it loads no capability library and no database layer.

Checked by the modules a fresh interpreter holds after the import, not by wall-clock time
(``benchmarks/bench_cli.py`` measures that).
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "av", "PIL", "numpy", "sqlalchemy", "scipy", "sklearn", "networkx", "skimage", "pydantic",
         "rich", "reelforge.studio", "reelforge.tasks", "reelforge.catalog", "reelforge.compute.queue")


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    mods = json.loads(out.stdout.strip().splitlines()[-1])
    return sorted({m for m in mods for h in HEAVY if m == h or m.startswith(h + ".")})


def test_importing_the_cli_loads_nothing_heavy() -> None:
    assert loaded_after("import reelforge.cli.main") == []


def test_help_loads_nothing_heavy() -> None:
    code = "import contextlib, io\nfrom reelforge.cli.main import main\nwith contextlib.redirect_stdout(io.StringIO()):\n" \
           "    assert main(['--help']) == 0"
    assert loaded_after(code) == []

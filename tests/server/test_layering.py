"""Doors call services: nothing under server/ imports the database layer or opens a session."""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "src" / "reelforge" / "server"


def offenders(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        for name in names:
            if name == "reelforge.db" or name.startswith(("reelforge.db.", "sqlalchemy")):
                found.append(f"{path.name}:{node.lineno} imports {name}")
        if isinstance(node, ast.Attribute) and node.attr in ("Session", "ReadSession", "engine", "db"):
            found.append(f"{path.name}:{node.lineno} uses .{node.attr}")
        if isinstance(node, ast.Name) and node.id in ("Session", "session_scope"):
            found.append(f"{path.name}:{node.lineno} uses {node.id}")
    return found


def test_no_server_module_touches_the_database() -> None:
    files = sorted(SERVER.rglob("*.py"))
    assert len(files) > 10
    bad = [o for f in files for o in offenders(f)]
    assert not bad, bad


def test_the_check_catches_an_offender(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from reelforge.db.engine import session_scope\n\ndef f(studio):\n    return studio.Session()\n")
    assert len(offenders(bad)) == 2

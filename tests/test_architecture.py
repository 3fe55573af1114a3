"""The shape of the code: capability rooms never import platform rooms; docs name every room."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "reelforge"
CAPABILITIES = ("media", "vision", "video", "script", "editorial")
PLATFORM = ("config", "studio", "db", "storage", "catalog", "access", "compute", "tasks", "server", "cli", "demo")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_capability_rooms_import_no_platform_room() -> None:
    offenders = []
    for room in CAPABILITIES:
        for path in (SRC / room).rglob("*.py"):
            for name in _imports(path):
                parts = name.split(".")
                if parts[0] == "reelforge" and len(parts) > 1 and parts[1] in PLATFORM:
                    offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert not offenders, offenders


def test_platform_rooms_do_not_import_torch_at_module_level() -> None:
    offenders = []
    for room in ("config.py", "studio.py", "db", "storage", "catalog", "compute", "cli"):
        target = SRC / room
        files = [target] if target.is_file() else list(target.rglob("*.py"))
        for path in files:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:  # module level only: lazy imports inside functions are fine
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    if any(m.split(".")[0] == "torch" for m in mods):
                        offenders.append(str(path.relative_to(SRC)))
    assert not offenders, offenders


def test_architecture_doc_names_every_room() -> None:
    doc = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    for room in sorted(p.name for p in SRC.iterdir() if p.is_dir() and not p.name.startswith("_")):
        if room in ("samples",):
            continue
        assert f"`{room}/`" in doc, f"docs/architecture.md does not describe {room}/"

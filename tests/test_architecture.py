"""The shape of the code: capability rooms never import platform rooms; docs name every room."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "reelforge"
CAPABILITIES = ("media", "training", "vision", "video", "script", "editorial")
PLATFORM = ("config", "studio", "db", "storage", "catalog", "access", "compute", "tasks", "server", "cli", "demo",
            "sdk")
SERVICE_ROOMS = ("catalog", "compute", "storage", "access")


def _imports(path: Path, *, module_level: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body if module_level else ast.walk(tree):
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
    for room in ("config.py", "studio.py", "db", "storage", "catalog", "compute", "cli", "sdk"):
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


def _room_files(room: str) -> list[Path]:
    target = SRC / room
    if target.with_suffix(".py").is_file():
        return [target.with_suffix(".py")]
    return sorted(target.rglob("*.py")) if target.is_dir() else []


def _module_level_imports(path: Path) -> set[str]:
    """Imports run when the module is imported (not under ``if TYPE_CHECKING:``, not inside a
    function): these are the ones that make import circles."""
    return _imports(path, module_level=True)


def test_no_task_touches_ctx_studio() -> None:
    offenders = []
    for path in _room_files("tasks"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "studio":
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} uses .studio")
    assert not offenders, offenders


def test_task_context_has_no_studio() -> None:
    from reelforge.compute.context import TaskContext

    src = (SRC / "compute" / "context.py").read_text(encoding="utf-8")
    assert "studio" not in TaskContext.__init__.__code__.co_varnames
    assert "self.studio" not in src


def test_doors_import_no_task_module() -> None:
    offenders = []
    for room in ("cli", "server", "sdk"):
        for path in _room_files(room):
            for name in _imports(path):
                if name == "reelforge.tasks" or name.startswith("reelforge.tasks."):
                    offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert not offenders, offenders


def test_services_do_not_import_the_studio() -> None:
    """Services get their collaborators; importing studio.py at run time would make a circle."""
    offenders = []
    for room in SERVICE_ROOMS:
        for path in _room_files(room):
            for name in _module_level_imports(path):
                if name == "reelforge.studio":
                    offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert not offenders, offenders


def test_services_take_collaborators_not_the_studio() -> None:
    import inspect

    from reelforge.access.guard import Guard
    from reelforge.access.service import AccessService
    from reelforge.catalog.assets import AssetService
    from reelforge.catalog.boards import BoardService
    from reelforge.catalog.browse import BrowseService
    from reelforge.catalog.datasets import DatasetService
    from reelforge.catalog.lineage import LineageService
    from reelforge.catalog.models import ModelService
    from reelforge.catalog.projects import ProjectService
    from reelforge.catalog.search import ScriptSearchService
    from reelforge.compute.queue import JobService

    for svc in (ProjectService, AssetService, DatasetService, ModelService, LineageService, JobService,
                ScriptSearchService, AccessService, BrowseService, BoardService, Guard):
        assert "studio" not in inspect.signature(svc.__init__).parameters, svc.__name__


def test_platform_room_check_fails_on_an_offender(tmp_path: Path) -> None:
    """The import check itself can fail: a capability module importing the catalog is caught."""
    bad = tmp_path / "bad.py"
    bad.write_text("from reelforge.catalog.assets import AssetService\n", encoding="utf-8")
    names = _imports(bad)
    assert any(n.split(".")[1] in PLATFORM for n in names if n.startswith("reelforge."))

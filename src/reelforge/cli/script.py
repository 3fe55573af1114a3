"""``reelforge script``: analyze, breakdown, search and convert screenplays."""

from __future__ import annotations

from pathlib import Path

import typer

from reelforge.cli.common import (
    cell,
    console,
    emit_json,
    new_table,
    safe,
    state,
    studio,
)
from reelforge.cli.common import (
    export_output as _where,
)
from reelforge.cli.common import (
    run_task as _run,
)

script_app = typer.Typer(help="Screenplay intelligence.", no_args_is_help=True)


def _screenplay_ref(ref: str, project: str | None) -> str:
    """An asset id/name, or a file path that is ingested first (dedup makes that idempotent)."""
    path = Path(ref)
    s = studio()
    if path.is_file():
        report = s.assets.add([path], project=project)
        return report.assets[0].id
    return s.assets.get(ref, project).id




@script_app.command("analyze")
def analyze(
    screenplay: str = typer.Argument(..., help="a screenplay file (ingested if needed) or asset id"),
    embeddings: bool = typer.Option(False, help="add scene topic shifts from MiniLM embeddings"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Characters, network, sentiment arcs, conflicts: JSON plus an HTML report."""
    ref = _screenplay_ref(screenplay, project)
    result = _run("script.analyze", {"screenplay": ref, "embeddings": embeddings}, project)
    if state.json_output:
        emit_json(result)
        return
    console.print(safe(f"report:   {_where(result['report'])}"), markup=False, highlight=False)
    console.print(safe(f"analysis: {_where(result['analysis'])}"), markup=False, highlight=False)
    console.print(safe(f"most central: {result.get('most_central')}; conflicts: {result.get('conflicts')}; "
                       f"turning points at scenes {result.get('turning_points')}"), markup=False)


@script_app.command("breakdown")
def breakdown(
    screenplay: str = typer.Argument(..., help="a screenplay file (ingested if needed) or asset id"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Per-scene breakdown with page eighths, and a stripboard (CSV and HTML)."""
    ref = _screenplay_ref(screenplay, project)
    result = _run("script.breakdown", {"screenplay": ref}, project)
    if state.json_output:
        emit_json(result)
        return
    console.print(f"{result['scenes']} scenes, {result['pages']} pages")
    for key in ("stripboard_html", "stripboard_csv", "breakdown"):
        console.print(safe(f"{key:16} {_where(result[key])}"), markup=False, highlight=False)


@script_app.command("search")
def search(
    query: str,
    k: int = typer.Option(10, "-k", min=1, max=200),
    kind: str | None = typer.Option(None, help="scene or line"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Semantic search over scenes and lines of every screenplay in the studio."""
    hits = studio().search.query(query, k=k, kind=kind, project=project)
    if state.json_output:
        emit_json(hits)
        return
    table = new_table("score", "screenplay", "where", "text")
    for h in hits:
        meta = h["meta"]
        where = meta.get("heading", "")
        if meta.get("kind") == "line":
            where = f"{meta.get('character')} (line {meta.get('line')})"
        table.add_row(f"{h['score']:.3f}", cell(meta.get("name", "")), cell(where), cell(h["text"][:120]))
    console.print(table)


@script_app.command("convert")
def convert(src: Path, dst: Path) -> None:
    """Convert between Fountain, FDX and the screenplay model as JSON (by DST's extension)."""
    from reelforge.script.formats import convert_file

    out = convert_file(src, dst)
    console.print(safe(f"wrote {out}"), markup=False, highlight=False)

"""``reelforge edit``: timelines (assemble) and script-ordered rough cuts."""

from __future__ import annotations

from pathlib import Path

import typer

from reelforge.cli.common import (
    console,
    emit_json,
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

edit_app = typer.Typer(help="Timelines and rough cuts (OpenTimelineIO; EDL, FCP XML, FCPXML).", no_args_is_help=True)

FORMATS = ("otio", "edl", "xml", "fcpxml")


def _ref(ref: str, project: str | None) -> str:
    """An asset id/name, or a file path that is ingested first (dedup makes that idempotent)."""
    from reelforge.errors import InvalidInput

    path = Path(ref)
    s = studio()
    if path.is_file():
        return s.assets.add([path], project=project).assets[0].id
    if "/" in ref and not path.exists():  # a path, not an asset id or name
        raise InvalidInput(f"{ref}: no such file")
    return s.assets.get(ref, project).id


def _formats(values: list[str] | None) -> list[str]:
    from reelforge.errors import InvalidInput

    chosen = [v.lower().lstrip(".") for v in (values or FORMATS)]
    bad = [v for v in chosen if v not in FORMATS]
    if bad:
        raise InvalidInput(f"unknown format {bad[0]!r}: use {', '.join(FORMATS)}")
    return chosen




def _print_files(result: dict, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in result:
            console.print(safe(f"{key:10} {_where(result[key])}"), markup=False, highlight=False)


@edit_app.command("assemble")
def assemble(
    clips: list[str] = typer.Argument(None, help="video files (ingested if needed) or asset ids, in order"),
    shots: str | None = typer.Option(None, "--shots", help="instead of clips: a shot list (video.shots JSON)"),
    name: str | None = typer.Option(None, help="timeline name"),
    start_tc: str = typer.Option("01:00:00:00", "--start-tc", help="record timecode of the first frame"),
    fmt: list[str] = typer.Option(None, "--format", "-f", help="otio, edl, xml, fcpxml (repeat; default: all)"),
    audio: bool = typer.Option(True, help="add an A1 track with the clips' sound"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """An OpenTimelineIO timeline from clips or a shot list: .otio, CMX 3600 EDL, FCP 7 XML, FCPXML."""
    from reelforge.errors import InvalidInput

    if bool(shots) == bool(clips):
        raise InvalidInput("give either clips or --shots SHOTLIST")
    params: dict = {"start_tc": start_tc, "formats": _formats(fmt), "audio": audio}
    if name:
        params["name"] = name
    if shots:
        params["shots"] = _ref(shots, project)
    else:
        params["clips"] = [_ref(c, project) for c in clips]
    result = _run("edit.assemble", params, project)
    if state.json_output:
        emit_json(result)
        return
    n = result["clips"]
    console.print(f"{n} clip{'' if n == 1 else 's'}, {result['duration_frames']} frames from {result['start_tc']}")
    _print_files(result, FORMATS)


@edit_app.command("roughcut")
def roughcut(
    screenplay: str = typer.Argument(..., help="a screenplay file (ingested if needed) or asset id"),
    clips: list[str] = typer.Argument(None, help="slated video files (ingested if needed) or asset ids"),
    tag: str | None = typer.Option(None, help="also every video asset with this tag"),
    dataset: str | None = typer.Option(None, help="also every video of this dataset"),
    name: str | None = typer.Option(None, help="timeline name (default: the screenplay's title)"),
    start_tc: str = typer.Option("01:00:00:00", "--start-tc", help="record timecode of the first frame"),
    fmt: list[str] = typer.Option(None, "--format", "-f", help="otio, edl, xml, fcpxml (repeat; default: all)"),
    dialogue: bool = typer.Option(True, help="score dialogue coverage by aligning the scene's lines"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Cut slated clips in script order, one take per set-up, with a report of the choices."""
    from reelforge.errors import InvalidInput

    if not clips and not tag and not dataset:
        raise InvalidInput("give clips, --tag or --dataset")
    params: dict = {"screenplay": _ref(screenplay, project), "clips": [_ref(c, project) for c in clips or []],
                    "start_tc": start_tc, "formats": _formats(fmt), "dialogue": dialogue}
    for key, value in (("tag", tag), ("dataset", dataset), ("name", name)):
        if value:
            params[key] = value
    result = _run("edit.roughcut", params, project)
    if state.json_output:
        emit_json(result)
        return
    console.print(safe(f"{result['covered']} of {result['scenes']} scenes covered; cut: "
                       f"{', '.join(result['cut'])}"), markup=False, highlight=False)
    if result["uncovered"]:
        console.print(safe(f"no coverage: scenes {', '.join(result['uncovered'])}"), markup=False, highlight=False)
    if result["unmatched"]:
        console.print(safe(f"unmatched: {', '.join(result['unmatched'])}"), markup=False, highlight=False)
    _print_files(result, (*FORMATS, "report", "report_md"))

"""``reelforge video``: shot detection."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from reelforge.cli.common import (
    cell,
    console,
    emit_json,
    exit_for,
    follow,
    job_summary,
    new_table,
    runs_here,
    safe,
    state,
    studio,
)
from reelforge.cli.common import (
    export_output as _export,
)

DETECTORS = ("auto", "content", "transnet", "both")
video_app = typer.Typer(help="Video analysis: shot detection.", no_args_is_help=True)


def _video_ref(ref: str, project: str | None) -> str:
    """An asset id/name, or a video file that is ingested first (dedup makes that idempotent).

    A file that is not a video is refused before anything is stored.
    """
    from reelforge.errors import InvalidInput

    path = Path(ref)
    s = studio()
    if path.is_file():
        from reelforge.media import MediaLimits, sniff

        found = sniff(path, MediaLimits())
        if found.kind != "video":
            raise InvalidInput(f"{path.name} is not a video (its content is {found.format} {found.kind})")
        return s.assets.add([path], project=project).assets[0].id
    asset = s.assets.get(ref, project)
    if asset.kind != "video":
        raise InvalidInput(f"asset {asset.id} ({asset.name}) is {asset.kind}, not a video")
    return asset.id



@video_app.command("shots")
def shots(
    video: str = typer.Argument(..., help="a video file (ingested if needed) or asset id"),
    detector: str = typer.Option("auto", help="auto, content, transnet or both"),
    min_shot_frames: int = typer.Option(6, min=1, help="shorter shots join the shot before"),
    threshold: float = typer.Option(3.0, min=1.0, help="content detector: adaptive cut threshold"),
    keyframes: bool = typer.Option(True, help="save each shot's middle frame as an image asset"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Find the shots of a video: cuts, dissolves and fades (flashes are not cuts), with
    timecodes; exports the shot list JSON and a contact sheet of keyframes."""
    from reelforge.errors import InvalidInput

    if detector not in DETECTORS:
        raise InvalidInput(f"unknown detector {detector!r}: use {', '.join(DETECTORS)}")
    ref = _video_ref(video, project)
    params = {"video": ref, "detector": detector, "min_shot_frames": min_shot_frames,
              "threshold": threshold, "keyframes": keyframes}
    s = studio()
    handle = s.jobs.submit("video.shots", params, project=project)
    job = follow(handle.id, inline=runs_here(s), quiet=state.json_output)
    if not state.json_output:
        job_summary(job)
    exit_for(job)
    result = job.result
    doc = _export(result["shot_list"])
    data = json.loads(doc.read_text(encoding="utf-8"))
    sheet = _export(result["contact_sheet"]) if result.get("contact_sheet") else None
    if state.json_output:
        emit_json({**result, "shot_list_file": str(doc), "contact_sheet_file": str(sheet) if sheet else None,
                   "shot_list_data": data})
        return
    table = new_table("shot", "in", "out", "frames", "seconds", "transition in")
    for sh in data["shots"]:
        into = sh["transition_in"] + (f" ({sh['transition_frames']} fr)" if sh["transition_frames"] else "")
        table.add_row(str(sh["index"] + 1), sh["start_tc"], sh["end_tc"], str(sh["end_frame"] - sh["start_frame"]),
                      f"{sh['end'] - sh['start']:.2f}", cell(into))
    console.print(table)
    rate = f"{data['fps']:.3f} fps" + (" drop frame" if data["drop_frame"] else "") + (
        ", variable frame rate" if data.get("vfr") else "")
    console.print(safe(f"{len(data['shots'])} shots in {data['frames']} frames ({rate}): {result['cuts']} cuts, "
                       f"{result['dissolves']} dissolves, {result['fades']} fades; {result['flashes']} flash "
                       f"frame(s) ignored"), markup=False, highlight=False)
    console.print(safe(f"shot list:     {doc}"), markup=False, highlight=False)
    if sheet is not None:
        console.print(safe(f"contact sheet: {sheet}"), markup=False, highlight=False)

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
    run_task,
    runs_here,
    safe,
    state,
    studio,
)
from reelforge.cli.common import (
    export_output as _export,
)

DETECTORS = ("auto", "content", "transnet", "both")
video_app = typer.Typer(help="Video analysis and retiming: shot detection, frame interpolation.",
                        no_args_is_help=True)


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


@video_app.command("interpolate")
def interpolate(
    video: str = typer.Argument(..., help="a video file (ingested if needed) or asset id"),
    fps: float | None = typer.Option(None, "--fps", min=0.001, max=240, help="convert to this frame rate"),
    slowmo: int | None = typer.Option(None, "--slowmo", min=2, max=16,
                                      help="play N times slower: N-1 new frames between each pair"),
    model: str | None = typer.Option(None, "--model", help="interpolator model (video train-interpolator)"),
    preset: str = typer.Option("medium", help="optical flow preset: ultrafast, fast or medium"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Make in-between frames by optical flow: convert to --fps or slow down by --slowmo N; scene cuts
    repeat frames instead. Exports the MP4."""
    from reelforge.errors import InvalidInput

    if (fps is None) == (slowmo is None):
        raise InvalidInput("give one of --fps or --slowmo")
    ref = _video_ref(video, project)
    params: dict = {"video": ref, "preset": preset, "model": model}
    params.update({"mode": "fps", "fps": fps} if fps is not None else {"mode": "slowmo", "factor": slowmo})
    result = run_task("video.interpolate", params, project)
    out = _export(result["video"])
    if state.json_output:
        emit_json({**result, "file": str(out)})
        return
    console.print(safe(f"{result['frames_in']} frames at {result['fps_in']:g} fps -> {result['frames_out']} at "
                       f"{result['fps_out']:g} fps: {result['interpolated']} interpolated, "
                       f"{result['duplicated']} repeated at {len(result['cuts'])} cut(s)"),
                  markup=False, highlight=False)
    console.print(safe(f"video: {out}"), markup=False, highlight=False)


@video_app.command("train-interpolator")
def train_interpolator(
    videos: list[str] = typer.Argument(None, help="video files (ingested if needed) or asset ids"),
    dataset: str | None = typer.Option(None, "--dataset", help="or: a dataset of videos"),
    name: str = typer.Option("interpolator", help="registry name of the model"),
    steps: int = typer.Option(300, min=1, help="training steps"),
    max_side: int = typer.Option(256, min=32, help="frames scaled down to this longest side"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Train the interpolation refinement network on your own footage (frame triplets)."""
    from reelforge.errors import InvalidInput

    if bool(videos) == (dataset is not None):
        raise InvalidInput("give video files/assets or --dataset")
    params: dict = {"name": name, "steps": steps, "max_side": max_side}
    if dataset is not None:
        params["dataset"] = dataset
    else:
        params["videos"] = [_video_ref(v, project) for v in videos]
    result = run_task("video.train_interpolator", params, project)
    if state.json_output:
        emit_json(result)
        return
    m = result["metrics"]
    console.print(safe(f"model {result['model']}: {result['triplets']} triplets; PSNR on them "
                       f"{m['train_psnr_blend']:.2f} dB -> {m['train_psnr_refined']:.2f} dB refined"),
                  markup=False, highlight=False)

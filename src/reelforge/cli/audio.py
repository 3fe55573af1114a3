"""``reelforge audio``: loudness (BS.1770 / EBU R128), normalisation, silence and dead air."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from reelforge.cli.common import (
    console,
    emit_json,
    err_console,
    follow,
    new_table,
    runs_here,
    safe,
    state,
    studio,
)
from reelforge.cli.common import (
    export_output as _export,
)

audio_app = typer.Typer(help="Audio: loudness (EBU R128), normalisation, silence and dead air.",
                        no_args_is_help=True)


def _sound_ref(ref: str, project: str | None) -> str:
    """An audio/video asset id or name, or a file path ingested first (dedup makes that idempotent).

    A file or asset without an audio stream is refused here, before anything is stored.
    """
    from reelforge.errors import InvalidInput

    s = studio()
    path = Path(ref)
    if path.is_file():
        from reelforge.media import MediaLimits, probe

        settings = getattr(s, "settings", None)  # a server's studio keeps its limits to itself
        limits = settings.limits if settings is not None else MediaLimits()
        info = probe(path, limits)  # validates the file as ingest would, and says what it holds
        if info.kind not in ("audio", "video"):
            raise InvalidInput(f"{path.name}: a {info.kind} file has no audio")
        if not info.sample_rate:
            raise InvalidInput(f"{path.name}: no audio stream")
        return s.assets.add([path], project=project).assets[0].id
    a = s.assets.get(ref, project)
    if a.kind not in ("audio", "video"):
        raise InvalidInput(f"asset {a.id} ({a.name}) is {a.kind}, not audio or video")
    if not a.info.get("sample_rate"):
        raise InvalidInput(f"asset {a.id} ({a.name}): no audio stream")
    return a.id


def _run(task: str, params: dict[str, Any], project: str | None) -> dict[str, Any]:
    """Submit and follow; a failure ends with the job's one-line error (exit 6; 7 when cancelled)."""
    from reelforge.compute.jobs import JobStatus
    from reelforge.errors import Cancelled, TaskFailed

    s = studio()
    handle = s.jobs.submit(task, params, project=project)
    job = follow(handle.id, inline=runs_here(s), quiet=True)
    if job.status == JobStatus.SUCCEEDED:
        return job.result
    if job.status == JobStatus.FAILED:
        # follow() has shown the job's error line ("error: failed: ...") as it came in.
        raise typer.Exit(TaskFailed.exit_code)
    err_console.print(safe(f"error: job {job.id} {job.status}"), markup=False, highlight=False)
    raise typer.Exit(Cancelled.exit_code)



def _num(value: float | None, unit: str, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f} {unit}"


def _say(text: str) -> None:
    console.print(safe(text), markup=False, highlight=False)


@audio_app.command("loudness")
def loudness(
    file: str = typer.Argument(..., help="an audio or video file (ingested if needed), or an asset id"),
    target: str = typer.Option("-23", help="target to draw on the plot: LUFS, or broadcast / web"),
    plot: bool = typer.Option(True, help="store a PNG of the short-term loudness"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Integrated loudness, loudness range, true peak and short-term maximum (EBU R128)."""
    from reelforge.editorial.loudness import parse_target

    goal = parse_target(target)
    ref = _sound_ref(file, project)
    result = _run("audio.loudness", {"asset": ref, "target": goal, "plot": plot}, project)
    if state.json_output:
        emit_json(result)
        return
    integrated = "-inf LUFS (silent)" if result.get("silent") else _num(result.get("integrated_lufs"), "LUFS")
    _say(f"integrated      {integrated}")
    _say(f"loudness range  {_num(result.get('loudness_range_lu'), 'LU')}")
    _say(f"true peak       {_num(result.get('true_peak_dbtp'), 'dBTP')}")
    _say(f"short-term max  {_num(result.get('short_term_max_lufs'), 'LUFS')}")
    _say(f"momentary max   {_num(result.get('momentary_max_lufs'), 'LUFS')}")
    if result.get("integrated_lufs") is not None:
        _say(f"to {goal:g} LUFS  {goal - result['integrated_lufs']:+.1f} dB")
    _say(f"report          {_export(result['report'])}")
    if result.get("plot"):
        _say(f"plot            {_export(result['plot'])}")


@audio_app.command("normalize")
def normalize(
    file: str = typer.Argument(..., help="an audio or video file (ingested if needed), or an asset id"),
    target: str = typer.Option("-23", help="LUFS to reach (-23 broadcast, -16 web), or broadcast / web"),
    ceiling: float = typer.Option(-1.0, min=-20, max=0, help="true-peak ceiling, dBTP"),
    limit: bool = typer.Option(False, help="use a true-peak limiter when gain alone would cross the ceiling"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """A new asset at the target loudness (video: picture copied, new audio muxed in)."""
    from reelforge.editorial.loudness import parse_target

    goal = parse_target(target)
    ref = _sound_ref(file, project)
    result = _run("audio.normalize", {"asset": ref, "target": goal, "ceiling": ceiling, "limit": limit}, project)
    if state.json_output:
        emit_json(result)
        return
    _say(f"{_num(result.get('before_lufs'), 'LUFS')} -> {_num(result.get('integrated_lufs'), 'LUFS', 2)} "
         f"(gain {result['gain_db']:+.2f} dB, true peak {_num(result.get('true_peak_dbtp'), 'dBTP')})")
    _say(f"asset  {result['asset']}")
    _say(f"file   {_export(result['asset'])}")


@audio_app.command("silence")
def silence(
    file: str = typer.Argument(..., help="an audio or video file (ingested if needed), or an asset id"),
    min_silence: float = typer.Option(0.3, min=0.01, max=60, help="seconds: shorter pauses are not reported"),
    dead_air: float = typer.Option(2.0, min=0.01, max=3600, help="seconds: silences this long are dead air"),
    relative_db: float = typer.Option(35.0, min=1, max=120, help="quiet: this many dB under the programme"),
    floor_db: float = typer.Option(-70.0, min=-150, max=-1, help="quiet: always under this dBFS"),
    max_pause: float = typer.Option(1.0, min=0, max=60, help="tighten inner pauses longer than this"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Silences and dead air, and the cuts they suggest (trims and tightened pauses)."""
    import json

    ref = _sound_ref(file, project)
    params = {"asset": ref, "min_silence": min_silence, "dead_air": max(dead_air, min_silence),
              "relative_db": relative_db, "floor_db": floor_db, "max_pause": max_pause}
    result = _run("audio.silence", params, project)
    where = _export(result["report"])
    report = json.loads(Path(where).read_text(encoding="utf-8"))
    if state.json_output:
        emit_json(report)
        return
    level = report.get("programme_level_db")
    _say(f"{len(report['regions'])} silences ({report['silence_seconds']:.1f} s, dead air "
         f"{report['dead_air_seconds']:.1f} s) in {report['duration']:.1f} s; programme "
         f"{_num(level, 'dBFS')}, threshold {report['threshold_db']:.1f} dBFS")
    if report["regions"]:
        table = new_table("start", "end", "length", "kind", "where", "level")
        for r in report["regions"]:
            table.add_row(f"{r['start']:.2f}", f"{r['end']:.2f}", f"{r['duration']:.2f}", r["kind"], r["position"],
                          "digital silence" if r["digital_silence"] else _num(r["level_db"], "dBFS"))
        console.print(table)
    for c in report["suggestions"]:
        _say(f"cut {c['start']:.2f}-{c['end']:.2f} s ({c['kind']}): {c['reason']}")
    if report["suggestions"]:
        _say(f"tightened: {report['duration']:.1f} s -> {report['tightened_duration']:.1f} s")
    _say(f"report  {where}")

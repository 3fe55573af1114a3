"""``reelforge subtitles``: align a screenplay's dialogue to a recording, or transcribe speech, to SRT/WebVTT."""

from __future__ import annotations

import json
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
    export_output as _export,
)
from reelforge.cli.common import (
    run_task as _run,
)

subtitles_app = typer.Typer(help="Subtitles: screenplay-to-audio alignment and speech recognition.",
                            no_args_is_help=True)


def _media_ref(ref: str, project: str | None) -> str:
    """An audio/video asset id or name, or a file that is ingested first (dedup makes that idempotent).

    A file that is not audio or video, or a video without sound, is refused before anything is stored.
    """
    from reelforge.errors import InvalidInput

    path = Path(ref)
    s = studio()
    if path.is_file():
        from reelforge.media import MediaLimits, sniff

        found = sniff(path, MediaLimits())
        if found.kind not in ("audio", "video"):
            raise InvalidInput(f"{path.name} is not audio or video (its content is {found.format} {found.kind})")
        if found.kind == "video" and not _has_audio(path):
            raise InvalidInput(f"{path.name}: no audio stream, nothing to subtitle")
        return s.assets.add([path], project=project).assets[0].id
    asset = s.assets.get(ref, project)
    if asset.kind not in ("audio", "video"):
        raise InvalidInput(f"asset {asset.id} ({asset.name}) is {asset.kind}, not audio or video")
    if asset.kind == "video" and not asset.info.get("sample_rate"):
        raise InvalidInput(f"asset {asset.id} ({asset.name}): no audio stream, nothing to subtitle")
    return asset.id


def _has_audio(path: Path) -> bool:
    import av

    from reelforge.errors import MediaError

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.error.FFmpegError, OSError) as err:
        raise MediaError(f"{path.name}: cannot be opened ({err})") from None


def _asset_ref(ref: str, project: str | None, kind: str) -> str:
    """Any asset by id/name, or a file ingested first (a screenplay, a shot list JSON)."""
    from reelforge.errors import InvalidInput

    path = Path(ref)
    s = studio()
    asset = s.assets.add([path], project=project).assets[0] if path.is_file() else s.assets.get(ref, project)
    if asset.kind != kind:
        raise InvalidInput(f"{asset.name} is {asset.kind}, not a {kind}")
    return asset.id




def _print_outputs(result: dict, keys: tuple[str, ...]) -> dict[str, Path]:
    paths = {}
    for key in keys:
        if result.get(key):
            paths[key] = _export(result[key])
            console.print(safe(f"{key:8} {paths[key]}"), markup=False, highlight=False)
    return paths


@subtitles_app.command("align")
def align(
    media: str = typer.Argument(..., help="a video or audio file (ingested if needed) or asset id"),
    script: str = typer.Argument(..., help="a screenplay file (Fountain, FDX, Chinese text) or asset id"),
    scene: list[str] = typer.Option([], "--scene", "-s", help="only this scene number's dialogue (repeatable)"),
    shots: str | None = typer.Option(None, help="shot list JSON (file or asset) from 'reelforge video shots'"),
    language: str = typer.Option("auto", help="en, zh, or auto (zh when the dialogue is Chinese)"),
    voice: str | None = typer.Option(None, help="espeak-ng voice for the reference speech"),
    fps: float | None = typer.Option(None, min=1, max=240, help="frame rate for the 2-frame gap rule"),
    min_confidence: float = typer.Option(0.5, min=0, max=1, help="lines matched below this are left unaligned"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Align a screenplay's dialogue to the recording: SRT and WebVTT by broadcast rules, and a report
    of the lines that could not be aligned."""
    media_ref = _media_ref(media, project)
    params: dict = {"media": media_ref, "screenplay": _asset_ref(script, project, "screenplay"),
                    "scenes": scene, "language": language, "min_confidence": min_confidence}
    if shots:
        params["shots"] = _asset_ref(shots, project, "document")
    if voice:
        params["voice"] = voice
    if fps:
        params["fps"] = fps
    result = _run("subtitles.align", params, project)
    if state.json_output:
        emit_json(result)
        return
    paths = _print_outputs(result, ("srt", "vtt", "report"))
    console.print(f"{result['aligned']} of {result['lines']} lines aligned ({result['coverage']:.0%}), "
                  f"{result['events']} subtitles, {result['violations']} rule violations")
    if result.get("note"):
        console.print(safe(f"note: {result['note']}"), markup=False)
    if result.get("unaligned") and "report" in paths:
        report = json.loads(paths["report"].read_text(encoding="utf-8"))
        table = new_table("line", "speaker", "why", "text", ids=())
        for ln in report["alignment"]["lines"]:
            if not ln["aligned"]:
                table.add_row(str(ln["index"] + 1), cell(ln.get("speaker") or ""), cell(ln["reason"]),
                              cell(ln["text"][:60]))
        console.print(table)


@subtitles_app.command("transcribe")
def transcribe(
    media: str = typer.Argument(..., help="a video or audio file (ingested if needed) or asset id"),
    shots: str | None = typer.Option(None, help="shot list JSON (file or asset) from 'reelforge video shots'"),
    fps: float | None = typer.Option(None, min=1, max=240, help="frame rate for the 2-frame gap rule"),
    max_pause: float = typer.Option(0.7, min=0.1, max=10, help="a longer pause starts a new subtitle turn"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Recognise English speech offline (PocketSphinx) into SRT and WebVTT, with word times as JSON."""
    params: dict = {"media": _media_ref(media, project), "max_pause": max_pause}
    if shots:
        params["shots"] = _asset_ref(shots, project, "document")
    if fps:
        params["fps"] = fps
    result = _run("subtitles.transcribe", params, project)
    if state.json_output:
        emit_json(result)
        return
    _print_outputs(result, ("srt", "vtt", "words"))
    console.print(f"{result['word_count']} words, {result['events']} subtitles, {result['violations']} rule violations")
    if result.get("note"):
        console.print(safe(f"note: {result['note']}"), markup=False)
    if result.get("text"):
        console.print(safe(f"text: {result['text'][:300]}"), markup=False, highlight=False)

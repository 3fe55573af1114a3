"""``reelforge restore``: film restoration: train a restorer on clean frames, apply it to damaged ones."""

from __future__ import annotations

from pathlib import Path

import typer

from reelforge.cli.common import console, emit_json, safe, state, studio
from reelforge.cli.common import export_output as _where
from reelforge.cli.common import run_task as _run

restore_app = typer.Typer(help="Film restoration: train a restorer on clean frames, apply it to damaged ones.", no_args_is_help=True)


def _media_ref(ref: str, project: str | None) -> str:
    """An asset id/name, or an image/video file that is ingested first (dedup makes that idempotent).

    Anything else is refused before it is stored."""
    from reelforge.errors import InvalidInput

    path = Path(ref)
    s = studio()
    if path.is_file():
        from reelforge.media import MediaLimits, sniff

        found = sniff(path, MediaLimits())
        if found.kind not in ("image", "video"):
            raise InvalidInput(f"{path.name} is not an image or a video (its content is {found.format} {found.kind})")
        return s.assets.add([path], project=project).assets[0].id
    if "/" in ref and not path.exists():
        raise InvalidInput(f"{ref}: no such file")
    asset = s.assets.get(ref, project)
    if asset.kind not in ("image", "video"):
        raise InvalidInput(f"asset {asset.id} ({asset.name}) is {asset.kind}, not an image or a video")
    return asset.id


@restore_app.command("train")
def train(
    dataset: str = typer.Option(..., "--dataset", "-d", help="clean frames, or input/target pairs for pix2pix"),
    name: str = typer.Option("restorer", help="registry name of the model"),
    mode: str = typer.Option("auto", help="auto, restore or pix2pix"),
    steps: int = typer.Option(600, min=1, help="training steps"),
    batch_size: int = typer.Option(8, min=1, help="crops per step"),
    crop: int = typer.Option(64, min=16, help="training crop size in pixels"),
    damage: str = typer.Option("medium", help="synthetic damage: light, medium or heavy"),
    temporal: bool = typer.Option(True, help="the restorer also looks at neighbouring frames of a video"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Train a restorer on clean frames (synthetic damage), or pix2pix on images labelled input/target."""
    from reelforge.errors import InvalidInput

    if mode not in ("auto", "restore", "pix2pix"):
        raise InvalidInput(f"unknown mode {mode!r}: use auto, restore or pix2pix")
    if damage not in ("light", "medium", "heavy"):
        raise InvalidInput(f"unknown damage {damage!r}: use light, medium or heavy")
    params = {"dataset": dataset, "name": name, "mode": mode, "steps": steps, "batch_size": batch_size,
              "crop": crop, "damage": damage, "temporal": temporal}
    result = _run("restore.train", params, project)
    if state.json_output:
        emit_json(result)
        return
    metrics = result.get("metrics") or {}
    line = f"model {result['model']} ({result['mode']}, {result['steps']} steps)"
    if "psnr_gain" in metrics:
        line += (f"; held-out PSNR {metrics['psnr_damaged']:.2f} dB damaged -> "
                 f"{metrics['psnr_restored']:.2f} dB restored")
    console.print(safe(line), markup=False, highlight=False)


@restore_app.command("apply")
def apply(
    media: str = typer.Argument(..., help="an image or video file (ingested if needed) or asset id"),
    model: str | None = typer.Option(None, "--model", "-m", help="restore model (default: classical restoration)"),
    temporal: bool = typer.Option(True, help="video: use the neighbouring frames"),
    deflicker: bool = typer.Option(True, help="video: even out frame-to-frame brightness"),
    masks: bool = typer.Option(False, help="also save the defect masks"),
    detector: str = typer.Option("auto", help="auto, spatial, temporal, learned or all"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Restore a damaged image or clip: dust, hair and scratches removed, grain and flicker reduced."""
    from reelforge.errors import InvalidInput

    if detector not in ("auto", "spatial", "temporal", "learned", "all"):
        raise InvalidInput(f"unknown detector {detector!r}: use auto, spatial, temporal, learned or all")
    params: dict = {"asset": _media_ref(media, project), "temporal": temporal, "deflicker": deflicker,
                    "masks": masks, "detector": detector}
    if model:
        params["model"] = model
    result = _run("restore.apply", params, project)
    if state.json_output:
        emit_json({**result, **{f"{k}_file": str(_where(result[k])) for k in ("image", "video", "mask") if result.get(k)}})
        return
    for key in ("image", "video", "mask"):
        if result.get(key):
            console.print(safe(f"{key:6} {_where(result[key])}"), markup=False, highlight=False)

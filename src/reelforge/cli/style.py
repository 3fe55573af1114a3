"""``reelforge style``: style transfer for images and video, and per-style networks."""

from __future__ import annotations

from pathlib import Path

import typer

from reelforge.cli.common import console, emit_json, safe, state, studio
from reelforge.cli.common import export_output as _where
from reelforge.cli.common import run_task as _run

style_app = typer.Typer(help="Style transfer for images and video, and per-style networks.", no_args_is_help=True)

COLOUR = ("none", "luminance", "histogram")
MIN_STYLE_SIDE = 16  # as reelforge.vision.style.optimize.MIN_SIDE (not imported: it pulls in torch)


def _file(path: Path, kinds: tuple[str, ...], what: str, project: str | None) -> str:
    """Ingest a file after checking it is of an accepted kind (and, for a style image, big enough),
    so a bad file is refused before anything is stored."""
    from reelforge.errors import InvalidInput
    from reelforge.media import MediaLimits, open_image, sniff

    found = sniff(path, MediaLimits())
    if found.kind not in kinds:
        raise InvalidInput(f"{path.name} is not {what} (its content is {found.format} {found.kind})")
    if what == "a style image":
        with open_image(path, MediaLimits(), found) as im:
            if min(im.size) < MIN_STYLE_SIDE:
                raise InvalidInput(f"the style image is {im.size[0]}x{im.size[1]} pixels: style transfer needs at "
                                   f"least {MIN_STYLE_SIDE}x{MIN_STYLE_SIDE}")
    return studio().assets.add([path], project=project).assets[0].id


def _style_ref(ref: str, project: str | None) -> tuple[str, str]:
    """("style", asset id) for an image file or asset, ("model", ref) for a trained style network."""
    from reelforge.errors import InvalidInput, NotFound

    path = Path(ref)
    if path.is_file():
        return "style", _file(path, ("image",), "a style image", project)
    s = studio()
    try:
        model = s.models.get(ref, project)
    except NotFound:
        model = None
    if model is not None:
        if model.kind != "style":
            raise InvalidInput(f"model {model.ref} is a {model.kind} model, not a style network")
        return "model", model.id
    asset = s.assets.get(ref, project)
    if asset.kind != "image":
        raise InvalidInput(f"asset {asset.id} ({asset.name}) is {asset.kind}, not a style image")
    return "style", asset.id


@style_app.command("transfer")
def transfer(
    content: str = typer.Argument(..., help="an image or video file (ingested if needed) or asset id"),
    style: str = typer.Argument(..., help="a style image (file or asset id), or a trained style network "
                                "(NAME, NAME@N or model id)"),
    steps: int = typer.Option(200, min=1, help="optimisation steps (style image only)"),
    size: int = typer.Option(512, min=16, max=2048, help="long side of the output in pixels"),
    style_weight: float = typer.Option(10.0, min=0, help="weight of the style loss"),
    content_weight: float = typer.Option(1.0, min=0, help="weight of the content loss"),
    preserve_colour: str = typer.Option("none", help="none, luminance or histogram: keep the content's colours"),
    features: str = typer.Option("random", help="random, or a local VGG-19 .safetensors file"),
    temporal: bool = typer.Option(True, help="video: keep frames consistent along the optical flow"),
    temporal_weight: float = typer.Option(50.0, min=0, help="video, optimisation: temporal loss weight"),
    blend: float = typer.Option(0.7, min=0, max=0.99, help="video, network: share of the warped previous frame"),
    chunk_frames: int = typer.Option(16, min=1, help="video: frames per parallel chunk"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Stylise an image or a video with a style image or a trained style network; exports the result."""
    from reelforge.errors import InvalidInput

    if preserve_colour not in COLOUR:
        raise InvalidInput(f"unknown preserve_colour {preserve_colour!r}: use {', '.join(COLOUR)}")
    path = Path(content)
    ref = (_file(path, ("image", "video"), "an image or a video", project) if path.is_file()
           else studio().assets.get(content, project).id)
    key, style_id = _style_ref(style, project)
    params = {"content": ref, key: style_id, "steps": steps, "size": size, "style_weight": style_weight,
              "content_weight": content_weight, "preserve_colour": preserve_colour, "features": features,
              "temporal": temporal, "temporal_weight": temporal_weight, "blend": blend, "chunk_frames": chunk_frames}
    result = _run("style.transfer", params, project)
    out = result.get("image") or result.get("video")
    where = _where(out) if out else None
    if state.json_output:
        emit_json({**result, "file": str(where) if where else None})
        return
    what = f"{result.get('frames')} frames" if result.get("video") else "image"
    console.print(safe(f"{what} {result['width']}x{result['height']} ({result['method']}): {where}"),
                  markup=False, highlight=False)


@style_app.command("train")
def train(
    style: str = typer.Argument(..., help="the style image (file, ingested if needed, or asset id)"),
    dataset: str = typer.Option(..., "--dataset", "-d", help="dataset of content images (NAME, NAME@N or id)"),
    name: str = typer.Option("style", help="registry name of the network"),
    steps: int = typer.Option(2000, min=1, help="training steps"),
    size: int = typer.Option(256, min=32, max=1024, help="training crop side in pixels (a multiple of 4)"),
    batch_size: int = typer.Option(4, min=1, help="crops per step"),
    width: int = typer.Option(32, min=4, max=256, help="channels of the first layer"),
    res_blocks: int = typer.Option(5, min=0, max=16, help="residual blocks"),
    style_weight: float = typer.Option(10.0, min=0, help="weight of the style loss"),
    features: str = typer.Option("random", help="random, or a local VGG-19 .safetensors file"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Train a fast style network for one style image on a dataset's content images."""
    path = Path(style)
    ref = _file(path, ("image",), "a style image", project) if path.is_file() else studio().assets.get(style, project).id
    params = {"style": ref, "dataset": dataset, "name": name, "steps": steps, "size": size,
              "batch_size": batch_size, "width": width, "res_blocks": res_blocks, "style_weight": style_weight,
              "features": features}
    result = _run("style.train", params, project)
    if state.json_output:
        emit_json(result)
        return
    metrics = result.get("metrics") or {}
    console.print(safe(f"model {result['model']} after {result['steps']} steps (style loss "
                       f"{metrics.get('style', float('nan')):.4f}, content loss {metrics.get('content', float('nan')):.4f})"),
                  markup=False, highlight=False)
    if result.get("preview"):
        console.print(safe(f"preview: {_where(result['preview'])}"), markup=False, highlight=False)

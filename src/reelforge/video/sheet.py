"""A contact sheet of a shot list: each shot's keyframe, labelled with its number and timecode."""

from __future__ import annotations

from PIL import Image

from reelforge.media.contact_sheet import contact_sheet
from reelforge.video.shots import ShotList


def shot_sheet(
    shot_list: ShotList,
    keyframes: dict[int, Image.Image],
    name: str = "",
    cell: int = 200,
    max_shots: int = 300,
) -> Image.Image:
    """Keyframes by shot index (missing ones are skipped), the first ``max_shots`` shots. Small
    frames are enlarged to the cell's width, so a low-resolution video still makes a readable sheet."""
    items: list[tuple[Image.Image, str]] = []
    for shot in shot_list.shots[:max_shots]:
        image = keyframes.get(shot.index)
        if image is None:
            continue
        if image.width < cell:
            height = max(1, round(image.height * cell / image.width))
            image = image.resize((cell, height), Image.Resampling.LANCZOS)
        items.append((image, f"{shot.index + 1}  {shot.start_tc}"))
    count = len(shot_list.shots)
    more = f" (first {len(items)})" if len(items) < count else ""
    rate = f"{float(shot_list.fps):.3f} fps" + (" DF" if shot_list.drop_frame else "") + (
        " VFR" if shot_list.vfr else "")
    title = f"{name + ': ' if name else ''}{count} shots{more}, {rate}"
    return contact_sheet(items, cell=cell, title=title)

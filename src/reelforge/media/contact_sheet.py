"""Contact sheets: a labelled grid of thumbnails for reviewing datasets, shots or generated samples."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from reelforge.errors import InvalidInput
from reelforge.media.images import convert_mode, thumbnail_image
from reelforge.media.limits import MediaLimits
from reelforge.media.sniff import sniff
from reelforge.media.video import poster_frame

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
CELL_BACKGROUND = (0, 0, 0)
LABEL_COLOR = (230, 230, 230)
TITLE_COLOR = (255, 255, 255)


@functools.lru_cache(maxsize=16)
def _font(size: int) -> Font:
    """DejaVu Sans when the system has it (wide Unicode coverage), else Pillow's built-in font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)  # found via the system font directories
    except (OSError, ImportError):
        pass
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # old Pillow or no FreeType: fixed bitmap font
        return ImageFont.load_default()


def label_size(cell: int) -> int:
    return max(10, cell // 12)


def title_size(cell: int) -> int:
    return max(14, cell // 8)


def sheet_layout(
    count: int, columns: int | None = None, cell: int = 160, title: str | None = None, padding: int = 8
) -> dict[str, int]:
    """The grid geometry :func:`contact_sheet` uses (so callers and tests can predict the size).

    Each cell is ``cell`` x ``cell`` plus a label strip; cells are separated and surrounded by
    ``padding``; a title adds a bar on top.
    """
    if count < 1:
        raise InvalidInput("a contact sheet needs at least one item")
    if cell < 16 or padding < 0:
        raise InvalidInput(f"invalid contact sheet geometry: cell={cell}, padding={padding}")
    if columns is None:
        columns = math.ceil(math.sqrt(count))
    if columns < 1:
        raise InvalidInput(f"columns must be positive, got {columns}")
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    label_h = label_size(cell) + 6
    title_h = title_size(cell) + 2 * padding if title else 0
    width = columns * cell + (columns + 1) * padding
    height = title_h + rows * (cell + label_h) + (rows + 1) * padding
    return {
        "columns": columns,
        "rows": rows,
        "label_height": label_h,
        "title_height": title_h,
        "width": width,
        "height": height,
    }


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> str:
    text = " ".join(str(text).split())
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..." if text else ""


def _placeholder(kind: str, cell: int) -> Image.Image:
    tile = Image.new("RGB", (cell, cell), (60, 60, 60))
    draw = ImageDraw.Draw(tile)
    font = _font(title_size(cell))
    text = kind.upper()
    w = draw.textlength(text, font=font)
    draw.text(((cell - w) / 2, cell / 2 - title_size(cell) / 2), text, fill=LABEL_COLOR, font=font)
    return tile


def _tile(item: Image.Image | Path | str, cell: int, limits: MediaLimits) -> Image.Image:
    if isinstance(item, Image.Image):
        image = convert_mode(item.copy(), "RGB")
    else:
        path = Path(item)
        kind = sniff(path, limits).kind
        if kind == "image":
            image = thumbnail_image(path, cell, limits)
        elif kind == "video":
            image = poster_frame(path, limits)
        else:  # audio and screenplays have no picture: show what they are
            return _placeholder(kind, cell)
    image.thumbnail((cell, cell), Image.Resampling.LANCZOS)
    return image


def contact_sheet(
    items: Sequence[tuple[Image.Image | Path, str]],
    columns: int | None = None,
    cell: int = 160,
    title: str | None = None,
    background: tuple[int, int, int] = (20, 20, 20),
    limits: MediaLimits = MediaLimits(),
    padding: int = 8,
) -> Image.Image:
    """A grid of letterboxed thumbnails (images, or video poster frames), each labelled underneath.

    Paths are decoded safely under ``limits``; geometry is :func:`sheet_layout`'s.
    """
    layout = sheet_layout(len(items), columns, cell, title, padding)
    sheet = Image.new("RGB", (layout["width"], layout["height"]), tuple(background))
    draw = ImageDraw.Draw(sheet)
    label_font = _font(label_size(cell))
    if title:
        title_font = _font(title_size(cell))
        draw.text(
            (padding, padding),
            _fit_text(draw, title, title_font, layout["width"] - 2 * padding),
            fill=TITLE_COLOR,
            font=title_font,
        )
    top = layout["title_height"] + padding
    for index, (item, label) in enumerate(items):
        row, col = divmod(index, layout["columns"])
        x = padding + col * (cell + padding)
        y = top + row * (cell + layout["label_height"] + padding)
        sheet.paste(CELL_BACKGROUND, (x, y, x + cell, y + cell))
        tile = _tile(item, cell, limits)
        sheet.paste(tile, (x + (cell - tile.width) // 2, y + (cell - tile.height) // 2))
        text = _fit_text(draw, label, label_font, cell)
        text_w = draw.textlength(text, font=label_font)
        draw.text((x + (cell - text_w) / 2, y + cell + 3), text, fill=LABEL_COLOR, font=label_font)
    return sheet

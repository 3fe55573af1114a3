import numpy as np
import pytest
from PIL import Image

from reelforge.errors import InvalidInput
from reelforge.media import contact_sheet, sheet_layout


def _tiles(n: int) -> list[tuple[Image.Image, str]]:
    return [(Image.new("RGB", (200 + 40 * i, 100), (250, 200 - 20 * i, 0)), f"shot {i}") for i in range(n)]


def test_size_follows_layout():
    sheet = contact_sheet(_tiles(5), cell=100)
    layout = sheet_layout(5, cell=100)
    assert (layout["columns"], layout["rows"]) == (3, 2)
    assert sheet.size == (layout["width"], layout["height"]) == (3 * 100 + 4 * 8, 2 * (100 + 16) + 3 * 8)
    titled = contact_sheet(_tiles(5), columns=5, cell=100, title="Reel 1")
    layout = sheet_layout(5, columns=5, cell=100, title="Reel 1")
    assert (
        titled.size
        == (layout["width"], layout["height"])
        == (5 * 100 + 6 * 8, (14 + 16) + (100 + 16) + 2 * 8)
    )


def test_thumbnails_are_letterboxed_and_labelled():
    sheet = np.asarray(contact_sheet(_tiles(1), cell=100, background=(20, 20, 20)))
    # the 200x100 tile becomes 100x50, centred vertically in a black 100x100 cell
    assert sheet[8 + 50, 8 + 50].tolist()[0] > 240
    assert sheet[8 + 5, 8 + 50].tolist() == [0, 0, 0]
    label_band = sheet[8 + 100 : 8 + 116, 8 : 8 + 100]
    assert (label_band > 150).any()  # label text drawn
    assert sheet[2, 2].tolist() == [20, 20, 20]


def test_paths_images_videos_and_audio(astronaut_png, video_mp4, wav_mono):
    items = [(astronaut_png, "astronaut.png"), (video_mp4, "ramp.mp4"), (wav_mono, "tone.wav")]
    sheet = contact_sheet(items, cell=64, title="Dailies")
    layout = sheet_layout(3, cell=64, title="Dailies")
    assert sheet.size == (layout["width"], layout["height"])
    assert sheet.mode == "RGB"


def test_long_labels_and_errors():
    sheet = contact_sheet([(Image.new("RGB", (10, 10)), "x" * 500)], cell=64)
    assert sheet.size == (64 + 16, 64 + 16 + 16)
    with pytest.raises(InvalidInput):
        contact_sheet([])
    with pytest.raises(InvalidInput):
        contact_sheet(_tiles(2), columns=0)

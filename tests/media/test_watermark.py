"""The invisible watermark: invisible (PSNR), robust (JPEG q75, 50-75% resize, crops, stripped
metadata), and silent on what it did not mark (unmarked images, another key, another payload)."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image
from skimage import data

from reelforge.errors import InvalidInput
from reelforge.media import watermark as wm

KEY = b"\x01" * 32
PAYLOAD = 0x5EED_F00D_0123_4567


def _img(name: str) -> Image.Image:
    return Image.fromarray(getattr(data, name)())


def _jpeg(im: Image.Image, q: int = 75) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=q)  # no metadata carried over
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _resize(im: Image.Image, f: float) -> Image.Image:
    return im.resize((round(im.width * f), round(im.height * f)), Image.Resampling.LANCZOS)


def _crop(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((int(w * left), int(h * top), w - int(w * right), h - int(h * bottom)))


ATTACKS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "none": lambda im: im,
    "jpeg75": _jpeg,
    "resize75": lambda im: _resize(im, 0.75),
    "resize50": lambda im: _resize(im, 0.5),
    "crop10": lambda im: _crop(im, 0.10, 0.07, 0.03, 0.10),
    "resize60+jpeg75": lambda im: _jpeg(_resize(im, 0.6)),
    "crop10+resize70+jpeg75": lambda im: _jpeg(_resize(_crop(im, 0.1, 0.1, 0.1, 0.1), 0.7)),
    "crop+resize50+jpeg75": lambda im: _jpeg(_resize(_crop(im, 0.08, 0.1, 0.05, 0.02), 0.5)),
}


@pytest.fixture(scope="module")
def marked() -> dict[str, tuple[Image.Image, Image.Image]]:
    return {n: (_img(n), wm.embed(_img(n), PAYLOAD, KEY)) for n in ("coffee", "chelsea", "camera")}


def test_mark_is_invisible_by_psnr_and_changes_only_luma(marked: dict[str, tuple[Image.Image, Image.Image]]) -> None:
    for name, (orig, mk) in marked.items():
        assert mk.size == orig.size and mk.mode == orig.mode
        assert 38.0 <= wm.psnr(orig, mk) <= 41.0, name  # invisible, yet not a no-op
        if orig.mode == "RGB":
            d = np.asarray(mk, dtype=int) - np.asarray(orig, dtype=int)
            unclipped = (np.asarray(orig) > 8).all(axis=2) & (np.asarray(orig) < 247).all(axis=2)
            # The same change in R, G and B (hue untouched), up to rounding.
            spread = d.max(axis=2) - d.min(axis=2)
            assert np.mean(spread[unclipped] <= 1) > 0.99
    # The PSNR check does catch a visible mark.
    orig = marked["coffee"][0]
    assert wm.psnr(orig, wm.embed(orig, PAYLOAD, KEY, psnr=30.0)) < 38.0


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_payload_survives(marked: dict[str, tuple[Image.Image, Image.Image]], attack: str) -> None:
    for name, (_orig, mk) in marked.items():
        copy = ATTACKS[attack](mk)
        d = wm.detect(copy, KEY)
        assert d.found and d.payload == PAYLOAD, (name, attack, d)
        assert d.confidence > 0.5 and d.score >= wm.Z_MIN
        if "resize50" in attack:
            assert d.scale is not None and abs(d.scale - 0.5) < 0.02


def test_unmarked_images_are_not_found() -> None:
    for name in ("astronaut", "coffee", "chelsea", "camera", "rocket", "hubble_deep_field"):
        for im in (_img(name), _jpeg(_resize(_img(name), 0.6))):
            d = wm.detect(im, KEY)
            assert not d.found and d.payload is None, (name, d)
            assert d.score < wm.Z_MIN


def test_another_key_or_payload_is_not_taken_for_ours(marked: dict[str, tuple[Image.Image, Image.Image]]) -> None:
    orig, _mk = marked["coffee"]
    # Marked by another studio (another key): nothing found with ours.
    theirs = wm.embed(orig, PAYLOAD, b"\x02" * 32)
    d = wm.detect(theirs, KEY)
    assert not d.found and d.payload is None
    assert wm.detect(theirs, b"\x02" * 32).payload == PAYLOAD
    # Same key, another payload: found, but it is that payload, never ours.
    other = wm.embed(orig, PAYLOAD ^ 0xFF, KEY)
    d2 = wm.detect(_jpeg(other), KEY)
    assert d2.found and d2.payload == PAYLOAD ^ 0xFF and d2.payload != PAYLOAD
    assert d2.payload_hex == f"{PAYLOAD ^ 0xFF:016x}"


def test_small_images_and_bad_payloads_are_refused() -> None:
    with pytest.raises(InvalidInput, match="too small"):
        wm.embed(Image.new("RGB", (100, 300)), PAYLOAD, KEY)
    with pytest.raises(InvalidInput, match="64-bit"):
        wm.embed(_img("coffee"), 1 << 64, KEY)
    assert not wm.detect(Image.new("RGB", (40, 40)), KEY).found


def test_rgba_and_grey_keep_their_mode_and_alpha() -> None:
    rgb = _img("chelsea")
    rgba = rgb.convert("RGBA")
    alpha = np.asarray(rgba)[..., 3].copy()
    out = wm.embed(rgba, PAYLOAD, KEY)
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], alpha)
    assert wm.detect(out, KEY).payload == PAYLOAD
    grey = wm.embed(rgb.convert("L"), PAYLOAD, KEY)
    assert grey.mode == "L" and wm.detect(_jpeg(grey), KEY).payload == PAYLOAD

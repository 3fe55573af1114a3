"""Optimisation-based transfer: the style loss falls, the output's textures move toward the style's
(a copy or a blur of the content does not), colour preservation keeps the content's chroma, bad
images are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from reelforge.errors import InvalidInput
from reelforge.vision.style.features import build_features
from reelforge.vision.style.optimize import (
    TransferSettings,
    fit_size,
    gram_distance,
    match_colour,
    rgb_to_ycbcr,
    stylize_image,
)

STEPS = 60


@pytest.fixture(scope="module")
def net():  # type: ignore[no-untyped-def]
    return build_features("random")


def moved_toward_style(net, out: np.ndarray, content: np.ndarray, style: np.ndarray) -> bool:  # type: ignore[no-untyped-def]
    """The output's Gram distance to the style is under half the content's own."""
    ref = fit_size(style, max(content.shape[:2]))
    return gram_distance(net, out, ref) < 0.5 * gram_distance(net, content, ref)


def chroma_gap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of Cb and Cr (0..1 units)."""
    return float(np.abs(rgb_to_ycbcr(a)[..., 1:] - rgb_to_ycbcr(b)[..., 1:]).mean())


def test_style_loss_falls_and_output_moves_toward_the_style(net, astronaut: np.ndarray, hubble: np.ndarray,
                                                            tmp_path) -> None:  # type: ignore[no-untyped-def]
    history: list[dict[str, float]] = []
    out = stylize_image(astronaut, hubble, net, TransferSettings(steps=STEPS, size=64), history=history)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    assert history[-1]["style"] < 0.2 * history[0]["style"]
    assert moved_toward_style(net, out, astronaut, hubble)
    # The content is still there: closer to the content than the style image is.
    assert np.abs(out.astype(float) - astronaut).mean() > 10  # not a copy
    Image.fromarray(np.concatenate([astronaut, out, fit_size(hubble, 64)[:64, :64]], 1)).save(tmp_path / "o.png")


def test_the_check_fails_on_a_copy_or_a_blur_of_the_content(net, astronaut: np.ndarray, hubble: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    blurred = np.asarray(Image.fromarray(astronaut).filter(ImageFilter.GaussianBlur(2)))
    assert not moved_toward_style(net, astronaut, astronaut, hubble)
    assert not moved_toward_style(net, blurred, astronaut, hubble)
    zero_steps = stylize_image(astronaut, hubble, net, TransferSettings(steps=1, size=64))
    assert not moved_toward_style(net, zero_steps, astronaut, hubble)


def test_luminance_mode_keeps_the_content_chroma(net, astronaut: np.ndarray, coffee: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    free = stylize_image(astronaut, coffee, net, TransferSettings(steps=STEPS, size=64))
    kept = stylize_image(astronaut, coffee, net, TransferSettings(steps=STEPS, size=64, preserve_colour="luminance"))
    # Rounding to 8 bits (and clipping at the gamut's edge) is all that separates the chroma.
    assert chroma_gap(kept, astronaut) < 0.01
    assert chroma_gap(free, astronaut) > 3 * chroma_gap(kept, astronaut)  # the check fails without the mode
    # ...and the luminance was stylised, not copied.
    assert np.abs(rgb_to_ycbcr(kept)[..., 0] - rgb_to_ycbcr(astronaut)[..., 0]).mean() > 0.03


def test_histogram_mode_keeps_the_content_colours_on_average(net, astronaut: np.ndarray, coffee: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    matched = match_colour(coffee, astronaut)
    c = astronaut.reshape(-1, 3).astype(float)
    m = matched.reshape(-1, 3).astype(float)
    assert np.abs(m.mean(0) - c.mean(0)).max() < 4  # clipping moves the mean a little
    free = stylize_image(astronaut, coffee, net, TransferSettings(steps=STEPS, size=64))
    kept = stylize_image(astronaut, coffee, net, TransferSettings(steps=STEPS, size=64, preserve_colour="histogram"))

    def mean_chroma_gap(a: np.ndarray) -> float:
        return float(np.abs(rgb_to_ycbcr(a)[..., 1:].mean((0, 1)) - rgb_to_ycbcr(astronaut)[..., 1:].mean((0, 1))).sum())

    assert mean_chroma_gap(kept) < 0.5 * mean_chroma_gap(free)


@pytest.mark.parametrize("shape, message", [((1, 1, 3), "1x1 pixels"), ((8, 200, 3), "200x8 pixels"),
                                            ((32, 32, 2), "must be RGB")])
def test_bad_style_images_are_refused_in_one_line(net, astronaut: np.ndarray, shape: tuple[int, ...],
                                                  message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=message) as err:
        stylize_image(astronaut, np.zeros(shape, np.uint8), net, TransferSettings(steps=1, size=64))
    assert "\n" not in str(err.value)


def test_settings_are_checked() -> None:
    with pytest.raises(InvalidInput, match="preserve_colour"):
        TransferSettings(preserve_colour="sepia")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="size"):
        TransferSettings(size=4)

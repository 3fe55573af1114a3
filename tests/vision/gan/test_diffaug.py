from __future__ import annotations

import pytest
import torch

from reelforge.errors import InvalidInput
from reelforge.vision.gan.diffaug import DiffAugment, cutout, parse_policy, translation


def _images(digits: tuple, n: int = 16) -> torch.Tensor:
    x = torch.from_numpy(digits[0][:n]).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return x.contiguous()


def test_policy_parsing() -> None:
    assert parse_policy("cutout, color,translation") == ("color", "translation", "cutout")
    assert parse_policy("none") == ()
    assert parse_policy("") == ()
    assert not DiffAugment("none")
    with pytest.raises(InvalidInput, match="policy"):
        parse_policy("color,rotate")


def test_deterministic_given_generator(digits: tuple) -> None:
    x = _images(digits)
    aug = DiffAugment("color,translation,cutout")
    a = aug(x, torch.Generator().manual_seed(1))
    b = aug(x, torch.Generator().manual_seed(1))
    c = aug(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, x)


def test_differentiable(digits: tuple) -> None:
    x = _images(digits).requires_grad_(True)
    out = DiffAugment("color,translation,cutout")(x, torch.Generator().manual_seed(0))
    (out * torch.linspace(0, 1, out.numel()).reshape(out.shape)).sum().backward()
    assert x.grad is not None
    assert torch.isfinite(x.grad).all()
    assert float(x.grad.abs().sum()) > 0
    # gradcheck on a small double-precision input: the ops are smooth/linear in x for fixed randoms
    small = torch.randn(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t: DiffAugment("color,translation,cutout")(t, torch.Generator().manual_seed(5)), (small,)
    )


def test_translation_shifts_with_zero_padding() -> None:
    x = torch.ones(64, 1, 16, 16)
    out = translation(x, torch.Generator().manual_seed(0))
    shift_max = 2  # 1/8 of 16
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    zeros_per_image = (out == 0).flatten(1).sum(1)
    # a shift of (dy, dx) uncovers 16*|dy| + 16*|dx| - |dy*dx| pixels: at most 60 for |d| <= 2
    assert int(zeros_per_image.max()) <= 16 * shift_max * 2 - shift_max**2
    assert int(zeros_per_image.max()) > 0
    # content moves as a whole: an impulse lands at most 2 px away, exactly once
    imp = torch.zeros(64, 1, 16, 16)
    imp[:, :, 8, 8] = 1
    moved = translation(imp, torch.Generator().manual_seed(0))
    assert torch.equal(moved.flatten(1).sum(1), torch.ones(64))
    pos = moved.flatten(1).argmax(1)
    assert ((pos // 16 - 8).abs() <= shift_max).all() and ((pos % 16 - 8).abs() <= shift_max).all()


def test_cutout_masks_half_size_square() -> None:
    x = torch.ones(256, 3, 16, 16)
    out = cutout(x, torch.Generator().manual_seed(0))
    zeros = (out[:, 0] == 0).flatten(1).sum(1)
    assert int(zeros.max()) == 64  # an 8x8 square fully inside
    assert int(zeros.min()) > 0
    assert torch.equal(out[:, 0], out[:, 2])  # same mask on every channel


def test_color_keeps_grey_pixels_grey(digits: tuple) -> None:
    x = _images(digits)  # grey digits: R == G == B
    out = DiffAugment("color")(x, torch.Generator().manual_seed(0))
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])
    assert not torch.allclose(out, x)

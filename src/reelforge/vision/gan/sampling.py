"""Reproducible sampling from a trained generator: seeds, truncation, grids and latent walks.

Every image has its own seed: image ``i`` of ``sample(model, n, seed)`` is generated from
``latent_for_seed(seed + i, z_dim, truncation)`` and, for generators with noise inputs, the noise maps
of ``noise_for_seed(seed + i, ...)``. Recording (model, seed, index, truncation, conditioning) is
therefore enough to regenerate one image exactly, without regenerating its batch:
``sample(model, 1, seed + i, ...)`` returns the same pixels. A latent walk slerps the noise maps
along with the latent (as one vector), so frames change smoothly and every keyframe is its seed's
sample.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    from reelforge.vision.gan.io import GANModel
    from reelforge.vision.gan.models import GANConfig

_MAX_SEED = 2**63 - 1
_MIN_TRUNCATION = 0.01  # below this, rejection sampling of N(0, 1) gets needlessly slow


def latent_for_seed(seed: int, z_dim: int, truncation: float | None = None) -> torch.Tensor:
    """The latent (shape (z_dim,), float32) that `seed` maps to.

    z ~ N(0, I) from a CPU generator seeded with `seed`. With `truncation` t (the truncation trick),
    every coordinate with |z| > t is redrawn from the same generator until all lie within t, which
    trades diversity for fidelity; None disables it. Same seed, z_dim and t -> the same latent, on any
    machine and device.
    """
    _check_seed(seed)
    if z_dim < 1:
        raise InvalidInput(f"z_dim must be >= 1, got {z_dim}")
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(z_dim, generator=gen)
    if truncation is not None:
        _check_truncation(truncation)
        mask = z.abs() > truncation
        while bool(mask.any()):
            z[mask] = torch.randn(int(mask.sum()), generator=gen)
            mask = z.abs() > truncation
    return z


def noise_for_seed(seed: int, shapes: Sequence[tuple[int, int]]) -> list[torch.Tensor]:
    """The noise maps ((1, 1, h, w) each) image seed `seed` uses: from their own stream, not z's."""
    _check_seed(seed)
    from reelforge.training.seeds import sub_seed

    gen = torch.Generator().manual_seed(sub_seed(int(seed), "noise"))
    return [torch.randn(1, 1, h, w, generator=gen) for h, w in shapes]


def _noise_batch(g: nn.Module, seeds: Sequence[int]) -> list[torch.Tensor] | None:
    shapes = g.noise_shapes() if hasattr(g, "noise_shapes") else []
    if not shapes:
        return None
    per = [noise_for_seed(s, shapes) for s in seeds]
    return [torch.cat([p[k] for p in per]) for k in range(len(shapes))]


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= _MAX_SEED:
        raise InvalidInput(f"seed must be an integer in [0, 2**63), got {seed!r}")


def _check_truncation(truncation: float) -> None:
    if not (
        isinstance(truncation, int | float) and math.isfinite(truncation) and truncation >= _MIN_TRUNCATION
    ):
        raise InvalidInput(f"truncation must be None or a number >= {_MIN_TRUNCATION}, got {truncation!r}")


def _resolve(generator_or_model: Any) -> tuple[nn.Module, GANConfig]:
    from reelforge.vision.gan.models import Generator

    g = getattr(generator_or_model, "generator", generator_or_model)
    if not isinstance(g, Generator):
        raise InvalidInput("expected a GANModel or a gan Generator")
    return g, g.config


def _class_ids(config: GANConfig, n: int, class_ids: Any) -> torch.Tensor | None:
    if config.num_classes == 0:
        if class_ids is not None:
            raise InvalidInput("class_ids given but the model is not class-conditional")
        return None
    if class_ids is None:
        ids = np.arange(n) % config.num_classes  # default: cycle through the classes
    else:
        ids = np.asarray(class_ids)
        if ids.ndim == 0:
            ids = np.full(n, int(ids))
        if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer):
            raise InvalidInput(f"class_ids must be one integer or {n} integers")
    if ids.min() < 0 or ids.max() >= config.num_classes:
        raise InvalidInput(
            f"class ids must be in [0, {config.num_classes}), got {int(ids.min())}..{int(ids.max())}"
        )
    return torch.as_tensor(ids, dtype=torch.long)


def _text(config: GANConfig, n: int, text_embeddings: Any) -> torch.Tensor | None:
    if config.text_dim == 0:
        if text_embeddings is not None:
            raise InvalidInput("text_embeddings given but the model is not text-conditioned")
        return None
    if text_embeddings is None:
        raise InvalidInput("this model is text-conditioned: text_embeddings are required")
    t = torch.as_tensor(np.asarray(text_embeddings, dtype=np.float32))
    if t.ndim == 1:
        t = t[None, :].expand(n, -1)
    if t.shape != (n, config.text_dim):
        raise InvalidInput(
            f"text_embeddings must have shape ({config.text_dim},) or ({n}, {config.text_dim})"
        )
    if not bool(torch.isfinite(t).all()):
        raise InvalidInput("text_embeddings contain NaN or infinite values")
    return t


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Generator output in [-1, 1] (B, C, H, W) -> uint8 (B, H, W, 3): a grey model's channel is repeated,
    so every sample is an RGB image whatever the model was trained on."""
    x = ((images.detach().float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x.permute(0, 2, 3, 1).contiguous().cpu().numpy()


@torch.no_grad()
def _generate(
    g: nn.Module,
    z: torch.Tensor,
    y: torch.Tensor | None,
    t: torch.Tensor | None,
    batch: int,
    noise: list[torch.Tensor] | None = None,
) -> np.ndarray:
    """Run G in eval mode (batch-norm running stats, so each image is independent of its batch).

    `noise`: per-image noise maps (each (n, 1, h, w)) for generators with noise inputs."""
    device = next(g.parameters()).device
    was_training = g.training
    g.eval()
    try:
        out = []
        for i in range(0, z.shape[0], batch):
            zb = z[i : i + batch].to(device)
            yb = None if y is None else y[i : i + batch].to(device)
            tb = None if t is None else t[i : i + batch].to(device)
            nb = None if noise is None else [m[i : i + batch].to(device) for m in noise]
            out.append(to_uint8(g(zb, yb, tb, nb)))
        return np.concatenate(out, axis=0)
    finally:
        g.train(was_training)


def sample(
    generator_or_model: GANModel | nn.Module,
    n: int,
    seed: int,
    truncation: float | None = 1.0,
    class_ids: int | Sequence[int] | np.ndarray | None = None,
    text_embeddings: np.ndarray | torch.Tensor | None = None,
    batch: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """n RGB images (uint8, (n, H, W, 3)) and their latents (float32, (n, z_dim)).

    Image i uses latent_for_seed(seed + i, z_dim, truncation). A class-conditional model without
    `class_ids` cycles through the classes (image i gets class i % num_classes); a text-conditioned
    model needs `text_embeddings` of shape (text_dim,) (shared) or (n, text_dim).
    """
    g, config = _resolve(generator_or_model)
    if n < 1:
        raise InvalidInput(f"number of samples must be >= 1, got {n}")
    if batch < 1:
        raise InvalidInput(f"batch must be >= 1, got {batch}")
    _check_seed(seed)
    if int(seed) + n - 1 > _MAX_SEED:
        raise InvalidInput("seed + n exceeds the seed range")
    z = torch.stack([latent_for_seed(int(seed) + i, config.z_dim, truncation) for i in range(n)])
    noise = _noise_batch(g, [int(seed) + i for i in range(n)])
    images = _generate(g, z, _class_ids(config, n, class_ids), _text(config, n, text_embeddings), batch, noise)
    return images, z.numpy()


def image_grid(
    images: np.ndarray, ncols: int | None = None, padding: int = 2, pad_value: int = 0
) -> Image.Image:
    """Tile uint8 (N, H, W, C) images into one RGB PIL image, row by row."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0 or images.dtype != np.uint8 or images.shape[3] not in (1, 3):
        raise InvalidInput("image_grid expects a non-empty uint8 array of shape (N, H, W, 1|3)")
    if images.shape[3] == 1:
        images = np.repeat(images, 3, axis=3)
    n, h, w, _ = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.full((nrows * (h + padding) + padding, ncols * (w + padding) + padding, 3), pad_value, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, ncols)
        y, x = padding + r * (h + padding), padding + c * (w + padding)
        grid[y : y + h, x : x + w] = img
    return Image.fromarray(grid)


def slerp(z0: Any, z1: Any, t: float) -> Any:
    """Spherical interpolation between latents (along the last axis); numpy in -> numpy out.

    Gaussian latents live near a sphere; a straight line between two of them dips through the
    low-density centre, slerp stays on the shell, so frames of a walk keep a steady look.
    """
    as_numpy = isinstance(z0, np.ndarray)
    a = torch.as_tensor(np.asarray(z0) if as_numpy else z0, dtype=torch.float64)
    b = torch.as_tensor(np.asarray(z1) if isinstance(z1, np.ndarray) else z1, dtype=torch.float64)
    if a.shape != b.shape:
        raise InvalidInput(f"slerp: latents differ in shape {tuple(a.shape)} vs {tuple(b.shape)}")
    na = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    nb = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    omega = torch.arccos((na * nb).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0))
    so = torch.sin(omega)
    lerp = (1.0 - t) * a + t * b
    safe = so.abs() > 1e-6  # nearly parallel: slerp degenerates to lerp
    so_safe = torch.where(safe, so, torch.ones_like(so))
    sl = (torch.sin((1.0 - t) * omega) / so_safe) * a + (torch.sin(t * omega) / so_safe) * b
    out = torch.where(safe, sl, lerp).to(torch.float32)
    if as_numpy:
        return out.numpy()
    return out.to(z0.device) if isinstance(z0, torch.Tensor) else out


def latent_walk(
    model: GANModel | nn.Module,
    seeds: Sequence[int],
    frames_per_segment: int,
    truncation: float | None = 1.0,
    loop: bool = True,
    class_id: int | None = None,
    text_embedding: np.ndarray | torch.Tensor | None = None,
    batch: int = 16,
) -> Iterator[np.ndarray]:
    """Frames (uint8 (H, W, C)) slerping through the latents of `seeds` in order, for a video.

    Each segment between consecutive keyframes has `frames_per_segment` frames, starting at the first
    keyframe and stopping just before the next, so segments join without a repeated frame. With
    loop=True a last segment returns to the first seed (a seamless loop); otherwise the final
    keyframe closes the walk. Frames are generated lazily, `batch` at a time.
    """
    g, config = _resolve(model)
    seeds = list(seeds)
    if len(seeds) < 2:
        raise InvalidInput("a latent walk needs at least two seeds")
    if frames_per_segment < 1:
        raise InvalidInput(f"frames_per_segment must be >= 1, got {frames_per_segment}")
    if batch < 1:
        raise InvalidInput(f"batch must be >= 1, got {batch}")
    # Each keyframe is its seed's latent and noise maps (so it is exactly sample(model, 1, seed));
    # the noise, flattened to one vector, is slerped along with the latent.
    shapes = g.noise_shapes() if hasattr(g, "noise_shapes") else []
    sizes = [h * w for h, w in shapes]
    keys = [
        torch.cat([latent_for_seed(int(s), config.z_dim, truncation)]
                  + [m.flatten() for m in noise_for_seed(int(s), shapes)])
        for s in seeds
    ]
    pairs = list(itertools.pairwise(keys))
    if loop:
        pairs.append((keys[-1], keys[0]))
    y = _class_ids(config, 1, class_id)
    t_emb = _text(config, 1, text_embedding)

    def points() -> Iterator[torch.Tensor]:
        for a, b in pairs:
            za, zb, na, nb = a[: config.z_dim], b[: config.z_dim], a[config.z_dim :], b[config.z_dim :]
            for k in range(frames_per_segment):
                t = k / frames_per_segment
                yield torch.cat([slerp(za, zb, t), slerp(na, nb, t) if sizes else na])
        if not loop:
            yield keys[-1]

    chunk: list[torch.Tensor] = []
    for point in points():
        chunk.append(point)
        if len(chunk) == batch:
            yield from _walk_chunk(g, chunk, y, t_emb, batch, config.z_dim, shapes)
            chunk = []
    if chunk:
        yield from _walk_chunk(g, chunk, y, t_emb, batch, config.z_dim, shapes)


def _walk_chunk(
    g: nn.Module,
    chunk: list[torch.Tensor],
    y: torch.Tensor | None,
    t: torch.Tensor | None,
    batch: int,
    z_dim: int,
    shapes: Sequence[tuple[int, int]],
) -> Iterator[np.ndarray]:
    points = torch.stack(chunk)
    z = points[:, :z_dim].contiguous()
    n = z.shape[0]
    yb = None if y is None else y.expand(n)
    tb = None if t is None else t.expand(n, -1)
    noise = None
    if shapes:
        noise, at = [], z_dim
        for h, w in shapes:
            noise.append(points[:, at : at + h * w].reshape(n, 1, h, w).contiguous())
            at += h * w
    yield from _generate(g, z, yb, tb, batch, noise)

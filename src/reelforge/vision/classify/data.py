"""Image batch conventions shared by the classifier and the metrics.

Two input forms are accepted everywhere in ``vision.classify`` and ``vision.metrics``:

* ``numpy.ndarray`` of dtype ``uint8``, shape ``(N, H, W, C)`` with ``C`` in {1, 3} (or ``(N, H, W)``
  for grayscale), values 0..255: what ``media/`` decodes and what datasets store.
* ``torch.Tensor`` of a floating dtype, shape ``(N, C, H, W)``, values in ``[-1, 1]``: what a
  generator outputs, so GAN samples can be scored without a round trip through uint8.

Everything is converted to float32 ``(N, C, H, W)`` in ``[-1, 1]`` on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from reelforge.errors import InvalidInput

ImageBatch = np.ndarray | torch.Tensor

_LUMA = (0.299, 0.587, 0.114)


def batch_size_of(images: ImageBatch) -> int:
    """Number of images in a batch (validates the container type only)."""
    if isinstance(images, np.ndarray | torch.Tensor):
        if images.ndim < 3:
            raise InvalidInput(f"expected a batch of images, got an array of shape {tuple(images.shape)}")
        return int(images.shape[0])
    raise InvalidInput(
        f"images must be a uint8 numpy array or a float torch tensor, got {type(images).__name__}"
    )


def image_hw(images: ImageBatch) -> tuple[int, int]:
    """(H, W) of a batch in either convention."""
    batch_size_of(images)
    if isinstance(images, torch.Tensor):
        return int(images.shape[-2]), int(images.shape[-1])
    return int(images.shape[1]), int(images.shape[2])


def to_float_nchw(
    images: ImageBatch,
    *,
    channels: int | None = None,
    size: int | tuple[int, int] | None = None,
    antialias: bool = True,
) -> torch.Tensor:
    """Convert a batch to float32 (N, C, H, W) in [-1, 1], optionally fixing channels and size.

    ``channels=3`` repeats a gray channel; ``channels=1`` takes luma of RGB. ``size`` resizes with
    bilinear interpolation (``antialias`` on by default so downscaling does not alias).
    """
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8:
            raise InvalidInput(f"numpy images must be uint8 (N,H,W,C), got dtype {images.dtype}")
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise InvalidInput(f"numpy images must have shape (N,H,W,1|3), got {images.shape}")
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    elif isinstance(images, torch.Tensor):
        if not images.is_floating_point():
            raise InvalidInput(f"torch images must be a float tensor (N,C,H,W) in [-1,1], got {images.dtype}")
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise InvalidInput(f"torch images must have shape (N,1|3,H,W), got {tuple(images.shape)}")
        x = images.detach().to("cpu", torch.float32)
        if not torch.isfinite(x).all():
            raise InvalidInput("images contain NaN or infinite values")
        x = x.clamp(-1.0, 1.0)
    else:
        raise InvalidInput(
            f"images must be a uint8 numpy array or a float torch tensor, got {type(images).__name__}"
        )
    if x.shape[0] == 0:
        raise InvalidInput("image batch is empty")
    if channels is not None and x.shape[1] != channels:
        if channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif channels == 1 and x.shape[1] == 3:
            w = torch.tensor(_LUMA, dtype=x.dtype).view(1, 3, 1, 1)
            x = (x * w).sum(dim=1, keepdim=True)
        else:
            raise InvalidInput(f"cannot convert {x.shape[1]}-channel images to {channels} channels")
    if size is not None:
        hw = (size, size) if isinstance(size, int) else tuple(size)
        if tuple(x.shape[-2:]) != hw:
            x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=antialias)
    return x.contiguous()


def to_uint8_nchw(images: ImageBatch, *, channels: int, size: int, chunk: int = 512) -> torch.Tensor:
    """Convert a batch to uint8 (N, C, size, size): a compact in-memory training set."""
    n = batch_size_of(images)
    out = torch.empty((n, channels, size, size), dtype=torch.uint8)
    for start in range(0, n, chunk):
        x = to_float_nchw(images[start : start + chunk], channels=channels, size=size)
        out[start : start + x.shape[0]] = x.add(1.0).mul(127.5).round_().clamp_(0, 255).to(torch.uint8)
    return out


def validate_labels(labels: np.ndarray | list[int] | torch.Tensor, n: int, num_classes: int) -> np.ndarray:
    """Labels as an int64 vector of length n with values in [0, num_classes)."""
    arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InvalidInput(f"expected {n} labels (one per image), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise InvalidInput("labels must be integer class indices")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
        raise InvalidInput(f"labels must be in [0, {num_classes}), got range [{arr.min()}, {arr.max()}]")
    return arr


@dataclass
class Augment:
    """Training-time augmentation: random horizontal flip and random crop after reflect padding."""

    hflip: bool = True
    crop_pad: int = 4

    def to_dict(self) -> dict[str, object]:
        return {"hflip": self.hflip, "crop_pad": self.crop_pad}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Augment:
        return cls(hflip=bool(d.get("hflip", True)), crop_pad=int(str(d.get("crop_pad", 4))))


def augment_batch(x: torch.Tensor, aug: Augment, rng: np.random.Generator) -> torch.Tensor:
    """Apply flips/crops drawn from ``rng`` (so a resumed run draws the same ones)."""
    n, _, h, w = x.shape
    if aug.hflip:
        flip = torch.from_numpy(rng.random(n) < 0.5)
        if flip.any():
            x = x.clone()
            x[flip] = x[flip].flip(-1)
    p = int(aug.crop_pad)
    if p > 0:
        mode = "reflect" if p < min(h, w) else "replicate"
        padded = F.pad(x, (p, p, p, p), mode=mode)
        oy = rng.integers(0, 2 * p + 1, size=n)
        ox = rng.integers(0, 2 * p + 1, size=n)
        ys = torch.from_numpy(oy)[:, None] + torch.arange(h)[None, :]  # (n, h)
        xs = torch.from_numpy(ox)[:, None] + torch.arange(w)[None, :]  # (n, w)
        b = torch.arange(n)[:, None, None]
        # (n, h, w, C) gather, then back to channels-first.
        x = padded.permute(0, 2, 3, 1)[b, ys[:, :, None], xs[:, None, :]].permute(0, 3, 1, 2).contiguous()
    return x


def square_images(images: list[np.ndarray] | np.ndarray, size: int) -> np.ndarray:
    """Decoded images of any sizes as one uint8 (N, size, size, C) batch: the centre square of each,
    resized with Lanczos. Training, tagging and similarity search all prepare images this way, so a
    model sees assets as it saw its training set. Grey (H, W) images become (H, W, 1)."""
    from PIL import Image

    if size < 1:
        raise InvalidInput(f"size must be positive, got {size}")
    if len(images) == 0:
        raise InvalidInput("no images to prepare")
    out = []
    channels = None
    for img in images:
        a = np.asarray(img)
        if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (1, 3)):
            raise InvalidInput(f"images must be uint8 (H,W), (H,W,1) or (H,W,3), got {a.dtype} {a.shape}")
        a = a[..., None] if a.ndim == 2 else a
        if channels is None:
            channels = a.shape[-1]
        elif a.shape[-1] != channels:
            raise InvalidInput("images mix grey and colour: convert them to one mode first")
        h, w = a.shape[:2]
        s = min(h, w)
        y, x = (h - s) // 2, (w - s) // 2
        crop = a[y : y + s, x : x + s]
        if s != size:
            im = Image.fromarray(crop[..., 0] if channels == 1 else crop)
            crop = np.asarray(im.resize((size, size), Image.Resampling.LANCZOS)).reshape(size, size, channels)
        out.append(crop)
    return np.stack(out)

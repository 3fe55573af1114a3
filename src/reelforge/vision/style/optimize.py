"""Optimisation-based style transfer (Gatys et al. 2016): the output's pixels are optimised so its
features match the content image's and its Gram matrices match the style image's.

Losses are normalised by their targets (content: by the mean square of the content features; style:
by the squared norm of each style Gram matrix), so the weights mean the same thing for the random
feature network and for VGG-19, at any image size.

Colour preservation (Gatys et al. 2017, "Controlling perceptual factors"):
- ``luminance``: the transfer runs on luminance only (the style's luminance matched to the
  content's mean and spread), and the result takes the content's chroma (YCbCr): the content's
  colours are kept exactly.
- ``histogram``: the style image's colours are first mapped onto the content's (mean and
  covariance of RGB), then the transfer runs as usual.

The temporal term (Ruder et al. 2016) is for video: ``temporal=(target, mask)`` pulls the output
towards the previous stylised frame warped onto this one, on the pixels the mask marks consistent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

from reelforge.errors import Cancelled, InvalidInput
from reelforge.vision.style.features import FeatureNet

__all__ = [
    "MIN_SIDE",
    "ColourMode",
    "StyleObjective",
    "TransferSettings",
    "check_image",
    "fit_size",
    "gram",
    "gram_distance",
    "make_objective",
    "match_colour",
    "restore_colour",
    "rgb_to_ycbcr",
    "stylize_image",
    "ycbcr_to_rgb",
]

ColourMode = Literal["none", "luminance", "histogram"]
ProgressFn = Callable[[float, float, str], None]
StopFn = Callable[[], bool]
MIN_SIDE = 16  # smaller images carry no texture for a style and no room for the networks' pooling


@dataclass
class TransferSettings:
    """Everything that shapes one optimisation; recorded with the output."""

    steps: int = 200
    size: int = 512  # long side of the output in pixels
    style_weight: float = 10.0
    content_weight: float = 1.0
    tv_weight: float = 0.5
    lr: float = 0.02
    preserve_colour: ColourMode = "none"
    style_scale: float = 1.0  # style image long side relative to the output's

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise InvalidInput(f"steps must be >= 0, got {self.steps}")
        if not MIN_SIDE <= self.size <= 8192:
            raise InvalidInput(f"size must be in [{MIN_SIDE}, 8192], got {self.size}")
        if min(self.style_weight, self.content_weight, self.tv_weight) < 0 or self.lr <= 0:
            raise InvalidInput("weights must be >= 0 and lr > 0")
        if self.preserve_colour not in ("none", "luminance", "histogram"):
            raise InvalidInput(f"preserve_colour must be none, luminance or histogram, got {self.preserve_colour!r}")
        if not 0.1 <= self.style_scale <= 4:
            raise InvalidInput(f"style_scale must be in [0.1, 4], got {self.style_scale}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- images ------------------------------------------------------------------------------------------
def check_image(image: np.ndarray, what: str, min_side: int = MIN_SIDE) -> np.ndarray:
    """An RGB uint8 ``(H, W, 3)`` array, or a one-line InvalidInput naming ``what`` is wrong."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InvalidInput(f"the {what} image must be RGB (H, W, 3), got shape {arr.shape}")
    arr = arr[..., :3]
    h, w = arr.shape[:2]
    if min(h, w) < min_side:
        raise InvalidInput(f"the {what} image is {w}x{h} pixels: style transfer needs at least "
                           f"{min_side}x{min_side}")
    if arr.dtype != np.uint8:
        raise InvalidInput(f"the {what} image must be 8-bit, got {arr.dtype}")
    return np.ascontiguousarray(arr)


def fit_size(image: np.ndarray, size: int, *, even: bool = False) -> np.ndarray:
    """Resize so the long side is ``size`` (Lanczos); ``even``: both sides even (H.264 wants it)."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if even:
        nh, nw = max(2, nh - nh % 2), max(2, nw - nw % 2)
    if (nh, nw) == (h, w):
        return image
    return np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.LANCZOS))


def to_tensor(image: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 ``(H, W, 3)`` (or float 0..1) to float ``(1, 3, H, W)`` in 0..1."""
    arr = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None].to(device)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float ``(1, 3, H, W)`` or ``(3, H, W)`` in 0..1 to uint8 ``(H, W, 3)``."""
    t = x.detach().float().clamp(0, 1)
    if t.ndim == 4:
        t = t[0]
    return np.rint(t.permute(1, 2, 0).cpu().numpy() * 255.0).astype(np.uint8)


# -- colour ------------------------------------------------------------------------------------------
_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
_YCC_INV = np.linalg.inv(_YCC).astype(np.float32)


def rgb_to_ycbcr(image: np.ndarray) -> np.ndarray:
    """float ``(H, W, 3)`` Y, Cb, Cr (BT.601, full range; Cb/Cr centred on 0) in units of 0..1."""
    rgb = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    return rgb @ _YCC.T


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`, as uint8 RGB."""
    return np.clip(np.rint((ycc @ _YCC_INV.T) * 255.0), 0, 255).astype(np.uint8)


def _grey3(y: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.repeat(y[..., None], 3, axis=2) * 255.0), 0, 255).astype(np.uint8)


def match_colour(source: np.ndarray, reference: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """``source`` with its RGB mean and covariance mapped onto ``reference``'s (uint8 in and out).

    The symmetric (PCA) square-root transform, which keeps the colour axes from rotating.
    """
    s = source.reshape(-1, 3).astype(np.float64) / 255.0
    r = reference.reshape(-1, 3).astype(np.float64) / 255.0
    mu_s, mu_r = s.mean(0), r.mean(0)
    cs = np.cov((s - mu_s).T) + eps * np.eye(3)
    cr = np.cov((r - mu_r).T) + eps * np.eye(3)

    def sqrtm(c: np.ndarray, power: float) -> np.ndarray:
        vals, vecs = np.linalg.eigh(c)
        return (vecs * np.clip(vals, eps, None) ** power) @ vecs.T

    a = sqrtm(cr, 0.5) @ sqrtm(cs, -0.5)
    out = (s - mu_s) @ a.T + mu_r
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8).reshape(source.shape)


# -- losses ------------------------------------------------------------------------------------------
def gram(feat: torch.Tensor) -> torch.Tensor:
    """Gram matrix ``(N, C, C)`` of ``(N, C, H, W)`` features, divided by ``H * W`` (size-independent)."""
    n, c, h, w = feat.shape
    f = feat.reshape(n, c, h * w).float()
    return f @ f.transpose(1, 2) / float(h * w)


def gram_distance(net: FeatureNet, a: np.ndarray, b: np.ndarray, device: str | torch.device = "cpu") -> float:
    """Mean over style layers of ``|G(a) - G(b)|^2 / |G(b)|^2``: how far ``a``'s textures are from ``b``'s."""
    with torch.no_grad():
        fa, fb = net(to_tensor(a, device)), net(to_tensor(b, device))
        out = [((gram(fa[k]) - gram(fb[k])) ** 2).sum() / (gram(fb[k]) ** 2).sum().clamp_min(1e-12)
               for k in net.style_layers]
    return float(torch.stack(out).mean())


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Total variation (mean absolute neighbour difference): keeps high-frequency noise away."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


class StyleObjective:
    """The style half of the loss, computed once per style image and reused for every frame."""

    def __init__(self, net: FeatureNet, style: np.ndarray | list[np.ndarray], *, device: str | torch.device = "cpu",
                 size: int | None = None) -> None:
        self.net, self.device = net, device
        styles = style if isinstance(style, list) else [style]
        grams: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for s in styles:
                img = fit_size(s, size) if size else s
                feats = net(to_tensor(img, device))
                for k in net.style_layers:
                    grams[k] = grams.get(k, 0) + gram(feats[k]) / len(styles)  # type: ignore[operator]
        self.grams = grams
        self.norms = {k: (g**2).sum().clamp_min(1e-12) for k, g in grams.items()}

    def style_loss(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        terms = [((gram(feats[k]) - self.grams[k]) ** 2).sum(dim=(1, 2)) / self.norms[k] for k in self.net.style_layers]
        return torch.stack(terms).mean(0).mean()

    def content_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            feats = self.net(content)
        return {k: feats[k].detach() for k in self.net.content_layers}

    def content_loss(self, feats: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        terms = [((feats[k].float() - t.float()) ** 2).mean(dim=(1, 2, 3)) /
                 (t.float() ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-12) for k, t in targets.items()]
        return torch.stack(terms).mean(0).mean()


def _prepare(content: np.ndarray, style: np.ndarray, mode: ColourMode) -> tuple[np.ndarray, np.ndarray]:
    """The content and style images the optimisation sees for a colour mode."""
    if mode == "histogram":
        return content, match_colour(style, content)
    if mode == "luminance":
        yc, ys = rgb_to_ycbcr(content)[..., 0], rgb_to_ycbcr(style)[..., 0]
        ys = (ys - ys.mean()) / max(float(ys.std()), 1e-6) * float(yc.std()) + float(yc.mean())
        return _grey3(yc), _grey3(ys)
    return content, style


def restore_colour(output: np.ndarray, content: np.ndarray, mode: ColourMode) -> np.ndarray:
    """Luminance mode: the output's luminance with the content's chroma; other modes: unchanged."""
    if mode != "luminance":
        return output
    ycc = rgb_to_ycbcr(content)
    ycc[..., 0] = rgb_to_ycbcr(output)[..., 0]
    return ycbcr_to_rgb(ycc)


def make_objective(net: FeatureNet, style: np.ndarray, reference: np.ndarray, settings: TransferSettings,
                   device: str | torch.device = "cpu") -> StyleObjective:
    """The style objective for outputs shaped like ``reference`` (a content image or a video's first
    frame), with the colour mode applied to the style as :func:`stylize_image` would."""
    style, reference = check_image(style, "style"), check_image(reference, "content")
    _, seen_style = _prepare(reference, style, settings.preserve_colour)
    size = max(MIN_SIDE, round(max(reference.shape[:2]) * settings.style_scale))
    return StyleObjective(net, seen_style, device=device, size=size)


def stylize_image(
    content: np.ndarray,
    style: np.ndarray | None,
    net: FeatureNet,
    settings: TransferSettings | None = None,
    *,
    objective: StyleObjective | None = None,
    init: np.ndarray | None = None,
    temporal: tuple[np.ndarray, np.ndarray] | None = None,
    temporal_weight: float = 0.0,
    steps: int | None = None,
    device: str | torch.device = "cpu",
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    history: list[dict[str, float]] | None = None,
) -> np.ndarray:
    """Stylise ``content`` (uint8 RGB) toward ``style``; returns uint8 RGB at the content's size.

    The content is used at its own size (resize it with :func:`fit_size` first). ``objective``:
    a :class:`StyleObjective` built once (video frames), else one is built from ``style``.
    ``init``: the start image (default: the content). ``temporal``: ``(target, mask)``, the
    previous output warped onto this frame and the boolean mask of pixels where that warp is valid.
    ``history`` receives ``{"step", "loss", "style", "content"}`` every 10 steps and at the end.
    """
    s = settings or TransferSettings()
    content = check_image(content, "content")
    mode = s.preserve_colour
    if objective is None:
        if style is None:
            raise InvalidInput("stylize_image needs a style image or a StyleObjective")
        objective = make_objective(net, style, content, s, device)
    seen_content = _prepare(content, content, mode)[0]
    dev = torch.device(device)
    c = to_tensor(seen_content, dev)
    targets = objective.content_targets(c)
    start = c if init is None else to_tensor(_prepare(init, init, mode)[0] if mode == "luminance" else init, dev)
    x = start.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=s.lr)
    t_target = t_mask = None
    if temporal is not None and temporal_weight > 0:
        warped, mask = temporal
        if mode == "luminance":
            warped = _prepare(warped, warped, mode)[0]
        t_target = to_tensor(warped, dev)
        t_mask = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None].to(dev)
    total = s.steps if steps is None else steps
    autocast = dev.type == "cuda"
    for step in range(total):
        if should_stop is not None and should_stop():
            raise Cancelled(f"style transfer cancelled at step {step}/{total}")
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            feats = objective.net(x)
            ls = objective.style_loss(feats)
            lc = objective.content_loss(feats, targets)
        loss = s.style_weight * ls + s.content_weight * lc + s.tv_weight * tv_loss(x)
        if t_target is not None and t_mask is not None:
            diff = ((x - t_target) ** 2).mean(1, keepdim=True) * t_mask
            loss = loss + temporal_weight * diff.sum() / t_mask.sum().clamp_min(1.0)
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        done = step + 1
        if history is not None and (done % 10 == 0 or done == total or step == 0):
            history.append({"step": done, "loss": float(loss.detach()), "style": float(ls.detach()),
                            "content": float(lc.detach())})
        if progress is not None:
            progress(done, total, f"step {done}/{total} style {float(ls.detach()):.4f}")
    return restore_colour(to_uint8(x), content, mode)

"""Health checks for generated images: statistics a collapsed or artifacted generator cannot fake.

Each check compares one statistic of the samples with the same statistic of real images the model
was not trained on (``heldout``), as a ratio, and passes inside a fixed range. The training images
serve only to look for copies (memorisation), as the second real set of the SWD floor, and to
steady the real rate of the position-lock check (a rate of rare coincidences).

Why these: a GAN can reach a low loss and a middling SWD while emitting near-identical images, a
lattice of blobs locked to fixed positions, checkerboard texture from transposed convolutions,
washed-out colour, or copies of its training set. Each of those moves one of the statistics below
far from the real images' value, whatever the dataset looks like, because the reference is the
real data itself.

All work is numpy plus a little torch (resizing, SWD); 512 samples take a few seconds on one CPU
core, and results are deterministic for a seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from reelforge.errors import InvalidInput

__all__ = [
    "CHECKS",
    "HealthCheck",
    "HealthReport",
    "collapse_detected",
    "health_report",
]

CHECKS: tuple[str, ...] = (
    "diversity",
    "near_duplicates",
    "finest_frequency_power",
    "spectral_spikes",
    "position_lock",
    "colour_mean",
    "saturation",
    "swd",
    "memorisation",
)

# -- thresholds ----------------------------------------------------------------------------------
# Diversity: the pass band. Below 0.7 samples are visibly alike (the broken demo: 0.41);
# above 1.4 they are further apart than real images are, i.e. noise or unrelated content.
DIVERSITY_RANGE = (0.7, 1.4)
# Near-duplicates: a sample is a near-duplicate when the nearest other sample is closer than half
# the median nearest-neighbour distance of the real images (compared in groups as large as the real
# set, so density does not depend on how many samples were drawn). Real images almost never are;
# a fifth of the samples is already a visible repeat in any contact sheet.
NEAR_DUP_FACTOR = 0.5
NEAR_DUP_MAX = 0.2
# Finest frequencies: spectral power above 3/4 of Nyquist, and its share of all the power (the
# worse of the two ratios). Twice the real images' is a visible grain; the broken demo's
# transposed-convolution checkerboard measured 11x, an untrained one 7x (share).
FINEST_BAND = 0.375  # cycles per pixel (Nyquist is 0.5)
FINEST_MAX = 2.0
# Spectral spikes: the strongest peak of the mean power spectrum above its ring's median. Real
# images give a smooth, nearly isotropic spectrum; a checkerboard or a fixed lattice puts a narrow
# peak many times the ring's level. Three times the real set's peak leaves room for the noise of a
# small real set (its own peak estimate is the max over thousands of noisy frequencies).
SPIKE_MAX = 3.0
SPIKE_MIN_RADIUS = 2  # frequency bins: below this the "ring" is the image's overall layout
SPIKE_RING_PIXELS = 16  # rings are merged outwards until each holds this many frequencies
# Position lock: how often two samples put their brightest spot (at 16 px) in the same cell,
# against how often two real images do (floored at the uniform 1/256: nothing is more spread out).
# The broken demo put 87.5% of samples on 9 positions: a collision rate of at least 0.875²/9, 22x
# the uniform one. Real crops of a stationary field sit at the uniform rate; three times the real
# rate leaves room for the noise of a rate estimated from a hundred real images.
POSITION_GRID = 16
POSITION_MAX = 3.0
# Colour: each channel's mean may drift by a quarter to a third of the real mean before a contact
# sheet shows a cast or a change of exposure; the saturation of the bright pixels a little more,
# since a viewer reads it less precisely than a cast.
COLOUR_RANGE = (0.75, 1.33)
COLOUR_EPS = 0.01  # added to both means: a channel whose mean is under 2.5/255 is black either way
SATURATION_RANGE = (0.67, 1.5)
# Added to both sides: chroma under a tenth of the value reads as grey, so grey real data
# (saturation 0) gives a finite ratio and an invisible tint of its samples does not fail.
SATURATION_EPS = 0.1
# SWD: the bound, against the distance between two real sets of the same sizes.
SWD_MAX = 2.0
# Memorisation: samples whose nearest training image is less than half as far as a held-out real
# image's nearest training image are copies, not new images.
MEMORISATION_MIN = 0.5
# collapse_detected: failing "badly", not just outside the pass band, so that training stops only
# on unmistakable collapse (the broken demo: diversity 0.41, 99% near-duplicates).
COLLAPSE_DIVERSITY = 0.5
COLLAPSE_NEAR_DUP = 0.5

_DIVERSITY_SIDE = 16
_MEMO_SIDE = 32
# SWD with fewer projections than the metric's default: the two sets' sampling noise dominates the
# ratio long before the projection noise does, and this keeps the whole report to seconds.
_SWD_PARAMS = {"n_descriptors": 64, "n_projections": 128, "n_repeats": 2}
_MAX_PAIRWISE = 1024  # samples kept for pairwise statistics (a seeded subset beyond this)


@dataclass
class HealthCheck:
    name: str
    value: float  # ratio against the same statistic on held-out real images (a rate for near_duplicates)
    low: float | None  # pass range; None: unbounded on that side
    high: float | None
    passed: bool
    detail: str  # one line

    def range_text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g}–{self.high:g}"
        if self.high is not None:
            return f"≤ {self.high:g}"
        if self.low is not None:
            return f"≥ {self.low:g}"
        return "any"

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name} {self.value:.3g} ({self.range_text()}) {self.detail}"


@dataclass
class HealthReport:
    checks: list[HealthCheck]
    info: dict[str, Any] = field(default_factory=dict)  # set sizes, resolution, seed

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    def __getitem__(self, name: str) -> HealthCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "collapse": collapse_detected(self),
            "failed": self.failed,
            "checks": [asdict(c) for c in self.checks],
            "info": dict(self.info),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HealthReport:
        return cls(checks=[HealthCheck(**c) for c in d["checks"]], info=dict(d.get("info", {})))

    def lines(self) -> list[str]:
        return [c.line() for c in self.checks]

    def scalars(self) -> dict[str, float]:
        """``health_<check>`` values, for metric logs."""
        return {f"health_{c.name}": float(c.value) for c in self.checks}


def collapse_detected(report: HealthReport) -> bool:
    """Diversity far below the real set's or most samples near-duplicates: stop training.

    A freshly initialised generator looks collapsed too (near-constant output): ask only after a
    warm-up of some hundreds of steps."""
    names = {c.name: c for c in report.checks}
    div, dup = names.get("diversity"), names.get("near_duplicates")
    return bool(
        (div is not None and div.value < COLLAPSE_DIVERSITY)
        or (dup is not None and dup.value > COLLAPSE_NEAR_DUP)
    )


# -- inputs --------------------------------------------------------------------------------------
ImageSet = np.ndarray | torch.Tensor | Sequence[np.ndarray]


def _as_float(images: ImageSet, name: str) -> np.ndarray:
    """(N, H, W, 3) float32 in [0, 1] from uint8 or float images (grey is repeated to RGB)."""
    if isinstance(images, torch.Tensor):
        arr = images.detach().cpu().numpy()
    elif isinstance(images, np.ndarray):
        arr = images
    else:
        items = [np.asarray(a) for a in images]
        if not items:
            raise InvalidInput(f"health checks: the {name} set is empty")
        if len({a.shape for a in items}) != 1:
            raise InvalidInput(f"health checks: the {name} images differ in size; resize them first")
        arr = np.stack(items)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3):
        raise InvalidInput(f"health checks: {name} must be (N, H, W, 3) images, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32)
        if not np.isfinite(out).all():
            raise InvalidInput(f"health checks: {name} contains NaN or infinite values")
        if out.size and (out.min() < -0.01 or out.max() > 1.01):
            raise InvalidInput(
                f"health checks: float {name} must be in [0, 1], got {out.min():.3g}..{out.max():.3g} "
                "(a generator's [-1, 1] output needs (x + 1) / 2)"
            )
        out = np.clip(out, 0.0, 1.0)
    else:
        raise InvalidInput(f"health checks: {name} must be uint8 or float in [0, 1], got {arr.dtype}")
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return np.ascontiguousarray(out)


def _resize(x: np.ndarray, side: int) -> np.ndarray:
    """(N, H, W, C) float -> (N, side, side, C), antialiased (area-like) when shrinking."""
    if x.shape[1] == side and x.shape[2] == side:
        return x
    t = torch.from_numpy(x).permute(0, 3, 1, 2)
    shrink = side < min(x.shape[1], x.shape[2])
    t = F.interpolate(t, size=(side, side), mode="bilinear", antialias=shrink, align_corners=False)
    return np.ascontiguousarray(t.permute(0, 2, 3, 1).numpy())


def _nchw(x: np.ndarray) -> torch.Tensor:
    """The metrics' convention: float (N, C, H, W) in [-1, 1]."""
    return torch.from_numpy(x).permute(0, 3, 1, 2) * 2.0 - 1.0


def _subset(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(x) <= n:
        return x
    return x[np.sort(rng.choice(len(x), n, replace=False))]


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.float64)


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between rows (float64, clipped at 0)."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def _mean_pairwise(f: np.ndarray) -> float:
    d = np.sqrt(_sq_dists(f, f))
    n = len(f)
    return float(d.sum() / max(1, n * (n - 1)))


def _nn_within(f: np.ndarray) -> np.ndarray:
    d = _sq_dists(f, f)
    np.fill_diagonal(d, np.inf)
    return np.sqrt(d.min(1))


def _nn_to(a: np.ndarray, b: np.ndarray, chunk: int = 256) -> np.ndarray:
    out = [np.sqrt(_sq_dists(a[s : s + chunk], b).min(1)) for s in range(0, len(a), chunk)]
    return np.concatenate(out)


def _ratio(a: float, b: float, eps: float = 1e-12) -> float:
    """a / b, finite (JSON-safe) even when the real statistic is 0; 1 when both are."""
    if a <= eps and b <= eps:
        return 1.0
    return float(a / max(b, eps))


def _check(name: str, value: float, low: float | None, high: float | None, detail: str) -> HealthCheck:
    ok = math.isfinite(value) and (low is None or value >= low) and (high is None or value <= high)
    return HealthCheck(name, float(value), low, high, bool(ok), detail)


# -- statistics ----------------------------------------------------------------------------------
def _power_spectrum(x: np.ndarray) -> np.ndarray:
    """Mean periodogram (fftshifted, H x W) over images and channels, Hann-windowed, mean removed.

    The window keeps the image borders (a wrap-around discontinuity) from smearing power along the
    axes, which would hide a generator's own high-frequency texture in both sets alike."""
    _, h, w, _ = x.shape
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    t = torch.from_numpy(x).permute(0, 3, 1, 2)
    t = t - t.mean(dim=(2, 3), keepdim=True)
    t = t * torch.from_numpy(win)
    p = torch.fft.fft2(t).abs().square().mean(dim=(0, 1)) / float((win**2).sum())
    return np.fft.fftshift(p.numpy().astype(np.float64))


def _radius(h: int, w: int) -> np.ndarray:
    fy = np.fft.fftshift(np.fft.fftfreq(h))[:, None]
    fx = np.fft.fftshift(np.fft.fftfreq(w))[None, :]
    return np.sqrt(fy**2 + fx**2)  # cycles per pixel


def _rings(h: int, w: int) -> np.ndarray:
    """Ring index per frequency: integer radius bins merged outwards to >= SPIKE_RING_PIXELS each."""
    r = _radius(h, w) * min(h, w)
    bins = np.floor(r).astype(np.int64)
    counts = np.bincount(bins.ravel())
    ring_of_bin = np.zeros(len(counts), dtype=np.int64)
    ring, filled = 0, 0
    for b, c in enumerate(counts):
        ring_of_bin[b] = ring
        filled += c
        if filled >= SPIKE_RING_PIXELS:
            ring, filled = ring + 1, 0
    if filled and ring > 0:  # a short last ring joins the one before
        ring_of_bin[ring_of_bin == ring] = ring - 1
    return ring_of_bin[bins]


def _spike_score(p: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Max over frequencies of power / median power of its ring, and where (cycles/px, y and x)."""
    h, w = p.shape
    rings = _rings(h, w)
    base = np.zeros_like(p)
    for k in np.unique(rings):
        m = rings == k
        base[m] = np.median(p[m])
    r = _radius(h, w) * min(h, w)
    ratio = np.where(r >= SPIKE_MIN_RADIUS, p / np.maximum(base, 1e-20), 0.0)
    iy, ix = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    fy = np.fft.fftshift(np.fft.fftfreq(h))[iy]
    fx = np.fft.fftshift(np.fft.fftfreq(w))[ix]
    return float(ratio[iy, ix]), (float(fy), float(fx))


def _luma(x: np.ndarray) -> np.ndarray:
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def _brightest_cells(x16: np.ndarray) -> np.ndarray:
    lum = _luma(x16).reshape(len(x16), -1)
    return lum.argmax(1)


def _collision_rate(cells: np.ndarray) -> float:
    """Probability that two different images share a cell (unbiased from the counts)."""
    n = len(cells)
    if n < 2:
        return 0.0
    c = np.bincount(cells).astype(np.float64)
    return float((c * (c - 1)).sum() / (n * (n - 1)))


def _saturation(x: np.ndarray) -> float:
    """Per-pixel saturation (chroma / value) averaged with weights value²: the colour of what is
    bright (galaxies, faces), not the colour noise of near-black background pixels."""
    mx, mn = x.max(-1).astype(np.float64), x.min(-1).astype(np.float64)
    return float(((mx - mn) * mx).sum() / max(float((mx * mx).sum()), 1e-12))


# -- the report ----------------------------------------------------------------------------------
def health_report(samples: ImageSet, train: ImageSet, heldout: ImageSet, *, seed: int = 0) -> HealthReport:
    """Every health check of ``samples`` against held-out real images (``train`` for memorisation and
    the SWD floor). Real images of another size are resized to the samples' size."""
    from reelforge.vision.metrics.swd_metric import swd

    fake = _as_float(samples, "samples")
    tr = _as_float(train, "train")
    ho = _as_float(heldout, "heldout")
    n, h, w, _ = fake.shape
    if h != w:
        raise InvalidInput(f"health checks need square samples, got {h}x{w}")
    if h < 16:
        raise InvalidInput(f"health checks need images of at least 16 px, got {h}")
    if n < 2 or len(ho) < 2 or len(tr) < 2:
        raise InvalidInput("health checks need at least 2 samples, 2 training and 2 held-out images")
    tr, ho = _resize(tr, h), _resize(ho, h)
    rng = np.random.default_rng([seed, 11])
    checks: list[HealthCheck] = []

    # Diversity and near-duplicates on 16 px thumbnails: layout and colour, not texture or noise.
    f16 = _resize(_subset(fake, _MAX_PAIRWISE, rng), _DIVERSITY_SIDE)
    h16 = _resize(ho, _DIVERSITY_SIDE)
    ff, hf = _flat(f16), _flat(h16)
    div_s, div_r = _mean_pairwise(ff), _mean_pairwise(hf)
    lo, hi = DIVERSITY_RANGE
    checks.append(
        _check(
            "diversity",
            _ratio(div_s, div_r),
            lo,
            hi,
            f"mean pairwise distance at 16 px {div_s:.3g} vs real {div_r:.3g}",
        )
    )

    nn_real = _nn_within(hf)
    thr = NEAR_DUP_FACTOR * float(np.median(nn_real))
    group = len(hf)
    order = rng.permutation(len(ff))
    n_groups = max(1, len(ff) // group)
    nn_fake = np.concatenate([_nn_within(ff[idx]) for idx in np.array_split(order, n_groups) if len(idx) > 1])
    rate = float((nn_fake < thr).mean())
    real_rate = float((nn_real < thr).mean())
    checks.append(
        _check(
            "near_duplicates",
            rate,
            None,
            NEAR_DUP_MAX,
            f"{rate:.0%} of samples have a neighbour closer than {thr:.3g} "
            f"(half the real median nearest-neighbour distance; real {real_rate:.0%}; "
            f"groups of {group})",
        )
    )

    # Spectra at full resolution.
    p_fake, p_real = _power_spectrum(fake), _power_spectrum(ho)
    band = _radius(h, w) >= FINEST_BAND
    hf_s, hf_r = float(p_fake[band].sum()), float(p_real[band].sum())
    share_s, share_r = hf_s / max(float(p_fake.sum()), 1e-20), hf_r / max(float(p_real.sum()), 1e-20)
    # Both the power itself and its share of all power: a dim, nearly flat image with a checkerboard
    # (an untrained transposed-convolution G) has little power anywhere but most of it at the top.
    abs_ratio, share_ratio = _ratio(hf_s, hf_r), _ratio(share_s, share_r)
    checks.append(
        _check(
            "finest_frequency_power",
            max(abs_ratio, share_ratio),
            None,
            FINEST_MAX,
            f"spectral power above {FINEST_BAND:g} cycles/px {abs_ratio:.3g}x the real power; "
            f"its share of all power {share_s:.1%} vs real {share_r:.1%}",
        )
    )
    sp_s, at_s = _spike_score(p_fake)
    sp_r, _ = _spike_score(p_real)
    checks.append(
        _check(
            "spectral_spikes",
            _ratio(sp_s, sp_r),
            None,
            SPIKE_MAX,
            f"strongest spectral peak {sp_s:.3g}x its ring's median at "
            f"({at_s[0]:+.3f}, {at_s[1]:+.3f}) cycles/px; real {sp_r:.3g}x",
        )
    )

    # Position lock: brightest 16 px cell.
    f16_all = _resize(fake, POSITION_GRID)
    cells_f = _brightest_cells(f16_all)
    # The reference is every real image (train and held out): it is a rate of rare coincidences,
    # which a few dozen held-out images alone estimate too roughly.
    cells_r = _brightest_cells(_resize(np.concatenate([tr, ho]), POSITION_GRID))
    uniform = 1.0 / POSITION_GRID**2
    col_f, col_r = _collision_rate(cells_f), _collision_rate(cells_r)
    counts = np.sort(np.bincount(cells_f, minlength=POSITION_GRID**2))[::-1]
    top9 = float(counts[:9].sum() / n)
    top_real = int(np.bincount(cells_r).max())
    checks.append(
        _check(
            "position_lock",
            _ratio(col_f, max(col_r, uniform)),
            None,
            POSITION_MAX,
            f"two samples share their brightest {POSITION_GRID}x{POSITION_GRID} cell with "
            f"probability {col_f:.3f} vs real {col_r:.3f} (uniform {uniform:.4f}); "
            f"{top9:.0%} of samples on the 9 commonest cells; real: at most {top_real} of "
            f"{len(cells_r)} on one cell",
        )
    )

    # Colour.
    m_s = fake.mean(axis=(0, 1, 2), dtype=np.float64)
    m_r = ho.mean(axis=(0, 1, 2), dtype=np.float64)
    ratios = (m_s + COLOUR_EPS) / (m_r + COLOUR_EPS)
    worst = int(np.argmax(np.abs(np.log(np.maximum(ratios, 1e-12)))))
    lo, hi = COLOUR_RANGE
    checks.append(
        _check(
            "colour_mean",
            float(ratios[worst]),
            lo,
            hi,
            f"channel means R/G/B {'/'.join(f'{v:.3f}' for v in m_s)} vs real "
            f"{'/'.join(f'{v:.3f}' for v in m_r)}; worst channel {'RGB'[worst]}",
        )
    )
    s_s, s_r = _saturation(fake), _saturation(ho)
    lo, hi = SATURATION_RANGE
    checks.append(
        _check(
            "saturation",
            (s_s + SATURATION_EPS) / (s_r + SATURATION_EPS),
            lo,
            hi,
            f"saturation of the bright pixels {s_s:.3f} vs real {s_r:.3f}",
        )
    )

    # SWD against held-out real images / the real-vs-real floor, at equal set sizes.
    # Samples are plentiful: average over up to four disjoint sets of m, which steadies the numerator
    # (one set of 96 moved the ratio by +-0.3 between checkpoints of one run) without changing what
    # it estimates, the SWD of m samples, the same set size as the floor's.
    m = min(len(fake), len(tr))
    tr_m = _subset(tr, m, rng)
    order = rng.permutation(len(fake))
    k = max(1, min(4, len(fake) // m))
    swd_s = float(np.mean([swd(_nchw(ho), _nchw(fake[order[i * m : (i + 1) * m]]), seed=seed, **_SWD_PARAMS).mean
                           for i in range(k)]))
    swd_r = swd(_nchw(ho), _nchw(tr_m), seed=seed, **_SWD_PARAMS).mean
    checks.append(
        _check(
            "swd",
            _ratio(swd_s, swd_r),
            None,
            SWD_MAX,
            f"SWD to held-out real {swd_s:.1f} vs training-to-held-out floor {swd_r:.1f} ({m} images each)",
        )
    )

    # Memorisation at 32 px: enough detail that a copy is unmistakable, little noise.
    side = min(_MEMO_SIDE, h)
    tr_f = _flat(_resize(tr, side))
    nn_s = _nn_to(_flat(_resize(_subset(fake, _MAX_PAIRWISE, rng), side)), tr_f)
    nn_h = _nn_to(_flat(_resize(ho, side)), tr_f)
    med_s, med_h = float(np.median(nn_s)), float(np.median(nn_h))
    copies = float((nn_s < float(nn_h.min())).mean())
    checks.append(
        _check(
            "memorisation",
            _ratio(med_s, med_h),
            MEMORISATION_MIN,
            None,
            f"median distance to the nearest training image {med_s:.3g} vs held-out real "
            f"{med_h:.3g}; {copies:.0%} of samples closer than any held-out image",
        )
    )

    return HealthReport(
        checks, info={"n_samples": n, "n_train": len(tr), "n_heldout": len(ho), "resolution": h, "seed": seed}
    )

"""Take selection: measure each take of a set-up, score it in parts you can read, pick one.

Circled takes come first: the director asked for them. Among circled takes, or when none is,
every take gets a score in [0, 1] made of components, each in [0, 1] with a fixed weight:

=================  ======  ==========================================================================
component          weight  measure → score
=================  ======  ==========================================================================
focus              0.30    variance of the Laplacian of sampled grey frames; relative to the set-up's
                           sharpest take (same framing, so the ratio is the sharpness)
exposure           0.20    fraction of pixels at black or white (grey ≤ 1 or ≥ 254);
                           score 1 / (1 + p / 2 %): 2 % clipped halves it
audio clipping     0.15    fraction of samples in flat tops (3+ samples in a row at ≥ 0.99 of full
                           scale); score 1 / (1 + f / 0.1 %)
level              0.10    RMS level in dBFS; 1 inside −30…−12 dBFS (dialogue), falling to 0 at
                           −60 dBFS (silence) and at 0 dBFS; loudness (LUFS) is reported alongside
dialogue           0.25    fraction of the scene's dialogue lines the take's audio covers once
                           aligned (``reelforge.editorial.align.align_lines``)
=================  ======  ==========================================================================

A component no take of the set-up has (no sound anywhere, a scene without dialogue) is left
out and the other weights are rescaled; a take that lacks what its siblings have (no sound)
scores 0 there. Ties go to the later take (later takes are usually the ones the crew kept
working towards). The decision says which components made the difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS: dict[str, float] = {"focus": 0.30, "exposure": 0.20, "audio_clipping": 0.15, "level": 0.10,
                             "dialogue": 0.25}
LABELS = {"focus": "focus", "exposure": "exposure clipping", "audio_clipping": "audio clipping",
          "level": "audio level", "dialogue": "dialogue coverage"}
CLIP_LEVEL = 0.99  # |sample| at or above this is at full scale (lossy codecs rarely reach 1.0 exactly)
CLIP_RUN = 3  # consecutive full-scale samples that make a flat top
DARK, BRIGHT = 1.0, 254.0  # grey levels counted as crushed / blown


@dataclass
class TakeMeasures:
    """What was measured of one take's file (None: not measurable, e.g. no audio stream)."""

    focus: float | None = None
    exposure_clipped: float | None = None
    exposure_dark: float | None = None
    exposure_bright: float | None = None
    frames_sampled: int = 0
    has_audio: bool = False
    peak_dbfs: float | None = None
    rms_dbfs: float | None = None
    loudness_lufs: float | None = None
    audio_clipped: float | None = None
    dialogue_coverage: float | None = None
    dialogue_lines: int = 0
    dialogue_aligned: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in vars(self).items():
            out[k] = round(v, 6) if isinstance(v, float) else v
        return out


# -- measuring -------------------------------------------------------------------------------------
def laplacian_variance(grey: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: high when edges are crisp, low when blurred."""
    g = grey.astype(np.float32)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def to_grey(rgb: np.ndarray, max_side: int = 640) -> np.ndarray:
    """Rec. 601 luma, area-averaged down by a whole factor so no side exceeds ``max_side``
    (focus is compared between takes of one set-up, all at the same size)."""
    grey = rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    k = max(1, math.ceil(max(grey.shape) / max_side))
    if k > 1:
        h, w = grey.shape[0] // k * k, grey.shape[1] // k * k
        grey = grey[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))
    return grey


def measure_picture(path: Path | str, limits: Any = None, samples: int = 8, frames: int | None = None,
                    max_side: int = 640) -> dict[str, Any]:
    """Focus and exposure clipping over ``samples`` frames spread through the clip."""
    from reelforge.media import MediaLimits, iter_frames

    every = max(1, (frames or samples) // max(1, samples))
    focus, dark, bright, n = [], [], [], 0
    for rgb in iter_frames(path, limits or MediaLimits(), every_n=every, max_frames=samples):
        grey = to_grey(rgb, max_side)
        focus.append(laplacian_variance(grey))
        dark.append(float((grey <= DARK).mean()))
        bright.append(float((grey >= BRIGHT).mean()))
        n += 1
    if not n:
        return {"frames_sampled": 0}
    return {"focus": float(np.mean(focus)), "exposure_dark": float(np.mean(dark)),
            "exposure_bright": float(np.mean(bright)),
            "exposure_clipped": float(np.mean(dark) + np.mean(bright)), "frames_sampled": n}


def flat_top_fraction(x: np.ndarray, level: float = CLIP_LEVEL, run: int = CLIP_RUN) -> float:
    """Fraction of samples (any channel) inside runs of ``run``+ samples at ≥ ``level`` of full
    scale: the flat tops clipping leaves, which a clean loud peak does not."""
    a = np.abs(np.atleast_2d(x))
    total = 0
    for ch in a:
        hot = np.concatenate([[False], ch >= level, [False]])
        edges = np.flatnonzero(np.diff(hot.astype(np.int8)))
        starts, ends = edges[::2], edges[1::2]
        lengths = ends - starts
        total += int(lengths[lengths >= run].sum())
    return total / max(1, a.size)


def dbfs(value: float) -> float:
    return 20.0 * math.log10(value) if value > 1e-10 else -200.0


def measure_sound(samples: np.ndarray, sr: int) -> dict[str, Any]:
    """Peak and RMS (dBFS), flat-top clipping and integrated loudness (LUFS, BS.1770 through
    pyloudnorm; None for clips under 0.4 s) of ``samples`` shaped (channels, n) or (n,)."""
    x = np.atleast_2d(np.asarray(samples, np.float32))
    if x.size == 0:
        return {"has_audio": False}
    peak = float(np.abs(x).max())
    rms = float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))
    out: dict[str, Any] = {"has_audio": True, "peak_dbfs": dbfs(peak), "rms_dbfs": dbfs(rms),
                           "audio_clipped": flat_top_fraction(x)}
    if x.shape[1] >= int(0.4 * sr) + 1:
        try:
            import pyloudnorm

            lufs = float(pyloudnorm.Meter(sr).integrated_loudness(x.T.astype(np.float64)))
            out["loudness_lufs"] = lufs if math.isfinite(lufs) else None
        except (ValueError, ImportError):
            out["loudness_lufs"] = None
    return out


def dialogue_coverage(mono: np.ndarray, sr: int, lines: Sequence[str], language: str = "en",
                      aligner: Callable[..., Any] | None = None) -> dict[str, Any]:
    """How many of the scene's dialogue ``lines`` this take's audio covers once aligned."""
    if not lines:
        return {}
    if aligner is None:
        from reelforge.editorial.align import align_lines as aligner
    result = aligner(np.asarray(mono, np.float32), sr, list(lines), language=language)
    aligned = [ln.index for ln in result.lines if ln.aligned]
    return {"dialogue_coverage": float(result.coverage), "dialogue_lines": len(lines), "dialogue_aligned": aligned}


def measure_take(
    path: Path | str,
    *,
    limits: Any = None,
    samples: int = 8,
    frames: int | None = None,
    sample_rate: int | None = None,
    lines: Sequence[str] = (),
    language: str = "en",
    aligner: Callable[..., Any] | None = None,
    max_side: int = 640,
) -> TakeMeasures:
    """Every measure of one take's file: picture (focus, exposure) and, when it has sound, level,
    clipping and — given the scene's dialogue ``lines`` — dialogue coverage."""
    from reelforge.errors import MediaError
    from reelforge.media import MediaLimits, load_audio

    limits = limits or MediaLimits()
    m = TakeMeasures(**measure_picture(path, limits, samples=samples, frames=frames, max_side=max_side))
    try:
        # At the file's own rate: resampling a clipped wave overshoots full scale and moves peaks.
        audio, sr = load_audio(path, limits, sample_rate=sample_rate or _native_rate(path) or 48000, mono=False)
    except MediaError as err:
        if "no audio" not in str(err):
            raise
        m.notes.append("no sound")
        return m
    for k, v in measure_sound(audio, sr).items():
        setattr(m, k, v)
    if m.has_audio and lines:
        try:
            cov = dialogue_coverage(audio.mean(axis=0), sr, lines, language, aligner)
        except ImportError:
            m.notes.append("dialogue coverage not measured: the aligner is not installed")
        except ValueError as err:  # the aligner refuses the input (AlignmentError)
            m.notes.append(f"dialogue coverage not measured: {err}")
        else:
            for k, v in cov.items():
                setattr(m, k, v)
    return m


def _native_rate(path: Path | str) -> int | None:
    from reelforge.media._av import audio_stream, open_input

    with open_input(Path(path)) as container:
        stream = audio_stream(container, decodable=True)
        rate = stream.codec_context.sample_rate if stream is not None else None
    return int(rate) if rate and 1000 <= rate <= 384_000 else None


# -- scoring ---------------------------------------------------------------------------------------
@dataclass
class Component:
    name: str
    value: float | None  # the raw measure (None: not measured for this take)
    score: float  # 0..1
    weight: float  # after rescaling over the components the set-up has
    note: str

    @property
    def contribution(self) -> float:
        return self.score * self.weight

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": LABELS[self.name],
                "value": None if self.value is None else round(self.value, 6), "score": round(self.score, 4),
                "weight": round(self.weight, 4), "contribution": round(self.contribution, 4), "note": self.note}


@dataclass
class TakeScore:
    key: str  # the clip's id
    take: int | None
    circled: bool
    components: list[Component]

    @property
    def total(self) -> float:
        return sum(c.contribution for c in self.components)

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"clip": self.key, "take": self.take, "circled": self.circled, "total": round(self.total, 4),
                "components": [c.to_dict() for c in self.components]}


def level_score(rms_dbfs: float) -> float:
    if -30.0 <= rms_dbfs <= -12.0:
        return 1.0
    if rms_dbfs < -30.0:
        return max(0.0, 1.0 - (-30.0 - rms_dbfs) / 30.0)
    return max(0.0, 1.0 - (rms_dbfs + 12.0) / 12.0)


def score_takes(takes: Sequence[tuple[str, int | None, bool, TakeMeasures]],
                weights: dict[str, float] | None = None) -> list[TakeScore]:
    """Components and totals for the takes of one set-up: ``(key, take, circled, measures)``."""
    weights = dict(weights or WEIGHTS)
    ms = [t[3] for t in takes]
    have = {
        "focus": any(m.focus is not None for m in ms),
        "exposure": any(m.exposure_clipped is not None for m in ms),
        "audio_clipping": any(m.audio_clipped is not None for m in ms),
        "level": any(m.rms_dbfs is not None for m in ms),
        "dialogue": any(m.dialogue_coverage is not None for m in ms),
    }
    used = {k: w for k, w in weights.items() if have.get(k) and w > 0}
    norm = sum(used.values()) or 1.0
    best_focus = max((m.focus for m in ms if m.focus is not None), default=0.0)
    out = []
    for key, take, circled, m in takes:
        comps = []
        for name, w in used.items():
            w = w / norm
            if name == "focus":
                if m.focus is None:
                    comps.append(Component(name, None, 0.0, w, "not measured"))
                else:
                    s = m.focus / best_focus if best_focus > 0 else 1.0
                    comps.append(Component(name, m.focus, s, w, f"Laplacian variance {m.focus:.1f} "
                                           f"({s:.0%} of the sharpest take)"))
            elif name == "exposure":
                if m.exposure_clipped is None:
                    comps.append(Component(name, None, 0.0, w, "not measured"))
                else:
                    p = m.exposure_clipped
                    comps.append(Component(name, p, 1 / (1 + p / 0.02), w,
                                           f"{p:.1%} of pixels clipped ({m.exposure_dark or 0:.1%} black, "
                                           f"{m.exposure_bright or 0:.1%} white)"))
            elif name == "audio_clipping":
                if m.audio_clipped is None:
                    comps.append(Component(name, None, 0.0, w, "no sound"))
                else:
                    f = m.audio_clipped
                    comps.append(Component(name, f, 1 / (1 + f / 0.001), w,
                                           f"{f:.2%} of samples in clipped flat tops, peak {m.peak_dbfs:.1f} dBFS"))
            elif name == "level":
                if m.rms_dbfs is None:
                    comps.append(Component(name, None, 0.0, w, "no sound"))
                else:
                    lufs = f", {m.loudness_lufs:.1f} LUFS" if m.loudness_lufs is not None else ""
                    comps.append(Component(name, m.rms_dbfs, level_score(m.rms_dbfs), w,
                                           f"RMS {m.rms_dbfs:.1f} dBFS{lufs}"))
            elif name == "dialogue":
                if m.dialogue_coverage is None:
                    comps.append(Component(name, None, 0.0, w, "not measured" if not m.has_audio else
                                           "no aligned dialogue"))
                else:
                    comps.append(Component(name, m.dialogue_coverage, m.dialogue_coverage, w,
                                           f"{len(m.dialogue_aligned)} of {m.dialogue_lines} dialogue lines aligned"))
        out.append(TakeScore(key, take, circled, comps))
    return out


@dataclass
class Decision:
    chosen: str
    rule: str  # "only take", "circled", "score"
    why: str
    scores: list[TakeScore]

    def to_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "rule": self.rule, "why": self.why,
                "takes": [s.to_dict() for s in self.scores]}


def _tname(s: TakeScore) -> str:
    return f"take {s.take}" if s.take is not None else s.key


def choose_take(scores: Sequence[TakeScore]) -> Decision:
    """Circled first, then the highest score (ties: the later take); the reason in words."""
    if not scores:
        raise ValueError("no takes to choose from")
    scores = list(scores)
    if len(scores) == 1:
        return Decision(scores[0].key, "only take", "the only take of this set-up", scores)
    circled = [s for s in scores if s.circled]
    pool = circled or scores
    ranked = sorted(pool, key=lambda s: (round(s.total, 9), s.take or 0), reverse=True)
    win = ranked[0]
    if circled:
        others = [s for s in scores if not s.circled]
        if len(circled) == 1:
            why = f"{_tname(win)} is circled"
        else:
            why = (f"{_tname(win)} is the best of {len(circled)} circled takes "
                   f"({win.total:.2f} vs {ranked[1].total:.2f}{_diff(win, ranked[1])})")
        better = [s for s in others if s.total > win.total]
        if better:
            why += (f"; circled wins over the score: {', '.join(_tname(s) for s in better)} "
                    f"scored higher ({max(s.total for s in better):.2f} vs {win.total:.2f})")
        return Decision(win.key, "circled", why, scores)
    runner = ranked[1]
    why = f"{_tname(win)} scored {win.total:.2f} vs {runner.total:.2f} for {_tname(runner)}"
    diff = _diff(win, runner)
    if diff:
        why += diff
    elif round(win.total, 9) == round(runner.total, 9):
        why += " (a tie: the later take)"
    return Decision(win.key, "score", why, scores)


def _diff(a: TakeScore, b: TakeScore) -> str:
    """The components where ``a`` beat ``b`` most, with their measures."""
    gains = []
    for ca in a.components:
        cb = b.component(ca.name)
        if cb is None:
            continue
        d = ca.contribution - cb.contribution
        if d > 0.005:
            gains.append((d, ca, cb))
    gains.sort(key=lambda g: g[0], reverse=True)
    if not gains:
        return ""
    parts = [f"{LABELS[ca.name]} +{d:.2f} ({ca.note} vs {cb.note})" for d, ca, cb in gains[:3]]
    return ": " + "; ".join(parts)

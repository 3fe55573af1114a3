"""Gradual transitions: dissolves, and fades to or from black or white.

A dissolve's middle frame is the average of the frames on either side of it; camera motion fails
that test, because a pan's two ends laid over each other make a double exposure, not the frame
between them. A fade is the same mix with one side a flat black (or white) frame. So for every frame c and
half-width h, the luma grid of c is compared with the mean of the grids of c - h and c + h; where
the residual is small against the change between the ends, and the colours at the ends differ as
they would across a cut, c lies inside a mix. Runs of such frames are one transition; where it
starts and ends is fitted as a ramp of the mix weight along the run.

Fades are also found from the other side: a run of near-black (near-white) frames, and the frames
whose brightness falls monotonically into it (fade-out) or rises out of it (fade-in).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reelforge.video.detector import Transition
from reelforge.video.features import FrameFeatures

BLOCK = 8192  # frames per block of the vectorised scan (bounds temporary memory on long files)


@dataclass(frozen=True)
class GradualSettings:
    max_half: int = 16  # longest mix seen whole: 2 x 16 + 1 frames (~1.4 s at 24 fps)
    min_hist_change: float = 0.25  # colour change between the ends, as across a cut (0..1)
    min_grid_change: float = 0.03  # layout change between the ends (0..1 mean luma difference)
    max_residual: float = 0.2  # the middle frame's distance from the ends' mean, against their change
    min_widths: int = 3  # a mix's middle passes the test at this many half-widths (chance passes once)
    min_length: int = 3  # frames; shorter mixes are cuts
    black: float = 0.04  # mean luma under this (and flat) is black; over 1 - this, white
    flat: float = 0.03  # luma standard deviation of a black or white frame


def _mix_scan(
    f: FrameFeatures, s: GradualSettings, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per centre frame: whether it is inside a mix, and its best residual ratio (lower: a cleaner
    mix). Frames in ``exclude`` (flashes) are never an end or a middle: a dark frame, a mid-grey
    one and a flash in a row look like a mix by chance."""
    hist = f.hist
    n = len(f)
    passes = np.zeros(n, np.int32)
    best_ratio = np.full(n, np.inf, np.float32)
    bad = np.zeros(n, bool) if exclude is None else exclude
    for lo in range(0, n, BLOCK):
        hi = min(n, lo + BLOCK)
        base = max(0, lo - s.max_half)
        grid = f.grid_rows(base, min(n, hi + s.max_half))  # this block's frames and their neighbours
        for h in range(2, s.max_half + 1):
            c0, c1 = max(lo, h), min(hi, n - h)
            if c1 <= c0:
                continue
            a = grid[c0 - h - base:c1 - h - base]
            b = grid[c0 + h - base:c1 + h - base]
            c = grid[c0 - base:c1 - base]
            big = np.abs(a - b).mean(axis=1)
            resid = np.abs(c - 0.5 * (a + b)).mean(axis=1)
            hb = 0.5 * np.abs(hist[c0 - h:c1 - h] - hist[c0 + h:c1 + h]).sum(axis=1) / 3.0
            ratio = resid / np.maximum(big, 1e-6)
            ok = (hb >= s.min_hist_change) & (big >= s.min_grid_change) & (ratio <= s.max_residual)
            ok &= ~(bad[c0 - h:c1 - h] | bad[c0 + h:c1 + h] | bad[c0:c1])
            passes[c0:c1] += ok
            best_ratio[c0:c1] = np.where(ok, np.minimum(best_ratio[c0:c1], ratio), best_ratio[c0:c1])
    return passes >= s.min_widths, best_ratio


def _runs(mask: np.ndarray, max_gap: int = 1) -> list[tuple[int, int]]:
    """[start, end) of runs of True, bridging gaps of up to ``max_gap`` False frames."""
    idx = np.flatnonzero(mask)
    if not len(idx):
        return []
    runs = []
    start = prev = int(idx[0])
    for i in idx[1:]:
        i = int(i)
        if i - prev > max_gap + 1:
            runs.append((start, prev + 1))
            start = i
        prev = i
    runs.append((start, prev + 1))
    return runs


def _fit_ramp(f: FrameFeatures, r0: int, r1: int) -> tuple[int, int, float]:
    """Start and length of the mix around the candidate run [r0, r1): the mix weight of each frame
    (projection of its grid between anchors outside the run) fitted by 0 .. ramp .. 1."""
    n = len(f)
    pad = 3
    w0, w1 = max(0, r0 - pad), min(n, r1 + pad)
    a, b = f.grid_rows(max(0, w0 - 1), max(1, w0))[0], f.grid_rows(min(n - 1, w1), min(n, w1 + 1))[0]
    d = b - a
    denom = float(d @ d)
    if denom < 1e-9:
        return r0, r1 - r0, 1.0
    alpha = (f.grid_rows(w0, w1) - a) @ d / denom
    frames = np.arange(w0, w1)
    best = (r0, r1 - r0, np.inf)
    for start in range(w0, min(r0 + 3, w1)):
        for end in range(max(start + 2, r1 - 3), w1 + 1):
            length = end - start
            model = np.clip((frames - start + 1) / (length + 1), 0.0, 1.0)
            err = float(np.mean((alpha - model) ** 2))
            if err < best[2]:
                best = (start, length, err)
    start, length, err = best
    return int(start), int(length), float(err)


def _black_or_white(f: FrameFeatures, s: GradualSettings) -> np.ndarray:
    """-1 black, +1 white, 0 neither, per frame."""
    mean, std = f.mean, f.std
    out = np.zeros(len(mean), np.int8)
    out[(mean < s.black) & (std < s.flat)] = -1
    out[(mean > 1 - s.black) & (std < s.flat)] = 1
    return out


def _monotone_walk(mean: np.ndarray, start: int, step: int, direction: float, limit: int) -> int:
    """From ``start`` walk by ``step`` (+1 forward, -1 back in time) while each step makes the
    picture brighter (``direction`` +1) or darker (-1); returns the last frame reached. The walk
    stops when the change shrinks to a fraction of the ramp's so far (the fade is over)."""
    i, steps = start, []
    n = len(mean)
    while 0 <= i + step < n and len(steps) < limit:
        change = direction * float(mean[i + step] - mean[i])  # positive while the ramp goes on
        typical = float(np.median(steps)) if steps else 0.0
        if change <= max(0.0015, 0.3 * typical):  # fades into dark scenes move in small steps
            break
        steps.append(change)
        i += step
    return i


def fades_from_flat_runs(f: FrameFeatures, s: GradualSettings = GradualSettings()) -> list[Transition]:
    """Fade-outs into, and fade-ins out of, runs of black or white frames (monotonic brightness)."""
    tone = _black_or_white(f, s)
    mean = f.mean
    out: list[Transition] = []
    for value in (-1, 1):
        away = 1.0 if value == -1 else -1.0  # leaving black is getting brighter; leaving white, darker
        for b0, b1 in _runs(tone == value, max_gap=0):
            # Each walk ends on the first frame at full brightness, which is not part of the fade.
            if b0 > 0:
                first = _monotone_walk(mean, b0, -1, away, limit=4 * s.max_half) + 1
                if b0 - first >= s.min_length:
                    out.append(Transition("fade_out", first, b0 - first, 1.0, "content"))
            if b1 < len(mean):
                last = _monotone_walk(mean, b1 - 1, 1, away, limit=4 * s.max_half)
                if last - b1 >= s.min_length:
                    out.append(Transition("fade_in", b1, last - b1, 1.0, "content"))
    return out


def _extreme(f: FrameFeatures, frame: int, other: int, white: bool, s: GradualSettings) -> bool:
    """Whether ``frame`` is black (white) next to ``other``: flat black by the absolute test, or, where
    a fade turns straight round without a hold, far darker and flatter than the picture it left."""
    tone = -1 if not white else 1
    if _black_or_white(f, s)[frame] == tone:
        return True
    y, sd = float(f.mean[frame]), float(f.std[frame])
    y_other, sd_other = float(f.mean[other]), float(f.std[other])
    if white:
        y, y_other = 1.0 - y, 1.0 - y_other
    return y <= 0.1 and sd <= 0.04 and y <= 0.35 * y_other and sd <= 0.4 * sd_other


def settle(f: FrameFeatures, frame: int, length: int, s: GradualSettings = GradualSettings()) -> tuple[str, int, int]:
    """Kind and extent of a mix: a fade-out when brightness runs monotonically into black (white), a
    fade-in when it runs out of it, else a dissolve. A fade's extent follows the brightness ramp,
    which may reach beyond the frames the mix test saw (motion at a fade's start hides it there)."""
    mean = f.mean
    n = len(mean)
    pre, post = max(0, frame - 1), min(n - 1, frame + length)
    steps = np.diff(mean[pre:post + 1])
    if not len(steps):
        return "dissolve", frame, length
    falling = float(np.mean(steps <= 0.002)) >= 0.8
    rising = float(np.mean(steps >= -0.002)) >= 0.8
    limit = 4 * s.max_half
    tone = _black_or_white(f, s)
    mid = frame + length // 2
    for white in (False, True):
        into = falling if not white else rising  # brightness heading for black (white)
        away = rising if not white else falling
        toward = -1.0 if not white else 1.0  # the brightness change that heads for black (white)
        # The walks away from the black (white) end stop on the first frame at full brightness,
        # outside the fade; the walks towards it stop on the darkest (brightest) frame, which is
        # the fade's own last (first) frame unless it is flat, the hold.
        # Away from black the walk may not pass the mix test's span by more than a frame or two: a
        # pan across a darkening picture would otherwise look like the fade beginning early.
        if into:
            full = max(_monotone_walk(mean, mid, -1, -toward, limit), frame - 2)
            darkest = _monotone_walk(mean, mid, 1, toward, limit)
            if _extreme(f, darkest, full, white, s):
                start = full + 1 if full < mid else full
                end = darkest if tone[darkest] != 0 else darkest + 1
                if end - start >= s.min_length:
                    return "fade_out", start, end - start
        if away:
            full = min(_monotone_walk(mean, mid, 1, -toward, limit), frame + length + 1)
            darkest = _monotone_walk(mean, mid, -1, toward, limit)
            if _extreme(f, darkest, full, white, s):
                start = darkest + 1 if tone[darkest] != 0 else darkest
                end = full if full > mid else full + 1
                if end - start >= s.min_length:
                    return "fade_in", start, end - start
    return "dissolve", frame, length


def find_gradual(
    f: FrameFeatures, s: GradualSettings = GradualSettings(), exclude: np.ndarray | None = None
) -> list[Transition]:
    """Dissolves and fades, from the mix test and from runs of black/white frames, merged.

    ``exclude``: frames (flashes) the mix test must not use.
    """
    if len(f) < 2 * 2 + 1:
        return []
    inside, best_ratio = _mix_scan(f, s, exclude)
    tone = _black_or_white(f, s)
    # A flat black or white frame is not inside a mix: a run through one is a fade-out, the hold
    # and a fade-in, each fitted on its own.
    inside &= tone == 0
    found: list[Transition] = []
    for r0, r1 in _runs(inside, max_gap=1):
        if r1 - r0 < 2:
            continue
        start, length, _ = _fit_ramp(f, r0, r1)
        if length < s.min_length:
            continue
        quality = float(1.0 - np.clip(np.min(best_ratio[r0:r1]) / s.max_residual, 0, 1))
        kind, start, length = settle(f, start, length, s)
        found.append(Transition(kind, start, length, round(0.5 + 0.5 * quality, 4), "content"))
    # A fade that turns round without a hold (out and straight back in) is one run of the mix test
    # but two transitions: find the other half.
    for t in list(found):
        twin = _turnaround(f, t, s)
        if twin is not None and not any(_overlaps(twin, u, slack=0) for u in found):
            found.append(twin)
    # Fades the mix test missed (a fade into a dark scene changes colours too little): add them.
    for fade in fades_from_flat_runs(f, s):
        if not any(_overlaps(fade, t) for t in found):
            found.append(fade)
    found.sort(key=lambda t: t.frame)
    return _merge_overlapping(found)


def _turnaround(f: FrameFeatures, t: Transition, s: GradualSettings) -> Transition | None:
    """The fade-in that starts where fade-out ``t`` ends with no flat hold (or the fade-out ending
    where fade-in ``t`` starts), if the brightness ramps back."""
    tone = _black_or_white(f, s)
    mean, n, limit = f.mean, len(f.mean), 4 * s.max_half
    if t.kind == "fade_out" and t.end < n and tone[t.end] == 0:
        white = mean[t.end] > 0.5
        full = _monotone_walk(mean, t.end, 1, -1.0 if white else 1.0, limit)
        if full - t.end >= s.min_length and _extreme(f, t.end, full, white, s):
            return Transition("fade_in", t.end, full - t.end, t.score, t.detector)
    if t.kind == "fade_in" and t.frame > 0 and tone[t.frame - 1] == 0:
        white = mean[t.frame - 1] > 0.5
        full = _monotone_walk(mean, t.frame - 1, -1, -1.0 if white else 1.0, limit)
        if t.frame - 1 - full >= s.min_length and _extreme(f, t.frame - 1, full, white, s):
            return Transition("fade_out", full + 1, t.frame - 1 - full, t.score, t.detector)
    return None


def _overlaps(a: Transition, b: Transition, slack: int = 1) -> bool:
    return a.frame < b.end + slack and b.frame < a.end + slack


def _merge_overlapping(items: list[Transition]) -> list[Transition]:
    out: list[Transition] = []
    for t in items:
        if out and _overlaps(out[-1], t, slack=0) and out[-1].kind == t.kind:
            prev = out[-1]
            end = max(prev.end, t.end)
            prev.frame = min(prev.frame, t.frame)
            prev.length = end - prev.frame
            prev.score = max(prev.score, t.score)
        else:
            out.append(t)
    return out

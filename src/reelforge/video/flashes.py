"""Flash suppression: a frame or two of very different brightness that returns to the previous
content is a camera flash (or lightning, a muzzle flash, a strobe), not two cuts.

The test needs frames on both sides: the picture jumps into the flash and out of it, and the frame
after the flash matches the frame before it (allowing for the motion of those few frames).
"""

from __future__ import annotations

import numpy as np

from reelforge.video.features import FrameFeatures


def find_flashes(
    f: FrameFeatures,
    max_frames: int = 2,
    min_jump: float = 0.25,
    max_return: float = 0.35,
    min_brightness: float = 0.08,
) -> list[tuple[int, int]]:
    """(first frame, length) of each flash of 1..``max_frames`` frames.

    ``min_jump``: content score into and out of the flash; ``max_return``: the frames around it may
    differ by at most this fraction of the smaller jump; ``min_brightness``: the flash's mean luma
    differs from its surroundings' by at least this much (0..1).
    """
    n = len(f)
    if max_frames < 1 or n < 3:
        return []
    d1 = np.nan_to_num(f.distance(1), nan=0.0)
    mean = f.mean
    taken = np.zeros(n, bool)
    found: list[tuple[int, int]] = []
    jumps = np.flatnonzero(d1 >= min_jump)  # only frames the picture jumps into can start a flash
    for length in range(1, max_frames + 1):
        back = f.distance(length + 1)  # at index j: frame j against frame j - length - 1
        for i in (int(k) for k in jumps):
            j = i + length  # first frame after the flash
            if i < 1 or j >= n:
                continue
            if taken[i - 1:j + 1].any():
                continue
            jump = min(d1[i], d1[j])
            if jump < min_jump or not back[j] <= max_return * jump:
                continue
            around = 0.5 * (mean[i - 1] + mean[j])
            if abs(float(mean[i:j].mean()) - around) < min_brightness:
                continue
            # Inside the flash the picture holds still (a 2-frame flash is one event, not a cut).
            if length > 1 and np.max(d1[i + 1:j]) > 0.5 * jump:
                continue
            found.append((i, length))
            taken[i:j] = True
    found.sort()
    return found


def flash_frames(flashes: list[tuple[int, int]]) -> list[int]:
    return [start + k for start, length in flashes for k in range(length)]


def covers(flashes: list[tuple[int, int]], frame: int, end: int | None = None) -> bool:
    """Whether [frame, end) lies within a flash or on the frame where it returns."""
    end = frame + 1 if end is None else end
    return any(start <= frame and end <= start + length + 1 for start, length in flashes)

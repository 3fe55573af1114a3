"""Training examples for the interpolation refinement network (``video.refine``), without torch.

A triplet is three consecutive frames: frames i and i + 2 are interpolated at t = 0.5 and frame i + 1 is
the target. What the network reads per pixel (:func:`features`) is stored as uint8 so that hundreds of
triplets fit in memory. Kept apart from ``refine`` so a process pool that computes triplets
(:func:`triplet_chunk`, picklable) never imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reelforge.errors import InvalidInput
from reelforge.video.interpolate import Interpolated, InterpSettings, interpolate_detail, is_cut, pair_flows

IN_CHANNELS = 11


def features(detail: Interpolated) -> np.ndarray:
    """(11, H, W) uint8: warped a, warped b, blend (RGB each), visibility in a and in b."""
    planes = [detail.warped0, detail.warped1, detail.blend]
    rgb = np.concatenate([np.clip(np.rint(p), 0, 255).astype(np.uint8).transpose(2, 0, 1) for p in planes])
    vis = np.stack([detail.vis0, detail.vis1])
    return np.concatenate([rgb, np.clip(np.rint(vis * 255), 0, 255).astype(np.uint8)])


@dataclass
class Triplets:
    """Training examples: ``inputs`` (N, 11, H, W) uint8 features, ``targets`` (N, 3, H, W) uint8."""

    inputs: np.ndarray
    targets: np.ndarray
    skipped_cuts: int = 0

    def __len__(self) -> int:
        return len(self.inputs)


@dataclass
class TripletItem:
    """A picklable chunk for :func:`triplet_chunk`: consecutive frames, triplets start at ``starts``."""

    frames: list[np.ndarray]
    starts: list[int]
    settings: InterpSettings


def triplet_chunk(item: TripletItem) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """Top-level and picklable: features and targets of the triplets in one chunk, and the cuts skipped."""
    ins, outs, cuts = [], [], 0
    for s in item.starts:
        a, mid, b = item.frames[s], item.frames[s + 1], item.frames[s + 2]
        fl = pair_flows(a, b, item.settings.preset)
        if is_cut(a, b, fl, item.settings):  # a cut anywhere in the triplet separates a from b
            cuts += 1
            continue
        ins.append(features(interpolate_detail(a, b, 0.5, settings=item.settings, flows=fl)))
        outs.append(mid.transpose(2, 0, 1).copy())
    return ins, outs, cuts


def triplet_items(clips: Sequence[Sequence[np.ndarray]], settings: InterpSettings, *, stride: int = 1,
                  max_triplets: int | None = None, chunk: int = 8) -> list[TripletItem]:
    """Chunks of triplets (i, i + 1, i + 2) from each clip, every ``stride`` frames, at most ``max_triplets``
    spread evenly over all clips."""
    if stride < 1:
        raise InvalidInput(f"stride must be positive, got {stride}")
    starts = [(c, s) for c, clip in enumerate(clips) for s in range(0, len(clip) - 2, stride)]
    if not starts:
        raise InvalidInput("training needs clips of at least 3 frames")
    if max_triplets is not None and len(starts) > max_triplets:
        pick = np.linspace(0, len(starts) - 1, max_triplets).round().astype(int)
        starts = [starts[i] for i in sorted(set(pick.tolist()))]
    items: list[TripletItem] = []
    for c in sorted({c for c, _ in starts}):
        mine = [s for cc, s in starts if cc == c]
        for i in range(0, len(mine), chunk):
            part = mine[i:i + chunk]
            lo, hi = part[0], part[-1] + 3
            items.append(TripletItem(list(clips[c][lo:hi]), [s - lo for s in part], settings))
    return items


def collect_triplets(results: Sequence[tuple[list[np.ndarray], list[np.ndarray], int]]) -> Triplets:
    """Stack what :func:`triplet_chunk` returned (all frames must share one size)."""
    ins = [x for r in results for x in r[0]]
    outs = [y for r in results for y in r[1]]
    cuts = sum(r[2] for r in results)
    if not ins:
        raise InvalidInput("no usable triplets: every one crossed a cut")
    if len({x.shape for x in ins}) != 1:
        raise InvalidInput("all training frames must have one size (resize them first)")
    return Triplets(np.stack(ins), np.stack(outs), cuts)


def make_triplets(clips: Sequence[Sequence[np.ndarray]], settings: InterpSettings = InterpSettings(),
                  **kw: Any) -> Triplets:
    """Triplets from clips, in this process (the task fans :func:`triplet_chunk` out instead)."""
    return collect_triplets([triplet_chunk(i) for i in triplet_items(clips, settings, **kw)])

"""Video style transfer with temporal consistency, frame-parallel in chunks.

Stylising each frame on its own flickers: the texture is re-invented every frame. Both methods tie
each frame to the previous *output* moved along the optical flow of the *source* frames
(``reelforge.video.flow``), only on pixels the forward-backward check finds consistent (occluded
and disoccluded pixels are free to change):

- ``optimise`` (Ruder et al. 2016): a frame's optimisation starts from the previous output warped
  onto it, and a temporal loss keeps it there on consistent pixels; later frames need fewer steps.
- ``network`` (a trained :class:`~reelforge.vision.style.fast.FastStyleModel`): frames go through
  the network in batches, then each output is blended with the warped previous output on
  consistent pixels (``blend``: the previous output's share). The recursion forgets the past at
  ``blend ** k`` after ``k`` frames.

Chunks: a video is cut into chunks of ``chunk_frames`` that run independently
(:func:`stylize_chunk` is a picklable top-level function for a process pool). Each chunk starts
``overlap`` frames early and drops those warm-up frames, so its first kept frame already carries
the temporal state (for ``network`` the seam shrinks as ``blend ** overlap``; for ``optimise``
warm-up frames tie the chunk's texture to the frames just before it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from reelforge.errors import Cancelled, InvalidInput, LimitExceeded
from reelforge.media.limits import MediaLimits
from reelforge.video import flow as vflow
from reelforge.vision.style.optimize import MIN_SIDE, TransferSettings, fit_size

__all__ = [
    "ChunkJob",
    "VideoStyle",
    "consistency",
    "load_frames",
    "plan_chunks",
    "stylize_chunk",
    "stylize_video",
    "temporal_warp_error",
]

Method = Literal["optimise", "network"]
ProgressFn = Callable[[float, float, str], None]
StopFn = Callable[[], bool]
T = TypeVar("T")
R = TypeVar("R")
MapFn = Callable[[Callable[[T], R], Sequence[T]], list[R]]


@dataclass
class VideoStyle:
    """How frames are tied together; recorded with the output."""

    method: Method = "optimise"
    temporal: bool = True  # False: every frame on its own (the flickering baseline)
    temporal_weight: float = 50.0  # optimise: weight of the temporal loss
    blend: float = 0.7  # network: share of the warped previous output on consistent pixels
    later_steps: int | None = None  # optimise: steps after a chunk's first frame (None: steps // 2)
    # DIS preset of the consistency flows (None: medium for optimise, where a flow costs nothing next to
    # the optimisation; fast for network, where medium's two flows per frame would cost as much as the net).
    flow_preset: vflow.Preset | None = None

    @property
    def preset(self) -> vflow.Preset:
        return self.flow_preset or ("fast" if self.method == "network" else "medium")

    def __post_init__(self) -> None:
        if self.method not in ("optimise", "network"):
            raise InvalidInput(f"method must be optimise or network, got {self.method!r}")
        if not 0.0 <= self.blend < 1.0:
            raise InvalidInput(f"blend must be in [0, 1), got {self.blend}")
        if self.temporal_weight < 0:
            raise InvalidInput(f"temporal_weight must be >= 0, got {self.temporal_weight}")


@dataclass
class ChunkJob:
    """One chunk's work, everything a worker process needs (plain arrays and paths: picklable)."""

    index: int
    frames: np.ndarray  # (n, H, W, 3) uint8; the first ``warmup`` are context and are not returned
    warmup: int
    style: VideoStyle
    transfer: TransferSettings = field(default_factory=TransferSettings)
    style_image: np.ndarray | None = None  # optimise
    reference: np.ndarray | None = None  # optimise: the frame colour modes are fitted to (the video's first)
    features: str = "random"
    feature_seed: int = 0
    model_dir: str | None = None  # network: a saved FastStyleModel folder
    device: str = "cpu"
    threads: int | None = 1  # torch threads in the worker (None: leave as is)


def plan_chunks(n_frames: int, chunk_frames: int, overlap: int) -> list[tuple[int, int, int]]:
    """``(context_start, start, stop)`` per chunk: frames ``[start, stop)`` are its output, and it
    runs from ``context_start = max(0, start - overlap)`` to warm up its temporal state."""
    if n_frames < 1:
        raise InvalidInput("a video needs at least one frame")
    if chunk_frames < 1 or overlap < 0:
        raise InvalidInput(f"chunk_frames must be >= 1 and overlap >= 0, got {chunk_frames}, {overlap}")
    return [(max(0, s - overlap), s, min(n_frames, s + chunk_frames)) for s in range(0, n_frames, chunk_frames)]


def consistency(prev: np.ndarray, cur: np.ndarray, preset: vflow.Preset = "medium") -> tuple[np.ndarray, np.ndarray]:
    """Flow from ``cur`` back to ``prev`` (so ``warp(prev_output, f)`` lands on ``cur``'s grid) and the
    mask of ``cur``'s pixels that the forward-backward check finds consistent."""
    f_back = vflow.flow(cur, prev, preset=preset)
    f_fwd = vflow.flow(prev, cur, preset=preset)
    return f_back, ~vflow.occlusion(f_back, f_fwd)


def temporal_warp_error(stylised: Sequence[np.ndarray], sources: Sequence[np.ndarray],
                        preset: vflow.Preset = "medium") -> float:
    """Mean over consecutive pairs of ``warp_error`` between stylised frames, with flow and occlusion
    computed on the source frames: how much the output changes where the content only moved."""
    if len(stylised) != len(sources) or len(stylised) < 2:
        raise InvalidInput("temporal warping error needs two or more stylised frames and their sources")
    errs = []
    for t in range(1, len(stylised)):
        f_back, valid = consistency(sources[t - 1], sources[t], preset)
        errs.append(vflow.warp_error(stylised[t], stylised[t - 1], f_back, valid))
    return float(np.mean(errs))


@functools.lru_cache(maxsize=2)
def _network(model_dir: str, device: str) -> Any:
    from reelforge.vision.style.fast import FastStyleModel

    return FastStyleModel.load(model_dir, device=device)


@functools.lru_cache(maxsize=2)
def _features(spec: str, seed: int, device: str) -> Any:
    from reelforge.vision.style.features import build_features

    return build_features(spec, seed=seed, device=device)


def _blend(raw: np.ndarray, frames: np.ndarray, style: VideoStyle, stop: StopFn | None,
           tick: Callable[[], None]) -> np.ndarray:
    out = np.empty_like(raw)
    out[0] = raw[0]
    tick()
    for i in range(1, len(raw)):
        if stop is not None and stop():
            raise Cancelled("video style transfer cancelled")
        f_back, valid = consistency(frames[i - 1], frames[i], style.preset)
        warped = vflow.warp(out[i - 1], f_back).astype(np.float32)
        cur = raw[i].astype(np.float32)
        mixed = np.where(valid[..., None], style.blend * warped + (1 - style.blend) * cur, cur)
        out[i] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
        tick()
    return out


def _optimise(job: ChunkJob, stop: StopFn | None, tick: Callable[[], None]) -> np.ndarray:
    from reelforge.vision.style.optimize import make_objective, stylize_image

    if job.style_image is None:
        raise InvalidInput("the optimise method needs a style image")
    net = _features(job.features, job.feature_seed, job.device)
    reference = job.reference if job.reference is not None else job.frames[0]
    objective = make_objective(net, job.style_image, reference, job.transfer, job.device)
    st = job.style
    later = st.later_steps if st.later_steps is not None else max(1, job.transfer.steps // 2)
    out = np.empty_like(job.frames)
    for i, frame in enumerate(job.frames):
        if i == 0 or not st.temporal:
            out[i] = stylize_image(frame, None, net, job.transfer, objective=objective, device=job.device,
                                   should_stop=stop)
        else:
            f_back, valid = consistency(job.frames[i - 1], frame, st.preset)
            warped = vflow.warp(out[i - 1], f_back)
            out[i] = stylize_image(frame, None, net, job.transfer, objective=objective, init=warped,
                                   temporal=(warped, valid), temporal_weight=st.temporal_weight, steps=later,
                                   device=job.device, should_stop=stop)
        tick()
    return out


def _run_chunk(job: ChunkJob, progress: Callable[[], None] | None = None, stop: StopFn | None = None) -> np.ndarray:
    import torch

    if job.threads is not None:
        torch.set_num_threads(max(1, job.threads))
    tick = progress or (lambda: None)
    if job.style.method == "network":
        if job.model_dir is None:
            raise InvalidInput("the network method needs a trained style model")
        raw = _network(job.model_dir, job.device).stylize_batch(job.frames)
        out = _blend(raw, job.frames, job.style, stop, tick) if job.style.temporal else raw
    else:
        out = _optimise(job, stop, tick)
    return out[job.warmup :]


def stylize_chunk(job: ChunkJob) -> np.ndarray:
    """Stylise one chunk (for a process pool: top-level and picklable); returns its kept frames."""
    return _run_chunk(job)


def stylize_video(
    frames: np.ndarray,
    template: ChunkJob,
    *,
    chunk_frames: int = 16,
    overlap: int = 2,
    map_fn: MapFn | None = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> np.ndarray:
    """Stylise ``(N, H, W, 3)`` uint8 frames; ``template`` carries everything but the frames.

    ``map_fn(stylize_chunk, jobs)`` runs the chunks (a job context's ``map``: a process pool); without
    it they run here one after the other, reporting progress per frame and honouring ``should_stop``.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InvalidInput(f"frames must be uint8 (N, H, W, 3), got {frames.dtype} {frames.shape}")
    if min(frames.shape[1:3]) < MIN_SIDE:
        raise InvalidInput(f"frames are {frames.shape[2]}x{frames.shape[1]}: style transfer needs at least "
                           f"{MIN_SIDE}x{MIN_SIDE}")
    plan = plan_chunks(len(frames), chunk_frames, overlap if template.style.temporal else 0)
    reference = template.reference if template.reference is not None else frames[0]
    jobs = [replace(template, index=i, frames=frames[c:e], warmup=s - c, reference=reference)
            for i, (c, s, e) in enumerate(plan)]
    if map_fn is not None:
        parts = map_fn(stylize_chunk, jobs)
    else:
        done = [0]
        total = sum(len(j.frames) for j in jobs)

        def tick() -> None:
            done[0] += 1
            if progress is not None:
                progress(done[0], total, f"frame {done[0]}/{total}")

        parts = [_run_chunk(j, tick, should_stop) for j in jobs]
    return np.concatenate(parts)


def load_frames(path: str | Path, limits: MediaLimits, *, size: int, max_frames: int,
                should_stop: StopFn | None = None) -> np.ndarray:
    """Decode a video (limit-checked, ``media.iter_frames``) to uint8 frames with long side ``size``
    (even sides, for H.264). More than ``max_frames`` frames is a LimitExceeded, before any work."""
    from reelforge.media.video import iter_frames

    out: list[np.ndarray] = []
    for frame in iter_frames(Path(path), limits, max_frames=max_frames + 1):
        if should_stop is not None and should_stop():
            raise Cancelled("video decoding cancelled")
        if len(out) == max_frames:
            raise LimitExceeded(f"{Path(path).name} has more than {max_frames} frames: raise max_frames or trim it")
        out.append(fit_size(frame, min(size, max(frame.shape[:2])), even=True))
    if not out:
        raise InvalidInput(f"{Path(path).name}: no frames decoded")
    if min(out[0].shape[:2]) < MIN_SIDE:
        raise InvalidInput(f"{Path(path).name}: frames are {out[0].shape[1]}x{out[0].shape[0]} at size {size}: "
                           f"style transfer needs at least {MIN_SIDE}x{MIN_SIDE}")
    return np.stack(out)

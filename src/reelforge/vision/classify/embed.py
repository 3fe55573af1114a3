"""Image embeddings from a trained classifier, and cosine nearest neighbours.

``layers="penultimate"`` is the globally pooled activation just before the linear head: what the
network uses to tell the classes apart. A network trained on few classes squeezes every image of a
class onto nearly one point there (on lfw_subset's face/non-face, all faces score cosine > 0.999 with
each other), so it ranks class, not identity. ``layers="all"`` (the default) concatenates every
stage's pooled activations, each scaled to unit length: the early stages keep the layout and texture
that tell one image from another, the last keeps the class, and near-duplicates (a flipped or shifted
copy) come first. ``benchmarks/bench_classify.py`` measures both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from reelforge.errors import InvalidInput
from reelforge.training.callbacks import ProgressFn, StopFn
from reelforge.vision.classify.data import ImageBatch, batch_size_of, to_float_nchw
from reelforge.vision.classify.train import TrainedClassifier

LAYERS = ("all", "penultimate")


def _stage_features(model: Any, x: torch.Tensor) -> torch.Tensor:
    """Each stage's globally pooled activations, unit length per stage, concatenated (norm 1 overall)."""
    h = model.stem(x)
    parts = []
    for stage in model.stages:
        h = stage(h)
        parts.append(F.normalize(h.float().mean(dim=(2, 3)), dim=1))
    return torch.cat(parts, dim=1) / len(parts) ** 0.5


def embedding_dim(clf: TrainedClassifier, layers: str = "all") -> int:
    if layers == "penultimate":
        return int(clf.model.feature_dim)
    return sum(int(clf.config.width) * 2**i for i in range(int(clf.config.depth)))


def embed_images(
    clf: TrainedClassifier,
    images: ImageBatch,
    *,
    layers: str = "all",
    batch_size: int = 256,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> np.ndarray:
    """Embeddings, float32 (N, D): ``layers`` "all" (every stage, see the module docstring) or
    "penultimate" (the features the head sees, not normalised)."""
    from reelforge.errors import Cancelled

    if layers not in LAYERS:
        raise InvalidInput(f"layers must be one of {', '.join(LAYERS)}, got {layers!r}")
    n = batch_size_of(images)
    out = np.empty((n, embedding_dim(clf, layers)), dtype=np.float32)
    clf.model.eval()
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            if should_stop is not None and should_stop():
                raise Cancelled(f"embedding stopped at image {start}/{n}")
            x = to_float_nchw(images[start : start + batch_size], channels=clf.config.channels,
                              size=clf.config.resolution).to(clf.device)
            f = clf.model.features(x) if layers == "penultimate" else _stage_features(clf.model, x)
            out[start : start + x.shape[0]] = f.float().cpu().numpy()
            if progress is not None:
                progress(min(n, start + batch_size), n, "embedding images")
    return out


def normalise(features: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
    """Rows minus ``center`` (if given), scaled to unit length (all-zero rows stay zero)."""
    f = np.asarray(features, dtype=np.float32)
    if f.ndim != 2:
        raise InvalidInput(f"features must be a 2-D array (N, D), got shape {f.shape}")
    if center is not None:
        f = f - np.asarray(center, dtype=np.float32)[None, :]
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    return f / np.maximum(norms, 1e-12)


def cosine_rank(
    query: np.ndarray,
    bank: np.ndarray,
    *,
    k: int | None = None,
    center: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``bank`` ranked by cosine similarity to ``query`` (best first) and the scores.

    ``query`` is one feature vector (D,) or several (Q, D) (then the results are (Q, k)). With
    ``center`` the bank's mean is subtracted from both sides first (it spreads out features that all
    point one way; it did not help the "all" embeddings on lfw_subset). Ties keep bank order, so the
    ranking is deterministic.
    """
    q = np.asarray(query, dtype=np.float32)
    single = q.ndim == 1
    q = q[None, :] if single else q
    b = np.asarray(bank, dtype=np.float32)
    if b.ndim != 2 or b.shape[0] == 0:
        raise InvalidInput(f"the bank must be a non-empty (N, D) array, got shape {b.shape}")
    if q.ndim != 2 or q.shape[1] != b.shape[1]:
        raise InvalidInput(f"query has {q.shape[-1]} features but the bank has {b.shape[1]}")
    mean = b.mean(axis=0) if center and b.shape[0] > 1 else None
    sims = normalise(q, mean) @ normalise(b, mean).T
    k = b.shape[0] if k is None else max(0, min(int(k), b.shape[0]))
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(sims, order, axis=1)
    return (order[0], scores[0]) if single else (order, scores)

"""The vectorised DTW against a textbook one, and the coarse-to-fine search against the full one."""

from __future__ import annotations

import numpy as np

from reelforge.editorial.dtw import dtw_scores, euclidean_rows, multiscale_dtw, windowed_dtw
from reelforge.editorial.features import compute_features, pool, voice_activity


def _reference(x: np.ndarray, y: np.ndarray) -> float:
    """Textbook O(n*m) DTW with the same steps (diagonal, down, right) and cell costs."""
    n, m = len(x), len(y)
    c = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))
    d = np.full((n, m), np.inf)
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                d[i, j] = c[0, 0]
                continue
            best = min(d[i - 1, j] if i else np.inf, d[i, j - 1] if j else np.inf,
                       d[i - 1, j - 1] if i and j else np.inf)
            d[i, j] = c[i, j] + best
    return float(d[-1, -1])


def _check_path(p, n: int, m: int) -> None:  # type: ignore[no-untyped-def]
    assert p.first[0] == 0 and p.last[-1] == m - 1
    assert np.all(np.diff(p.first) >= 0) and np.all(np.diff(p.last) >= 0)
    assert np.all(p.first <= p.last)
    assert np.all(p.first[1:] <= p.last[:-1] + 1)  # each row starts where the last ended, or one on


def test_full_window_matches_the_textbook_dtw() -> None:
    rng = np.random.default_rng(0)
    for n, m in ((17, 23), (30, 9), (1, 5), (6, 1)):
        x, y = rng.normal(size=(n, 3)), rng.normal(size=(m, 3))
        p = windowed_dtw(euclidean_rows(x, y), n, m, np.zeros(n), np.full(n, m))
        assert np.isclose(p.cost, _reference(x, y))
        _check_path(p, n, m)
        cells = sum(float(np.linalg.norm(y[p.first[i]:p.last[i] + 1] - x[i], axis=1).sum()) for i in range(n))
        assert np.isclose(cells, p.cost)  # the backtracked path is the one that costs that
        assert np.isclose(dtw_scores(x, [y])[0], p.cost / (n + m))


def test_dtw_scores_batches_sequences_of_different_lengths() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 4))
    ys = [rng.normal(size=(k, 4)) for k in (5, 20, 33)]
    got = dtw_scores(x, ys)
    assert np.allclose(got, [_reference(x, y) / (20 + len(y)) for y in ys])


def test_coarse_to_fine_finds_the_full_path_of_a_warped_signal() -> None:
    rng = np.random.default_rng(2)
    # a random smooth "synthetic" sequence, and a "real" one that plays it unevenly with pauses
    y = np.cumsum(rng.normal(size=(600, 4)), axis=0)
    speed = np.repeat(rng.uniform(0.6, 1.6, 12), 60)
    idx = np.clip(np.cumsum(speed) * 600 / speed.sum(), 0, 599).astype(int)
    x = np.concatenate([y[:1].repeat(40, 0), y[idx], y[-1:].repeat(40, 0)]) + rng.normal(0, 0.05, (800, 4))
    n, m = len(x), len(y)
    full = windowed_dtw(euclidean_rows(x, y), n, m, np.zeros(n), np.full(n, m))
    guide = np.clip(np.round(np.linspace(0, m - 1, n)), 0, m - 1).astype(int)
    fast = multiscale_dtw(x, y, guide, band=400, radius=8)
    _check_path(fast, n, m)
    assert fast.cost <= full.cost * 1.01
    assert np.abs(fast.first - full.first).mean() < 2.0


def test_features_and_voice_activity() -> None:
    sr = 16000
    t = np.arange(sr * 2) / sr
    burst = np.where((t > 0.5) & (t < 1.0), np.sin(2 * np.pi * 300 * t) * 0.3, 0.0)
    x = (burst + np.random.default_rng(0).normal(0, 0.001, len(t))).astype(np.float32)
    f = compute_features(x)
    assert len(f) == 200 and f.mel.shape == (200, 40) and f.mfcc().shape == (200, 13)
    vad = voice_activity(f.energy_db)
    assert vad[55:95].all() and not vad[:40].any() and not vad[110:].any()
    assert not voice_activity(compute_features(np.zeros(sr, np.float32)).energy_db).any()
    assert pool(np.arange(10.0)[:, None], 4)[:, 0].tolist() == [1.5, 5.5, 8.75]


def test_down_penalty_steers_a_long_pause_onto_the_free_frames() -> None:
    q, p, r = np.array([[5.0, 0.0]]), np.array([[0.0, 0.0]]), np.array([[0.0, 5.0]])
    y = np.concatenate([q, p, p, r])  # two identical pause frames: column 1 "inside a line", column 2 a gap
    x = np.concatenate([q, p.repeat(20, 0), r])
    n, m = len(x), len(y)
    penalty = np.array([0.0, 0.1, 0.0, 0.0])
    path = windowed_dtw(euclidean_rows(x, y), n, m, np.zeros(n), np.full(n, m), down_penalty=penalty)
    held = [i for i in range(n) if path.first[i] == path.last[i]]
    assert sum(1 for i in held if path.first[i] == 1) <= 1 and sum(1 for i in held if path.first[i] == 2) >= 19
    fast = multiscale_dtw(x, y, np.zeros(n, int), band=50, radius=4, factors=(1,), down_penalty=penalty)
    assert np.array_equal(fast.first, path.first)

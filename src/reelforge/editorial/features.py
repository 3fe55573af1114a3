"""Speech features for alignment: MFCCs and a simple energy voice-activity detector (numpy/scipy).

A compact MFCC (pre-emphasis, Hamming window, power spectrum, mel filterbank, log, DCT-II) rather
than librosa: the aligner needs nothing more, and the project keeps its dependencies to numpy/scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
HOP_S = 0.010
WIN_S = 0.025
N_FFT = 512
N_MELS = 40
N_CEPS = 13
FLOOR_DB = 50.0  # mel energies are floored this far below the loudest frame, for both signals
_CHUNK = 20_000  # frames per block: bounds the memory of framing long audio


@dataclass(frozen=True)
class Features:
    """Per-frame features: ``mel`` power (n, 40), ``energy_db`` (n,) — frame i starts at i * hop."""

    mel: np.ndarray
    energy_db: np.ndarray
    hop: float = HOP_S

    def __len__(self) -> int:
        return int(self.mel.shape[0])

    def mfcc(self, floor: np.ndarray | float | None = None, gain: np.ndarray | float = 1.0) -> np.ndarray:
        """MFCCs (with c0) of the mel powers times ``gain`` (per band or one), each band floored at ``floor``.

        The floor is what makes real and synthetic silence alike: give both signals the same one
        (a little above the real audio's noise). By default it is ``FLOOR_DB`` below the loudest
        frames.
        """
        from scipy.fft import dct

        mel = self.mel * np.asarray(gain, dtype=np.float32)
        if floor is None:
            floor = relative_floor(mel)
        logmel = np.log(np.maximum(mel, np.asarray(floor, dtype=np.float32) + 1e-12))
        return dct(logmel, type=2, norm="ortho", axis=1)[:, :N_CEPS].astype(np.float32)


def relative_floor(mel: np.ndarray, below_db: float = FLOOR_DB) -> float:
    """A per-band power ``below_db`` under the loudest frames (their 99th percentile)."""
    top = float(np.percentile(mel.sum(axis=1), 99)) if len(mel) else 1.0
    return max(top, 1e-10) * 10 ** (-below_db / 10) / max(mel.shape[1] if mel.ndim == 2 else 1, 1)


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS,
                   fmin: float = 60.0, fmax: float | None = None) -> np.ndarray:
    """Triangular filters (n_mels, n_fft // 2 + 1), equal area."""
    fmax = fmax or sr / 2 - 200
    mels = np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2)
    hz = _mel_to_hz(mels)
    bins = np.fft.rfftfreq(n_fft, 1.0 / sr)
    fb = np.zeros((n_mels, bins.size))
    for m in range(n_mels):
        lo, c, hi = hz[m], hz[m + 1], hz[m + 2]
        up = (bins - lo) / (c - lo)
        down = (hi - bins) / (hi - c)
        fb[m] = np.maximum(0.0, np.minimum(up, down)) * (2.0 / (hi - lo))
    return fb


def _frames(x: np.ndarray, win: int, hop: int) -> np.ndarray:
    n = 1 + max(0, (len(x) - win)) // hop if len(x) >= win else 1
    if len(x) < win + (n - 1) * hop:
        x = np.pad(x, (0, win + (n - 1) * hop - len(x)))
    return np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:n]


def compute_features(x: np.ndarray, sr: int = SAMPLE_RATE) -> Features:
    """Mel powers every 10 ms over 25 ms windows, and each frame's energy in dBFS."""
    if sr != SAMPLE_RATE:
        raise ValueError(f"features are computed at {SAMPLE_RATE} Hz, got {sr}")
    x = np.asarray(x, dtype=np.float32)
    hop, win = round(HOP_S * sr), round(WIN_S * sr)
    n_frames = max(1, int(np.ceil(len(x) / hop)))
    # Pre-emphasis flattens the spectral tilt of voiced speech so upper formants count.
    y = np.append(x[:1], x[1:] - 0.97 * x[:-1]) if len(x) else np.zeros(1, np.float32)
    y = np.pad(y, (0, n_frames * hop + win - len(y)))
    window = np.hamming(win).astype(np.float32)
    fb = mel_filterbank(sr).astype(np.float32)
    mel = np.empty((n_frames, fb.shape[0]), np.float32)
    energy = np.empty(n_frames, np.float32)
    for s in range(0, n_frames, _CHUNK):
        e = min(n_frames, s + _CHUNK)
        fr = _frames(y[s * hop: e * hop + win], win, hop)[: e - s]
        energy[s:e] = 10 * np.log10(np.mean(fr.astype(np.float64) ** 2, axis=1) + 1e-12)
        spec = np.abs(np.fft.rfft(fr * window, n=N_FFT, axis=1)) ** 2
        mel[s:e] = spec.astype(np.float32) @ fb.T
    return Features(mel, energy)


def voice_activity(energy_db: np.ndarray, *, min_level_db: float = -60.0, min_spread_db: float = 6.0,
                   smooth: int = 15) -> np.ndarray:
    """Frames that are probably speech: well above the noise floor, between it and the loud frames.

    Deliberately simple — it only decides "is there any speech here", where the pauses lie and how
    loud speech is; the alignment itself never trusts it frame by frame. Audio whose frame energies
    hardly vary (silence, steady noise, a tone: 95th minus 10th percentile under ``min_spread_db``)
    has no speech. ``smooth`` closes gaps shorter than that many frames (stops inside words).
    """
    if energy_db.size == 0:
        return np.zeros(0, bool)
    floor, loud = np.percentile(energy_db, [10, 95])
    spread = float(loud - floor)
    if spread < min_spread_db or loud < min_level_db:
        return np.zeros(energy_db.shape, bool)
    active = (energy_db > floor + max(3.0, 0.35 * spread)) & (energy_db > min_level_db)
    if smooth > 1 and active.any():
        # closing (dilate, then erode) with a window of ``smooth`` frames
        k = np.ones(smooth)
        dilated = np.convolve(active.astype(float), k, mode="same") > 0
        active = active | (np.convolve(dilated.astype(float), k, mode="same") >= smooth - 0.5)
    return active


def normalize(mfcc: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Cepstral mean/variance normalisation with statistics of speech frames only.

    Real audio is mostly pauses and synthetic audio mostly speech; statistics over all frames
    would shift the two differently.
    """
    ref = mfcc[speech] if speech.sum() >= 10 else mfcc
    mu = ref.mean(axis=0)
    sd = ref.std(axis=0) + 1e-3
    return ((mfcc - mu) / sd).astype(np.float32)


def pool(x: np.ndarray, factor: int) -> np.ndarray:
    """Average consecutive frames in groups of ``factor`` (the last group may be short)."""
    if factor == 1:
        return x
    n = len(x)
    m = -(-n // factor)
    pad = m * factor - n
    if pad:
        x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
    return x.reshape(m, factor, *x.shape[1:]).mean(axis=1)

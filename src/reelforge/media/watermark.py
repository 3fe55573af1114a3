"""An invisible, keyed watermark carrying a 64-bit payload; it survives JPEG re-encoding, resizing,
cropping and metadata stripping, so a copy that lost its metadata can still be traced.

Spread spectrum in the luma plane. A keyed tile of 16x16 chips (4 px each, 64 px square) is repeated
over the image: a third of the chips are a known sync pattern, the rest carry the payload plus a
CRC-16 under a rate-1/2 convolutional code (one chip per coded bit in every tile, soft Viterbi
decoding). The chip pattern is band-passed (no flat blotches, no pixel-sharp edges: those are what
shows and what JPEG removes) and scaled by local texture, so it hides where the picture is busy;
R, G and B get the same change, so hues are untouched.

Detection needs no original and no metadata. The luma is whitened (the sign of a high-pass);
resizing scales the tiling period, which the autocorrelation of the whitened image shows as peaks;
at each candidate period the image is folded into one tile (cropping only shifts the tile's phase),
circular correlation with the sync chips finds the phase and a z-score, and the payload chips are
read at that phase. A watermark is reported only when the sync z-score clears ``Z_MIN`` *and* the
CRC matches: unmarked images, or images marked with another key, are not found. The geometry handled
is a uniform resize (``SCALE_RANGE``) and crops; rotation, flips and aspect changes are not.

numpy, scipy and Pillow only.
"""

from __future__ import annotations

import binascii
import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image
from scipy import ndimage

from reelforge.errors import InvalidInput

CHIP = 4  # pixels per chip side at embedding scale
CHIPS = 16  # chips per tile side
TILE = CHIP * CHIPS  # 64 px
N_SYNC = 84  # sync chips per tile (of 256); the other 172 carry the coded payload
PAYLOAD_BITS = 64
INFO_BITS = PAYLOAD_BITS + 16  # + CRC-16
_K = 7  # convolutional code, rate 1/2, constraint length 7 (the 0o171/0o133 pair), 6 tail bits
_POLYS = (0o171, 0o133)
CODED_BITS = 2 * (INFO_BITS + _K - 1)  # 172
MIN_SIDE = 128  # smaller images are not marked: too few tiles to find again after a 50% resize
Z_MIN = 5.5  # sync z-score needed, besides the CRC (marked copies scored 5.9-10, unmarked images <= 5.2 in trials)
DEFAULT_PSNR = 39.0  # target PSNR (dB) of the marked image against the original
SCALE_RANGE = (0.4, 1.25)  # resize factors the detector searches
_DETECT_SIDE = 1024  # larger copies are searched in a central crop of this size
_WINDOW = 320  # px of the central window the coarse period search folds
_COARSE_STEP = 0.002
_COARSE = np.arange(-0.03, 0.03 + 1e-9, _COARSE_STEP)  # relative band around an autocorrelation peak
_READS = 3  # candidate periods whose payload is read
# Phases tried around the sync peak: with _READS, 27 reads at most, each a 1/65536 chance of a
# false CRC match, and only after the sync z-score cleared Z_MIN.
_NEIGHBOURS = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)]


@dataclass(frozen=True)
class Detection:
    found: bool
    payload: int | None  # the 64-bit payload, when found
    confidence: float  # 0..1: logistic of the sync z-score around Z_MIN (0.5 at the threshold)
    score: float  # the best sync z-score
    scale: float | None = None  # estimated resize factor of the copy (1 = original size)

    @property
    def payload_hex(self) -> str | None:
        return None if self.payload is None else f"{self.payload:016x}"

    def to_dict(self) -> dict[str, object]:
        return {"found": self.found, "payload": self.payload_hex, "confidence": round(self.confidence, 4),
                "score": round(self.score, 2), "scale": None if self.scale is None else round(self.scale, 4)}


@dataclass(frozen=True)
class _Pattern:
    sync_tile: np.ndarray  # TILE x TILE: shaped sync chips (payload chips zero)
    sync_fft_conj: np.ndarray
    pn: np.ndarray  # 256 chip signs
    sync_idx: np.ndarray  # chip indices of the sync part
    pay_idx: np.ndarray  # chip indices of the payload part
    bit_of: np.ndarray  # for each payload chip, which coded bit it carries
    mask: np.ndarray  # CODED_BITS keyed whitening of the bits


def _shape(tile: np.ndarray) -> np.ndarray:
    """Band-pass a tile, circularly (the tile repeats): soften chip edges, drop the blotchy lows."""
    soft = ndimage.gaussian_filter(tile, 0.9, mode="wrap")
    return soft - ndimage.gaussian_filter(soft, 5.0, mode="wrap")


def _chips_to_tile(values: np.ndarray) -> np.ndarray:
    return np.kron(values.reshape(CHIPS, CHIPS), np.ones((CHIP, CHIP)))


@lru_cache(maxsize=8)
def _pattern(key: bytes) -> _Pattern:
    seed = int.from_bytes(hashlib.sha256(b"reelforge-watermark/1\x00" + key).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    n = CHIPS * CHIPS
    perm = rng.permutation(n)
    sync_idx, pay_idx = np.sort(perm[:N_SYNC]), perm[N_SYNC:]
    pn = rng.choice(np.array([-1.0, 1.0]), n)
    bit_of = np.arange(len(pay_idx)) % CODED_BITS
    mask = rng.integers(0, 2, CODED_BITS).astype(np.uint8)
    sync = np.zeros(n)
    sync[sync_idx] = pn[sync_idx]
    sync_tile = _shape(_chips_to_tile(sync))
    return _Pattern(sync_tile, np.conj(np.fft.fft2(sync_tile)), pn, sync_idx, pay_idx, bit_of, mask)


def _parity(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> 4)
    x = x ^ (x >> 2)
    return (x ^ (x >> 1)) & 1


# Trellis of the code: from state s (the last K-1 input bits, newest lowest) with input b, the two
# output bits are parities of (s << 1 | b) masked by the polynomials (taps reversed to newest-first).
_REG = np.arange(1 << _K, dtype=np.int64)  # (state << 1) | input
_TAPS = [int(f"{poly:0{_K}b}"[::-1], 2) for poly in _POLYS]
_OUT = np.stack([_parity(_REG & t) for t in _TAPS], axis=1).astype(np.uint8)  # (128, 2)


def _info_bits(payload: int) -> np.ndarray:
    data = payload.to_bytes(8, "big")
    crc = binascii.crc_hqx(data, 0xFFFF)
    return np.unpackbits(np.frombuffer(data + crc.to_bytes(2, "big"), dtype=np.uint8))


def _encode(info: np.ndarray) -> np.ndarray:
    state, out = 0, []
    for b in [*info.tolist(), *([0] * (_K - 1))]:  # the tail brings the encoder back to state 0
        reg = ((state << 1) | b) & ((1 << _K) - 1)
        out.extend(_OUT[reg])
        state = reg & ((1 << (_K - 1)) - 1)
    return np.array(out, dtype=np.uint8)


def _viterbi(soft: np.ndarray) -> np.ndarray:
    """Maximum-likelihood info bits from soft coded values (positive: bit 0), ending in state 0."""
    n_states = 1 << (_K - 1)
    steps = len(soft) // 2
    metric = np.full(n_states, -np.inf)
    metric[0] = 0.0
    states = np.arange(n_states)
    # Predecessors of next state t: (t >> 1) | (hi << (K-2)) for hi in 0/1, with input bit t & 1.
    prev = np.stack([(states >> 1) | (hi << (_K - 2)) for hi in (0, 1)], axis=1)  # (64, 2)
    reg = (prev << 1) | (states & 1)[:, None]  # register value for each (next state, choice)
    signs = 1.0 - 2.0 * _OUT[reg]  # (64, 2, 2): expected signs of the two coded bits
    choice = np.zeros((steps, n_states), dtype=np.uint8)
    for i in range(steps):
        cand = metric[prev] + signs[..., 0] * soft[2 * i] + signs[..., 1] * soft[2 * i + 1]
        choice[i] = np.argmax(cand, axis=1)
        metric = cand[states, choice[i]]
    bits = np.zeros(steps, dtype=np.uint8)
    state = 0
    for i in range(steps - 1, -1, -1):
        bits[i] = state & 1
        state = int(prev[state, choice[i, state]])
    return bits[:INFO_BITS]


def _coded_bits(payload: int, mask: np.ndarray) -> np.ndarray:
    return _encode(_info_bits(payload)) ^ mask


def _luma(img: Image.Image) -> np.ndarray:
    if img.mode in ("L", "LA", "I", "I;16", "F"):
        return np.asarray(img.convert("L"), dtype=np.float64)
    rgb = np.asarray(img.convert("RGB"), dtype=np.float64)
    return rgb @ np.array([0.299, 0.587, 0.114])


def _texture(y: np.ndarray) -> np.ndarray:
    """Local activity (smoothed high-pass energy): where a pattern hides."""
    hp = y - ndimage.gaussian_filter(y, 1.5)
    return np.sqrt(ndimage.gaussian_filter(hp * hp, 4.0))


def embed(img: Image.Image, payload: int, key: bytes, *, psnr: float = DEFAULT_PSNR) -> Image.Image:
    """``img`` with ``payload`` (64-bit) embedded under ``key``; the same size and mode (RGB(A) or L).

    The change has an RMS of ``255 / 10**(psnr/20)`` grey levels, concentrated in textured areas.
    """
    if not 0 <= payload < 1 << PAYLOAD_BITS:
        raise InvalidInput("watermark payload must be a 64-bit unsigned integer")
    if min(img.size) < MIN_SIDE:
        raise InvalidInput(f"image {img.width}x{img.height} is too small to watermark (under {MIN_SIDE} px)")
    pat = _pattern(key)
    chips = pat.pn.copy()
    signs = 1.0 - 2.0 * _coded_bits(payload, pat.mask)  # bit 0 -> +1, bit 1 -> -1
    chips[pat.pay_idx] *= signs[pat.bit_of]
    tile = _shape(_chips_to_tile(chips))
    tile /= np.sqrt(np.mean(tile * tile))
    w, h = img.size
    pattern = np.tile(tile, (math.ceil(h / TILE), math.ceil(w / TILE)))[:h, :w]
    y = _luma(img)
    act = _texture(y)
    weight = np.clip(act / (np.median(act) + 1.0), 0.8, 4.0)
    delta = pattern * weight
    target_rms = 255.0 / 10 ** (psnr / 20)
    delta *= target_rms / max(float(np.sqrt(np.mean(delta * delta))), 1e-9)

    mode = img.mode
    if mode in ("L", "RGB", "RGBA"):
        base = img
    elif mode in ("LA", "I", "I;16", "F"):
        base = img.convert("L")  # the mark is 8-bit luma: a deeper grey image comes back as L
    else:
        base = img.convert("RGBA" if "A" in mode or "transparency" in img.info else "RGB")
    arr = np.asarray(base, dtype=np.float64).copy()
    if arr.ndim == 2:
        arr += delta
    else:
        arr[..., :3] += delta[..., None]  # the same change in R, G and B: luma only, hue untouched
    out = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), base.mode)
    out.info.update({k: v for k, v in img.info.items() if k in ("dpi", "icc_profile")})
    return out


def _whiten(y: np.ndarray) -> np.ndarray:
    """The sign of the high-pass: the picture's edges and texture are heavy-tailed noise to the
    correlator, and a sign detector is robust to them (it read small, re-encoded copies far more
    reliably in trials than a contrast-normalised high-pass)."""
    return np.sign(y - ndimage.gaussian_filter(y, 1.5))


def _period_candidates(w: np.ndarray, limit: int = 5) -> list[float]:
    """Tiling periods (px) suggested by the autocorrelation of the whitened image."""
    h, wd = w.shape
    spec = np.fft.rfft2(w, s=(2 * h, 2 * wd))  # zero-padded: linear, not circular, correlation
    ac = np.fft.irfft2(spec * np.conj(spec), s=(2 * h, 2 * wd))
    ac /= ac[0, 0] + 1e-12
    lo = max(int(TILE * SCALE_RANGE[0]) - 1, 4)
    hi = min(int(TILE * SCALE_RANGE[1]) + 2, h // 2, wd // 2)
    if hi <= lo + 2:
        return []
    # Rows/columns next to the axis too: a period that is not a whole number of pixels smears.
    prof = ac[0, lo:hi] + ac[lo:hi, 0] + 0.5 * (ac[1, lo:hi] + ac[lo:hi, 1] + ac[-1, lo:hi] + ac[lo:hi, -1])
    peaks = [i for i in range(1, len(prof) - 1) if prof[i] >= prof[i - 1] and prof[i] >= prof[i + 1]]
    peaks.sort(key=lambda i: -prof[i])
    out = []
    for i in peaks[:limit]:
        a, b, c = prof[i - 1], prof[i], prof[i + 1]
        denom = a - 2 * b + c
        frac = 0.5 * (a - c) / denom if denom < 0 else 0.0
        out.append(lo + i + float(np.clip(frac, -0.5, 0.5)))
    return out


def _fold(w: np.ndarray, period: float) -> np.ndarray:
    """Sum the whitened image into one tile at ``period`` px, resampled to TILE x TILE."""
    h, wd = w.shape
    bins = int(min(TILE, max(CHIPS, math.floor(period))))
    ys = (np.floor((np.arange(h) % period) / period * bins)).astype(np.int64).clip(0, bins - 1)
    xs = (np.floor((np.arange(wd) % period) / period * bins)).astype(np.int64).clip(0, bins - 1)
    idx = (ys[:, None] * bins + xs[None, :]).ravel()
    total = np.bincount(idx, weights=w.ravel(), minlength=bins * bins).reshape(bins, bins)
    count = np.bincount(idx, minlength=bins * bins).reshape(bins, bins)
    tile = total / np.maximum(count, 1)
    if bins != TILE:  # Fourier resampling: the tile is periodic, so this is exact band-limited scaling
        spec = np.fft.fftshift(np.fft.fft2(tile))
        pad = (TILE - bins) // 2
        big = np.zeros((TILE, TILE), dtype=complex)
        big[pad:pad + bins, pad:pad + bins] = spec
        tile = np.real(np.fft.ifft2(np.fft.ifftshift(big))) * (TILE * TILE) / (bins * bins)
    return tile


def _sync(tile: np.ndarray, pat: _Pattern) -> tuple[float, tuple[int, int]]:
    corr = np.real(np.fft.ifft2(np.fft.fft2(tile) * pat.sync_fft_conj))
    k = int(np.argmax(corr))
    dy, dx = divmod(k, TILE)
    sd = float(corr.std())
    return (float(corr.flat[k] - corr.mean()) / sd if sd > 0 else 0.0), (dy, dx)


def _read(tile: np.ndarray, shift: tuple[int, int], pat: _Pattern) -> int | None:
    """The payload read at ``shift``, or None when the CRC fails."""
    aligned = np.roll(tile, (-shift[0], -shift[1]), axis=(0, 1))
    chip_vals = _shape(aligned).reshape(CHIPS, CHIP, CHIPS, CHIP).sum(axis=(1, 3)).ravel()
    contrib = chip_vals[pat.pay_idx] * pat.pn[pat.pay_idx]
    soft = np.bincount(pat.bit_of, weights=contrib, minlength=CODED_BITS)
    soft = np.where(pat.mask == 1, -soft, soft)  # undo the keyed bit whitening
    raw = np.packbits(_viterbi(soft)).tobytes()
    data, crc = raw[:8], int.from_bytes(raw[8:10], "big")
    if binascii.crc_hqx(data, 0xFFFF) != crc:
        return None
    return int.from_bytes(data, "big")


def detect(img: Image.Image, key: bytes) -> Detection:
    """Look for a watermark made with ``key``; works on a re-encoded, resized or cropped copy."""
    pat = _pattern(key)
    if max(img.size) > _DETECT_SIDE:  # a central crop: cropping keeps the scale, and bounds the work
        left, top_ = max(0, (img.width - _DETECT_SIDE) // 2), max(0, (img.height - _DETECT_SIDE) // 2)
        img = img.crop((left, top_, left + min(img.width, _DETECT_SIDE), top_ + min(img.height, _DETECT_SIDE)))
    y = _luma(img)
    if min(y.shape) < TILE * SCALE_RANGE[0] * 2:
        return Detection(False, None, 0.0, 0.0)
    w = _whiten(y)
    periods = sorted({*_period_candidates(w), float(TILE)})  # TILE: an untouched or only cropped copy
    # Coarse: a central window (few periods, so a coarse period grid still folds coherently) and a
    # band around each candidate as wide as the autocorrelation's error.
    h, wd = w.shape
    ch, cw = min(h, _WINDOW), min(wd, _WINDOW)
    win = w[(h - ch) // 2:(h - ch) // 2 + ch, (wd - cw) // 2:(wd - cw) // 2 + cw]
    coarse: list[tuple[float, float]] = []
    for p0 in periods:
        zs = [(_sync(_fold(win, float(p)), pat)[0], float(p)) for p in p0 * (1.0 + _COARSE)]
        coarse.append(max(zs))
    coarse.sort(reverse=True)
    # Fine: the best few on the whole image, on a grid fine enough for its extent.
    top: tuple[float, float] = (-math.inf, float(TILE))
    for _z, p1 in coarse[:_READS]:
        step = max(0.25 * CHIP * (p1 / TILE) / max(h, wd), 1e-4)
        best: tuple[float, float, tuple[int, int], np.ndarray] | None = None
        for p in p1 * (1.0 + np.arange(-_COARSE_STEP, _COARSE_STEP + step / 2, step)):
            tile = _fold(w, float(p))
            z, shift = _sync(tile, pat)
            if best is None or z > best[0]:
                best = (z, float(p), shift, tile)
        assert best is not None
        z, period, shift, tile = best
        if z > top[0]:
            top = (z, period)
        if z >= Z_MIN:
            # The phase is good to a pixel of the tile: read there, then next to it.
            for dy, dx in _NEIGHBOURS:
                payload = _read(tile, (shift[0] + dy, shift[1] + dx), pat)
                if payload is not None:
                    return Detection(True, payload, _confidence(z), z, period / TILE)
    return Detection(False, None, _confidence(top[0]), top[0], top[1] / TILE)


def _confidence(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-2.0 * (z - Z_MIN)))


def psnr(a: Image.Image, b: Image.Image) -> float:
    """PSNR (dB) between two images of the same size, over RGB."""
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)

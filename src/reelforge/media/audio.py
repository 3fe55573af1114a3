"""Audio decoding into numpy, resampled by FFmpeg (speech models want 16 kHz mono float32)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from reelforge.errors import InvalidInput, LimitExceeded, MediaError, ReelforgeError
from reelforge.media._av import AV_ERRORS, audio_stream, check_audio_header, decode, describe, open_input
from reelforge.media.limits import MediaLimits
from reelforge.media.sniff import sniff


def load_audio(
    path: Path | str, limits: MediaLimits = MediaLimits(), sample_rate: int = 16000, mono: bool = True
) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of an audio *or video* file to float32 in [-1, 1].

    Returns ``(samples, sample_rate)``: shape (n,) when ``mono``, else (channels, n).
    """
    if not 1000 <= sample_rate <= 384_000:
        raise InvalidInput(f"sample_rate must be between 1000 and 384000, got {sample_rate}")
    path = Path(path)
    name = path.name
    sniffed = sniff(path, limits)
    if sniffed.kind not in ("audio", "video"):
        raise MediaError(f"{name}: no audio in a {sniffed.kind} file")
    with open_input(path) as container:
        stream = audio_stream(container)
        if stream is None:
            raise MediaError(f"{name}: no audio stream")
        _, channels, _ = check_audio_header(stream, container, name, limits)
        # Keep the source layout and average channels ourselves for mono: FFmpeg's downmix adds
        # channels at -3 dB, which pushes loud stereo past 1.0.
        layout = stream.codec_context.layout
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
        max_samples = int(limits.max_audio_seconds * sample_rate)
        chunks: list[np.ndarray] = []
        total = 0
        try:
            for packet in container.demux(stream):
                for frame in decode(stream, packet, name):
                    frame.pts = None  # timestamps are irrelevant here and can upset the resampler
                    for out in resampler.resample(frame):
                        chunks.append(out.to_ndarray())
                        total += out.samples
                if total > max_samples:
                    raise LimitExceeded(
                        f"{name}: audio runs past the limit of {limits.max_audio_seconds:.0f} s"
                    )
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except ReelforgeError:
            raise
        except AV_ERRORS as err:
            raise MediaError(f"{name}: corrupt or truncated audio ({describe(err)})") from None
    n_channels = chunks[0].shape[0] if chunks else channels
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((n_channels, 0), np.float32)
    if mono:
        return data.mean(axis=0, dtype=np.float32), sample_rate
    return data.astype(np.float32, copy=False), sample_rate

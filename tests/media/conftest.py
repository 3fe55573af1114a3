"""Real media made on the fly: Pillow images, scikit-image samples, PyAV-encoded video and audio."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from reelforge.media import write_video

VIDEO_SIZE = (320, 240)  # width, height
VIDEO_FPS = 24
VIDEO_FRAMES = 48
AUDIO_RATE = 44100


def ramp_frame(index: int, width: int = VIDEO_SIZE[0], height: int = VIDEO_SIZE[1]) -> np.ndarray:
    """A frame whose brightness encodes its index (so tests can tell which frame they got)."""
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[:, :, 0] = (index * 5) % 256
    frame[:, :, 1] = 128
    frame[:, : width // 4, 2] = 255  # a bar, to check orientation/aspect survives scaling
    return frame


def sine(seconds: float, rate: int, freq: float = 440.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path: Path, signal: np.ndarray, rate: int, channels: int = 1) -> Path:
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    if channels > 1:
        pcm = np.repeat(pcm[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def write_av(
    path: Path,
    fmt: str,
    vcodec: str | None,
    acodec: str | None,
    frames: int = VIDEO_FRAMES,
    fps: int = VIDEO_FPS,
    rate: int = AUDIO_RATE,
    size: tuple[int, int] = VIDEO_SIZE,
) -> Path:
    """Encode a ramp video and/or a stereo sine with PyAV into container ``fmt``."""
    with av.open(str(path), "w", format=fmt) as out:
        vstream = astream = None
        if vcodec:  # every stream must exist before the first packet is muxed
            vstream = out.add_stream(vcodec, rate=fps)
            vstream.width, vstream.height, vstream.pix_fmt = size[0], size[1], "yuv420p"
        if acodec:
            astream = out.add_stream(acodec, rate=rate, layout="stereo")
        if vstream is not None:
            for i in range(frames):
                frame = av.VideoFrame.from_ndarray(ramp_frame(i, *size), format="rgb24")
                frame.pts = i
                out.mux(vstream.encode(frame))
            out.mux(vstream.encode(None))
        if astream is not None:
            signal = sine(frames / fps, rate)
            stereo = np.stack([signal, signal])
            for start in range(0, stereo.shape[1], 1024):
                chunk = np.ascontiguousarray(stereo[:, start : start + 1024])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = rate, start
                out.mux(astream.encode(frame))
            out.mux(astream.encode(None))
    return path


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def astronaut_png(media_dir: Path) -> Path:
    path = media_dir / "astronaut.png"
    Image.fromarray(skdata.astronaut()).save(path)
    return path


@pytest.fixture(scope="session")
def camera_jpeg(media_dir: Path) -> Path:
    path = media_dir / "camera.jpg"
    Image.fromarray(skdata.camera()).save(path, quality=90)
    return path


@pytest.fixture(scope="session")
def video_mp4(media_dir: Path) -> Path:
    """H.264 MP4 written by our own write_video."""
    path = media_dir / "ramp.mp4"
    write_video((ramp_frame(i) for i in range(VIDEO_FRAMES)), path, fps=VIDEO_FPS)
    return path


@pytest.fixture(scope="session")
def video_with_audio(media_dir: Path) -> Path:
    return write_av(media_dir / "ramp_audio.mp4", "mp4", "libx264", "aac")


@pytest.fixture(scope="session")
def wav_mono(media_dir: Path) -> Path:
    return write_wav(media_dir / "tone.wav", sine(1.5, 22050), 22050)

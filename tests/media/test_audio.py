import numpy as np
import pytest

from reelforge.errors import InvalidInput, LimitExceeded, MediaError
from reelforge.media import MediaLimits, load_audio
from tests.media.conftest import AUDIO_RATE, VIDEO_FPS, VIDEO_FRAMES, sine, write_wav


def _peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def test_load_wav_resampled_mono(wav_mono):
    samples, rate = load_audio(wav_mono)
    assert rate == 16000 and samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) == pytest.approx(1.5 * 16000, abs=32)
    assert np.abs(samples).max() == pytest.approx(0.3, abs=0.02)
    assert _peak_hz(samples, rate) == pytest.approx(440, abs=2)


def test_stereo_and_mono_downmix(tmp_path):
    path = write_wav(tmp_path / "stereo.wav", sine(1.0, 48000, freq=1000, amplitude=0.9), 48000, channels=2)
    stereo, rate = load_audio(path, sample_rate=24000, mono=False)
    assert stereo.shape[0] == 2 and rate == 24000
    assert stereo.shape[1] == pytest.approx(24000, abs=32)
    mono, _ = load_audio(path, sample_rate=24000)
    assert np.abs(mono).max() == pytest.approx(0.9, abs=0.03)  # averaged, not summed at -3 dB


def test_audio_from_video(video_with_audio):
    samples, rate = load_audio(video_with_audio, sample_rate=AUDIO_RATE)
    assert len(samples) == pytest.approx(AUDIO_RATE * VIDEO_FRAMES / VIDEO_FPS, rel=0.03)
    assert _peak_hz(samples, rate) == pytest.approx(440, abs=3)


def test_load_audio_errors(video_mp4, astronaut_png, wav_mono):
    with pytest.raises(MediaError, match="no audio stream"):
        load_audio(video_mp4)
    with pytest.raises(MediaError):
        load_audio(astronaut_png)
    with pytest.raises(LimitExceeded):
        load_audio(wav_mono, MediaLimits(max_audio_seconds=1.0))
    with pytest.raises(InvalidInput):
        load_audio(wav_mono, sample_rate=10)

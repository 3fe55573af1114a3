import io

import av
import numpy as np
import pytest
from PIL import Image

from reelforge.errors import Cancelled, InvalidInput, MediaError
from reelforge.media import (
    iter_frames,
    pick_video_encoder,
    poster_frame_bytes,
    probe,
    video_proxy,
    write_gif,
    write_video,
)
from tests.media.conftest import VIDEO_FPS, VIDEO_FRAMES, VIDEO_SIZE, ramp_frame


def _red(arr: np.ndarray) -> float:
    return float(arr[:, VIDEO_SIZE[0] // 2 :, 0].mean())  # right of the blue bar


def test_libx264_is_available():
    assert pick_video_encoder("h264") == "libx264"
    with pytest.raises(InvalidInput):
        pick_video_encoder("prores")


def test_write_video_is_h264_and_probe_agrees(video_mp4):
    with av.open(str(video_mp4)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.format.name == "yuv420p"
    info = probe(video_mp4)
    assert (info.width, info.height, info.frames) == (*VIDEO_SIZE, VIDEO_FRAMES)


def test_iter_frames_content_and_selection(video_mp4):
    frames = list(iter_frames(video_mp4))
    assert len(frames) == VIDEO_FRAMES
    assert frames[0].shape == (VIDEO_SIZE[1], VIDEO_SIZE[0], 3) and frames[0].dtype == np.uint8
    for index in (0, 10, 40):
        assert abs(_red(frames[index]) - _red(ramp_frame(index))) < 6
    assert frames[0][:, :10, 2].mean() > 200  # the blue bar stays on the left
    picked = list(iter_frames(video_mp4, every_n=10, max_frames=3))
    assert len(picked) == 3
    assert abs(_red(picked[2]) - _red(ramp_frame(20))) < 6
    with pytest.raises(InvalidInput):
        list(iter_frames(video_mp4, every_n=0))


def test_iter_frames_rejects_non_video(astronaut_png):
    with pytest.raises(MediaError, match="not a video"):
        next(iter_frames(astronaut_png))


def test_poster_frame_is_about_ten_percent_in(video_mp4):
    data = poster_frame_bytes(video_mp4, size=128)
    poster = Image.open(io.BytesIO(data))
    assert poster.format == "JPEG" and poster.size == (128, 96)
    target = int(0.1 * VIDEO_FRAMES)
    red = float(np.asarray(poster.convert("RGB"))[:, 64:, 0].mean())
    assert abs(red - _red(ramp_frame(target))) < 8
    start = Image.open(io.BytesIO(poster_frame_bytes(video_mp4, size=128, at=0.0)))
    assert float(np.asarray(start)[:, 64:, 0].mean()) < 6


def test_video_proxy_h264_at_height_with_audio(video_with_audio, tmp_path):
    calls: list[tuple[int, int, str]] = []
    dst = tmp_path / "proxy.mp4"
    info = video_proxy(video_with_audio, dst, height=120, crf=30, progress=lambda *a: calls.append(a))
    assert (info.codec, info.height, info.width) == ("h264", 120, 160)
    assert info.frames == VIDEO_FRAMES
    assert info.duration == pytest.approx(VIDEO_FRAMES / VIDEO_FPS, abs=0.05)
    assert info.extra["audio_codec"] == "aac" and info.channels == 2
    assert len(calls) == VIDEO_FRAMES and calls[-1][:2] == (VIDEO_FRAMES, VIDEO_FRAMES)
    with av.open(str(dst)) as container:
        assert container.streams.video[0].codec_context.format.name == "yuv420p"
        audio = container.streams.audio[0]
        assert float(audio.duration * audio.time_base) == pytest.approx(2.0, abs=0.1)
    head = dst.read_bytes()[:4096]
    assert head.index(b"moov") < head.index(b"mdat") if b"mdat" in head else b"moov" in head


def test_video_proxy_never_upscales_and_keeps_even_sizes(tmp_path):
    src = tmp_path / "odd.mp4"
    write_video((np.full((75, 101, 3), 90, np.uint8) for _ in range(5)), src, fps=10)
    assert (probe(src).width, probe(src).height) == (102, 76)  # padded to even
    info = video_proxy(src, tmp_path / "p.mp4", height=360)
    assert (info.width, info.height) == (102, 76)


def test_video_proxy_cancel_leaves_nothing(video_mp4, tmp_path):
    dst = tmp_path / "cancelled.mp4"
    seen = []

    def stop() -> bool:
        seen.append(1)
        return len(seen) > 5

    with pytest.raises(Cancelled):
        video_proxy(video_mp4, dst, height=120, should_stop=stop)
    assert list(tmp_path.iterdir()) == []


def test_write_video_validation(tmp_path):
    with pytest.raises(InvalidInput, match="no frames"):
        write_video([], tmp_path / "a.mp4", fps=24)
    with pytest.raises(InvalidInput, match="fps"):
        write_video([np.zeros((8, 8, 3), np.uint8)], tmp_path / "a.mp4", fps=0)
    with pytest.raises(InvalidInput, match="expected"):
        write_video(
            [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8)], tmp_path / "a.mp4", fps=5
        )
    assert list(tmp_path.iterdir()) == []


def test_write_video_float_gray_and_mpeg4(tmp_path):
    frames = [np.full((32, 32), i / 9, np.float32) for i in range(10)]
    dst = tmp_path / "gray.mp4"
    assert write_video(frames, dst, fps=29.97, codec="mpeg4") == 10
    info = probe(dst)
    assert info.codec == "mpeg4" and info.frames == 10
    assert info.fps == pytest.approx(29.97, abs=0.01)
    last = list(iter_frames(dst))[-1]
    assert abs(float(last.mean()) - 255) < 10


def test_write_gif(tmp_path):
    frames = [ramp_frame(i * 10, 64, 48) for i in range(5)]
    dst = tmp_path / "anim.gif"
    assert write_gif(frames, dst, fps=10) == 5
    with Image.open(dst) as gif:
        assert gif.n_frames == 5 and gif.info["loop"] == 0 and gif.info["duration"] == 100
    info = probe(dst)
    assert (info.kind, info.format, info.frames, info.width) == ("image", "gif", 5, 64)
    assert info.extra["animated"] is True

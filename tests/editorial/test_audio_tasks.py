"""audio.loudness / audio.normalize / audio.silence through the job system, and ``reelforge audio``."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from reelforge.cli.main import main
from reelforge.editorial.dailies import espeak_available, speak
from reelforge.editorial.loudness import Audio, measure_file, replace_audio
from reelforge.studio import Studio

SR = 48000


def write_wav(path: Path, samples: np.ndarray, sr: int = SR) -> Path:
    x = np.atleast_2d(samples)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[0])
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(x.T, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def dialogue(seconds_gap: float = 2.5) -> np.ndarray:
    """Two espeak-ng lines with a long pause between, a head and a tail, at 48 kHz."""
    a = speak("Three tickets tonight.", "en-us+m1")
    b = speak("Then it was two tickets and a friend.", "en-gb+f3")
    z = np.zeros
    x = np.concatenate([z(int(0.8 * SR)), 0.2 * a / np.abs(a).max(), z(int(seconds_gap * SR)),
                        0.2 * b / np.abs(b).max(), z(int(1.5 * SR))]).astype(np.float32)
    return x + np.random.default_rng(0).normal(0, 10 ** (-66 / 20), x.size).astype(np.float32)


def video_with(tmp: Path, audio: np.ndarray | None, name: str = "12A_T01.mp4") -> Path:
    from reelforge.media import write_video

    seconds = audio.size / SR if audio is not None else 2.0
    frames = [np.full((48, 64, 3), (i * 7) % 255, np.uint8) for i in range(int(seconds * 24))]
    picture = tmp / f"picture_{name}"
    write_video(frames, picture, fps=24)
    if audio is None:
        return picture
    replace_audio(picture, Audio.from_array(audio, SR), tmp / name)
    return tmp / name


def _blob(s: Studio, asset_id: str) -> bytes:
    return s.blobs.read_bytes(s.assets.get(asset_id).sha256)


needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


@needs_espeak
def test_loudness_task_report_and_plot(sqlite_studio: Studio, tmp_path: Path) -> None:
    src = sqlite_studio.assets.add([write_wav(tmp_path / "line.wav", dialogue())]).assets[0]
    job = sqlite_studio.jobs.submit("audio.loudness", {"asset": src.id}).run()
    assert job.status == "succeeded", job.error
    report = json.loads(_blob(sqlite_studio, job.result["report"]))
    assert report["integrated_lufs"] == job.result["integrated_lufs"]
    assert -40 < report["integrated_lufs"] < -15 and report["true_peak_dbtp"] < 0
    assert report["sample_rate"] == SR and report["channels"] == ["FC"]
    assert len(report["short_term"]["lufs"]) == pytest.approx((src.info["duration"] - 3.0) * 10, abs=2)
    plot = sqlite_studio.assets.get(job.result["plot"])
    assert plot.kind == "image" and plot.created_by_job == job.id
    out = tmp_path / "plot"
    path = sqlite_studio.assets.export([plot.id], out)[0]
    assert Image.open(path).size == (800, 300)
    assert sqlite_studio.lineage.graph(job.result["report"]).raw_assets() == [src.id]


@needs_espeak
def test_normalize_audio_makes_a_new_asset_on_target(sqlite_studio: Studio, tmp_path: Path) -> None:
    src = sqlite_studio.assets.add([write_wav(tmp_path / "line.wav", dialogue())]).assets[0]
    # Dialogue peaks ~19 dB over its loudness: -16 LUFS under -1 dBTP needs the limiter.
    plain = sqlite_studio.jobs.submit("audio.normalize", {"asset": src.id, "target": -16.0}).run()
    assert plain.status == "succeeded", plain.error
    assert plain.result["reached"] is False and plain.result["true_peak_dbtp"] <= -1.0
    assert any("not reached without limiting" in line["message"] and line["level"] == "warning"
               for line in sqlite_studio.jobs.logs(plain.id))
    job = sqlite_studio.jobs.submit("audio.normalize", {"asset": src.id, "target": -16.0, "limit": True}).run()
    assert job.status == "succeeded", job.error
    out = sqlite_studio.assets.get(job.result["asset"])
    assert out.kind == "audio" and out.name == "normalized/line.-16LUFS.wav"
    assert out.meta["normalized_from"] == src.id and out.created_by_job == job.id
    path = sqlite_studio.assets.export([out.id], tmp_path / "out")[0]
    assert measure_file(path).integrated == pytest.approx(-16.0, abs=0.1)
    assert job.result["reached"] is True and job.result["limited"] is True
    assert job.result["true_peak_dbtp"] <= -1.0 + 0.05
    assert sqlite_studio.lineage.graph(out.id).raw_assets() == [src.id]


@needs_espeak
def test_normalize_video_keeps_the_picture(sqlite_studio: Studio, tmp_path: Path) -> None:
    video = video_with(tmp_path, dialogue())
    src = sqlite_studio.assets.add([video]).assets[0]
    job = sqlite_studio.jobs.submit("audio.normalize", {"asset": src.id, "target": -23.0}).run()
    assert job.status == "succeeded", job.error
    out = sqlite_studio.assets.get(job.result["asset"])
    assert out.kind == "video" and out.name == "normalized/12A_T01.-23LUFS.mp4"
    assert out.info["frames"] == src.info["frames"] and out.info["fps"] == src.info["fps"]
    path = sqlite_studio.assets.export([out.id], tmp_path / "out")[0]
    with av.open(str(video)) as a, av.open(str(path)) as b:
        assert [bytes(p) for p in a.demux(a.streams.video[0]) if p.size] == \
               [bytes(p) for p in b.demux(b.streams.video[0]) if p.size]
    assert measure_file(path).integrated == pytest.approx(-23.0, abs=0.1)
    assert out.meta["loudness"]["audio_codec"] == "aac"


@needs_espeak
def test_silence_task_frame_aligned_on_video(sqlite_studio: Studio, tmp_path: Path) -> None:
    src = sqlite_studio.assets.add([video_with(tmp_path, dialogue(2.5))]).assets[0]
    job = sqlite_studio.jobs.submit("audio.silence", {"asset": src.id}).run()
    assert job.status == "succeeded", job.error
    data = json.loads(_blob(sqlite_studio, job.result["report"]))
    assert data["fps"] == 24.0 and job.result["dead_air"] == 1
    kinds = [c["kind"] for c in data["suggestions"]]
    assert kinds == ["trim_head", "tighten_pause", "trim_tail"]
    pause = data["suggestions"][1]
    assert pause["start_frame"] == round(pause["start"] * 24) and pause["duration"] == pytest.approx(1.9, abs=0.1)


def test_bad_input_fails_cleanly_and_stores_nothing(sqlite_studio: Studio, tmp_path: Path) -> None:
    s = sqlite_studio
    mute = s.assets.add([video_with(tmp_path, None)]).assets[0]
    Image.new("RGB", (8, 8)).save(tmp_path / "still.png")
    image = s.assets.add([tmp_path / "still.png"]).assets[0]
    silent = s.assets.add([write_wav(tmp_path / "silent.wav", np.zeros(SR * 2))]).assets[0]
    before = len(s.assets.list())
    for task in ("audio.loudness", "audio.normalize", "audio.silence"):
        job = s.jobs.submit(task, {"asset": mute.id}).run()
        assert job.status == "failed" and job.error.endswith("no audio stream"), (task, job.error)
        job = s.jobs.submit(task, {"asset": image.id}).run()
        assert job.status == "failed" and "is image" in job.error, (task, job.error)
    job = s.jobs.submit("audio.normalize", {"asset": silent.id}).run()
    assert job.status == "failed" and "silent" in job.error
    assert len(s.assets.list()) == before
    # Digital silence is measured, not an error: -inf, reported as null + silent.
    job = s.jobs.submit("audio.loudness", {"asset": silent.id, "plot": False}).run()
    assert job.status == "succeeded" and job.result["silent"] is True and job.result["integrated_lufs"] is None


# -- the CLI ---------------------------------------------------------------------------------------
def rf(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@needs_espeak
def test_cli_loudness_normalize_silence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "studio"
    assert rf(capsys, "init", home)[0] == 0
    wav = write_wav(tmp_path / "take.wav", dialogue())
    code, out, err = rf(capsys, "--studio", home, "audio", "loudness", wav)
    assert code == 0, err
    for label in ("integrated", "loudness range", "true peak", "short-term max"):
        assert label in out
    assert "LUFS" in out and "dBTP" in out and Path(out.split("plot")[-1].strip()).is_file()
    code, out, err = rf(capsys, "--studio", home, "audio", "normalize", wav, "--target", "broadcast")
    assert code == 0, err
    assert "-> -23.0" in out and not err
    written = Path(out.strip().splitlines()[-1].split(None, 1)[1])
    assert measure_file(written).integrated == pytest.approx(-23.0, abs=0.1)
    code, out, err = rf(capsys, "--studio", home, "audio", "normalize", wav, "--target", "web")
    assert code == 0 and "warning: target -16.0 LUFS not reached without limiting" in err
    code, out, err = rf(capsys, "--studio", home, "audio", "normalize", wav, "--target", "web", "--limit")
    assert code == 0 and "-> -16.0" in out and not err
    code, out, err = rf(capsys, "--studio", home, "audio", "silence", wav)
    assert code == 0, err
    assert "dead_air" in out and "tighten_pause" in out and "tightened:" in out
    code, out, err = rf(capsys, "--studio", home, "--json", "audio", "loudness", wav, "--no-plot")
    assert code == 0 and json.loads(out)["integrated_lufs"] < 0


def test_cli_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "studio"
    assert rf(capsys, "init", home)[0] == 0
    mute = video_with(tmp_path, None)
    code, _, err = rf(capsys, "--studio", home, "audio", "loudness", mute)
    assert code == 2 and err.strip() == f"error: {mute.name}: no audio stream"
    code, out, _ = rf(capsys, "--studio", home, "--json", "ls")
    assert json.loads(out) == []  # refused before anything was stored
    wav = write_wav(tmp_path / "tone.wav", 0.1 * np.sin(np.arange(SR) / SR * 2 * np.pi * 440))
    code, _, err = rf(capsys, "--studio", home, "audio", "normalize", wav, "--target", "loud")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "target 'loud'" in err
    silent = write_wav(tmp_path / "silent.wav", np.zeros(SR))
    code, out, err = rf(capsys, "--studio", home, "audio", "loudness", silent)
    assert code == 0 and "-inf LUFS (silent)" in out
    code, _, err = rf(capsys, "--studio", home, "audio", "normalize", silent)
    assert code == 6 and len(err.strip().splitlines()) == 1 and "silent" in err and "Traceback" not in err

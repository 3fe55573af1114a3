"""subtitles.align and subtitles.transcribe through the job system, and ``reelforge subtitles`` commands."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from reelforge.cli.main import main
from reelforge.editorial.speech import write_wav
from reelforge.editorial.subtitles import check_rules, read_subtitles, rules_for
from reelforge.script import sample_path
from reelforge.studio import Studio
from tests.editorial.speech_cases import SR, spoken


def video_with_audio(path: Path, audio: np.ndarray | None, sr: int = SR, fps: int = 25, seconds: float = 0.0) -> Path:
    """An H.264 (or MPEG-4) MP4 of grey frames, with an AAC track of ``audio`` when given."""
    import av

    from reelforge.media import pick_video_encoder

    duration = len(audio) / sr if audio is not None else seconds
    with av.open(str(path), "w") as out:
        v = out.add_stream(pick_video_encoder(), rate=fps)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        streams = [v]
        if audio is not None:  # every stream is added before the first packet is muxed
            a = out.add_stream("aac", rate=sr)
            a.layout = "mono"
            streams.append(a)
        for i in range(int(duration * fps)):
            img = np.full((48, 64, 3), (i * 7) % 255, np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        if audio is not None:
            pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
            for k in range(0, len(pcm), 1024):
                fr = av.AudioFrame.from_ndarray(pcm[None, k:k + 1024], format="s16", layout="mono")
                fr.sample_rate, fr.pts, fr.time_base = sr, k, Fraction(1, sr)
                for p in a.encode(fr):
                    out.mux(p)
        for s in streams:
            for p in s.encode(None):
                out.mux(p)
    return path


def _scene1(tmp_path: Path) -> tuple[Path, tuple]:
    """Scene 1 of the sample screenplay spoken (6 lines), as a WAV file."""
    audio, truth = spoken("en", 6)
    return write_wav(tmp_path / "scene1.wav", audio, SR), truth


def _doc(studio: Studio, asset_id: str) -> bytes:
    return studio.blobs.read_bytes(studio.assets.get(asset_id).sha256)


@pytest.fixture
def screenplay(sqlite_studio: Studio) -> str:
    return sqlite_studio.assets.add([sample_path()]).added[0].id


def test_align_task_writes_srt_vtt_and_report(sqlite_studio: Studio, screenplay: str, tmp_path: Path) -> None:
    wav, truth = _scene1(tmp_path)
    media = sqlite_studio.assets.add([wav]).added[0].id
    shots = {"version": 1, "source": media, "fps": 25.0, "fps_rational": [25, 1], "frames": 900, "drop_frame": False,
             "shots": [{"index": 0, "start": 0.0, "end": truth[2].start + 1.0},
                       {"index": 1, "start": truth[2].start + 1.0, "end": 36.0}],
             "transitions": [], "flashes": []}
    (tmp_path / "shots").mkdir()
    sp = tmp_path / "shots" / "scene1.json"
    sp.write_text(json.dumps(shots))
    shots_id = sqlite_studio.assets.add([sp]).added[0].id
    job = sqlite_studio.jobs.submit("subtitles.align", {"media": media, "screenplay": screenplay, "scenes": ["1"],
                                                         "shots": shots_id}).run()
    assert job.status == "succeeded", job.error
    r = job.result
    assert r["language"] == "en" and r["lines"] == 6 and r["aligned"] == 6 and r["unaligned"] == []
    assert r["violations"] == 0 and r["events"] >= 6
    report = json.loads(_doc(sqlite_studio, r["report"]))
    lines = report["alignment"]["lines"]
    assert [ln["speaker"] for ln in lines] == ["THEO", "MARGOT", "THEO", "MARGOT", "THEO", "MARGOT"]
    errors = [abs(ln["start"] - t.start) for ln, t in zip(lines, truth, strict=True)]
    assert np.mean(errors) < 0.04
    assert report["shot_changes"] == [truth[2].start + 1.0] and report["rules"]["fps"] == 25.0
    srt = tmp_path / "out.srt"
    srt.write_bytes(_doc(sqlite_studio, r["srt"]))
    events = read_subtitles(srt)
    assert check_rules(events, rules_for("en", 25), report["shot_changes"]) == []
    assert events[0].lines[0].startswith("Three tickets tonight.")
    assert _doc(sqlite_studio, r["vtt"]).startswith(b"WEBVTT")
    outs = sqlite_studio.assets.get_many(job.result["outputs"])
    assert sorted(a.name for a in outs) == ["subtitles/scene1.alignment.json", "subtitles/scene1.srt",
                                            "subtitles/scene1.vtt"]
    assert sorted(sqlite_studio.lineage.graph(r["srt"]).raw_assets()) == sorted([media, screenplay, shots_id])


def test_align_task_on_a_video_and_a_chinese_script(sqlite_studio: Studio, tmp_path: Path) -> None:
    audio, truth = spoken("zh", 4)
    video = video_with_audio(tmp_path / "take.mp4", audio)
    media = sqlite_studio.assets.add([video]).added[0].id
    zh = sqlite_studio.assets.add([sample_path("chinese_sample.txt")]).added[0].id
    job = sqlite_studio.jobs.submit("subtitles.align", {"media": media, "screenplay": zh, "scenes": ["1"]}).run()
    assert job.status == "succeeded", job.error
    r = job.result
    assert r["language"] == "zh" and r["aligned"] == 4 == r["lines"] and r["violations"] == 0
    report = json.loads(_doc(sqlite_studio, r["report"]))
    assert report["alignment"]["voice"] == "cmn" and report["rules"]["max_chars_per_line"] == 16
    assert report["rules"]["fps"] == 25.0  # from the video
    # AAC priming and MP4 edit lists leave the audio within a frame or two of where it was
    errors = [abs(ln["start"] - t.start) for ln, t in zip(report["alignment"]["lines"], truth, strict=True)]
    assert np.mean(errors) < 0.08
    srt = _doc(sqlite_studio, r["srt"]).decode()
    assert "今晚只卖出了三张票" in srt


def test_align_task_reports_what_does_not_match(sqlite_studio: Studio, screenplay: str, tmp_path: Path) -> None:
    wav, _ = _scene1(tmp_path)
    media = sqlite_studio.assets.add([wav]).added[0].id
    job = sqlite_studio.jobs.submit("subtitles.align", {"media": media, "screenplay": screenplay,
                                                         "scenes": ["2"]}).run()
    assert job.status == "succeeded", job.error
    r = job.result
    assert r["lines"] == 9 and r["coverage"] <= 0.35 and len(r["unaligned"]) >= 6
    report = json.loads(_doc(sqlite_studio, r["report"]))
    reasons = [ln["reason"] for ln in report["alignment"]["lines"] if not ln["aligned"]]
    assert reasons and all(reasons)


def test_align_task_on_audio_without_speech(sqlite_studio: Studio, screenplay: str, tmp_path: Path) -> None:
    silent = write_wav(tmp_path / "roomtone.wav", np.random.default_rng(0).normal(0, 0.003, SR * 5), SR)
    media = sqlite_studio.assets.add([silent]).added[0].id
    job = sqlite_studio.jobs.submit("subtitles.align", {"media": media, "screenplay": screenplay,
                                                         "scenes": ["1"]}).run()
    assert job.status == "succeeded", job.error
    r = job.result
    assert r["aligned"] == 0 and r["coverage"] == 0.0 and r["note"] == "no speech in the audio"
    assert r["srt"] is None and r["vtt"] is None and r["events"] == 0
    assert [a.name for a in sqlite_studio.assets.get_many(r["outputs"])] == ["subtitles/roomtone.alignment.json"]


def test_bad_inputs_fail_with_one_line_and_store_nothing(sqlite_studio: Studio, screenplay: str,
                                                         tmp_path: Path) -> None:
    mute = sqlite_studio.assets.add([video_with_audio(tmp_path / "mute.mp4", None, seconds=1.0)]).added[0].id
    wav = sqlite_studio.assets.add([_scene1(tmp_path)[0]]).added[0].id
    cases = [
        ({"media": mute, "screenplay": screenplay}, "no audio stream"),
        ({"media": screenplay, "screenplay": screenplay}, "audio or video"),
        ({"media": wav, "screenplay": wav}, "not a screenplay"),
        ({"media": wav, "screenplay": screenplay, "scenes": ["99"]}, "scene(s) 99 not in"),
        ({"media": wav, "screenplay": screenplay, "shots": screenplay}, "not a shot list"),
    ]
    before = len(sqlite_studio.assets.list())
    for params, message in cases:
        job = sqlite_studio.jobs.submit("subtitles.align", params).run()
        assert job.status == "failed" and message in job.error, (params, job.error)
        assert "\n" not in job.error and "Traceback" not in job.error
    job = sqlite_studio.jobs.submit("subtitles.transcribe", {"media": mute}).run()
    assert job.status == "failed" and "no audio stream" in job.error
    assert len(sqlite_studio.assets.list()) == before


def test_transcribe_task(sqlite_studio: Studio, tmp_path: Path) -> None:
    audio, truth = spoken("en", 3, voice="en-us+f2", speed=150, pitch=50, noise_db=-60)
    media = sqlite_studio.assets.add([write_wav(tmp_path / "take.wav", audio, SR)]).added[0].id
    job = sqlite_studio.jobs.submit("subtitles.transcribe", {"media": media}).run()
    assert job.status == "succeeded", job.error
    r = job.result
    assert r["word_count"] > 20 and r["events"] >= 3 and r["violations"] == 0
    words = json.loads(_doc(sqlite_studio, r["words"]))
    assert words["engine"] == "pocketsphinx" and words["words"][0]["start"] >= truth[0].start - 0.3
    assert "tickets" in r["text"]
    assert _doc(sqlite_studio, r["vtt"]).startswith(b"WEBVTT")


def test_cli_align_and_transcribe(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REELFORGE_HOME", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    home = tmp_path / "studio"
    assert main(["init", str(home)]) == 0
    wav, _ = _scene1(tmp_path)
    fountain = sample_path()
    capsys.readouterr()
    assert main(["--studio", str(home), "subtitles", "align", str(wav), fountain, "--scene", "1"]) == 0
    out = capsys.readouterr().out
    assert "6 of 6 lines aligned (100%)" in out and "0 rule violations" in out
    srt = home / "outputs" / "subtitles" / "scene1.srt"
    assert srt.is_file() and (home / "outputs" / "subtitles" / "scene1.vtt").is_file()
    assert check_rules(read_subtitles(srt), rules_for("en", 25)) == []
    # the wrong scene: the unaligned lines are listed with their reasons
    assert main(["--studio", str(home), "subtitles", "align", str(wav), fountain, "--scene", "2"]) == 0
    out = capsys.readouterr().out
    assert "audio does not match the text" in out and "DESMOND" in out
    # a video without sound: one line, exit 2, nothing ingested
    mute = video_with_audio(tmp_path / "mute.mp4", None, seconds=1.0)
    n_assets = len(json.loads(_json(capsys, home, "ls")))
    code = main(["--studio", str(home), "subtitles", "align", str(mute), fountain])
    err = capsys.readouterr().err
    assert code == 2 and "mute.mp4: no audio stream" in err and "Traceback" not in err
    assert len(json.loads(_json(capsys, home, "ls"))) == n_assets
    code = main(["--studio", str(home), "subtitles", "align", fountain, fountain])
    assert code == 2 and "not audio or video" in capsys.readouterr().err
    assert main(["--studio", str(home), "--json", "subtitles", "transcribe", str(wav)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["word_count"] > 20 and result["srt"]


def _json(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> str:
    capsys.readouterr()
    assert main(["--studio", str(home), "--json", *args]) == 0
    return capsys.readouterr().out

"""edit.assemble and edit.roughcut through the job system, and ``reelforge edit`` on the command line.

What the tasks write is read back through OTIO's adapters: the EDL and the FCP XML hold the same
clips, source ranges, record times and timecodes as the .otio (29.97 drop-frame included).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from reelforge.cli.main import main
from reelforge.editorial.roughcut import validate_cut
from reelforge.editorial.subtitles import SubtitleEvent, check_rules, read_subtitles, rules_for
from reelforge.editorial.timeline import clip_table, fcpxml_spine, read_timeline, tc_to_frames
from reelforge.script.fountain import parse_fountain
from reelforge.studio import Studio
from tests.conftest import make_image
from tests.editorial.clipmaker import make_clip, speak
from tests.editorial.test_roughcut import KITCHEN, SCRIPT

NTSC = Fraction(30000, 1001)


def _text(studio: Studio, asset_id: str) -> str:
    return studio.blobs.read_bytes(studio.assets.get(asset_id).sha256).decode("utf-8")


def _rows(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "track"} for r in rows]


def test_assemble_clips_at_29_97_drop_frame_reads_back_the_same(sqlite_studio: Studio, tmp_path: Path) -> None:
    a = make_clip(tmp_path / "12A_T01.mov", seconds=1.0, rate=NTSC, timecode="00:59:59;28")
    b = make_clip(tmp_path / "12A_T02.mov", seconds=1.5, rate=NTSC, timecode="01:00:10;00", audio=False)
    ids = [sqlite_studio.assets.add([p]).assets[0].id for p in (a, b)]
    job = sqlite_studio.jobs.submit("edit.assemble", {"clips": ids, "name": "dailies day 1"}).run()
    assert job.status == "succeeded", job.error
    r = job.result
    assert r["clips"] == 2 and r["rate"] == [30000, 1001] and r["start_tc"] == "01:00:00;00"
    want = clip_table(read_timeline(_text(sqlite_studio, r["otio"]), "otio"))
    assert [(w["name"], w["src_in"], w["src_out"], w["rec_in"], w["rec_out"]) for w in want] == [
        ("12A_T01", "00:59:59;28", "01:00:00;28", "01:00:00;00", "01:00:01;00"),
        ("12A_T02", "01:00:10;00", "01:00:11;15", "01:00:01;00", "01:00:02;15")]
    edl = _text(sqlite_studio, r["edl"])
    assert "FCM: DROP FRAME" in edl
    assert _rows(clip_table(read_timeline(edl, "edl", NTSC), NTSC, True)) == _rows(want)
    assert _rows(clip_table(read_timeline(_text(sqlite_studio, r["xml"]), "xml"), NTSC, True)) == _rows(want)
    spine = fcpxml_spine(_text(sqlite_studio, r["fcpxml"]))
    frame = Fraction(1001, 30000)
    assert [(s["start"] / frame, s["duration"] / frame) for s in spine] == [
        (tc_to_frames("00:59:59;28", NTSC), 30), (tc_to_frames("01:00:10;00", NTSC), 45)]
    outs = sqlite_studio.assets.get_many(job.result["outputs"])
    assert sorted(o.name for o in outs) == [f"timelines/dailies day 1.{x}" for x in ("edl", "fcpxml", "otio", "xml")]
    assert all(o.created_by_job == job.id and o.kind == "document" for o in outs)
    assert sorted(sqlite_studio.lineage.graph(r["edl"]).raw_assets()) == sorted(ids)


def test_assemble_from_a_shot_list(sqlite_studio: Studio, tmp_path: Path) -> None:
    video = sqlite_studio.assets.add([make_clip(tmp_path / "plate.mov", seconds=2.0, rate=Fraction(24),
                                                timecode="10:00:00:00")]).assets[0]
    shots = {"version": 1, "source": video.id, "fps": 24.0, "fps_rational": [24, 1], "frames": 48,
             "drop_frame": False, "shots": [
                 {"index": 0, "start_frame": 0, "end_frame": 20, "start": 0.0, "end": 20 / 24,
                  "start_tc": "00:00:00:00", "end_tc": "00:00:00:20", "transition_in": "start", "transition_frames": 0},
                 {"index": 1, "start_frame": 20, "end_frame": 48, "start": 20 / 24, "end": 2.0,
                  "start_tc": "00:00:00:20", "end_tc": "00:00:02:00", "transition_in": "cut", "transition_frames": 0}],
             "transitions": [{"kind": "cut", "frame": 20, "length": 0, "score": 0.9, "detector": "content"}],
             "flashes": []}
    doc = tmp_path / "plate.json"
    doc.write_text(json.dumps(shots))
    sl = sqlite_studio.assets.add([doc], name="shots/plate.json").assets[0]
    job = sqlite_studio.jobs.submit("edit.assemble", {"shots": sl.id, "formats": ["otio", "edl"]}).run()
    assert job.status == "succeeded", job.error
    assert set(job.result) >= {"otio", "edl"} and "xml" not in job.result
    rows = clip_table(read_timeline(_text(sqlite_studio, job.result["edl"]), "edl", Fraction(24)), Fraction(24), False)
    assert [(r["src_in"], r["src_out"], r["rec_in"]) for r in rows] == [
        ("10:00:00:00", "10:00:00:20", "01:00:00:00"), ("10:00:00:20", "10:00:02:00", "01:00:00:20")]
    assert sorted(sqlite_studio.lineage.graph(job.result["otio"]).raw_assets()) == sorted([video.id, sl.id])


@pytest.fixture
def dailies(tmp_path: Path) -> dict[str, Path]:
    both, first, stairs = speak(" ".join(KITCHEN)), speak(KITCHEN[0]), speak("Keep walking.")
    d = tmp_path / "dailies"
    clips = {
        "1A_T01.mov": dict(seconds=3.2, blur=3, speech=both),
        "1A_T02.mov": dict(seconds=3.2, speech=both),
        "1A_T03.mov": dict(seconds=3.2, speech=both, level=6.0),
        "3A-1.mov": dict(seconds=1.5, seed=2, speech=stairs),
        "A001_C003.mov": dict(seconds=1.0, seed=3, speech=first),
    }
    out = {name: make_clip(d / name, **kw) for name, kw in clips.items()}
    script = tmp_path / "night_shift.fountain"
    script.write_text(SCRIPT)
    out["script"] = script
    return out


def test_roughcut_task_cuts_in_script_order_with_a_report(sqlite_studio: Studio, dailies: dict[str, Path]) -> None:
    s = sqlite_studio
    script = s.assets.add([dailies["script"]]).assets[0].id
    takes = [s.assets.add([dailies[n]]).assets[0].id for n in ("3A-1.mov", "1A_T03.mov", "1A_T01.mov")]
    s.assets.add([dailies["1A_T02.mov"]], tags=["day1"])
    s.assets.add([dailies["A001_C003.mov"]], tags=["day1"])
    before = len(s.assets.list())
    job = s.jobs.submit("edit.roughcut", {"screenplay": script, "clips": takes, "tag": "day1"}).run()
    assert job.status == "succeeded", job.error
    r = job.result
    assert r["cut"] == ["1A_T02.mov", "3A-1.mov"] and r["uncovered"] == ["2"] and r["unmatched"] == ["A001_C003.mov"]
    # four timeline files, the JSON report, the Markdown one, and the cut's SRT and WebVTT
    assert len(s.assets.list()) == before + 8
    report = json.loads(_text(s, r["report"]))
    setup = report["scenes"][0]["setups"][0]
    assert setup["chosen_name"] == "1A_T02.mov" and setup["rule"] == "score" and "take 2 scored" in setup["why"]
    assert {c["name"] for c in setup["takes"][0]["components"]} == {
        "focus", "exposure", "audio_clipping", "level", "dialogue"}
    assert "## Scenes without coverage" in _text(s, r["report_md"])
    sp = parse_fountain(SCRIPT)
    edl = read_timeline(_text(s, r["edl"]), "edl", Fraction(24))
    assert validate_cut(edl, sp, expect_scenes=["1", "3A"]) == []
    otio_tl = read_timeline(_text(s, r["otio"]), "otio")
    assert [t.name for t in otio_tl.tracks] == ["V1", "UNMATCHED", "A1"]
    assert script in s.lineage.graph(r["report"]).raw_assets()


def _take_of(ev: SubtitleEvent, takes: list[tuple[float, float]]) -> int | None:
    """The chosen take (index in cut order) whose record range holds the whole event, else None."""
    return next((k for k, (a, b) in enumerate(takes) if a - 0.002 <= ev.start and ev.end <= b + 0.002), None)


def test_roughcut_subtitles_follow_the_takes_on_the_cut(sqlite_studio: Studio, tmp_path: Path) -> None:
    # the two characters' lines with a beat between them, as an actor plays them: espeak-ng run
    # together speaks faster than the 17 characters a second a viewer can read
    kitchen = np.concatenate([speak(KITCHEN[0]), np.zeros(11025, np.float32), speak(KITCHEN[1])])
    d = tmp_path / "dailies"
    clips = {"1A_T01.mov": dict(seconds=3.6, blur=3, speech=kitchen), "1A_T02.mov": dict(seconds=3.6, speech=kitchen),
             "3A-1.mov": dict(seconds=1.5, seed=2, speech=speak("Keep walking."))}
    s = sqlite_studio
    script_path = tmp_path / "night_shift.fountain"
    script_path.write_text(SCRIPT)
    script = s.assets.add([script_path]).assets[0].id
    takes = [s.assets.add([make_clip(d / n, **kw)]).assets[0].id for n, kw in clips.items()]  # type: ignore[arg-type]
    job = s.jobs.submit("edit.roughcut", {"screenplay": script, "clips": takes, "formats": ["otio"]}).run()
    assert job.status == "succeeded", job.error
    r = job.result
    assert r["cut"] == ["1A_T02.mov", "3A-1.mov"]
    assert s.assets.get(r["srt"]).name.endswith(".roughcut.srt") and s.assets.get(r["vtt"]).name.endswith(".vtt")
    assert "WEBVTT" in _text(s, r["vtt"]) and script in s.lineage.graph(r["srt"]).raw_assets()
    srt = tmp_path / "cut.srt"
    srt.write_text(_text(s, r["srt"]))
    events = read_subtitles(srt)
    assert len(events) == r["subtitle_events"] >= 2
    # record ranges of the chosen takes, in seconds from the cut's start, straight from the timeline
    tl = read_timeline(_text(s, r["otio"]), "otio")
    ranges = [clip.range_in_parent() for clip in tl.tracks[0].find_clips()]
    spans = [(x.start_time.to_seconds(), x.end_time_exclusive().to_seconds()) for x in ranges]
    assert [round(b - a, 3) for a, b in spans] == [3.583, 1.5]  # 86 and 36 frames at 24 fps
    where = [_take_of(ev, spans) for ev in events]
    assert None not in where  # inside one take, so across no cut
    assert where == sorted(where) and where[-1] == 1  # script order: the kitchen, then the stairwell
    text = " ".join(" ".join(ev.lines) for ev in events)
    for line in [*KITCHEN, "Keep walking."]:
        assert line in text
    assert text.index(KITCHEN[0]) < text.index(KITCHEN[1]) < text.index("Keep walking.")
    cuts = [spans[0][1], spans[1][1]]
    assert check_rules(events, rules_for("en", 24.0), cuts) == [] and r["subtitle_violations"] == 0
    report = json.loads(_text(s, r["report"]))
    assert report["subtitles"]["unaligned"] == []
    # the check catches subtitles that are off the takes: everything two seconds late
    late = [SubtitleEvent(ev.start + 2.0, ev.end + 2.0, ev.lines) for ev in events]
    assert None in [_take_of(ev, spans) for ev in late]


def test_roughcut_bad_input_is_a_clear_error_and_stores_nothing(sqlite_studio: Studio, tmp_path: Path,
                                                                 dailies: dict[str, Path]) -> None:
    s = sqlite_studio
    empty = tmp_path / "empty.fountain"
    empty.write_text("Title: Empty\n\nJust some action and no scene headings.\n")
    sp = s.assets.add([empty]).assets[0].id
    clip = s.assets.add([dailies["1A_T02.mov"]]).assets[0].id
    still = s.assets.add([make_image(tmp_path / "still.png")]).assets[0].id
    before = len(s.assets.list())
    job = s.jobs.submit("edit.roughcut", {"screenplay": sp, "clips": [clip]}).run()
    assert job.status == "failed" and "the screenplay has no scenes" in job.error
    good = s.assets.add([dailies["script"]]).assets[0].id
    job = s.jobs.submit("edit.roughcut", {"screenplay": good, "clips": [still]}).run()
    assert job.status == "failed" and "not a video clip" in job.error
    job = s.jobs.submit("edit.roughcut", {"screenplay": clip, "clips": [clip]}).run()
    assert job.status == "failed" and "not a screenplay" in job.error
    job = s.jobs.submit("edit.roughcut", {"screenplay": good, "tag": "nothing-has-this"}).run()
    assert job.status == "failed" and "no video clips" in job.error
    assert len(s.assets.list()) == before + 1  # only the screenplay added above


def rf(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_edit_roughcut_and_assemble(tmp_path: Path, dailies: dict[str, Path],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "studio"
    assert rf(capsys, "init", home)[0] == 0
    code, out, err = rf(capsys, "--studio", home, "edit", "roughcut", dailies["script"], dailies["1A_T02.mov"],
                        dailies["1A_T01.mov"], dailies["A001_C003.mov"], "--no-dialogue", "-f", "edl")
    assert code == 0, err
    assert "1 of 3 scenes covered; cut: 1A_T02.mov" in out and "unmatched: A001_C003.mov" in out
    edl = next((home / "outputs").rglob("*.edl"))
    assert "1A_T02" in edl.read_text()
    code, out, err = rf(capsys, "--studio", home, "edit", "assemble", dailies["3A-1.mov"], "-f", "edl", "-f", "otio")
    assert code == 0, err
    assert "1 clip, 36 frames from 01:00:00:00" in out
    code, _, err = rf(capsys, "--studio", home, "edit", "assemble")
    assert code == 2 and err.strip() == "error: give either clips or --shots SHOTLIST"
    code, _, err = rf(capsys, "--studio", home, "edit", "roughcut", dailies["script"], "-f", "aaf", dailies["3A-1.mov"])
    assert code == 2 and "unknown format 'aaf'" in err and len(err.strip().splitlines()) == 1
    code, _, err = rf(capsys, "--studio", home, "edit", "roughcut", dailies["script"], tmp_path / "nope" / "x.mov")
    assert code == 2 and "no such file" in err

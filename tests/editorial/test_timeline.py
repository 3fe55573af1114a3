"""Timelines through OTIO's adapters: what is written reads back with the same clips, ranges and
timecodes (23.976, 24, 25, 29.97 drop and non-drop), reels fit CMX 3600, markers travel."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from reelforge.editorial.timeline import (
    ClipSpec,
    Marker,
    TimelineError,
    TrackSpec,
    assign_reels,
    build_timeline,
    clip_table,
    fcpxml_spine,
    frames_to_tc,
    parse_rate,
    probe_clip,
    read_timeline,
    reel_name,
    tc_to_frames,
    timeline_from_clips,
    timeline_from_shots,
    to_edl,
    to_fcp_xml,
    to_fcpxml,
    write_timeline,
)
from tests.editorial.clipmaker import make_clip, make_vfr_clip

NTSC = Fraction(30000, 1001)
FILM = Fraction(24000, 1001)


def _rows(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "track"} for r in rows]


def _cut(rate: Fraction, tc0: str, tc1: str = "01:00:00:00", drop_frame: bool | None = None):
    clips = [
        ClipSpec("12A_T03", "A001_C003.mov", rate, 100, 5, 45, start_tc=tc0, has_audio=True,
                 markers=[Marker("12A. INT. KITCHEN - NIGHT")]),
        ClipSpec("12B_T01", "day1/A002_C001.mov", rate, 80, 0, 80, start_tc=tc1, reel="a002"),
        ClipSpec("13_T02", "A001_C003.mov", rate, 100, 60, 90, start_tc=tc0, has_audio=True),
    ]
    return build_timeline("Night Shift cut", [TrackSpec("V1", clips), TrackSpec("UNMATCHED", [
        12, ClipSpec("A009_C001", "A009_C001.mov", rate, 30, start_tc="02:00:00:00")])],
        rate=rate, drop_frame=drop_frame)


def test_timecode_arithmetic_including_drop_frame() -> None:
    assert tc_to_frames("01:00:00:00", Fraction(24)) == 86400
    assert tc_to_frames("01:00:00:00", FILM) == 86400  # 23.976 counts 24 labels a second
    assert tc_to_frames("00:01:00;02", NTSC) == 1800  # ;00 and ;01 are skipped at the minute
    assert tc_to_frames("00:10:00;00", NTSC) == 17982  # ...but not at every tenth minute
    assert tc_to_frames("01:00:00;00", NTSC) == 107892
    assert tc_to_frames("01:00:00:00", NTSC) == 108000  # a colon: non-drop
    assert tc_to_frames("00:01:00;04", Fraction(60000, 1001)) == 3600  # 59.94 drops four
    for f in (0, 1799, 1800, 17982, 107892, 2589407):
        assert tc_to_frames(frames_to_tc(f, NTSC), NTSC) == f
    assert frames_to_tc(1800, NTSC) == "00:01:00;02" and frames_to_tc(1800, NTSC, False) == "00:01:00:00"
    for bad, rate in (("00:01:00;00", NTSC), ("01:00:00:24", Fraction(24)), ("1:00:00:00", Fraction(24)),
                      ("01:00:00;00", Fraction(25)), ("01:61:00:00", Fraction(24))):
        with pytest.raises(TimelineError):
            tc_to_frames(bad, rate)


def test_rates_are_exact() -> None:
    assert parse_rate("24000/1001") == FILM == parse_rate(23.976) == parse_rate([24000, 1001])
    assert parse_rate(29.97) == NTSC and parse_rate("25") == 25 and parse_rate(24) == 24
    for bad in ("fast", 0, -24, "1/0", float("nan"), True):
        with pytest.raises(TimelineError):
            parse_rate(bad)


def test_reel_names_fit_cmx_3600_and_stay_unique() -> None:
    assert reel_name("A001_C003_0101AB.mov") == "A001_C00"
    assert reel_name("day 1/roll-b.mxf") == "ROLL_B"
    assert reel_name("écran!.mov") == "CRAN" and reel_name("...") == "AX"
    reels = assign_reels([("scene12a_t1.mov", None), ("scene12a_t2.mov", None), ("scene12a_t1.mov", None),
                          ("x.mov", "Reel 7 long name")])
    assert reels == {"scene12a_t1.mov": "SCENE12A", "scene12a_t2.mov": "SCENE1_2", "x.mov": "REEL_7_L"}
    assert all(len(r) <= 8 and r.replace("_", "").isalnum() and r == r.upper() for r in reels.values())


@pytest.mark.parametrize("rate, tc0, drop_frame", [
    (NTSC, "00:59:59;28", None),  # 29.97 drop frame, across the hour
    (NTSC, "00:59:59:28", False),  # 29.97 non-drop
    (FILM, "10:00:00:00", None),  # 23.976
    (Fraction(24), "01:00:00:00", None),
    (Fraction(25), "23:59:58:00", None),
])
def test_edl_and_fcp_xml_read_back_with_the_same_clips(rate: Fraction, tc0: str, drop_frame: bool | None) -> None:
    tl = _cut(rate, tc0, drop_frame=drop_frame)
    want = clip_table(tl)
    df = tl.metadata["reelforge"]["drop_frame"]
    assert [r["reel"] for r in want] == ["A001_C00", "A002", "A001_C00", "A009_C00"]

    edl = to_edl(tl)
    assert ("FCM: DROP FRAME" if df else "FCM: NON-DROP FRAME") in edl
    back = read_timeline(edl, "edl", rate)
    assert [t.kind for t in back.tracks] == ["Video", "Audio"]  # "B" events: picture and sound
    assert _rows(clip_table(back, rate, df)) == _rows(want[:3])  # an EDL holds the cut track
    assert [c.name for c in back.tracks[1].find_clips()] == ["12A_T03", "13_T02"]
    assert "* LOC: " in edl and "12A. INT. KITCHEN - NIGHT" in edl
    if not df:  # the adapter's LOC reader knows only colon timecodes
        marker = back.tracks[0].find_clips()[0].markers[0]
        assert marker.name == "12A. INT. KITCHEN - NIGHT"

    xml = read_timeline(to_fcp_xml(tl), "xml")
    assert _rows(clip_table(xml, rate, df)) == _rows(want)
    first = xml.find_clips()[0]
    assert first.media_reference.target_url == "A001_C003.mov"
    assert [m.name for m in first.markers] == ["12A. INT. KITCHEN - NIGHT"]
    assert first.media_reference.available_range.start_time.value == tc_to_frames(tc0, rate, drop_frame)

    otio_back = otio.adapters.read_from_string(otio.adapters.write_to_string(tl, "otio_json"), "otio_json")
    assert clip_table(otio_back) == want


def test_fcpxml_times_are_exact_frames() -> None:
    tl = _cut(NTSC, "00:59:59;28")
    spine = fcpxml_spine(to_fcpxml(tl))
    frame = Fraction(1001, 30000)
    assert [r["name"] for r in spine] == ["12A_T03", "12B_T01", "13_T02"]
    assert [r["duration"] / frame for r in spine] == [40, 80, 30]
    assert [r["offset"] / frame for r in spine] == [0, 40, 120]
    src0 = tc_to_frames("00:59:59;28", NTSC)
    assert spine[0]["start"] / frame == src0 + 5 and spine[0]["asset_start"] / frame == src0
    assert spine[0]["has_audio"] and not spine[1]["has_audio"]
    assert spine[0]["markers"][0][0] == "12A. INT. KITCHEN - NIGHT"
    text = to_fcpxml(tl)
    assert 'tcFormat="DF"' in text and 'frameDuration="1001/30000s"' in text


@pytest.mark.parametrize("rate", [Fraction(24), Fraction(25)])
def test_fcpxml_reads_back_through_otio_at_whole_frame_rates(rate: Fraction) -> None:
    """OTIO's FCPXML reader counts frames at int(rate), so only whole rates read back exactly;
    NTSC files are checked on their exact times above."""
    tl = _cut(rate, "01:00:00:00")
    back = read_timeline(to_fcpxml(tl), "fcpxml")
    got = [(c.name, c.source_range.start_time.value, c.source_range.duration.value, [m.name for m in c.markers])
           for c in back.find_clips()]
    want = [(c.name, c.source_range.start_time.value, c.source_range.duration.value, [m.name for m in c.markers])
            for c in tl.tracks[0].find_clips()]
    assert got == want


def test_the_round_trip_check_catches_a_wrong_edl() -> None:
    """The comparison the tests rely on fails when an EDL's source timecode is off by a frame."""
    tl = _cut(NTSC, "00:59:59;28")
    edl = to_edl(tl)
    bad = edl.replace("01:00:00;03 01:00:01;13", "01:00:00;04 01:00:01;14", 1)
    assert bad != edl
    assert _rows(clip_table(read_timeline(bad, "edl", NTSC), NTSC, True)) != _rows(clip_table(tl)[:3])


def test_timeline_from_shots_conforms_the_source() -> None:
    shotlist = {"version": 1, "source": "ast_x", "fps": 23.976, "fps_rational": [24000, 1001], "frames": 240,
                "drop_frame": False, "shots": [
                    {"index": 0, "start_frame": 0, "end_frame": 100, "transition_in": "start", "transition_frames": 0},
                    {"index": 1, "start_frame": 100, "end_frame": 180, "transition_in": "cut", "transition_frames": 0},
                    {"index": 2, "start_frame": 180, "end_frame": 240, "transition_in": "dissolve",
                     "transition_frames": 12}],
                "transitions": [], "flashes": []}
    tl = timeline_from_shots(shotlist, "plate.mov", source_tc="10:00:00:00", markers={1: "the turn"})
    rows = clip_table(tl)
    assert [r["frames"] for r in rows] == [100, 80, 60]
    assert [r["src_in"] for r in rows] == ["10:00:00:00", "10:00:04:04", "10:00:07:12"]
    assert rows[1]["rec_in"] == "01:00:04:04" and rows[2]["rec_out"] == "01:00:10:00"
    clips = tl.find_clips()
    assert clips[2].metadata["reelforge"]["transition_in"] == "dissolve" and clips[1].markers[0].name == "the turn"
    back = read_timeline(to_edl(tl), "edl", FILM)
    assert _rows(clip_table(back, FILM, False)) == _rows(rows)
    with pytest.raises(TimelineError, match="out of order"):
        timeline_from_shots({**shotlist, "shots": shotlist["shots"][::-1]}, "plate.mov")
    with pytest.raises(TimelineError, match="no shots"):
        timeline_from_shots({**shotlist, "shots": []}, "plate.mov")
    with pytest.raises(TimelineError, match="not a shot list"):
        timeline_from_shots({"shots": []}, "plate.mov")


def test_bad_timelines_are_refused() -> None:
    a = ClipSpec("a", "a.mov", Fraction(24), 10)
    with pytest.raises(TimelineError, match="mixed frame rates"):
        timeline_from_clips("x", [a, ClipSpec("b", "b.mov", Fraction(25), 10)])
    with pytest.raises(TimelineError, match="outside"):
        timeline_from_clips("x", [ClipSpec("a", "a.mov", Fraction(24), 10, 5, 20)])
    with pytest.raises(TimelineError, match="no clips"):
        timeline_from_clips("x", [])
    with pytest.raises(TimelineError, match="drop-frame"):
        timeline_from_clips("x", [a], drop_frame=True)
    with pytest.raises(TimelineError, match="drop-frame"):
        timeline_from_clips("x", [ClipSpec("a", "a.mov", Fraction(24), 10, start_tc="01:00:00;00")])
    with pytest.raises(TimelineError, match="not a Final Cut Pro frame rate"):
        to_fcpxml(timeline_from_clips("x", [ClipSpec("a", "a.mov", Fraction(18), 10)]))
    with pytest.raises(TimelineError, match="unknown timeline format"):
        write_timeline(timeline_from_clips("x", [a]), Path("x.aaf"))
    with pytest.raises(TimelineError, match="cannot read"):
        read_timeline("001  AX  V  C  garbage", "edl", Fraction(24))


def test_real_clips_probe_and_write_every_format(tmp_path: Path) -> None:
    a = make_clip(tmp_path / "12A_T01.mov", seconds=1.0, rate=NTSC, timecode="00:59:59;28")
    b = make_clip(tmp_path / "12A_T02.mov", seconds=1.0, rate=NTSC, timecode="01:00:10;00", audio=False)
    src = [probe_clip(a), probe_clip(b)]
    assert src[0].rate == NTSC and src[0].frames == 30 and src[0].start_tc == "00:59:59;28" and src[0].drop_frame
    assert src[0].has_audio and not src[1].has_audio and src[0].sample_rate == 22050
    specs = [ClipSpec(p.stem, p.name, s.rate, s.frames, start_tc=s.start_tc, drop_frame=s.drop_frame,
                      has_audio=s.has_audio) for p, s in zip((a, b), src, strict=True)]
    tl = timeline_from_clips("dailies", specs)
    for suffix in (".otio", ".edl", ".xml", ".fcpxml"):
        out = write_timeline(tl, tmp_path / f"cut{suffix}")
        assert out.stat().st_size > 100
    edl = (tmp_path / "cut.edl").read_text()
    assert "001  12A_T01  B     C        00:59:59;28 01:00:00;28 01:00:00;00 01:00:01;00" in edl
    assert "002  12A_T02  V     C        01:00:10;00 01:00:11;00 01:00:01;00 01:00:02;00" in edl
    with pytest.raises(TimelineError, match="not a video"):
        probe_clip(tmp_path / "cut.edl")
    with pytest.raises(TimelineError, match="variable frame rate"):
        probe_clip(make_vfr_clip(tmp_path / "phone.mp4"))

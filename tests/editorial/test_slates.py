"""Slate grammar: many spellings of the same slate, circled marks, and refusals of ambiguous names."""

from __future__ import annotations

import pytest

from reelforge.editorial.slates import Slate, SlateError, clip_slate, normalise_scene, parse_slate


@pytest.mark.parametrize("name, scene, shot, take", [
    ("12A_T03", "12A", None, 3),
    ("12A-3", "12A", None, 3),
    ("12A/3", "12A", None, 3),
    ("12A - 3", "12A", None, 3),
    ("S12A_SH2_TK3", "12A", "2", 3),
    ("S12A_SH02_TK003", "12A", "2", 3),
    ("sc12a tk3", "12A", None, 3),
    ("SC12A.TK3", "12A", None, 3),
    ("Scene 12A Take 3", "12A", None, 3),
    ("scene12a_take03", "12A", None, 3),
    ("12A_SH2_T3", "12A", "2", 3),
    ("12A_SHB_T2", "12A", "B", 2),
    ("12_setup_C_take_4", "12", "C", 4),
    ("sc12-3", "12", None, 3),
    ("012a_t03", "12A", None, 3),
    ("12AB_T1", "12AB", None, 1),
    ("A_12A_T03_v2", "12A", None, 3),  # camera letter before, a version after
    ("A001C003_12A_T03.mxf", "12A", None, 3),  # camera roll name before the slate
    ("dailies/day 1/12A_T03.mov", "12A", None, 3),  # a path: its file name counts
    ("7_T1.MP4", "7", None, 1),
    ("clip 3 take 2", "3", None, 2),
])
def test_spellings_of_a_slate(name: str, scene: str, shot: str | None, take: int) -> None:
    s = parse_slate(name)
    assert s is not None, name
    assert (s.scene, s.shot, s.take, s.circled) == (scene, shot, take, False), name


@pytest.mark.parametrize("name", [
    "12A_T03_C", "12A_T03_circled", "12A_T03 CIRCLED", "12a_t3_print", "12A-3_PRT", "12A-3*", "*12A-3",
    "12A_T03 (circled)", "12A_T03(c)", "12A/3 (print)", "S12A_SH2_TK3_CT.mov", "12A-3 c",
])
def test_circled_marks(name: str) -> None:
    s = parse_slate(name)
    assert s is not None and s.circled, name
    assert (s.scene, s.take) == ("12A", 3)


@pytest.mark.parametrize("name", [
    "A001_C003",  # a camera roll/clip name: no scene, no take
    "A001C003_0101AB.mov",
    "take3", "T03", "12A", "sc12a", "interview_final", "", "   ", "12AT03", "IMG_0042.MOV",
])
def test_names_without_a_slate(name: str) -> None:
    assert parse_slate(name) is None


@pytest.mark.parametrize("name, why", [
    ("12A_T03_14B_T02", "more than one slate"),
    ("12A_T03_T04", "more than one take"),
    ("12-3-4", "three or more bare numbers"),
    ("2024-05-01", "three or more bare numbers"),
    ("12/3/4", "three or more bare numbers"),
    ("12A_T00", "take 0"),
    ("12A-0", "take 0"),
])
def test_ambiguous_names_are_refused(name: str, why: str) -> None:
    with pytest.raises(SlateError, match=why):
        parse_slate(name)


def test_scene_numbers_normalise() -> None:
    assert normalise_scene("012a") == "12A" and normalise_scene(" 7 ") == "7" and normalise_scene("0") == "0"
    assert Slate("12A", "2", 3, True).label == "12A SH2 T3 (circled)"


def test_metadata_and_tags_beat_the_name_and_fill_it_in() -> None:
    # metadata alone slates a camera-named clip; a tag circles it
    s = clip_slate("A001_C003.mov", {"Scene": "12A", "take": "2"}, ["circled"])
    assert (s.scene, s.take, s.circled, s.source) == ("12A", 2, True, "metadata")
    # metadata adds a set-up to the name's slate
    s = clip_slate("12A_T03.mov", {"setup": "B"}, [])
    assert (s.scene, s.shot, s.take, s.source) == ("12A", "B", 3, "metadata+name")
    # tags in key:value form
    s = clip_slate("interview.mov", {}, ["scene:4", "tk:2", "print"])
    assert (s.scene, s.take, s.circled, s.source) == ("4", 2, True, "tags")
    # a slate string in metadata, in any of the grammar's forms
    assert clip_slate("x.mov", {"slate": "12A/3"}).take == 3
    # metadata naming another scene wins; the name's take is not mixed in
    s = clip_slate("14_T2.mov", {"scene": "12A"})
    assert (s.scene, s.take) == ("12A", None)
    # the name's circle mark survives metadata
    assert clip_slate("12A_T03_C.mov", {"scene": "12A"}).circled
    assert clip_slate("12A_T03.mov", {"circled": "yes"}).circled
    assert not clip_slate("12A_T03.mov", {"circled": "no"}).circled


def test_annotations_without_a_scene_or_with_conflicts() -> None:
    assert clip_slate("A001_C003.mov", {"take": 3}) is None  # a take alone names no scene
    with pytest.raises(SlateError, match="two different scenes"):
        clip_slate("x.mov", {}, ["scene:4", "scene:5"])
    with pytest.raises(SlateError, match="not a scene number"):
        clip_slate("x.mov", {"scene": "kitchen"})
    with pytest.raises(SlateError, match="not in a slate form"):
        clip_slate("x.mov", {"slate": "the kitchen one"})
    with pytest.raises(SlateError, match="not a number"):
        clip_slate("x.mov", {"scene": "4", "take": "three"})

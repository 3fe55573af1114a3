"""Subtitle segmentation by broadcast rules, the rule validator, and SRT/WebVTT files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelforge.editorial.align import align_lines
from reelforge.editorial.subtitles import (
    CHINESE,
    ENGLISH,
    SubtitleError,
    SubtitleEvent,
    TimedWord,
    Turn,
    break_lines,
    check_file,
    check_rules,
    display_len,
    read_subtitles,
    rules_for,
    segment,
    shot_changes_from_shots,
    turns_from_words,
    write_subtitles,
)
from tests.editorial.speech_cases import SR, dialogue, spoken


def _turns(language: str) -> tuple[list[Turn], tuple]:
    audio, truth = spoken(language)
    turns = dialogue(language)
    res = align_lines(audio, SR, [t for _, t in turns], language, speakers=[c for c, _ in turns])
    assert res.coverage == 1.0
    return [Turn([TimedWord(*w) for w in ln.words], ln.speaker, ln.index) for ln in res.lines], truth


@pytest.fixture(scope="module")
def english() -> tuple[list[Turn], tuple]:
    return _turns("en")


@pytest.fixture(scope="module")
def mandarin() -> tuple[list[Turn], tuple]:
    return _turns("zh")


def _cuts_inside_lines(truth: tuple) -> list[float]:
    """Shot changes in the middle of three lines and in one pause: the hard cases."""
    mids = [(t.start + t.end) / 2 for t in truth[1:7:2]]
    return [*mids, (truth[3].end + truth[4].start) / 2]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_aligned_speech_becomes_subtitles_that_obey_every_rule(language: str, english: tuple, mandarin: tuple,
                                                               tmp_path: Path) -> None:
    turns, truth = english if language == "en" else mandarin
    rules = rules_for(language, fps=25)
    cuts = _cuts_inside_lines(truth)
    events = segment(turns, rules, cuts)
    assert check_rules(events, rules, cuts) == []
    # all the words, in order, each line's words in its own events, speakers kept
    for turn in turns:
        mine = [e for e in events if e.line_index == turn.line_index]
        assert mine and all(e.speaker == turn.speaker for e in mine)
        joined = "".join("".join(e.lines) for e in mine).replace(" ", "")
        assert joined == "".join(w.text for w in turn.words).replace(" ", "")
    # whole frames, and a subtitle starts close to its line's speech
    assert all(abs(e.start * 25 - round(e.start * 25)) < 0.03 for e in events)
    for turn, t in zip(turns, truth, strict=True):
        first = min(e.start for e in events if e.line_index == turn.line_index)
        assert abs(first - t.start) < 0.35 or any(abs(first - c) < 1e-3 for c in cuts)
    for fmt in ("srt", "vtt"):
        path = write_subtitles(events, tmp_path / f"out.{fmt}")
        assert check_file(path, rules, cuts) == []
        back = read_subtitles(path)
        assert [e.lines for e in back] == [e.lines for e in events]
        assert [(e.start, e.end) for e in back] == [(e.start, e.end) for e in events]
    assert (tmp_path / "out.vtt").read_text(encoding="utf-8").startswith("WEBVTT")


def test_the_validator_fails_a_bad_file_and_names_each_broken_rule(tmp_path: Path) -> None:
    bad = tmp_path / "bad.srt"
    bad.write_text(
        "1\n00:00:01,000 --> 00:00:03,000\nThis line is far too long to be read on one subtitle line\n\n"
        "2\n00:00:03,040 --> 00:00:05,000\none\ntwo\nthree\n\n"                       # 1 frame gap, 3 lines
        "3\n00:00:05,500 --> 00:00:05,900\nToo short.\n\n"
        "4\n00:00:06,000 --> 00:00:14,000\nOn screen for eight seconds.\n\n"
        "5\n00:00:15,000 --> 00:00:16,000\nSpoken far too fast to read it,\nwith forty more characters.\n\n"
        "6\n00:00:17,000 --> 00:00:19,000\nAcross the cut.\n\n"
        "7\n00:00:18,500 --> 00:00:20,000\nOverlapping the one before.\n\n",
        encoding="utf-8",
    )
    found = check_file(bad, ENGLISH, shot_changes=[18.0])
    rules = {(v.event, v.rule) for v in found}
    assert {(0, "max_chars_per_line"), (0, "min_gap"), (1, "max_lines"), (2, "min_duration"),
            (3, "max_duration"), (4, "max_cps"), (5, "shot_change"), (5, "min_gap")} <= rules, found
    assert all(v.message for v in found)
    # the same file without its faults passes
    good = tmp_path / "good.srt"
    good.write_text("1\n00:00:01,000 --> 00:00:03,500\nThis line is short enough\nto read in time.\n\n"
                    "2\n00:00:03,580 --> 00:00:05,000\nTwo frames later.\n\n", encoding="utf-8")
    assert check_file(good, ENGLISH, shot_changes=[18.0]) == []
    # Chinese: 16 characters a line, 9 a second
    zh = [SubtitleEvent(0.0, 2.0, ["今晚只卖出了三张票，屋顶又漏水了，怎么办"])]
    assert {v.rule for v in check_rules(zh, CHINESE)} == {"max_chars_per_line", "max_cps"}
    assert check_rules([SubtitleEvent(0.0, 2.0, ["今晚只卖出了三张票，"])], CHINESE) == []
    with pytest.raises(SubtitleError):
        check_file(tmp_path / "missing.srt")


def test_shot_changes_split_events_and_subtitles_never_hang_over_a_cut() -> None:
    words = [TimedWord(w, 1.0 + 0.3 * i, 1.0 + 0.3 * i + 0.25) for i, w in enumerate(
        "I know what you did last summer and I will tell everyone about it tomorrow".split())]
    cut = 2.5  # as "did" starts: inside the sentence
    events = segment([Turn(words)], ENGLISH, [cut])
    assert len(events) >= 2
    assert check_rules(events, ENGLISH, [cut]) == []
    assert all(e.end <= cut + 1e-6 or e.start >= cut - 1e-6 for e in events)
    # without the cut, one event holds it all
    one = segment([Turn(words)], ENGLISH)
    assert len(one) == 1 and check_rules(one, ENGLISH) == []
    assert one[0].lines == ["I know what you did last summer", "and I will tell everyone about it tomorrow"]


def test_short_words_are_held_long_enough_and_gaps_are_two_frames() -> None:
    turns = [Turn([TimedWord("Yes.", 1.0, 1.2)]), Turn([TimedWord("No.", 1.3, 1.5)]),
             Turn([TimedWord("Maybe.", 4.0, 4.3)])]
    events = segment(turns, ENGLISH)
    assert check_rules(events, ENGLISH) == []
    assert events[0].end <= events[1].start - 2 / 25 + 1e-6
    assert all(e.duration >= 5 / 6 - 1e-3 for e in events)


def test_speech_too_fast_to_read_is_reported_not_hidden() -> None:
    text = "this sentence is spoken much faster than anybody could possibly read it on the screen"
    words = [TimedWord(w, 10 + 0.12 * i, 10 + 0.12 * i + 0.11) for i, w in enumerate(text.split())]
    events = segment([Turn(words)], ENGLISH, shot_changes=[9.8, 12.0])  # cuts leave no room to borrow
    found = check_rules(events, ENGLISH, [9.8, 12.0])
    assert "max_cps" in {v.rule for v in found}


def test_line_breaks_are_balanced_and_sensible() -> None:
    r = ENGLISH
    assert break_lines("Go home".split(), r) == ["Go home"]
    two = break_lines("Mrs. Bell. I've sent you four letters. You ignored every one of them.".split(), r)
    assert two == ["Mrs. Bell. I've sent you four letters.", "You ignored every one of them."]
    lines = break_lines("I will meet you at the old cinema on the corner of the street".split(), r)
    assert lines is not None and all(len(x) <= 42 for x in lines)
    assert lines[0].split()[-1] not in ("the", "of", "at", "on")
    assert break_lines(["x" * 50], r) is None
    zh = break_lines(list("银行六个星期后就收房，到时候你什么都没有。"), CHINESE)
    assert zh == ["银行六个星期后就收房，", "到时候你什么都没有。"]
    assert display_len("e\u0301") == 1


def test_transcript_words_group_into_turns_at_pauses() -> None:
    ws = [TimedWord("hello", 0.0, 0.4), TimedWord("there.", 0.5, 0.9), TimedWord("how", 1.5, 1.7),
          TimedWord("are", 1.75, 1.9), TimedWord("you", 3.0, 3.2)]
    assert [[w.text for w in t.words] for t in turns_from_words(ws)] == [["hello", "there."], ["how", "are"], ["you"]]


def test_shot_list_contract_and_rules() -> None:
    doc = {"version": 1, "source": "ast_x", "fps": 23.976, "fps_rational": [24000, 1001], "frames": 300,
           "drop_frame": False, "shots": [
               {"index": 0, "start_frame": 0, "end_frame": 100, "start": 0.0, "end": 4.171},
               {"index": 1, "start_frame": 100, "end_frame": 300, "start": 4.171, "end": 12.5}],
           "transitions": [], "flashes": []}
    assert shot_changes_from_shots(doc) == ([4.171], 23.976)
    with pytest.raises(SubtitleError):
        shot_changes_from_shots({"shots": [{"start": 0}, {"nope": 1}]})
    with pytest.raises(SubtitleError):
        shot_changes_from_shots([1, 2])
    assert rules_for("zh").max_chars_per_line == 16 and rules_for("en-GB", 30).fps == 30
    assert rules_for("zh", 24).min_gap == pytest.approx(2 / 24)
    with pytest.raises(SubtitleError):
        rules_for("en", 0.5)


def test_files_escape_markup(tmp_path: Path) -> None:
    ev = [SubtitleEvent(1.0, 3.0, ["Fish & chips <b>now</b>", "{curly}"])]
    vtt = write_subtitles(ev, tmp_path / "a.vtt").read_text(encoding="utf-8")
    assert "Fish &amp; chips &lt;b&gt;now&lt;/b&gt;" in vtt and "(curly)" in vtt
    srt = write_subtitles(ev, tmp_path / "a.srt").read_text(encoding="utf-8")
    assert "<b>" not in srt and "(curly)" in srt
    with pytest.raises(SubtitleError):
        write_subtitles(ev, tmp_path / "a.ass")
    assert np.isclose(read_subtitles(tmp_path / "a.srt")[0].end, 3.0)

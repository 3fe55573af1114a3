"""Hostile screenplays: parsing and analysis stay linear, and oversized scripts are refused up front.

Nothing here asserts wall-clock time. Linearity is checked by processing a 10x smaller input of the
same shape in the same test and comparing CPU time: linear work gives a ratio near 10, quadratic
work near 100, so the bound is 30. Each measurement repeats the operation until it has run for at
least 20 ms (best of three), with the cyclic garbage collector paused, so timer resolution, other
processes and collector pauses (which grow with everything else alive in the test process) do not
decide the outcome: what is measured is the algorithm.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import pytest

from reelforge.errors import LimitExceeded, ScriptParseError
from reelforge.script import analysis as analysis_mod
from reelforge.script import breakdown as breakdown_mod
from reelforge.script.analysis import analyze
from reelforge.script.breakdown import breakdown
from reelforge.script.chinese import parse_chinese
from reelforge.script.fdx import parse_fdx
from reelforge.script.formats import parse_any
from reelforge.script.fountain import parse_fountain, write_fountain
from reelforge.script.limits import DEFAULT_LIMITS, ScriptLimits
from reelforge.script.model import Element, InlineNote, Screenplay, emphasis_runs, strip_emphasis

SMALL, BIG = 10_000, 100_000
MAX_RATIO = 30


def _cpu(fn: Callable[[], Any]) -> float:
    """CPU seconds per call of ``fn``: best of three runs of at least 20 ms each."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            calls = 0
            start = time.process_time()
            while True:
                fn()
                calls += 1
                spent = time.process_time() - start
                if spent >= 0.02:
                    break
            best = min(best, spent / calls)
    finally:
        gc.enable()
    return best


def _assert_linear(
    make: Callable[[int], Any], op: Callable[[Any], Any], small_n: int = SMALL, big_n: int = BIG
) -> None:
    small, big = make(small_n), make(big_n)
    t_small = _cpu(lambda: op(small))
    t_big = _cpu(lambda: op(big))
    assert t_big / t_small < MAX_RATIO, f"10x the input took {t_big / t_small:.0f}x the CPU time"


def _repeat(pattern: str, n: int) -> str:
    return (pattern * (n // len(pattern) + 1))[:n]


# -------------------------------------------------------------------------------------------- emphasis

PATTERNS = [
    "*",
    "**",
    "_",
    "***",
    "*a ",
    "**a ",
    "_a ",
    "***a ",
    "*_a ",
    "*_**_*",
    "a*",
    "\\*a*",
    "***_a_** ",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_emphasis_on_a_100kb_line_is_linear(pattern: str) -> None:
    _assert_linear(lambda n: _repeat(pattern, n), lambda line: (strip_emphasis(line), emphasis_runs(line)))
    line = _repeat(pattern, BIG)
    plain = strip_emphasis(line)
    assert len(plain) <= len(line)
    assert "".join(seg for seg, _styles in emphasis_runs(line)) == plain


def test_unclosed_emphasis_is_left_alone() -> None:
    line = _repeat("*a ", BIG)
    assert strip_emphasis(line) == line  # no opener has a closer: nothing is emphasis
    assert strip_emphasis("*a* " * 3) == "a a a "


@pytest.mark.parametrize("pattern", ["*a ", "**a ", "_a ", "***_a_** "])
def test_breakdown_of_a_100kb_emphasis_line_is_linear(pattern: str) -> None:
    def make(n: int) -> Screenplay:
        return parse_fountain("INT. ROOM - DAY\n\n" + _repeat(pattern, n) + "\n")

    _assert_linear(make, breakdown)
    sp = make(BIG)
    assert [e.type for e in sp.elements] == ["scene_heading", "action"]
    assert breakdown(sp).scenes[0].lines > 100  # laid out, not refused


# ---------------------------------------------------------------------------------- long lines, Fountain


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda n: "INT. A" + " " * n + "B\n\nx\n", id="heading-with-a-long-run-of-spaces"),
        pytest.param(lambda n: ".A" + " #1#" * (n // 4) + "\n\nx\n", id="heading-with-many-scene-numbers"),
        pytest.param(lambda n: "INT. A" + " -" * (n // 2) + " DAY\n\nx\n", id="heading-with-many-dashes"),
        pytest.param(
            lambda n: "INT. A - DAY\n\n" + "Bob waits.\n" * (n // 11), id="one-long-action-paragraph"
        ),
        pytest.param(lambda n: "BOB\n" + "Hi.\n" * (n // 4), id="one-long-speech"),
        pytest.param(lambda n: "Look [[a note]] here." * (n // 21) + "\n", id="many-inline-notes"),
        pytest.param(lambda n: "[[" * (n // 2) + "]]\n", id="nested-note-openers"),
        pytest.param(lambda n: "A" * n + "\n", id="one-100kb-word"),
    ],
)
def test_fountain_parsing_is_linear(make: Callable[[int], str]) -> None:
    _assert_linear(make, parse_fountain)
    _assert_linear(make, lambda text: parse_fountain(text, strip_emphasis=True))
    sp = parse_fountain(make(BIG))
    assert sp.elements
    # The writer is linear too, and what it writes reads back the same.
    _assert_linear(lambda n: parse_fountain(make(n)), write_fountain)
    assert [(e.type, e.text) for e in parse_fountain(write_fountain(sp)).elements] == [
        (e.type, e.text) for e in sp.elements
    ]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda n: "INT. A - DAY\n\n" + "Bob waits.\n" * (n // 11), id="one-long-action-paragraph"
        ),
        pytest.param(lambda n: "BOB\n" + "Hi.\n" * (n // 4), id="one-long-speech"),
    ],
)
def test_multi_line_elements_stay_linear_at_a_megabyte(make: Callable[[int], str]) -> None:
    # Growing an element's text line by line only turns quadratic once the copies dominate: compare
    # 100 KB with 1 MB (the old ``el.text += line`` gave a ratio near 50 here).
    _assert_linear(make, parse_fountain, BIG, 10 * BIG)
    sp = parse_fountain(make(10 * BIG))
    assert len(sp.elements[-1].text.split("\n")) > 50_000


def test_many_notes_at_one_offset_are_written_in_order() -> None:
    notes = [InlineNote(3, f"n{i}") for i in range(BIG // 10)]
    sp = Screenplay(elements=[Element("action", "abcdef", 1, notes=notes)])
    again = parse_fountain(write_fountain(sp))
    assert [n.text for n in again.elements[0].notes] == [n.text for n in notes]
    assert {n.offset for n in again.elements[0].notes} == {3}


def test_unclosed_boneyard_and_note_fail_fast() -> None:
    for text in ("/*" + "x" * BIG, "Action [[" + "x" * BIG):
        with pytest.raises(ScriptParseError):
            parse_fountain(text)


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(lambda n: "AB (" * (n // 4), id="many-open-parentheses"),
        pytest.param(lambda n: "A." * (n // 2), id="one-long-run-of-capitals"),
        pytest.param(lambda n: "MARGOT BELL (67) " * (n // 17), id="many-introductions"),
        pytest.param(lambda n: "BOB and ALICE " * (n // 14), id="many-name-mentions"),
    ],
)
def test_breakdown_of_hostile_action_is_linear(action: Callable[[int], str]) -> None:
    def make(n: int) -> Screenplay:
        return parse_fountain(f"INT. A - DAY\n\nBOB\nHi.\n\nALICE\nHo.\n\n{action(n)}\n")

    _assert_linear(make, breakdown)


def test_breakdown_with_thousands_of_speakers_is_linear() -> None:
    def make(n: int) -> Screenplay:
        scenes = n // 100
        return parse_fountain(
            "".join(f"INT. R{i} - DAY\n\nC{i}\nHi.\n\nC{i - 1} and C{i + 1} wait.\n\n" for i in range(scenes))
        )

    _assert_linear(make, breakdown)
    bd = breakdown(make(BIG))
    assert bd.scenes[5].cast == ["C5"] and bd.scenes[5].non_speaking == ["C4", "C6"]


# --------------------------------------------------------------------------------------- FDX and Chinese


def _fdx(body: str) -> bytes:
    return f'<?xml version="1.0"?><FinalDraft><Content>{body}</Content></FinalDraft>'.encode()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda n: _fdx(
                '<Paragraph Type="Character"><Text>BOB</Text></Paragraph>'
                + '<Paragraph Type="Dialogue"><Text>Hi &amp; bye.</Text></Paragraph>' * (n // 60)
            ),
            id="many-dialogue-paragraphs-under-one-cue",
        ),
        pytest.param(
            lambda n: _fdx(
                '<Paragraph Type="Action"><Text>' + "word &amp; " * (n // 11) + "</Text></Paragraph>"
            ),
            id="one-long-text-run",
        ),
        pytest.param(
            lambda n: _fdx('<Paragraph Type="Action">' + "<Text>a</Text>" * (n // 14) + "</Paragraph>"),
            id="many-text-runs",
        ),
        pytest.param(
            lambda n: (
                b'<?xml version="1.0"?><FinalDraft><Content/><TitlePage><Content>'
                + b'<Paragraph Alignment="Center"><Text>line</Text></Paragraph>' * (n // 60)
                + b"</Content></TitlePage></FinalDraft>"
            ),
            id="long-title-page",
        ),
    ],
)
def test_fdx_parsing_is_linear(make: Callable[[int], bytes]) -> None:
    _assert_linear(make, parse_fdx)
    assert parse_fdx(make(BIG)) is not None


def test_fdx_dialogue_paragraphs_merge_into_one_element() -> None:
    sp = parse_fdx(
        _fdx(
            '<Paragraph Type="Character"><Text>BOB</Text></Paragraph>'
            + '<Paragraph Type="Dialogue"><Text>Hi.</Text></Paragraph>' * 1000
        )
    )
    assert [e.type for e in sp.elements] == ["character", "dialogue"]
    assert sp.elements[1].text == "\n".join(["Hi."] * 1000)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda n: "1. 日 内 客厅\n张" + " " * n + "x\n", id="name-then-a-long-run-of-spaces"),
        pytest.param(
            lambda n: "1. 日 内 客厅\n人物：" + "、".join(f"人{i}" for i in range(n // 6)), id="huge-cast"
        ),
        pytest.param(lambda n: "1. 日 内 客厅\n" + "中文。" * (n // 3), id="one-giant-line"),
        pytest.param(lambda n: "1. 日 内 客厅\n" + "张三：（笑）你好" * (n // 8), id="giant-dialogue-line"),
    ],
)
def test_chinese_parsing_and_breakdown_are_linear(make: Callable[[int], str]) -> None:
    _assert_linear(make, parse_chinese)
    _assert_linear(lambda n: parse_chinese(make(n)), breakdown)


def test_chinese_cast_line_keeps_every_name_once() -> None:
    names = [f"人{i}" for i in range(5000)]
    sp = parse_chinese("1. 日 内 客厅\n人物：" + "、".join(names + names))
    assert sp.scenes()[0].cast_listed == names


# --------------------------------------------------------------------------------------------- analysis


def test_sentiment_of_one_huge_speech_is_linear() -> None:
    speech = "It was good but it was bad. "

    def make(n: int) -> Screenplay:
        return Screenplay(
            elements=[
                Element("scene_heading", "INT. A - DAY", 1),
                Element("character", "BOB", 2, name="BOB"),
                Element("dialogue", _repeat(speech, n), 3),
            ]
        )

    _assert_linear(make, analyze)
    assert -1.0 <= analyze(make(BIG)).units[0].compound <= 1.0


# ------------------------------------------------------------------------------------------------ limits


def test_a_200000_scene_screenplay_is_refused_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "".join(f"INT. ROOM {i} - DAY\n\nBOB\nHi.\n\n" for i in range(200_000))
    sp = parse_any(text.encode(), "huge.fountain")  # parsing is linear, so this is quick
    assert len(sp.elements) == 600_000

    def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("expensive work started before the size check")

    monkeypatch.setattr(breakdown_mod, "_layout", boom)
    monkeypatch.setattr(analysis_mod, "sentiment_scorer", boom)
    with pytest.raises(LimitExceeded, match="screenplay has 200000 scenes, over the limit of 5000"):
        breakdown(sp)
    with pytest.raises(LimitExceeded, match="200000 scenes"):
        analyze(sp)


def test_each_limit_names_what_is_over() -> None:
    sp = parse_fountain("INT. A - DAY\n\nBOB\nHi.\n\nINT. B - DAY\n\nALICE\nHo.\n\nCARL\nHey.\n")
    with pytest.raises(LimitExceeded, match="screenplay has 2 scenes, over the limit of 1"):
        breakdown(sp, limits=ScriptLimits(max_scenes=1))
    with pytest.raises(LimitExceeded, match="8 elements, over the limit of 7"):
        breakdown(sp, limits=ScriptLimits(max_elements=7))
    with pytest.raises(LimitExceeded, match="characters of text"):
        breakdown(sp, limits=ScriptLimits(max_text_chars=20))
    with pytest.raises(LimitExceeded, match="3 speaking characters, over the analysis limit of 2"):
        analyze(sp, limits=ScriptLimits(max_speakers=2))
    breakdown(sp, limits=ScriptLimits(max_speakers=2))  # the cast limit is analysis-only
    # A prologue scene counts.
    with_prologue = parse_fountain("A quiet field.\n\nINT. A - DAY\n\nHi.\n")
    with pytest.raises(LimitExceeded, match="2 scenes"):
        breakdown(with_prologue, limits=ScriptLimits(max_scenes=1))
    with pytest.raises(Exception, match="positive integer"):
        ScriptLimits(max_scenes=0)


def test_default_limits_leave_room_for_real_features() -> None:
    assert DEFAULT_LIMITS.max_scenes >= 5_000
    assert DEFAULT_LIMITS.max_elements >= 100_000
    assert DEFAULT_LIMITS.max_speakers >= 200

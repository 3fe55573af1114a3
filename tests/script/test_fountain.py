from __future__ import annotations

from typing import Any

import pytest

from reelforge.errors import ScriptParseError
from reelforge.script.fountain import parse_fountain, write_fountain
from reelforge.script.io import sample_path
from reelforge.script.model import Element, Screenplay

from .fountain_cases import CASES, STRIPPED_CASES, Expected


def _check(elements: list[Element], expected: list[Expected]) -> None:
    got = [(e.type, e.text) for e in elements]
    assert got == [(x[0], x[1]) for x in expected]
    for el, exp in zip(elements, expected, strict=True):
        fields: dict[str, Any] = exp[2] if len(exp) > 2 else {}  # type: ignore[misc]
        for key, value in fields.items():
            actual = getattr(el, key)
            if key == "notes":
                actual = [n.to_dict() for n in actual]
            assert actual == value, f"{el.type} {key}: {actual!r} != {value!r}"


def _signature(sp: Screenplay) -> list[tuple[Any, ...]]:
    return [
        (
            e.type,
            e.text,
            e.name,
            tuple(e.extensions),
            e.dual,
            e.scene_number,
            e.depth,
            tuple((n.offset, n.text) for n in e.notes),
        )
        for e in sp.elements
    ]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_golden_case(text: str, expected: list[Expected]) -> None:
    _check(parse_fountain(text).elements, expected)


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in STRIPPED_CASES], ids=[c[0] for c in STRIPPED_CASES]
)
def test_golden_case_stripped(text: str, expected: list[Expected]) -> None:
    _check(parse_fountain(text, strip_emphasis=True).elements, expected)


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_golden_case_survives_write_and_reparse(text: str, expected: list[Expected]) -> None:
    sp = parse_fountain(text)
    again = parse_fountain(write_fountain(sp))
    assert _signature(again) == _signature(sp)


def test_title_page_with_continuation_lines() -> None:
    text = (
        "Title:\n    _**BRICK & STEEL**_\n    _**FULL RETIRED**_\nCredit: Written by\nAuthor: Stu Maschwitz\n"
        "Draft date: 1/20/2012\nContact:\n\tNext Level Productions\n    1588 Mission Dr.\n\n"
        "EXT. BRICK'S PATIO - DAY\n\nA gorgeous day.\n"
    )
    sp = parse_fountain(text)
    assert [(f.key, f.value) for f in sp.title_page] == [
        ("Title", "_**BRICK & STEEL**_\n_**FULL RETIRED**_"),
        ("Credit", "Written by"),
        ("Author", "Stu Maschwitz"),
        ("Draft date", "1/20/2012"),
        ("Contact", "Next Level Productions\n1588 Mission Dr."),
    ]
    assert sp.title == "BRICK & STEEL FULL RETIRED"
    assert [(e.type, e.line) for e in sp.elements] == [("scene_heading", 11), ("action", 13)]
    stripped = parse_fountain(text, strip_emphasis=True)
    assert stripped.title_page[0].value == "BRICK & STEEL\nFULL RETIRED"


def test_no_title_page_when_first_block_is_not_key_value() -> None:
    sp = parse_fountain("Note: this is just action.\nWith a second line.\n")
    assert sp.title_page == []
    assert sp.elements[0].type == "action"
    # key: value lines, but no standard title page key: an opening action line, not a title page
    sp = parse_fountain("Steel enters the code: 9765\n\nINT. VAULT - NIGHT\n")
    assert sp.title_page == []
    assert [e.type for e in sp.elements] == ["action", "scene_heading"]


def test_title_page_custom_keys_are_kept() -> None:
    sp = parse_fountain("Title: Heist\nProducer: Jane Roe\nTL: top left\n\nINT. A - DAY\n")
    assert [(f.key, f.value) for f in sp.title_page] == [
        ("Title", "Heist"),
        ("Producer", "Jane Roe"),
        ("TL", "top left"),
    ]


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_line_endings_and_line_numbers(newline: str) -> None:
    text = newline.join(["INT. ROOM - NIGHT", "", "A lamp.", "", "ANNA", "(quietly)", "Hello.", ""])
    sp = parse_fountain(text)
    assert [(e.type, e.text, e.line) for e in sp.elements] == [
        ("scene_heading", "INT. ROOM - NIGHT", 1),
        ("action", "A lamp.", 3),
        ("character", "ANNA", 5),
        ("parenthetical", "(quietly)", 6),
        ("dialogue", "Hello.", 7),
    ]


def test_byte_order_mark_is_ignored() -> None:
    sp = parse_fountain("\ufeffTitle: X\n\nINT. A - DAY\n")
    assert sp.title == "X"


def test_keep_boneyard_option() -> None:
    sp = parse_fountain("Before.\n\n/* cut\nthis */\n\nAfter.\n", keep_boneyard=True)
    assert [(e.type, e.text, e.line) for e in sp.elements] == [
        ("action", "Before.", 1),
        ("boneyard", " cut\nthis ", 3),
        ("action", "After.", 6),
    ]


def test_inline_note_with_strip_emphasis_keeps_offsets_in_range() -> None:
    sp = parse_fountain("She is **bold** [[note]] now.\n", strip_emphasis=True)
    el = sp.elements[0]
    assert el.text == "She is bold  now."
    assert el.notes[0].text == "note"
    assert el.notes[0].offset == len("She is bold ")


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("INT. A - DAY\n\nAction.\n\n/* never closed\n\nmore\n", 5, "boneyard"),
        ("Action.\n\nBOB\nHello [[never closed\n", 4, "note"),
        ("[[open\n\n/* inner */\n", 1, "note"),
        ("Line one.\nLine two \ue000 bad.\n", 2, "private-use"),
    ],
)
def test_malformed_input_raises_with_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ScriptParseError) as info:
        parse_fountain(text)
    assert info.value.line == line
    assert f"line {line}:" in str(info.value)
    assert fragment in str(info.value)


@pytest.mark.parametrize("bad", [b"INT. A - DAY", None, 42, ["INT. A - DAY"]])
def test_non_string_input_raises(bad: Any) -> None:
    with pytest.raises(ScriptParseError, match="must be text"):
        parse_fountain(bad)


def test_writer_forces_ambiguous_elements() -> None:
    sp = Screenplay(
        elements=[
            Element("scene_heading", "FLASHBACK"),
            Element("action", "BOOM\nThe wall falls."),
            Element("action", "INT. NOT A HEADING"),
            Element("character", "McCoy", name="McCoy"),
            Element("dialogue", "Dammit, Jim."),
            Element("transition", "Fade to black."),
            Element("action", "Title: looks like a key"),
        ]
    )
    text = write_fountain(sp)
    assert ".FLASHBACK" in text
    assert "!BOOM" in text
    assert "!INT. NOT A HEADING" in text
    assert "@McCoy" in text
    assert ">Fade to black." in text
    again = parse_fountain(text)
    assert [(e.type, e.text) for e in again.elements] == [(e.type, e.text) for e in sp.elements]


def test_sample_screenplay_round_trips_through_writer() -> None:
    with open(sample_path(), encoding="utf-8") as fh:
        sp = parse_fountain(fh.read())
    again = parse_fountain(write_fountain(sp))
    assert _signature(again) == _signature(sp)
    assert again.title_page == sp.title_page


def test_sample_agrees_with_screenplain_and_jouvence() -> None:
    """Independent Fountain parsers count the same scenes and speeches in the sample."""
    with open(sample_path(), encoding="utf-8") as fh:
        text = fh.read()
    sp = parse_fountain(text)
    headings = sum(e.type == "scene_heading" for e in sp.elements)
    cues = sum(e.type == "character" for e in sp.elements)

    screenplain = pytest.importorskip("screenplain.parsers.fountain")
    from screenplain.types import Dialog, DualDialog, Slug

    paras = screenplain.parse_lines(text.splitlines()).paragraphs
    assert sum(isinstance(p, Slug) for p in paras) == headings
    assert (
        sum(isinstance(p, Dialog) for p in paras) + 2 * sum(isinstance(p, DualDialog) for p in paras) == cues
    )

    jouvence_parser = pytest.importorskip("jouvence.parser")
    from jouvence.document import TYPE_CHARACTER

    doc = jouvence_parser.JouvenceParser().parseString(text)
    assert len(doc.scenes) - 1 == headings  # jouvence keeps the pre-heading text as scene 0
    # jouvence has no dual dialogue: it reads the "^" cue and its speech as action.
    duals = sum(e.type == "character" and e.dual for e in sp.elements)
    assert duals == 1
    assert sum(p.type == TYPE_CHARACTER for s in doc.scenes for p in s.paragraphs) == cues - duals

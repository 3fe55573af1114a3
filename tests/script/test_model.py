from __future__ import annotations

import json

import pytest

from reelforge.errors import InvalidInput
from reelforge.script.fountain import parse_fountain
from reelforge.script.io import load_sample
from reelforge.script.model import (
    DialogueLine,
    Element,
    Screenplay,
    day_night,
    emphasis_runs,
    runs_to_markup,
    strip_emphasis,
)


def test_to_dict_from_dict_round_trip_is_json_safe() -> None:
    sp = load_sample()
    d = sp.to_dict()
    text = json.dumps(d)
    again = Screenplay.from_dict(json.loads(text))
    assert again == sp


def test_unknown_element_type_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        Element("montage", "x")
    with pytest.raises(InvalidInput):
        Element.from_dict({"text": "no type"})


def test_scenes_prologue_and_numbers() -> None:
    sp = parse_fountain(
        "Title: T\n\nFADE IN:\n\nA cold open before any heading.\n\nBOB\nHi.\n\n"
        "INT. A - DAY #5#\n\nX.\n\nEXT. B - NIGHT\n\nY.\n"
    )
    scenes = sp.scenes()
    assert [(s.index, s.number, s.prologue, s.heading_text) for s in scenes] == [
        (0, "0", True, "(prologue)"),
        (1, "5", False, "INT. A - DAY"),
        (2, "2", False, "EXT. B - NIGHT"),
    ]
    assert scenes[0].speakers() == ["BOB"]
    assert scenes[0].line == 3


def test_fade_in_alone_makes_no_prologue() -> None:
    sp = parse_fountain("FADE IN:\n\n# ACT ONE\n\nINT. A - DAY\n\nX.\n")
    scenes = sp.scenes()
    assert len(scenes) == 1 and not scenes[0].prologue and scenes[0].index == 0


def test_dialogue_lines_merge_a_speech_and_strip_markup() -> None:
    sp = parse_fountain(
        "INT. A - DAY\n\nBOB (V.O.)\n(calm)\nI am *here*.\n(beat)\nStill here.\n\nShe nods.\n\n"
        "ANN\nGood.\n\nEXT. B - DAY\n\nBOB\nBye.\n"
    )
    assert sp.dialogue_lines() == [
        DialogueLine("BOB", "I am here. Still here.", 0, 5),
        DialogueLine("ANN", "Good.", 0, 12),
        DialogueLine("BOB", "Bye.", 1, 17),
    ]
    assert sp.characters() == ["BOB", "ANN"]


def test_dual_partner() -> None:
    sp = parse_fountain("A\nOne.\n(beat)\nTwo.\n\nB ^\nThree.\n")
    assert sp.dual_partner(4) == 0
    assert sp.dual_partner(0) is None


def test_emphasis_helpers() -> None:
    text = "Plain *it* **bo** ***bi*** _un_ _**ub**_ \\*lit\\*"
    assert strip_emphasis(text) == "Plain it bo bi un ub *lit*"
    runs = emphasis_runs(text)
    styles = {seg: set(st) for seg, st in runs if seg.strip()}
    assert styles["it"] == {"italic"}
    assert styles["bo"] == {"bold"}
    assert styles["bi"] == {"bold", "italic"}
    assert styles["un"] == {"underline"}
    assert styles["ub"] == {"bold", "underline"}
    assert strip_emphasis(runs_to_markup(runs)) == strip_emphasis(text)
    assert emphasis_runs(runs_to_markup(runs)) == runs
    assert strip_emphasis("snake_case_name stays") == "snake_case_name stays"


def test_day_night() -> None:
    assert day_night("DAY") == "DAY"
    assert day_night("LATE NIGHT") == "NIGHT"
    assert day_night("DUSK") == "NIGHT"
    assert day_night("MORNING") == "DAY"
    assert day_night("CONTINUOUS") is None
    assert day_night("夜") == "NIGHT"
    assert day_night("日") == "DAY"
    assert day_night("凌晨") == "NIGHT"
    assert day_night(None) is None

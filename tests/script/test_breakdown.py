from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pytest

from reelforge.errors import InvalidInput
from reelforge.script.breakdown import (
    LINES_PER_PAGE,
    Breakdown,
    breakdown,
    format_eighths,
    layout_lines,
    to_stripboard_csv,
    to_stripboard_html,
)
from reelforge.script.fountain import parse_fountain
from reelforge.script.io import load_sample


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (1, "1/8"), (4, "4/8"), (7, "7/8"), (8, "1"), (11, "1 3/8"), (16, "2"), (21, "2 5/8")],
)
def test_format_eighths(n: int, text: str) -> None:
    assert format_eighths(n) == text


def test_format_eighths_rejects_negative() -> None:
    with pytest.raises(InvalidInput):
        format_eighths(-1)


def test_layout_lines_wraps_words() -> None:
    assert layout_lines("a" * 61, 61) == 1
    assert layout_lines("a" * 62, 61) == 2  # a word longer than the column is broken
    assert layout_lines("hello world", 5) == 2
    assert layout_lines("hello world", 11) == 1
    assert layout_lines("one\n\ntwo", 35) == 3
    assert layout_lines("**bold** words", 10) == 1  # markup is not printed
    assert layout_lines("中" * 30, 61) == 1  # CJK characters take two columns
    assert layout_lines("中" * 31, 61) == 2
    words = " ".join(["word"] * 40)  # 199 columns
    assert layout_lines(words, 61) == 4
    assert layout_lines(words, 35) == 6


def test_sample_breakdown_matches_the_script() -> None:
    bd = breakdown(load_sample())
    assert [s.number for s in bd.scenes] == [str(i) for i in range(1, 12)]
    assert [(s.int_ext, s.location, s.day_night) for s in bd.scenes] == [
        ("EXT", "PALLADIUM CINEMA", "NIGHT"),
        ("INT", "PALLADIUM CINEMA - LOBBY", "DAY"),
        ("INT", "MARGOT'S APARTMENT", "NIGHT"),
        ("EXT", "PALLADIUM CINEMA", "DAY"),
        ("INT", "PALLADIUM CINEMA - PROJECTION BOOTH", "NIGHT"),
        ("INT", "PALLADIUM CINEMA - BASEMENT", "NIGHT"),
        ("INT", "MARGOT'S APARTMENT", "DAY"),
        ("EXT", "MAIN STREET", "DAY"),
        ("INT", "PALLADIUM CINEMA - LOBBY", "NIGHT"),
        ("INT", "PALLADIUM CINEMA - AUDITORIUM", "NIGHT"),
        ("EXT", "PALLADIUM CINEMA", "NIGHT"),
    ]
    assert [s.cast for s in bd.scenes] == [
        ["THEO", "MARGOT"],
        ["DESMOND", "MARGOT"],
        ["LENA", "MARGOT"],
        ["MARGOT", "DESMOND", "GUS"],
        ["THEO", "GUS", "MARGOT"],
        ["THEO", "MARGOT", "HENRY"],
        ["LENA", "MARGOT"],
        ["GUS", "THEO", "MAIL CARRIER"],
        ["DESMOND", "MARGOT", "LENA", "GUS"],
        ["HENRY", "THEO", "MARGOT"],
        ["THEO", "MARGOT"],
    ]
    # Seen in action in ALL CAPS but silent there.
    assert bd.scenes[3].non_speaking == ["SURVEYOR"]
    assert bd.scenes[8].non_speaking == ["MAIL CARRIER"]
    # Henry is only ever a voice.
    assert bd.scenes[5].voice_only == ["HENRY"] and bd.scenes[9].voice_only == ["HENRY"]
    assert all(s.voice_only == [] for i, s in enumerate(bd.scenes) if i not in (5, 9))

    # Length: an 8-12 page short, every scene at least 1/8, pages in order.
    assert 8 <= bd.page_count <= 12
    assert 64 <= bd.total_eighths <= 96
    assert all(s.eighths >= 1 for s in bd.scenes)
    assert bd.scenes[0].page == 1
    pages = [s.page for s in bd.scenes]
    assert pages == sorted(pages) and pages[-1] == bd.page_count
    # Rounding per scene stays close to the laid-out total.
    assert abs(bd.total_eighths - bd.total_lines * 8 / LINES_PER_PAGE) <= len(bd.scenes) / 2
    # The confrontation in the lobby is the longest scene, the coda the shortest.
    lengths = [s.eighths for s in bd.scenes]
    assert lengths.index(max(lengths)) == 1
    assert lengths.index(min(lengths)) == 10
    assert bd.scenes[1].synopsis == "Faded red carpet."


def test_breakdown_dict_round_trip() -> None:
    bd = breakdown(load_sample())
    d = bd.to_dict()
    assert d["total_pages"] == format_eighths(bd.total_eighths)
    assert d["scenes"][1]["pages"] == format_eighths(bd.scenes[1].eighths)
    again = Breakdown.from_dict(d)
    assert again == bd


def test_page_break_continuous_and_min_eighth() -> None:
    sp = parse_fountain(
        "EXT. FIELD - NIGHT\n\nWind.\n\nINT. BARN - CONTINUOUS\n\nDark.\n\n===\n\nINT. BARN - LATER\n\nStill dark.\n"
    )
    bd = breakdown(sp)
    assert [s.day_night for s in bd.scenes] == ["NIGHT", "NIGHT", "NIGHT"]  # inherited light
    assert [s.page for s in bd.scenes] == [1, 1, 2]
    assert bd.scenes[0].eighths == 1  # 4 lines round to 0 but a scene is at least 1/8
    # Scene 1 is heading, blank, action, blank (4 lines); the page break gives the rest of page 1
    # to scene 2: 51 lines = 7.4 eighths.
    assert bd.scenes[1].lines == LINES_PER_PAGE - 4
    assert bd.scenes[1].eighths == 7
    assert bd.page_count == 2


def test_dual_dialogue_is_laid_out_side_by_side() -> None:
    speech = "This is a fairly long line of dialogue that wraps onto several lines here."
    dual = parse_fountain(f"INT. A - DAY\n\nBOB\n{speech}\n\nANN ^\n{speech}\n")
    plain = parse_fountain(f"INT. A - DAY\n\nBOB\n{speech}\n\nANN\n{speech}\n")
    assert breakdown(dual).total_lines < breakdown(plain).total_lines


def test_long_scene_spans_pages() -> None:
    para = "She walks. " * 50
    body = "\n\n".join([para] * 12)
    sp = parse_fountain(f"INT. HALL - DAY\n\n{body}\n\nEXT. YARD - DAY\n\nSun.\n")
    bd = breakdown(sp)
    assert bd.scenes[0].eighths >= 16
    assert bd.scenes[1].page >= 3


def test_stripboard_csv_groups_by_location() -> None:
    bd = breakdown(load_sample())
    rows = list(csv.DictReader(io.StringIO(to_stripboard_csv(bd))))
    assert len(rows) == 11
    locs = [r["location"] for r in rows]
    assert locs == sorted(locs)
    palladium = [r["scene"] for r in rows if r["location"] == "PALLADIUM CINEMA"]
    assert palladium == ["4", "1", "11"]  # DAY before NIGHT, then script order
    first = next(r for r in rows if r["scene"] == "2")
    assert first["pages"] == format_eighths(int(first["eighths"]))
    assert first["cast"] == "DESMOND; MARGOT"
    by_page = list(csv.DictReader(io.StringIO(to_stripboard_csv(bd, sort_by=("page",)))))
    assert [int(r["page"]) for r in by_page] == sorted(int(r["page"]) for r in by_page)
    with pytest.raises(InvalidInput):
        to_stripboard_csv(bd, sort_by=("nonsense",))


def test_stripboard_html_colors_escaping_and_sorting_script() -> None:
    sp = parse_fountain("INT. <SCRIPT>ALERT(1)</SCRIPT> & CO - DAY\n\nX.\n\nEXT. ROOF - NIGHT\n\nY.\n")
    page = to_stripboard_html(breakdown(sp))
    assert "<SCRIPT>ALERT" not in page and "&lt;SCRIPT&gt;ALERT(1)&lt;/SCRIPT&gt; &amp; CO" in page
    assert page.count("<script>") == 1
    assert "addEventListener('click'" in page
    rows = re.findall(r'<tr style="background:(#[0-9a-f]{6})"', page)
    assert rows == ["#ffffff", "#a5d6a7"]  # INT/DAY white, EXT/NIGHT green
    sample_page = to_stripboard_html(breakdown(load_sample()))
    colors = set(re.findall(r'<tr style="background:(#[0-9a-f]{6})"', sample_page))
    assert colors == {"#ffffff", "#fff176", "#90caf9", "#a5d6a7"}
    # The table is well-formed markup (parseable as XML once the doctype is dropped).
    table = sample_page[sample_page.index("<table") : sample_page.index("</table>") + len("</table>")]
    ET.fromstring(table)

from __future__ import annotations

import pytest

from reelforge.errors import LimitExceeded, NotFound, ScriptParseError
from reelforge.script import detect_format, parse_any
from reelforge.script.chinese import parse_chinese
from reelforge.script.fdx import write_fdx
from reelforge.script.fountain import write_fountain
from reelforge.script.io import load_sample, sample_path


@pytest.mark.parametrize(
    ("line", "number", "int_ext", "location", "tod"),
    [
        ("1. 日 内 客厅", "1", "INT", "客厅", "日"),
        ("第1场 夜 外 街道", "1", "EXT", "街道", "夜"),
        ("1、客厅 日 内", "1", "INT", "客厅", "日"),
        ("第十二场 傍晚 内/外 车内", "十二", "INT/EXT", "车内", "傍晚"),
        ("场景三：天台 夜 外", "三", "EXT", "天台", "夜"),
        ("12-3 医院走廊 日内", "12-3", "INT", "医院走廊", "日"),
        ("内景 咖啡馆 夜", None, "INT", "咖啡馆", "夜"),
    ],
)
def test_chinese_heading_shapes(line: str, number: str | None, int_ext: str, location: str, tod: str) -> None:
    sp = parse_chinese(line + "\n△有人。\n")
    h = sp.elements[0]
    assert h.type == "scene_heading"
    assert (h.scene_number, h.int_ext, h.location, h.time_of_day) == (number, int_ext, location, tod)
    assert sp.elements[1].type == "action"


def test_chinese_lines_are_not_headings_when_they_are_sentences() -> None:
    sp = parse_chinese("1. 他走进客厅，坐下。\n老王：时间：十点。\n时间：夜里十点\n")
    assert [e.type for e in sp.elements] == ["action", "character", "dialogue", "action"]


def test_chinese_dialogue_parentheticals_and_extensions() -> None:
    text = (
        "1. 日 内 客厅\n人物：张三、李四\n"
        "张三：（低声）你来了。（停顿）坐吧。\n"
        "李四（画外音）: 我在门外。\n"
        "张三（笑）：进来吧。\n"
        "王五说：这是叙述，不是台词。\n"
        "李四：\n我自己进来了。\n"
    )
    sp = parse_chinese(text)
    got = [(e.type, e.text) for e in sp.elements]
    assert got == [
        ("scene_heading", "1. 日 内 客厅"),
        ("note", "人物：张三、李四"),
        ("character", "张三"),
        ("parenthetical", "(低声)"),
        ("dialogue", "你来了。"),
        ("parenthetical", "(停顿)"),
        ("dialogue", "坐吧。"),
        ("character", "李四（画外音）"),
        ("dialogue", "我在门外。"),
        ("character", "张三"),
        ("parenthetical", "(笑)"),
        ("dialogue", "进来吧。"),
        ("action", "王五说：这是叙述，不是台词。"),
        ("character", "李四"),
        ("dialogue", "我自己进来了。"),
    ]
    assert sp.elements[7].extensions == ["V.O."]
    assert sp.elements[0].attrs["cast_listed"] == ["张三", "李四"]
    assert sp.scenes()[0].cast_listed == ["张三", "李四"]
    assert [e.line for e in sp.elements[:3]] == [1, 2, 3]
    assert sp.language == "zh"


def test_chinese_sample() -> None:
    sp = load_sample("chinese_sample.txt")
    assert sp.language == "zh"
    assert [(f.key, f.value) for f in sp.title_page] == [
        ("Title", "最后一卷胶片"),
        ("Author", "Reelforge 示例组"),
    ]
    scenes = sp.scenes()
    assert [s.number for s in scenes] == ["1", "2", "3", "四"]
    assert [(s.heading.int_ext, s.heading.location, s.heading.time_of_day) for s in scenes if s.heading] == [
        ("EXT", "老影院门口", "夜"),
        ("INT", "影院大厅", "日"),
        ("INT", "地下室", "夜"),
        ("INT", "影院放映厅", "夜"),
    ]
    assert [s.speakers() for s in scenes] == [
        ["小林", "老周"],
        ["钱老板", "老周"],
        ["小林", "老周", "老林的录音"],
        ["小林", "老周"],
    ]
    assert scenes[3].cast_listed == ["老周", "小林", "观众"]
    assert sp.characters() == ["小林", "老周", "钱老板", "老林的录音"]
    assert sp.elements[-1].type == "centered" and sp.elements[-1].text == "全剧终"
    # Chinese scripts convert to Fountain (names forced with @) and back.
    from reelforge.script.fountain import parse_fountain

    again = parse_fountain(write_fountain(sp))
    assert [(e.type, e.text) for e in again.elements] == [(e.type, e.text) for e in sp.elements]


def test_detect_format() -> None:
    with open(sample_path(), encoding="utf-8") as fh:
        fountain = fh.read()
    with open(sample_path("chinese_sample.txt"), encoding="utf-8") as fh:
        chinese = fh.read()
    fdx = write_fdx(parse_any(fountain))
    assert detect_format(fountain) == "fountain"
    assert detect_format(chinese) == "chinese"
    assert detect_format(fdx) == "fdx"
    assert detect_format(fdx.encode("utf-8")) == "fdx"
    assert detect_format("anything", filename="script.FDX") == "fdx"
    assert detect_format(chinese, filename="x.fountain") == "fountain"
    assert detect_format("INT. A - DAY\n\nHi.", filename="notes.txt") == "fountain"


def test_parse_any_bytes_in_several_encodings() -> None:
    with open(sample_path("chinese_sample.txt"), encoding="utf-8") as fh:
        chinese = fh.read()
    a = parse_any(chinese.encode("utf-8"))
    b = parse_any(chinese.encode("gb18030"))
    c = parse_any("\ufeff".encode() + chinese.encode("utf-8"))
    d = parse_any(chinese.encode("utf-16"))
    sig = [(e.type, e.text) for e in a.elements]
    for other in (b, c, d):
        assert [(e.type, e.text) for e in other.elements] == sig
    fdx = write_fdx(load_sample())
    assert len(parse_any(fdx.encode("utf-8"), filename="x.fdx").elements) == len(load_sample().elements)


def test_parse_any_limits_and_types() -> None:
    with pytest.raises(LimitExceeded):
        parse_any("INT. A - DAY\n" * 100, max_bytes=100)
    with pytest.raises(ScriptParseError):
        parse_any(None)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        sample_path("nope.fountain")

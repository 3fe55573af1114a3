"""The screenplay format registry: choosing adapters, round trips by suffix, atomic conversion."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import pytest

from reelforge.errors import Conflict, InvalidInput, LimitExceeded, NotFound, ScriptParseError
from reelforge.script import formats
from reelforge.script.fdx import write_fdx
from reelforge.script.formats import (
    FORMATS,
    ScreenplayFormat,
    convert_file,
    detect_format,
    known_suffixes,
    parse_any,
    read_bytes,
    read_file,
    register_format,
    write_file,
)
from reelforge.script.io import load_sample, sample_path
from reelforge.script.model import Screenplay


def _sig(sp: Screenplay) -> list[tuple[str, str]]:
    return [(e.type, e.text) for e in sp.elements]


@pytest.mark.parametrize("suffix", [".fountain", ".spmd", ".fdx", ".json", ".txt"])
def test_each_format_round_trips_by_suffix(tmp_path: Path, suffix: str) -> None:
    sp = load_sample()
    out = write_file(sp, tmp_path / f"script{suffix}")
    assert out == tmp_path / f"script{suffix}"
    again = read_file(out)
    assert _sig(again) == _sig(sp)
    assert [(f.key, f.value) for f in again.title_page] == [(f.key, f.value) for f in sp.title_page]
    if suffix == ".json":
        assert again.to_dict() == sp.to_dict()
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left behind


def test_chinese_text_is_read_by_content_and_converts(tmp_path: Path) -> None:
    src = Path(sample_path("chinese_sample.txt"))
    sp = read_file(src)
    assert sp.language == "zh"
    as_json = convert_file(src, tmp_path / "zh.json")
    assert read_file(as_json).to_dict() == sp.to_dict()
    as_fountain = convert_file(src, tmp_path / "zh.fountain")
    assert _sig(read_file(as_fountain)) == _sig(sp)


def test_unknown_suffix_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    assert known_suffixes(writable=True) == [".fountain", ".spmd", ".fdx", ".json", ".txt"]
    with pytest.raises(InvalidInput, match=r"\.fountain, \.spmd, \.fdx, \.json, \.txt"):
        write_file(load_sample(), tmp_path / "script.docx")
    # The destination is checked before the source is even looked at.
    with pytest.raises(InvalidInput, match=r"cannot write a screenplay as \.docx"):
        convert_file(tmp_path / "missing.fountain", tmp_path / "script.docx")
    with pytest.raises(InvalidInput, match="no suffix"):
        convert_file(Path(sample_path()), tmp_path / "script")
    assert list(tmp_path.iterdir()) == []


def test_adapter_choice_certain_sniff_then_suffix_then_content() -> None:
    fountain = Path(sample_path()).read_text(encoding="utf-8")
    chinese = Path(sample_path("chinese_sample.txt")).read_text(encoding="utf-8")
    fdx = write_fdx(load_sample())
    model = json.dumps(load_sample().to_dict())
    assert detect_format(fdx, "looks.fountain") == "fdx"  # the XML root decides, as at ingest
    assert detect_format(chinese, "x.fountain") == "fountain"  # a suffix beats a weak sniff
    assert detect_format(chinese, "x.txt") == "chinese"
    assert detect_format(model) == "json"
    assert detect_format(model.encode(), "notes.md") == "json"
    assert detect_format(fountain, "script") == "fountain"
    utf16 = fdx.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert detect_format(utf16) == "fdx"
    assert _sig(read_bytes(utf16)) == _sig(load_sample())
    assert _sig(read_bytes(model, "x.json")) == _sig(load_sample())


def test_parse_any_keeps_its_signature() -> None:
    params = inspect.signature(parse_any).parameters
    assert list(params) == ["data", "filename", "strip_emphasis", "max_bytes"]
    assert params["strip_emphasis"].kind is inspect.Parameter.KEYWORD_ONLY
    assert _sig(parse_any("INT. A - DAY\n\nHi.\n")) == [("scene_heading", "INT. A - DAY"), ("action", "Hi.")]


def test_read_file_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_file(tmp_path / "nope.fountain")
    with pytest.raises(InvalidInput, match="not a regular file"):
        read_file(tmp_path)
    fifo = tmp_path / "pipe.fountain"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInput, match="not a regular file"):
        read_file(fifo)  # refused, never blocks waiting for a writer
    big = tmp_path / "big.fountain"
    big.write_text("INT. A - DAY\n" * 100, encoding="utf-8")
    with pytest.raises(LimitExceeded):
        read_file(big, max_bytes=100)


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[" * 100_000 + "]" * 100_000,
        '{"elements": [{"type": "spaceship"}]}',
        '{"elements": "nope"}',
        '{"title_page": [1], "elements": []}',
        '{"elements": [], "title_page": [{"value": "no key"}]}',
        '{"elements": [{"type": "action", "name": ["list"]}]}',
        '{"elements": [{"type": "scene_heading", "attrs": {"cast_listed": 5}}]}',
    ],
)
def test_bad_model_json_is_a_parse_error(body: str) -> None:
    with pytest.raises(ScriptParseError) as info:
        read_bytes(body.encode(), "x.json")
    assert "\n" not in str(info.value)


def test_json_strip_emphasis_keeps_notes_in_place() -> None:
    data = json.dumps(
        {
            "elements": [
                {"type": "action", "text": "She is **bold** now.", "notes": [{"offset": 16, "text": "n"}]}
            ]
        }
    )
    sp = read_bytes(data, "x.json", strip_emphasis=True)
    assert sp.elements[0].text == "She is bold now."
    assert sp.elements[0].notes[0].offset == len("She is bold ")


def test_convert_replaces_a_symlink_at_the_destination_without_following_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dst = out_dir / "script.fdx"
    dst.symlink_to(victim)
    convert_file(Path(sample_path()), dst)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not dst.is_symlink() and dst.is_file()
    assert _sig(read_file(dst)) == _sig(load_sample())


def test_convert_never_opens_a_symlink_planted_at_its_temporary_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dst = out_dir / "script.fountain"
    planted = out_dir / f".{dst.name}.guessed.part"
    planted.symlink_to(victim)
    dangling = out_dir / f".{dst.name}.dangling.part"
    dangling.symlink_to(tmp_path / "would-be-created")

    names = iter(["guessed", "dangling", "fresh"])
    monkeypatch.setattr(formats, "_token", lambda: next(names))
    convert_file(Path(sample_path()), dst)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not (tmp_path / "would-be-created").exists()
    assert planted.is_symlink() and dangling.is_symlink()  # someone else's entries are left alone
    assert _sig(read_file(dst)) == _sig(load_sample())
    assert not (out_dir / f".{dst.name}.fresh.part").exists()

    # Every name taken: a clean refusal, nothing written anywhere.
    monkeypatch.setattr(formats, "_token", lambda: "guessed")
    dst2 = out_dir / "other.fountain"
    (out_dir / f".{dst2.name}.guessed.part").symlink_to(victim)
    with pytest.raises(Conflict):
        convert_file(Path(sample_path()), dst2)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not dst2.exists()


def test_write_into_a_missing_folder_or_onto_a_folder(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        write_file(load_sample(), tmp_path / "missing" / "x.fountain")
    (tmp_path / "x.fdx").mkdir()
    with pytest.raises(InvalidInput, match="is a folder"):
        write_file(load_sample(), tmp_path / "x.fdx")


def test_a_registered_format_is_used_by_suffix_and_by_content(tmp_path: Path) -> None:
    def read_shout(data: bytes | str, strip: bool) -> Screenplay:
        text = data.decode() if isinstance(data, bytes) else data
        return parse_any(text.removeprefix("SHOUT\n").lower())

    def write_shout(sp: Screenplay) -> str:
        return "SHOUT\n" + "\n\n".join(e.text.upper() for e in sp.elements) + "\n"

    fmt = ScreenplayFormat(
        "shout", (".shout",), read_shout, write_shout, sniff=lambda head: head.startswith("SHOUT\n")
    )
    register_format(fmt)
    try:
        with pytest.raises(Conflict):
            register_format(fmt)
        with pytest.raises(Conflict, match="already belongs"):
            register_format(ScreenplayFormat("other", (".fdx",), read_shout))
        out = write_file(
            Screenplay.from_dict({"elements": [{"type": "action", "text": "quiet"}]}), tmp_path / "a.shout"
        )
        assert out.read_text(encoding="utf-8") == "SHOUT\nQUIET\n"
        assert detect_format(out.read_bytes()) == "shout"
        assert _sig(read_file(out)) == [("action", "quiet")]
        assert ".shout" in known_suffixes(writable=True)
    finally:
        FORMATS.pop("shout", None)
    assert detect_format("SHOUT\nQUIET\n") == "fountain"

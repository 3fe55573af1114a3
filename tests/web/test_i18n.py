"""The UI's catalogs: every string the pages and templates mark for translation has a Simplified
Chinese translation with the same placeholders, and the language is chosen from the browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reelforge.web import i18n

babel = pytest.importorskip("babel")
WEB = Path(i18n.__file__).parent


def _extracted() -> set[str]:
    """What scripts/i18n.sh would extract now (Babel's extractor over the same mapping)."""
    from babel.messages.extract import extract_from_dir

    keywords = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
    with (WEB / "babel.cfg").open() as f:
        from babel.messages.frontend import parse_mapping_cfg

        method_map, options_map = parse_mapping_cfg(f)
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(str(WEB), method_map, options_map, keywords=keywords):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog() -> dict[str, str]:
    from babel.messages.pofile import read_po

    with (WEB / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        cat = read_po(f, locale="zh_CN")
    return {(m.id if isinstance(m.id, str) else m.id[0]): (m.string if isinstance(m.string, str) else m.string[0])
            for m in cat if m.id and not m.fuzzy}


def test_every_ui_string_has_a_chinese_translation() -> None:
    extracted, catalog = _extracted(), _catalog()
    assert len(extracted) > 50
    missing = sorted(m for m in extracted if not catalog.get(m))
    assert not missing, f"untranslated (run scripts/i18n.sh, then translate): {missing[:20]}"


def test_translations_keep_their_placeholders() -> None:
    pattern = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")
    wrong = [(k, v) for k, v in _catalog().items() if v and sorted(pattern.findall(k)) != sorted(pattern.findall(v))]
    assert not wrong, wrong[:10]


def test_the_check_catches_an_untranslated_string(tmp_path: Path) -> None:
    """The completeness check is not vacuous: a template string that is not in the catalog is found."""
    assert "A string nobody translated" not in _catalog()
    assert i18n.translations("zh-CN").gettext("A string nobody translated") == "A string nobody translated"
    assert i18n.translations("zh-CN").gettext("Sign in") != "Sign in"


@pytest.mark.parametrize(("cookie", "header", "expected"), [
    (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    (None, "zh", "zh-CN"),
    (None, "zh-TW,en;q=0.5", "en"),  # Traditional Chinese readers get English, not Simplified
    (None, "fr-FR,en;q=0.3", "en"),
    (None, "en;q=0.2,zh-CN;q=0.9", "zh-CN"),
    (None, "", "en"),
    (None, "garbage;q=x,,", "en"),
    ("en", "zh-CN", "en"),
    ("zh-CN", "en-US", "zh-CN"),
    ("xx", "zh-CN", "zh-CN"),
])
def test_language_negotiation(cookie: str | None, header: str, expected: str) -> None:
    assert i18n.negotiate(cookie, header) == expected

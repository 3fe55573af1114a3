"""Languages of the web UI: gettext catalogs (``locale/<lang>/LC_MESSAGES/messages.po``), read with
Babel and cached per process. English is the source language (msgids); a missing translation falls
back to it. The language comes from the ``reelforge_lang`` cookie, else the browser's
``Accept-Language``, else English.

Extract new strings with ``scripts/i18n.sh`` (pybabel extract + update), translate, commit the .po.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
LANG_COOKIE = "reelforge_lang"
# code -> (name shown in the switcher, in its own language)
LANGUAGES: dict[str, str] = {"en": "English", "zh-CN": "简体中文"}
DEFAULT = "en"
_CATALOG_DIRS = {"zh-CN": "zh_CN"}


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of ``lang`` (a key of LANGUAGES); English and unknown codes get the msgids."""
    folder = _CATALOG_DIRS.get(lang)
    if folder is None:
        return gettext.NullTranslations()
    po = LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po"
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f, locale=folder)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language when it names one we have, else the best of Accept-Language."""
    if cookie in LANGUAGES:
        return cookie  # type: ignore[return-value]
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        choices.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(choices):
        if tag.startswith("zh") and not any(x in tag for x in ("-tw", "-hk", "-mo", "hant")):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


def N_(message: str) -> str:
    """Mark a string for the catalog without translating it here (it is translated where shown)."""
    return message


# Words the templates translate from data (``_(job.status)``, ``_(asset.kind)``): listed here so that
# extraction puts them in the catalogs.
DATA_WORDS = (
    N_("queued"), N_("running"), N_("succeeded"), N_("failed"), N_("cancelled"),
    N_("image"), N_("video"), N_("audio"), N_("screenplay"), N_("document"), N_("other"),
)

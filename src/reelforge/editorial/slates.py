"""Slates: scene, set-up and take read from clip names, metadata or tags.

The grammar, case-insensitive; a separator is ``_``, ``-``, ``.`` or spaces::

    SCENE := 1-4 digits, then 0-2 letters        12  12A  012AB   (leading zeros dropped)
    SHOT  := 1-3 digits and a letter, or 1-2 letters           (after SH, SHOT, SU, SETUP)
    TAKE  := 1-3 digits, not zero                               (after T, TK, TAKE)

    labelled  [S | SC | SCN | SCENE] SCENE [sep SH|SHOT|SU|SETUP SHOT] sep T|TK|TAKE TAKE
              anywhere in the name, between separators:
              12A_T03   S12A_SH2_TK3   sc12a tk3   Scene 12A Take 3   A_12A_T03_v2
    short     [S | SC | SCN | SCENE] SCENE - TAKE, or SCENE / TAKE, as the whole name:
              12A-3   12A/3   sc12-3

    circled   a last token C, CT, CIRCLED, CIRCLE, PRINT or PRT (``12A_T03_C``), a ``*`` at
              either end (``12A-3*``), or ``(circled)``, ``(circle)``, ``(print)``, ``(c)``

Refused as ambiguous (``SlateError``): two different slates in one name (``12A_T03_14B_T02``),
two takes (``12A_T03_T04``), a run of three or more bare numbers (``12-3-4``, a date
``2024-05-01``), a take of 0. A name with no slate (``A001_C003``, ``take3``, ``12A``) is not an
error: ``parse_slate`` returns None and the clip goes to the unmatched track.

Metadata keys (any case): ``scene``/``scene_number``/``sc``, ``shot``/``setup``/``sh``,
``take``/``take_number``/``tk``, ``circled``/``circle``/``print``/``circle_take`` (true, yes, 1,
``*``), ``slate`` (a string in the grammar above). Tags: ``circled``, ``circle``, ``print``,
``circle-take``, and ``scene:12A``, ``shot:2``, ``take:3``, ``slate:12A-3``. Metadata wins over
tags, tags over the name; a clip is circled if any of them says so.

In the US convention a slate ``12A`` is scene 12, set-up A: ``match_scene`` takes a screenplay's
own ``12A`` first and falls back to scene 12 with set-up A.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_SEP = r"[\s_.\-]"
_SCENE_LABEL = r"(?:scene|scn|sc|s)"
_SCENE = r"(?P<scene>\d{1,4}[a-z]{0,2})"
_SHOT = rf"(?:{_SEP}+(?:shot|setup|sh|su){_SEP}*(?P<shot>\d{{1,3}}[a-z]?|[a-z]{{1,2}}))?"
_TAKE = rf"{_SEP}+(?:take|tk|t){_SEP}*(?P<take>\d{{1,3}})"
LABELLED = re.compile(rf"(?<![a-z0-9])(?:{_SCENE_LABEL}{_SEP}*)?{_SCENE}{_SHOT}{_TAKE}(?![a-z0-9])", re.I)
SHORT = re.compile(rf"^(?:{_SCENE_LABEL}{_SEP}*)?{_SCENE}\s*[-/]\s*(?P<take>\d{{1,3}})$", re.I)
_TAKE_LABELS = re.compile(rf"(?<![a-z0-9])(?:take|tk|t){_SEP}*\d", re.I)
_BARE_NUMBERS = re.compile(r"^\d+(?:\s*[-/._]\s*\d+){2,}$")
_PAREN_MARK = re.compile(r"\(\s*(circled|circle|print|c)\s*\)", re.I)
CIRCLE_WORDS = frozenset({"c", "ct", "circled", "circle", "print", "prt"})
CIRCLE_TAGS = frozenset({"circled", "circle", "print", "circle-take", "circled-take", "circle take"})
_TRUE = frozenset({"1", "true", "yes", "y", "*", "circled", "circle", "print", "on"})
_MEDIA_SUFFIX = re.compile(r"\.(mov|mp4|m4v|mxf|avi|mkv|webm|wav|r3d|braw|ari|mts|m2ts|dng)$", re.I)


class SlateError(ValueError):
    """A name or annotation that looks like a slate but says two things (or an impossible one)."""


@dataclass(frozen=True)
class Slate:
    """Scene (``12A``), set-up/shot (``2``, ``B`` or None), take (None when metadata named a
    scene only), circled, and where it was read (``name``, ``metadata``, ``tags``)."""

    scene: str
    shot: str | None = None
    take: int | None = None
    circled: bool = False
    source: str = "name"

    @property
    def label(self) -> str:
        shot = f" SH{self.shot}" if self.shot else ""
        take = f" T{self.take}" if self.take is not None else ""
        return f"{self.scene}{shot}{take}{' (circled)' if self.circled else ''}"

    def to_dict(self) -> dict[str, Any]:
        return {"scene": self.scene, "shot": self.shot, "take": self.take, "circled": self.circled,
                "source": self.source, "label": self.label}


def normalise_scene(text: str) -> str:
    """``012a`` → ``12A``; a scene number as screenplays and slates both write it."""
    t = str(text).strip().upper()
    m = re.fullmatch(r"0*(\d+)([A-Z]*)", t)
    return f"{m[1]}{m[2]}" if m else t


def _normalise_shot(text: str) -> str:
    t = str(text).strip().upper()
    m = re.fullmatch(r"0*(\d+)([A-Z]?)", t)
    return f"{m[1]}{m[2]}" if m else t


def _take(text: str, where: str) -> int:
    try:
        n = int(str(text).strip())
    except ValueError:
        raise SlateError(f"{where}: take {text!r} is not a number") from None
    if not 1 <= n <= 999:
        raise SlateError(f"{where}: take {n} is not a take number (1-999)")
    return n


def _strip_circle_marks(text: str) -> tuple[str, bool]:
    circled = False
    if _PAREN_MARK.search(text):
        circled = True
        text = _PAREN_MARK.sub(" ", text)
    t = text.strip()
    if t.startswith("*") or t.endswith("*"):
        circled = True
        t = t.strip("*").strip()
    tokens = re.split(rf"({_SEP}+)", t)
    if len(tokens) >= 3 and tokens[-1].lower() in CIRCLE_WORDS:
        circled = True
        t = "".join(tokens[:-2])
    return t.strip(), circled


def parse_slate(name: str) -> Slate | None:
    """The slate in a clip name (a file name's media suffix is ignored), None if there is none.

    Raises ``SlateError`` when the name holds a slate ambiguously (see the module's grammar).
    """
    text = str(name).strip()
    if _MEDIA_SUFFIX.search(text):  # a file name or path: its last part ("12A/3" stays whole)
        text = _MEDIA_SUFFIX.sub("", text.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    text, circled = _strip_circle_marks(text)
    if not text:
        return None
    if _BARE_NUMBERS.match(text):
        raise SlateError(f"{name!r}: three or more bare numbers; which is the scene and which the take?")
    short = SHORT.match(text)
    if short:
        return Slate(normalise_scene(short["scene"]), None, _take(short["take"], repr(name)), circled)
    found = {(normalise_scene(m["scene"]), _normalise_shot(m["shot"]) if m["shot"] else None, int(m["take"]))
             for m in LABELLED.finditer(text)}
    if len(found) > 1:
        names = ", ".join(sorted(f"{s}/{t}" for s, _, t in found))
        raise SlateError(f"{name!r}: more than one slate in the name ({names})")
    if len(_TAKE_LABELS.findall(text)) > 1:
        raise SlateError(f"{name!r}: more than one take in the name")
    if not found:
        return None
    scene, shot, take = found.pop()
    return Slate(scene, shot, _take(str(take), repr(name)), circled)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return str(value).strip().lower() in _TRUE


def _pick(meta: Mapping[str, Any], *keys: str) -> Any:
    lowered = {str(k).lower(): v for k, v in meta.items()}
    for k in keys:
        v = lowered.get(k)
        if v is not None and str(v).strip() != "":
            return v
    return None


def _fields(scene: Any, shot: Any, take: Any, slate: Any, where: str) -> dict[str, Any]:
    """The slate fields one source gives (any may be missing), checked."""
    out: dict[str, Any] = {}
    if slate is not None:
        parsed = parse_slate(str(slate))
        if parsed is None:
            raise SlateError(f"{where}: slate {slate!r} is not in a slate form (12A-3, 12A_T03, S12A_SH2_TK3)")
        out = {"scene": parsed.scene, "shot": parsed.shot, "take": parsed.take}
        out = {k: v for k, v in out.items() if v is not None}
    if scene is not None:
        sc = normalise_scene(str(scene))
        if not re.fullmatch(r"\d{1,4}[A-Z]{0,2}", sc):
            raise SlateError(f"{where}: scene {scene!r} is not a scene number")
        out["scene"] = sc
    if shot is not None:
        out["shot"] = _normalise_shot(str(shot))
    if take is not None:
        out["take"] = _take(str(take), where)
    return out


def slate_from_metadata(meta: Mapping[str, Any] | None) -> tuple[dict[str, Any], bool]:
    """(slate fields, circled) from an asset's metadata."""
    if not meta:
        return {}, False
    circled = any(_truthy(v) for k, v in meta.items() if str(k).lower() in
                  ("circled", "circle", "print", "circle_take", "circled_take"))
    return _fields(_pick(meta, "scene", "scene_number", "sc"), _pick(meta, "shot", "setup", "sh"),
                   _pick(meta, "take", "take_number", "tk"), _pick(meta, "slate"), "metadata"), circled


def slate_from_tags(tags: Iterable[str] | None) -> tuple[dict[str, Any], bool]:
    """(slate fields, circled) from tags such as ``scene:12A``, ``take:3``, ``circled``."""
    fields: dict[str, str] = {}
    circled = False
    for tag in tags or ():
        t = str(tag).strip()
        if t.lower() in CIRCLE_TAGS:
            circled = True
            continue
        if ":" in t:
            key, value = (x.strip() for x in t.split(":", 1))
            key = {"sc": "scene", "scene_number": "scene", "tk": "take", "setup": "shot", "sh": "shot"}.get(
                key.lower(), key.lower())
            if key in ("scene", "shot", "take", "slate"):
                if key in fields and fields[key] != value:
                    raise SlateError(f"tags: two different {key}s ({fields[key]!r}, {value!r})")
                fields[key] = value
    return _fields(fields.get("scene"), fields.get("shot"), fields.get("take"), fields.get("slate"), "tags"), circled


def clip_slate(name: str, meta: Mapping[str, Any] | None = None, tags: Sequence[str] | None = None) -> Slate | None:
    """The slate of a clip from all it carries: metadata, then tags, then its name.

    Fields a more deliberate source gives win (metadata is typed in by the assistant editor; a
    name may be a camera's); the fields it leaves out come from the next source, unless that one
    names another scene. Circled if any source says so. None when no scene is found; raises
    ``SlateError`` when a source is ambiguous.
    """
    meta_fields, meta_circled = slate_from_metadata(meta)
    tag_fields, tags_circled = slate_from_tags(tags)
    named = parse_slate(name)
    name_fields = {k: v for k, v in {"scene": named.scene, "shot": named.shot, "take": named.take}.items()
                   if v is not None} if named else {}
    merged: dict[str, Any] = {}
    sources: list[str] = []
    for label, fields in (("metadata", meta_fields), ("tags", tag_fields), ("name", name_fields)):
        if not fields:
            continue
        if "scene" in merged and "scene" in fields and fields["scene"] != merged["scene"]:
            continue  # another scene: this source speaks of a different slate
        before = dict(merged)
        for key, value in fields.items():
            merged.setdefault(key, value)
        if merged != before:
            sources.append(label)
    if "scene" not in merged:
        return None
    circled = meta_circled or tags_circled or bool(named and named.circled)
    return Slate(merged["scene"], merged.get("shot"), merged.get("take"), circled, "+".join(sources))

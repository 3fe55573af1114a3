"""The screenplay object model shared by every format adapter (Fountain, FDX, Chinese text).

Element text keeps Fountain inline markup (``*italic*``, ``**bold**``, ``***bold italic***``,
``_underline_``, backslash escapes) unless a parser was asked to strip it, so every adapter speaks
the same convention and a round trip through any format keeps emphasis. Inline notes are lifted out
of the text into ``Element.notes`` (with their character offset) so analysis never reads them.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from reelforge.errors import InvalidInput

ELEMENT_TYPES: tuple[str, ...] = (
    "scene_heading",
    "action",
    "character",
    "parenthetical",
    "dialogue",
    "transition",
    "centered",
    "lyrics",
    "note",
    "section",
    "synopsis",
    "page_break",
    "boneyard",
)

#: Elements that put something on screen (a "prologue" before the first heading needs one of these).
CONTENT_TYPES = frozenset({"action", "character", "parenthetical", "dialogue", "lyrics", "centered"})


@dataclass
class TitleField:
    """One ``Key: value`` pair of a title page; multi-line values keep their ``\\n``."""

    key: str
    value: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TitleField:
        return cls(key=str(d["key"]), value=str(d.get("value", "")))


@dataclass
class InlineNote:
    """A ``[[note]]`` that sat inside another element's text, at character ``offset`` of that text."""

    offset: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"offset": self.offset, "text": self.text}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InlineNote:
        return cls(offset=int(d["offset"]), text=str(d["text"]))


def _optional_str(d: dict[str, Any], key: str) -> str | None:
    """A text field of an element dict: None, a string, or a number (a scene number may be one)."""
    value = d.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{key} must be a string, got {type(value).__name__}")


@dataclass
class Element:
    """One screenplay paragraph.

    ``line`` is the 1-based source line where the element starts (for FDX: the XML line of its
    ``<Paragraph>``). Character elements fill ``name``/``extensions``/``dual`` (``dual`` is set on
    the cue that carried ``^``, i.e. the right-hand speaker; its partner is the previous cue).
    Scene headings fill ``int_ext`` (canonical: INT, EXT, INT/EXT, EST), ``location``,
    ``time_of_day``, ``scene_number`` and ``forced``; sections fill ``depth``.
    """

    type: str
    text: str = ""
    line: int = 0
    name: str | None = None
    extensions: list[str] = field(default_factory=list)
    dual: bool = False
    int_ext: str | None = None
    location: str | None = None
    time_of_day: str | None = None
    scene_number: str | None = None
    forced: bool = False
    depth: int = 0
    notes: list[InlineNote] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in ELEMENT_TYPES:
            raise InvalidInput(f"unknown screenplay element type {self.type!r}")

    def to_dict(self) -> dict[str, Any]:
        """Compact dict: only fields that differ from their defaults (besides type/text/line)."""
        d: dict[str, Any] = {"type": self.type, "text": self.text, "line": self.line}
        for key in ("name", "int_ext", "location", "time_of_day", "scene_number"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        if self.extensions:
            d["extensions"] = list(self.extensions)
        if self.dual:
            d["dual"] = True
        if self.forced:
            d["forced"] = True
        if self.depth:
            d["depth"] = self.depth
        if self.notes:
            d["notes"] = [n.to_dict() for n in self.notes]
        if self.attrs:
            d["attrs"] = dict(self.attrs)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Element:
        try:
            attrs = dict(d.get("attrs", {}))
            cast = attrs.get("cast_listed")
            if cast is not None and (not isinstance(cast, list) or not all(isinstance(c, str) for c in cast)):
                raise ValueError("attrs.cast_listed must be a list of names")
            return cls(
                type=str(d["type"]),
                text=str(d.get("text", "")),
                line=int(d.get("line", 0)),
                name=_optional_str(d, "name"),
                extensions=[str(x) for x in d.get("extensions", [])],
                dual=bool(d.get("dual", False)),
                int_ext=_optional_str(d, "int_ext"),
                location=_optional_str(d, "location"),
                time_of_day=_optional_str(d, "time_of_day"),
                scene_number=_optional_str(d, "scene_number"),
                forced=bool(d.get("forced", False)),
                depth=int(d.get("depth", 0)),
                notes=[InlineNote.from_dict(n) for n in d.get("notes", [])],
                attrs=attrs,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"bad screenplay element dict: {exc}") from exc

    @property
    def plain_text(self) -> str:
        """Text without emphasis markup (notes are never in ``text``)."""
        return strip_emphasis(self.text)


class DialogueLine(NamedTuple):
    """One speech turn: a character cue and all its dialogue up to the next non-dialogue element."""

    character: str
    text: str
    scene_index: int
    line: int


@dataclass
class Scene:
    """A heading and the elements up to the next heading.

    ``index`` is the position in ``Screenplay.scenes()``. Content before the first heading becomes a
    ``prologue`` scene at index 0 (``heading`` is None) only when it has something on screen (action,
    dialogue, centered text...); a lone ``FADE IN:`` or title sections do not make a scene.
    """

    index: int
    heading: Element | None
    elements: list[Element]
    number: str
    prologue: bool = False

    @property
    def heading_text(self) -> str:
        return self.heading.plain_text if self.heading is not None else "(prologue)"

    @property
    def line(self) -> int:
        if self.heading is not None:
            return self.heading.line
        return self.elements[0].line if self.elements else 0

    def speakers(self) -> list[str]:
        """Speaking characters in order of first line in the scene."""
        seen: dict[str, None] = {}
        for el in self.elements:
            if el.type == "character" and el.name:
                seen.setdefault(el.name, None)
        return list(seen)

    @property
    def cast_listed(self) -> list[str]:
        """Cast named by an explicit cast line (Chinese ``人物：`` lines), if any."""
        if self.heading is None:
            return []
        return list(self.heading.attrs.get("cast_listed", []))

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "number": self.number,
            "prologue": self.prologue,
            "heading": self.heading.to_dict() if self.heading is not None else None,
            "elements": [e.to_dict() for e in self.elements],
        }


@dataclass
class Screenplay:
    title_page: list[TitleField] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)
    language: str = "en"

    def to_dict(self) -> dict[str, Any]:
        return {
            "title_page": [f.to_dict() for f in self.title_page],
            "elements": [e.to_dict() for e in self.elements],
            "language": self.language,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Screenplay:
        if not isinstance(d, dict):
            raise InvalidInput("screenplay dict expected")
        return cls(
            title_page=[TitleField.from_dict(f) for f in d.get("title_page", [])],
            elements=[Element.from_dict(e) for e in d.get("elements", [])],
            language=str(d.get("language", "en")),
        )

    @property
    def title(self) -> str | None:
        for f in self.title_page:
            if f.key.lower() == "title":
                return strip_emphasis(f.value).replace("\n", " ").strip()
        return None

    def title_value(self, key: str) -> str | None:
        for f in self.title_page:
            if f.key.lower() == key.lower():
                return f.value
        return None

    def scenes(self) -> list[Scene]:
        scenes: list[Scene] = []
        pre: list[Element] = []
        current: Scene | None = None
        auto = 0
        for el in self.elements:
            if el.type == "scene_heading":
                auto += 1
                number = el.scene_number or str(auto)
                current = Scene(index=0, heading=el, elements=[], number=number)
                scenes.append(current)
            elif current is None:
                pre.append(el)
            else:
                current.elements.append(el)
        if any(e.type in CONTENT_TYPES and not _is_opening_slug(e) for e in pre):
            scenes.insert(0, Scene(index=0, heading=None, elements=pre, number="0", prologue=True))
        for i, sc in enumerate(scenes):
            sc.index = i
        return scenes

    def characters(self) -> list[str]:
        """Speaking characters (normalised cue names) in order of first appearance."""
        seen: dict[str, None] = {}
        for el in self.elements:
            if el.type == "character" and el.name:
                seen.setdefault(el.name, None)
        return list(seen)

    def dialogue_lines(self) -> list[DialogueLine]:
        """Speech turns with their scene index (as in ``scenes()``) and source line.

        Dialogue split by parentheticals under one cue is one turn (joined with a space); lyrics
        sung under a cue count as dialogue. Emphasis markup is removed from the text.
        """
        out: list[DialogueLine] = []
        for sc in self.scenes():
            speaker: str | None = None
            parts: list[str] = []
            first_line = 0
            for el in [*sc.elements, None]:
                if el is not None and el.type in ("dialogue", "lyrics") and speaker is not None:
                    text = " ".join(el.plain_text.split())
                    if text:
                        if not parts:
                            first_line = el.line
                        parts.append(text)
                    continue
                if el is not None and el.type in ("parenthetical", "note"):
                    continue
                # Anything else ends the current turn.
                if speaker is not None and parts:
                    out.append(DialogueLine(speaker, " ".join(parts), sc.index, first_line))
                speaker, parts = None, []
                if el is not None and el.type == "character":
                    speaker = el.name or el.plain_text
        return out

    def search_scenes(self) -> list[tuple[str, str, list[tuple[str | None, str, int]]]]:
        """Per scene ``(scene id, heading, [(character or None for action, text, line), ...])``: the
        plain-data shape ``reelforge.script.search.units_for_search`` indexes. Ids are ``scene-NNN``."""
        turns: dict[int, list[tuple[str | None, str, int]]] = {}
        for t in self.dialogue_lines():
            turns.setdefault(t.scene_index, []).append((t.character, t.text, t.line))
        out = []
        for sc in self.scenes():
            items = list(turns.get(sc.index, []))
            for el in sc.elements:
                if el.type in ("action", "centered"):
                    text = " ".join(el.plain_text.split())
                    if text:
                        items.append((None, text, el.line))
            items.sort(key=lambda x: x[2])
            out.append((f"scene-{sc.index:03d}", sc.heading_text, items))
        return out

    def dual_partner(self, index: int) -> int | None:
        """Index of the left-hand cue paired with the dual (``^``) cue at ``elements[index]``."""
        el = self.elements[index]
        if el.type != "character" or not el.dual:
            return None
        for j in range(index - 1, -1, -1):
            t = self.elements[j].type
            if t == "character":
                return j
            if t not in ("dialogue", "parenthetical", "lyrics", "note"):
                return None
        return None


def _is_opening_slug(el: Element) -> bool:
    """``FADE IN:`` / ``OPEN ON:`` style action before the first heading is not a prologue scene."""
    if el.type != "action":
        return False
    t = strip_emphasis(el.text).strip()
    return len(t) <= 30 and t.endswith(":") and t == t.upper()


# ---------------------------------------------------------------------------------------------------
# Emphasis markup
# ---------------------------------------------------------------------------------------------------

_ESC_STAR, _ESC_UNDER, _ESC_BSL = "\ue010", "\ue011", "\ue012"
#: Stands in for a delimiter or escape character that stripping removes, so marking keeps offsets.
_FILL = "\ue013"
_B0, _B1, _I0, _I1, _U0, _U1 = "\ue020", "\ue021", "\ue022", "\ue023", "\ue024", "\ue025"
_STYLE_MARKS = _B0 + _B1 + _I0 + _I1 + _U0 + _U1
_REMOVED = re.compile(f"[{_STYLE_MARKS}{_FILL}]")
_STRIP_TABLE = str.maketrans(
    {_ESC_STAR: "*", _ESC_UNDER: "_", _ESC_BSL: "\\", _FILL: None, **{m: None for m in _STYLE_MARKS}}
)
_UNESCAPE_TABLE = str.maketrans({_ESC_STAR: "*", _ESC_UNDER: "_", _ESC_BSL: "\\"})


@dataclass(frozen=True)
class _Pass:
    """One kind of emphasis: its delimiter, where an opener/closer may sit, and its markers.

    Passes run in order (``***``, ``**``, ``*``, ``_``), each over the previous one's output, with
    the same meaning as the regexes ``\\*\\*\\*(?=\\S)(.+?)(?<=\\S)\\*\\*\\*`` and so on: the leftmost
    opener pairs with the nearest closer after it on the same line. Markers are as long as the
    delimiter they replace (padded with ``_FILL``), so offsets survive every pass.
    """

    delim: str
    opener: re.Pattern[str]
    closer: re.Pattern[str]
    open_mark: str
    close_mark: str


_PASSES = (
    _Pass(
        "***", re.compile(r"(?=\*\*\*\S)"), re.compile(r"(?<=\S)(?=\*\*\*)"), _B0 + _I0 + _FILL, _I1 + _B1 + _FILL
    ),
    _Pass("**", re.compile(r"(?=\*\*\S)"), re.compile(r"(?<=\S)(?=\*\*)"), _B0 + _FILL, _B1 + _FILL),
    _Pass("*", re.compile(r"(?=\*\S)"), re.compile(r"(?<=\S)(?=\*)"), _I0, _I1),
    _Pass(
        "_",
        re.compile(r"(?<![A-Za-z0-9])(?=_\S)"),
        re.compile(r"(?<=\S)(?=_(?![A-Za-z0-9]))"),
        _U0,
        _U1,
    ),
)


def _pair_line(line: str, ps: _Pass) -> str:
    """Apply one pass to one line in linear time.

    A regex with a lazy body rescans the rest of the line from every opener that has no closer
    (quadratic on a line of ``*a *a *a ...``). Here openers and closers are each found once; an
    opener pairs with the first closer at least one character past its delimiter, and because a
    line has no break, an opener without such a closer means no later opener has one either.
    """
    k = len(ps.delim)
    closers = (m.start() for m in ps.closer.finditer(line))
    out: list[str] = []
    pos = 0
    j = -1
    for m in ps.opener.finditer(line):
        p = m.start()
        if p < pos:
            continue  # inside the span just closed
        while j < p + k + 1:
            j = next(closers, -1)
            if j < 0:
                break
        if j < 0:
            break
        out += (line[pos:p], ps.open_mark, line[p + k : j], ps.close_mark)
        pos = j + k
    if not out:
        return line
    out.append(line[pos:])
    return "".join(out)


def _mark(text: str) -> str:
    """Replace escapes and emphasis delimiters by private-use markers of the same length.

    Emphasis never spans a line break, so each pass works line by line.
    """
    t = text.replace("\\\\", _FILL + _ESC_BSL).replace("\\*", _FILL + _ESC_STAR)
    t = t.replace("\\_", _FILL + _ESC_UNDER)
    for ps in _PASSES:
        if ps.delim in t:
            t = "\n".join(_pair_line(line, ps) if ps.delim in line else line for line in t.split("\n"))
    return t


def strip_emphasis(text: str) -> str:
    """Remove Fountain emphasis markup and resolve ``\\*``/``\\_`` escapes (linear in the text)."""
    if "*" not in text and "_" not in text and "\\" not in text:
        return text
    return _mark(text).translate(_STRIP_TABLE)


def strip_emphasis_offsets(text: str, offsets: list[int]) -> tuple[str, list[int]]:
    """:func:`strip_emphasis` plus where each character offset of ``text`` lands in the result.

    Used to keep inline notes anchored when a reader strips markup; offsets are clamped to the text.
    """
    if "*" not in text and "_" not in text and "\\" not in text:
        return text, [max(0, min(off, len(text))) for off in offsets]
    marked = _mark(text)
    removed = [m.start() for m in _REMOVED.finditer(marked)]
    stripped = marked.translate(_STRIP_TABLE)
    mapped = [max(0, min(off - bisect.bisect_left(removed, off), len(stripped))) for off in offsets]
    return stripped, mapped


_STYLE_BIT = {_B0: 1, _B1: -1, _I0: 2, _I1: -2, _U0: 4, _U1: -4}
# The eight possible style sets, built once (a new frozenset per run was most of the cost).
_STYLE_SETS = tuple(
    frozenset(name for bit, name in ((1, "bold"), (2, "italic"), (4, "underline")) if mask & bit)
    for mask in range(8)
)
_STYLE_MARK = re.compile(f"[{_STYLE_MARKS}]")
_DROP_FILL = str.maketrans({_FILL: None})


def emphasis_runs(text: str) -> list[tuple[str, frozenset[str]]]:
    """Split marked-up text into ``(plain text, styles)`` runs; styles from {bold, italic, underline}."""
    t = _mark(text).translate(_DROP_FILL)
    runs: list[tuple[str, frozenset[str]]] = []
    parts: list[str] = []  # pieces of the current run, joined once when the style changes
    mask = run_mask = 0
    pos = 0
    for m in _STYLE_MARK.finditer(t):
        if m.start() > pos:
            if parts and mask != run_mask:
                runs.append(("".join(parts).translate(_UNESCAPE_TABLE), _STYLE_SETS[run_mask]))
                parts.clear()
            run_mask = mask
            parts.append(t[pos : m.start()])
        bit = _STYLE_BIT[m.group()]
        mask = mask | bit if bit > 0 else mask & ~-bit
        pos = m.end()
    if pos < len(t):
        if parts and mask != run_mask:
            runs.append(("".join(parts).translate(_UNESCAPE_TABLE), _STYLE_SETS[run_mask]))
            parts.clear()
        run_mask = mask
        parts.append(t[pos:])
    if parts:
        runs.append(("".join(parts).translate(_UNESCAPE_TABLE), _STYLE_SETS[run_mask]))
    return runs


def _escape_plain(seg: str) -> str:
    if strip_emphasis(seg) == seg:
        return seg
    return seg.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def runs_to_markup(runs: list[tuple[str, frozenset[str]]]) -> str:
    """Inverse of :func:`emphasis_runs`: styled runs back to Fountain markup (escaping when needed)."""
    out: list[str] = []
    for seg, styles in runs:
        if not seg:
            continue
        # Emphasis cannot span lines nor start/end on whitespace: style each line's stripped core.
        pieces = []
        for line in seg.split("\n"):
            core = line.strip()
            if not styles or not core:
                pieces.append(_escape_plain(line))
                continue
            lead = line[: len(line) - len(line.lstrip())]
            trail = line[len(line.rstrip()) :]
            body = _escape_plain(core)
            if "bold" in styles and "italic" in styles:
                body = f"***{body}***"
            elif "bold" in styles:
                body = f"**{body}**"
            elif "italic" in styles:
                body = f"*{body}*"
            if "underline" in styles:
                body = f"_{body}_"
            pieces.append(lead + body + trail)
        out.append("\n".join(pieces))
    return "".join(out)


_DAY_WORDS = (
    "DAY",
    "MORNING",
    "AFTERNOON",
    "DAWN",
    "NOON",
    "SUNRISE",
    "MIDDAY",
    "日",
    "晨",
    "早",
    "午",
    "白天",
    "上午",
    "下午",
    "中午",
    "清晨",
)
_NIGHT_WORDS = (
    "NIGHT",
    "EVENING",
    "DUSK",
    "SUNSET",
    "MIDNIGHT",
    "TWILIGHT",
    "夜",
    "晚",
    "昏",
    "凌晨",
    "深夜",
    "傍晚",
    "黄昏",
)


def day_night(time_of_day: str | None) -> str | None:
    """Classify a time-of-day slug as ``DAY``/``NIGHT`` (None for CONTINUOUS, LATER, ...)."""
    if not time_of_day:
        return None
    t = time_of_day.upper()
    # Night words first: "凌晨"/"傍晚" contain day-ish characters but shoot as night.
    for w in _NIGHT_WORDS:
        if w in t:
            return "NIGHT"
    for w in _DAY_WORDS:
        if w in t:
            return "DAY"
    return None

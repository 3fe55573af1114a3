"""Scene breakdown: page count in eighths, start pages, cast, and stripboard exports.

Length is measured the way a production office does it: lay the script out on a standard page
(12-pt Courier, 10 characters per inch, 55 text lines per page), wrap every element to its column
width, put the usual blank lines between elements, paginate, and count each scene's lines. A scene's
length is rounded to eighths of a page (minimum 1/8).

Column widths (characters): scene heading 61, action 61, character cue 38, dialogue 35, parenthetical
25 (dual dialogue: 28 / 28 / 20 per column), transition 61, centered 61, lyrics 35. One blank line
before headings, action, cues, transitions and centered text; none inside a dialogue block. Notes,
sections, synopses and boneyard are not printed. CJK characters count as two columns.

Everything here is linear in the screenplay (a size check against ``ScriptLimits`` comes first).
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from reelforge.errors import InvalidInput

from .limits import DEFAULT_LIMITS, ScriptLimits
from .model import Element, Scene, Screenplay, day_night, strip_emphasis

__all__ = [
    "LINES_PER_PAGE",
    "Breakdown",
    "SceneBreakdown",
    "breakdown",
    "format_eighths",
    "layout_lines",
    "to_stripboard_csv",
    "to_stripboard_html",
]

LINES_PER_PAGE = 55
WIDTHS = {
    "scene_heading": 61,
    "action": 61,
    "character": 38,
    "dialogue": 35,
    "parenthetical": 25,
    "transition": 61,
    "centered": 61,
    "lyrics": 35,
}
DUAL_WIDTHS = {"character": 28, "dialogue": 28, "parenthetical": 20, "lyrics": 28}
SPACE_BEFORE = {
    "scene_heading": 1,
    "action": 1,
    "character": 1,
    "transition": 1,
    "centered": 1,
    "lyrics": 1,
    "dialogue": 0,
    "parenthetical": 0,
}
_IN_BLOCK = ("dialogue", "parenthetical", "lyrics")
_TOKEN = re.compile(
    r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+|\s+"
)


def _width(tok: str) -> int:
    return sum(
        2 if "\u2e80" <= c <= "\u9fff" or "\uf900" <= c <= "\uffef" or "\u3000" <= c <= "\u303f" else 1
        for c in tok
    )


def layout_lines(text: str, width: int) -> int:
    """Number of printed lines for ``text`` greedily word-wrapped at ``width`` columns."""
    total = 0
    for para in strip_emphasis(text).split("\n"):
        if not para.strip():
            total += 1
            continue
        lines, cur, space = 1, 0, 0
        for tok in _TOKEN.findall(para.strip()):
            if tok.isspace():
                space = 1
                continue
            w = _width(tok)
            if cur and cur + space + w <= width:
                cur += space + w
            elif not cur and w <= width:
                cur = w
            else:
                if cur:
                    lines += 1
                    cur = 0
                if w > width:  # a word longer than the column is broken
                    extra = (w - 1) // width
                    lines += extra
                    w -= extra * width
                cur = w
            space = 0
        total += lines
    return total


@dataclass
class SceneBreakdown:
    index: int
    number: str
    heading: str
    int_ext: str | None
    location: str | None
    time_of_day: str | None
    day_night: str | None
    page: int
    eighths: int
    lines: int
    line: int
    cast: list[str] = field(default_factory=list)
    non_speaking: list[str] = field(default_factory=list)
    voice_only: list[str] = field(default_factory=list)
    synopsis: str = ""
    prologue: bool = False

    @property
    def pages(self) -> str:
        return format_eighths(self.eighths)

    @property
    def all_cast(self) -> list[str]:
        return self.cast + [c for c in self.non_speaking if c not in self.cast]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pages"] = self.pages
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SceneBreakdown:
        d = {k: v for k, v in d.items() if k != "pages"}
        return cls(**d)


@dataclass
class Breakdown:
    scenes: list[SceneBreakdown]
    total_lines: int
    page_count: int
    title: str | None = None

    @property
    def total_eighths(self) -> int:
        return sum(s.eighths for s in self.scenes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "total_lines": self.total_lines,
            "page_count": self.page_count,
            "total_eighths": self.total_eighths,
            "total_pages": format_eighths(self.total_eighths),
            "scenes": [s.to_dict() for s in self.scenes],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Breakdown:
        return cls(
            scenes=[SceneBreakdown.from_dict(s) for s in d["scenes"]],
            total_lines=int(d["total_lines"]),
            page_count=int(d["page_count"]),
            title=d.get("title"),
        )

    def by_index(self, index: int) -> SceneBreakdown:
        for s in self.scenes:
            if s.index == index:
                return s
        raise InvalidInput(f"no scene with index {index}")


def format_eighths(n: int) -> str:
    """Production page notation: 11 -> ``"1 3/8"``, 4 -> ``"4/8"`` (never reduced), 16 -> ``"2"``."""
    if n < 0:
        raise InvalidInput(f"page eighths must be >= 0, got {n}")
    whole, rem = divmod(int(n), 8)
    if not rem:
        return str(whole)
    return f"{whole} {rem}/8" if whole else f"{rem}/8"


class _Paginator:
    """Places elements on 55-line pages; ``pos`` is the global line index (page * 55 + row)."""

    def __init__(self) -> None:
        self.pos = 0

    @property
    def row(self) -> int:
        return self.pos % LINES_PER_PAGE

    def new_page(self) -> None:
        if self.row:
            self.pos += LINES_PER_PAGE - self.row

    def place(self, before: int, lines: int, *, keep: int = 0, splittable: bool = False) -> int:
        """Place a block; return the global line where its first printed line lands."""
        if self.row and before:
            if self.row + before >= LINES_PER_PAGE:
                self.new_page()
            else:
                self.pos += before
        remaining = LINES_PER_PAGE - self.row
        need = lines if not splittable else min(lines, 2)
        if self.row and need + keep > remaining:
            self.new_page()
        start = self.pos
        self.pos += lines
        return start


def _element_lines(el: Element, dual: bool = False) -> int:
    widths = DUAL_WIDTHS if dual and el.type in DUAL_WIDTHS else WIDTHS
    text = el.text
    if el.type == "character":
        text = el.text or el.name or ""
    return layout_lines(text, widths.get(el.type, 61))


def _layout(sp: Screenplay) -> dict[int, int]:
    """Global start line of every element (by id) plus the end position under key -1."""
    pag = _Paginator()
    starts: dict[int, int] = {}
    els = sp.elements
    dual_left = {sp.dual_partner(i) for i, e in enumerate(els) if e.type == "character" and e.dual}
    dual_left.discard(None)
    i = 0
    while i < len(els):
        el = els[i]
        t = el.type
        if t == "page_break":
            pag.new_page()
            starts[id(el)] = pag.pos
            i += 1
            continue
        if t not in WIDTHS:
            starts[id(el)] = pag.pos
            i += 1
            continue
        if t == "character" and i in dual_left:
            # Two speeches side by side: the block is as tall as the taller column.
            j = i + 1
            while j < len(els) and els[j].type in (*_IN_BLOCK, "note"):
                j += 1
            k = j + 1
            while k < len(els) and els[k].type in (*_IN_BLOCK, "note"):
                k += 1
            if j < len(els) and els[j].type == "character" and els[j].dual:
                left = sum(_element_lines(e, True) for e in els[i:j] if e.type in WIDTHS)
                right = sum(_element_lines(e, True) for e in els[j:k] if e.type in WIDTHS)
                start = pag.place(1, max(left, right))
                for e in els[i:k]:
                    starts[id(e)] = start
                i = k
                continue
        n = _element_lines(el)
        in_block = t in _IN_BLOCK and i > 0 and els[i - 1].type in ("character", *_IN_BLOCK, "note")
        before = 0 if in_block else SPACE_BEFORE.get(t, 1)
        if t == "scene_heading":
            start = pag.place(before, n, keep=2)
        elif t == "character":
            start = pag.place(before, n, keep=1)
        else:
            start = pag.place(before, n, splittable=t in ("action", "dialogue", "lyrics"))
        starts[id(el)] = start
        i += 1
    starts[-1] = pag.pos
    return starts


# A name starts where a run of capitals and ' - . starts (after any leading ' - .), so a long run is
# tried once, not from each of its letters; the age in parentheses holds no parenthesis, so a long
# text full of "(" is not rescanned from each of them. Both kept the old regex quadratic (or worse).
_AGE_INTRO = re.compile(
    r"(?<![A-Z'\-.])['\-.]*\b([A-Z][A-Z'\-.]+(?:\s+[A-Z][A-Z'\-.]+){0,2})\s*"
    r"\((?:[^()\d]*\d|LATE|EARLY|MID)[^()]*\)"
)
#: Names longer than this are not looked for in action text (no real character name is this long,
#: and the search costs up to this many steps per candidate position).
MAX_NAME_CHARS = 64
_END = ""  # trie key that marks the end of a name (no character is the empty string)


class _NameFinder:
    """Which known names occur in a text, found in one pass over it (not one regex per name).

    English needs a whole-word match, ``(?<![\\w'])NAME(?!\\w)``; Chinese a plain substring. Candidate
    starts come from one regex; from each, a trie of the names is walked along the text.
    """

    def __init__(self, names: list[str], *, whole_words: bool) -> None:
        self.order = {n: i for i, n in enumerate(names)}
        self.whole_words = whole_words
        self.trie: dict[str, Any] = {}
        for name in names:
            if not name or len(name) > MAX_NAME_CHARS:
                continue
            node = self.trie
            for ch in name:
                node = node.setdefault(ch, {})
            node[_END] = name
        firsts = "".join(re.escape(c) for c in sorted(k for k in self.trie if k))
        prefix = r"(?<![\w'])" if whole_words else ""
        self.starts = re.compile(f"{prefix}[{firsts}]") if firsts else None

    def find(self, text: str) -> list[str]:
        """Names present in ``text``, in the order they were given."""
        found: set[str] = set()
        if self.starts is None:
            return []
        n = len(text)
        for m in self.starts.finditer(text):
            node = self.trie
            q = m.start()
            while q < n:
                node = node.get(text[q])
                if node is None:
                    break
                q += 1
                name = node.get(_END)
                if name is not None and (not self.whole_words or q == n or not _is_word_char(text[q])):
                    found.add(name)
        return sorted(found, key=self.order.__getitem__)


def _is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"  # exactly what the regex class \w means for str patterns


def _present_in_action(
    scene: Scene, finder: _NameFinder, by_words: dict[frozenset[str], tuple[int, str]], zh: bool
) -> list[str]:
    """Characters shown in action: known names written in ALL CAPS, or ALL-CAPS introductions
    with an age, e.g. ``MARGOT BELL (67)`` (mapped to the cue name ``MARGOT`` when it is one).

    ``by_words`` maps the word set of each known name to its first (position, name), so mapping an
    introduction looks up the at most 7 subsets of its at most 3 words instead of every name.
    """
    text = "\n".join(strip_emphasis(e.text) for e in scene.elements if e.type == "action")
    if not text:
        return []
    found = finder.find(text)
    if not zh:
        seen = set(found)
        for m in _AGE_INTRO.finditer(text):
            words = " ".join(m.group(1).split()).strip(".").split()
            name = " ".join(words)
            distinct = sorted(set(words))
            best: tuple[int, str] | None = None
            for r in range(1, len(distinct) + 1):
                for subset in itertools.combinations(distinct, r):
                    hit = by_words.get(frozenset(subset))
                    if hit is not None and (best is None or hit < best):
                        best = hit
            if best is not None:
                name = best[1]
            if name not in seen and _has_letters(name):
                seen.add(name)
                found.append(name)
    return found


def _is_vo(cue: Element) -> bool:
    return any(x.upper().replace(" ", "") in ("V.O.", "VO", "V.O") for x in cue.extensions)


def _has_letters(s: str) -> bool:
    return sum(c.isalpha() for c in s) >= 2


def _synopsis(scene: Scene) -> str:
    for e in scene.elements:  # a synopsis counts only where it opens the scene (Fountain convention)
        if e.type == "synopsis" and e.text.strip():
            return strip_emphasis(e.text).strip()
        if e.type not in ("note", "section", "boneyard"):
            break
    for e in scene.elements:
        if e.type == "action" and e.text.strip():
            s = " ".join(strip_emphasis(e.text).split())
            m = re.match(r"(.+?[.!?。！？])(\s|$)", s)
            s = m.group(1) if m else s
            return s if len(s) <= 90 else s[:87].rstrip() + "..."
    return ""


def breakdown(
    sp: Screenplay, *, include_action_cast: bool = True, limits: ScriptLimits | None = None
) -> Breakdown:
    """Per-scene breakdown; ``include_action_cast`` also lists characters seen in action text.

    ``limits`` (default ``DEFAULT_LIMITS``) is checked first: an oversized screenplay raises
    ``LimitExceeded`` before any layout work.
    """
    (limits or DEFAULT_LIMITS).check(sp)
    starts = _layout(sp)
    scenes = sp.scenes()
    zh = sp.language == "zh"
    # Voice-only characters (every cue is V.O.) are heard, not seen: a caps mention is not presence.
    voice = {e.name for e in sp.elements if e.type == "character" and not _is_vo(e)}
    known = [n for n in sp.characters() if n in voice]
    finder = _NameFinder(known, whole_words=not zh)
    by_words: dict[frozenset[str], tuple[int, str]] = {}
    for i, k in enumerate(known):
        by_words.setdefault(frozenset(k.split()), (i, k))
    out: list[SceneBreakdown] = []
    prev_dn: str | None = None
    for k, sc in enumerate(scenes):
        first = sc.heading if sc.heading is not None else (sc.elements[0] if sc.elements else None)
        start = starts.get(id(first), 0) if first is not None else 0
        if k + 1 < len(scenes):
            nxt = scenes[k + 1]
            nfirst = nxt.heading if nxt.heading is not None else nxt.elements[0]
            end = starts.get(id(nfirst), starts[-1])
        else:
            end = starts[-1]
        lines = max(0, end - start)
        eighths = max(1, round(lines * 8 / LINES_PER_PAGE))
        h = sc.heading
        dn = day_night(h.time_of_day) if h is not None else None
        if dn is None and h is not None:
            dn = prev_dn  # CONTINUOUS, LATER, MOMENTS LATER: same light as the previous scene
        prev_dn = dn or prev_dn
        speakers = sc.speakers()
        all_vo: dict[str, bool] = {}  # one pass over the scene, not one per speaker
        for e in sc.elements:
            if e.type == "character" and e.name:
                all_vo[e.name] = all_vo.get(e.name, True) and _is_vo(e)
        voice_only = [name for name in speakers if all_vo.get(name)]
        cast = list(speakers)
        in_cast = set(cast)
        for name in sc.cast_listed:
            if name not in in_cast:
                in_cast.add(name)
                cast.append(name)
        non_speaking = []
        if include_action_cast:
            non_speaking = [n for n in _present_in_action(sc, finder, by_words, zh) if n not in in_cast]
        out.append(
            SceneBreakdown(
                index=sc.index,
                number=sc.number,
                heading=sc.heading_text,
                int_ext=h.int_ext if h is not None else None,
                location=h.location if h is not None else None,
                time_of_day=h.time_of_day if h is not None else None,
                day_night=dn,
                page=start // LINES_PER_PAGE + 1,
                eighths=eighths,
                lines=lines,
                line=sc.line,
                cast=cast,
                non_speaking=non_speaking,
                voice_only=voice_only,
                synopsis=_synopsis(sc),
                prologue=sc.prologue,
            )
        )
    total = starts[-1]
    return Breakdown(
        scenes=out,
        total_lines=total,
        page_count=max(1, -(-total // LINES_PER_PAGE)) if total else 0,
        title=sp.title,
    )


# ---------------------------------------------------------------------------------------------------
# Stripboard exports
# ---------------------------------------------------------------------------------------------------

_CSV_COLUMNS = [
    "scene",
    "int_ext",
    "location",
    "time_of_day",
    "day_night",
    "pages",
    "eighths",
    "page",
    "cast",
    "non_speaking",
    "synopsis",
]


def _sort_key(s: SceneBreakdown, keys: tuple[str, ...]) -> tuple[Any, ...]:
    out: list[Any] = []
    for k in keys:
        if not hasattr(s, k):
            raise InvalidInput(f"cannot sort stripboard by unknown field {k!r}")
        v = getattr(s, k)
        out.append((v is None, v if v is not None else ""))
    out.append((False, s.index))
    return tuple(out)


def _sorted(bd: Breakdown, sort_by: tuple[str, ...] | list[str] | None) -> list[SceneBreakdown]:
    if not sort_by:
        return list(bd.scenes)
    return sorted(bd.scenes, key=lambda s: _sort_key(s, tuple(sort_by)))


def to_stripboard_csv(
    bd: Breakdown, sort_by: tuple[str, ...] | list[str] | None = ("location", "time_of_day")
) -> str:
    """One row per scene, grouped the way a first AD groups strips (by location, then time of day)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_CSV_COLUMNS)
    for s in _sorted(bd, sort_by):
        w.writerow(
            [
                s.number,
                s.int_ext or "",
                s.location or "",
                s.time_of_day or "",
                s.day_night or "",
                s.pages,
                s.eighths,
                s.page,
                "; ".join(s.cast),
                "; ".join(s.non_speaking),
                s.synopsis,
            ]
        )
    return buf.getvalue()


#: Industry strip colours: white INT/DAY, yellow EXT/DAY, blue INT/NIGHT, green EXT/NIGHT.
STRIP_COLORS = {
    ("INT", "DAY"): "#ffffff",
    ("EXT", "DAY"): "#fff176",
    ("INT", "NIGHT"): "#90caf9",
    ("EXT", "NIGHT"): "#a5d6a7",
    ("INT/EXT", "DAY"): "#ffe0b2",
    ("INT/EXT", "NIGHT"): "#b0bec5",
}
_UNKNOWN_COLOR = "#e0e0e0"


def strip_color(int_ext: str | None, dn: str | None) -> str:
    ie = "EXT" if int_ext == "EST" else int_ext
    return STRIP_COLORS.get((ie or "", dn or ""), _UNKNOWN_COLOR)


_JS = """
document.querySelectorAll('table.strips th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var tbody = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var asc = th.getAttribute('data-dir') !== 'asc';
    th.parentNode.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-dir'); });
    th.setAttribute('data-dir', asc ? 'asc' : 'desc');
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
  });
});
"""

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222}
h1{font-size:20px;margin:0 0 4px} .meta{color:#555;margin-bottom:12px}
table.strips{border-collapse:collapse;width:100%;font-size:13px}
table.strips th{background:#333;color:#fff;padding:6px;text-align:left;cursor:pointer;user-select:none}
table.strips th[data-dir=asc]::after{content:' \\25B2'} table.strips th[data-dir=desc]::after{content:' \\25BC'}
table.strips td{padding:5px 6px;border-bottom:1px solid #999;vertical-align:top}
.legend span{display:inline-block;padding:3px 8px;margin-right:6px;border:1px solid #999;font-size:12px}
"""


def to_stripboard_html(bd: Breakdown, sort_by: tuple[str, ...] | list[str] | None = None) -> str:
    """A self-contained one-liner/stripboard page; click a column header to sort by it."""
    esc = html.escape
    headers = [
        ("Sc.", "scene"),
        ("I/E", "int_ext"),
        ("Location", "location"),
        ("Time", "time_of_day"),
        ("D/N", "day_night"),
        ("Pages", "eighths"),
        ("Pg", "page"),
        ("Cast", "cast"),
        ("Synopsis", "synopsis"),
    ]
    rows = []
    for s in _sorted(bd, sort_by):
        color = strip_color(s.int_ext, s.day_night)
        num_sort = re.sub(r"\d+", lambda m: m.group().zfill(6), s.number)
        cast = s.all_cast
        cells = [
            (num_sort, esc(s.number)),
            (s.int_ext or "", esc(s.int_ext or "")),
            (s.location or "", esc(s.location or s.heading)),
            (s.time_of_day or "", esc(s.time_of_day or "")),
            (s.day_night or "", esc(s.day_night or "")),
            (str(s.eighths), esc(s.pages)),
            (str(s.page), str(s.page)),
            ("; ".join(cast), esc(", ".join(cast))),
            (s.synopsis, esc(s.synopsis)),
        ]
        tds = "".join(f'<td data-sort="{esc(k, quote=True)}">{v}</td>' for k, v in cells)
        rows.append(f'<tr style="background:{color}" data-index="{s.index}">{tds}</tr>')
    legend = "".join(
        f'<span style="background:{c}">{esc(ie)} / {esc(dn)}</span>' for (ie, dn), c in STRIP_COLORS.items()
    )
    title = esc(bd.title or "Stripboard")
    head = "".join(f'<th data-key="{k}">{esc(label)}</th>' for label, k in headers)
    data = esc(json.dumps({"scenes": len(bd.scenes), "total": format_eighths(bd.total_eighths)}), quote=True)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} - stripboard</title><style>{_CSS}</style></head><body>"
        f'<h1>{title}</h1><div class="meta" data-summary="{data}">{len(bd.scenes)} scenes, '
        f"{esc(format_eighths(bd.total_eighths))} pages</div>"
        f'<div class="legend">{legend}</div><br>'
        f'<table class="strips"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f"<script>{_JS}</script></body></html>\n"
    )

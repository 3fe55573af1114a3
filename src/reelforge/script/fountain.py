"""Fountain 1.1 reader and writer (https://fountain.io/syntax).

The reader works in three passes so that line numbers survive multi-line constructs:

1. ``/* boneyard */`` and ``[[notes]]`` are cut out of the character stream (they may span lines);
   notes are replaced by private-use sentinels so the logical line they sat on can still be
   classified, and every logical line remembers the source line it started on.
2. The title page (``Key: value`` lines, indented continuation lines) is read off the top.
3. A line-by-line state machine applies the spec's rules: blank-line context for scene headings,
   transitions and character cues, dialogue blocks, forcing characters (``. ! @ > ~ # =``).

Anything the writer emits is parsed back to the same element sequence (forcing where needed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reelforge.errors import ScriptParseError

from .model import Element, InlineNote, Screenplay, TitleField, strip_emphasis_offsets
from .model import strip_emphasis as _strip_markup

__all__ = ["is_character_cue", "parse_fountain", "parse_scene_heading", "write_fountain"]

_NOTE_OPEN, _NOTE_CLOSE = "\ue000", "\ue001"
_RESERVED = re.compile("[\ue000-\ue0ff]")
_SENTINEL = re.compile(f"{_NOTE_OPEN}(\\d+){_NOTE_CLOSE}")
_OPENERS = re.compile(r"/\*|\[\[")

_SCENE_RE = re.compile(
    r"^(?P<ie>int\.?\s*/\s*ext|ext\.?\s*/\s*int|i\.?\s*/\s*e|e\.?\s*/\s*i|int|ext|est)(?:\.\s*|\s+)(?P<rest>.*)$",
    re.IGNORECASE,
)
# No leading \s*: search() would rescan a run of spaces from each of its spaces (quadratic).
_SCENE_NUMBER = re.compile(r"#([\w.\-]+)#\s*$")
# A separator starts only where a run of spaces starts, for the same reason.
_TOD_SPLIT = re.compile(r"(?<!\s)\s+[-\u2013\u2014]{1,2}\s+")
_PAGE_BREAK = re.compile(r"^={3,}$")
_TITLE_KEY = re.compile(r"^(?P<key>[^\W\d_][\w '\-.]{0,39}?)\s*:(?P<value>.*)$")
_EXTENSION = re.compile(r"\(([^()]*)\)")
#: A title page must use at least one of these keys, so an opening action line with a colon
#: ("Steel enters the code: 9765") is not swallowed as a title page.
TITLE_KEYS = frozenset(
    {
        "title",
        "credit",
        "author",
        "authors",
        "source",
        "draft date",
        "date",
        "contact",
        "copyright",
        "notes",
        "revision",
        "revised",
        "written by",
        "format",
        "font",
        "watermark",
        "episode",
        "series",
        "tl",
        "tc",
        "tr",
        "cc",
        "bl",
        "br",
    }
)
_MAX_CHARS = 50_000_000


@dataclass
class _Line:
    text: str
    src: int
    boneyards: list[int] = field(default_factory=list)
    dropped: bool = False


# ---------------------------------------------------------------------------------------------------
# Shared helpers (also used by the FDX and Chinese adapters)
# ---------------------------------------------------------------------------------------------------


def _canonical_int_ext(prefix: str) -> str:
    p = re.sub(r"[\s.]", "", prefix.upper())
    if "/" in p:
        return "INT/EXT"
    return p


def parse_scene_heading(text: str) -> dict[str, str | None]:
    """Split a heading into ``int_ext``, ``location``, ``time_of_day`` (upper-cased) for breakdowns."""
    t = _strip_markup(text).strip()
    m = _SCENE_RE.match(t)
    int_ext: str | None = None
    rest = t
    if m:
        int_ext = _canonical_int_ext(m.group("ie"))
        rest = m.group("rest").strip()
    parts = [p.strip() for p in _TOD_SPLIT.split(rest) if p.strip()]
    location: str | None
    tod: str | None
    if len(parts) >= 2:
        location, tod = " - ".join(parts[:-1]), parts[-1]
    elif parts:
        location, tod = parts[0], None
    else:
        location, tod = None, None
    return {
        "int_ext": int_ext,
        "location": location.upper() if location else None,
        "time_of_day": tod.upper() if tod else None,
    }


def _has_cased_letter(s: str) -> bool:
    return any(c.isalpha() and c.upper() != c.lower() for c in s)


def _split_cue(s: str) -> tuple[str, list[str], bool, str]:
    """Return (name, extensions, dual, leftover text after the extensions)."""
    t = s.strip()
    dual = t.endswith("^")
    if dual:
        t = t[:-1].rstrip()
    idx = t.find("(")
    if idx < 0:
        return " ".join(t.split()), [], dual, ""
    name = " ".join(t[:idx].split())
    rest = t[idx:]
    exts = [" ".join(e.split()) for e in _EXTENSION.findall(rest)]
    leftover = _EXTENSION.sub("", rest).strip()
    return name, exts, dual, leftover


def is_character_cue(s: str) -> bool:
    """Spec rule for an unforced cue: the name is all upper case and holds at least one letter."""
    name, _exts, _dual, leftover = _split_cue(_strip_markup(s))
    return bool(name) and not leftover and name == name.upper() and _has_cased_letter(name)


def _is_transition(s: str) -> bool:
    return s.endswith("TO:") and s == s.upper() and _has_cased_letter(s)


# ---------------------------------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------------------------------


def _preprocess(text: str) -> tuple[list[_Line], list[str], list[tuple[str, int]]]:
    """Cut boneyards and notes out of the stream, keeping source line numbers per logical line."""
    notes: list[str] = []
    boneyards: list[tuple[str, int]] = []
    lines: list[_Line] = []
    buf: list[str] = []
    cur_src = 1  # source line where the logical line being built starts
    src = 1  # source line at position pos
    cur_bones: list[int] = []
    had_content = False  # did the current logical line have anything but boneyards?
    pos = 0
    n = len(text)

    def emit_segment(seg: str) -> None:
        nonlocal cur_src, src, buf, cur_bones, had_content
        parts = seg.split("\n")
        for k, part in enumerate(parts):
            if k > 0:
                joined = "".join(buf)
                lines.append(
                    _Line(
                        joined,
                        cur_src,
                        cur_bones,
                        dropped=bool(cur_bones) and not (had_content and joined.strip()),
                    )
                )
                src += 1
                cur_src, buf, cur_bones, had_content = src, [], [], False
            if part:
                buf.append(part)
                had_content = True

    while pos < n:
        m = _OPENERS.search(text, pos)
        if m is None:
            emit_segment(text[pos:])
            break
        emit_segment(text[pos : m.start()])
        if m.group() == "/*":
            end = text.find("*/", m.end())
            if end < 0:
                raise ScriptParseError("unclosed boneyard '/*' (no matching '*/' before end of file)", src)
            content = text[m.end() : end]
            boneyards.append((content, src))
            cur_bones.append(len(boneyards) - 1)
            src += content.count("\n")
            pos = end + 2
        else:
            end = text.find("]]", m.end())
            if end < 0:
                raise ScriptParseError("unclosed note '[[' (no matching ']]' before end of file)", src)
            content = text[m.end() : end]
            notes.append(content)
            buf.append(f"{_NOTE_OPEN}{len(notes) - 1}{_NOTE_CLOSE}")
            had_content = True
            src += content.count("\n")
            pos = end + 2
    joined = "".join(buf)
    lines.append(
        _Line(joined, cur_src, cur_bones, dropped=bool(cur_bones) and not (had_content and joined.strip()))
    )
    return lines, notes, boneyards


def _clean_note(text: str) -> str:
    return "\n".join(line.strip() for line in text.strip().split("\n"))


def _lift_notes(raw: str, notes: list[str], strip: bool) -> tuple[str, list[InlineNote]]:
    """Remove note sentinels from ``raw``; return clean text and the notes with their offsets."""
    if _NOTE_OPEN not in raw:
        return (_strip_markup(raw) if strip else raw), []
    out: list[str] = []
    found: list[tuple[int, str]] = []
    pos = 0
    length = 0
    for m in _SENTINEL.finditer(raw):
        seg = raw[pos : m.start()]
        out.append(seg)
        length += len(seg)
        found.append((length, _clean_note(notes[int(m.group(1))])))
        pos = m.end()
    out.append(raw[pos:])
    text = "".join(out)
    if strip:
        # One pass maps every note offset (stripping each prefix again was quadratic).
        text, offsets = strip_emphasis_offsets(text, [off for off, _t in found])
        found = [(off, t) for off, (_old, t) in zip(offsets, found, strict=True)]
    return text, [InlineNote(off, t) for off, t in found]


def _restore_notes(raw: str, notes: list[str]) -> str:
    return _SENTINEL.sub(lambda m: f"[[{notes[int(m.group(1))]}]]", raw)


def _parse_title_page(lines: list[_Line], notes: list[str], strip: bool) -> tuple[list[TitleField], int]:
    """Read the title page block; return its fields and the index of the first body line."""
    i = 0
    while i < len(lines) and (lines[i].dropped or not lines[i].text.strip()):
        i += 1
    block: list[_Line] = []
    while i < len(lines) and (lines[i].dropped or lines[i].text.strip()):
        if not lines[i].dropped:
            block.append(lines[i])
        i += 1
    if not block:
        return [], 0
    first = block[0].text
    if first[:1].isspace() or _SCENE_RE.match(first.strip()) or not _TITLE_KEY.match(first):
        return [], 0
    fields: list[tuple[str, list[str]]] = []
    for k, ln in enumerate(block):
        t = _restore_notes(ln.text, notes)
        m = _TITLE_KEY.match(t)
        if m and not t[:1].isspace():
            value = m.group("value").strip()
            fields.append((m.group("key").strip(), [value] if value else []))
            if not value and not (k + 1 < len(block) and block[k + 1].text.startswith(("   ", "\t"))):
                return [], 0  # "FADE IN:" alone is not a title page
        elif t.startswith(("   ", "\t")) and fields:
            fields[-1][1].append(t.strip())
        else:
            return [], 0
    if not any(key.lower() in TITLE_KEYS for key, _values in fields):
        return [], 0
    out = []
    for key, values in fields:
        value = "\n".join(values)
        out.append(TitleField(key, _strip_markup(value) if strip else value))
    return out, i


class _Builder:
    """The body state machine."""

    def __init__(
        self, lines: list[_Line], notes: list[str], boneyards: list[tuple[str, int]], keep_boneyard: bool
    ) -> None:
        self.lines = lines
        self.notes = notes
        self.boneyards = boneyards
        self.keep_boneyard = keep_boneyard
        self.els: list[Element] = []
        self.cur: Element | None = None  # element that a following non-blank line may extend
        self.mode: str | None = None  # "action" | "dialogue" | "lyrics" | None
        self.paren_open = False
        # Multi-line elements grow here and are joined once at the end: ``el.text += ...`` on an
        # attribute copies the whole text each time, which is quadratic for a long paragraph.
        self.more: dict[int, list[str]] = {}

    def extend(self, el: Element, piece: str) -> None:
        parts = self.more.get(id(el))
        if parts is None:
            parts = self.more[id(el)] = [el.text]
        parts.append(piece)

    def _kind(self, ln: _Line) -> str:
        t = ln.text
        if t.strip():
            return "text"
        return "soft" if t == "  " else "blank"

    def _next_blank(self, i: int) -> bool:
        for j in range(i + 1, len(self.lines)):
            ln = self.lines[j]
            if ln.dropped:
                continue
            if self._kind(ln) != "text":
                return True
            if _SENTINEL.sub("", ln.text).strip():
                return False
        return True

    def add(self, type_: str, text: str, line: int, **kw: object) -> Element:
        el = Element(type=type_, text=text, line=line, **kw)  # type: ignore[arg-type]
        self.els.append(el)
        return el

    def reset(self) -> None:
        self.cur, self.mode, self.paren_open = None, None, False

    def run(self, start: int) -> list[Element]:
        prev_blank = True
        for i in range(start, len(self.lines)):
            ln = self.lines[i]
            if self.keep_boneyard:
                for b in ln.boneyards:
                    content, bline = self.boneyards[b]
                    self.add("boneyard", content.strip("\n"), bline)
            if ln.dropped:
                continue
            kind = self._kind(ln)
            if kind == "soft" and not prev_blank and self.mode is not None:
                # Two spaces: a deliberate empty line inside action, dialogue or lyrics.
                if self.cur is not None and self.cur.type in ("action", "dialogue", "lyrics"):
                    self.extend(self.cur, "\n")
                continue
            if kind != "text":
                prev_blank = True
                self.reset()
                continue
            prev_blank = self.line(ln, i, prev_blank)
        for el in self.els:
            parts = self.more.get(id(el))
            if parts is not None:
                el.text = "".join(parts)
            if el.type in ("action", "dialogue", "lyrics"):
                el.text = el.text.rstrip("\n")
        return self.els

    def line(self, ln: _Line, i: int, prev_blank: bool) -> bool:
        """Classify one non-blank line; return the new ``prev_blank`` state."""
        raw = ln.text.rstrip()
        s = raw.strip()
        clean = _SENTINEL.sub("", s).strip()
        src = ln.src

        if not clean:  # a line holding only [[notes]]: transparent for the blank-line rules
            for m in _SENTINEL.finditer(s):
                self.add("note", _clean_note(self.notes[int(m.group(1))]), src)
            if self.mode != "dialogue":
                self.cur = None
            elif self.cur is not None and self.cur.type == "dialogue":
                self.cur = None
            return prev_blank

        if self.mode == "dialogue":
            if self.paren_open and self.cur is not None:
                self.extend(self.cur, "\n" + s)
                self.paren_open = not clean.endswith(")")
                if not self.paren_open:
                    self.cur = None
                return False
            if clean.startswith("("):
                self.cur = self.add("parenthetical", s, src)
                self.paren_open = not clean.endswith(")")
                if not self.paren_open:
                    self.cur = None
                return False
            if clean.startswith("~"):
                text = s.lstrip()[1:].strip()
                if self.cur is not None and self.cur.type == "lyrics":
                    self.extend(self.cur, "\n" + text)
                else:
                    self.cur = self.add("lyrics", text, src)
                return False
            if self.cur is not None and self.cur.type == "dialogue":
                self.extend(self.cur, "\n" + s)
            else:
                self.cur = self.add("dialogue", s, src)
            return False

        if _PAGE_BREAK.match(clean):
            self.add("page_break", "", src)
            self.reset()
            return True
        if clean.startswith("#"):
            depth = len(clean) - len(clean.lstrip("#"))
            self.add("section", s.lstrip()[depth:].strip(), src, depth=depth)
            self.reset()
            return True
        if clean.startswith("=") and not clean.startswith("=="):
            self.add("synopsis", s.lstrip()[1:].strip(), src)
            self.reset()
            return True
        if clean.startswith(">") and clean.endswith("<"):
            gt, lt = s.index(">"), s.rindex("<")
            self.add("centered", (s[gt + 1 : lt] + s[lt + 1 :]).strip(), src)
            self.reset()
            return False
        if clean.startswith(">"):
            self.add("transition", s.lstrip()[1:].strip(), src)
            self.reset()
            return False
        if clean.startswith("~"):
            text = s.lstrip()[1:].strip()
            if self.mode == "lyrics" and self.cur is not None and not prev_blank:
                self.extend(self.cur, "\n" + text)
            else:
                self.reset()
                self.cur = self.add("lyrics", text, src)
                self.mode = "lyrics"
            return False
        if clean.startswith("!"):
            text = s.lstrip()[1:]
            if self.mode == "action" and self.cur is not None and not prev_blank:
                self.extend(self.cur, "\n" + text)
            else:
                self.cur = self.add("action", text, src)
                self.mode = "action"
            return False

        if prev_blank:
            next_blank = self._next_blank(i)
            if clean.startswith(".") and not clean.startswith("..") and len(clean) > 1:
                self.heading(s.lstrip()[1:].strip(), src, forced=True)
                return False
            if next_blank and _SCENE_RE.match(clean):
                self.heading(s, src, forced=False)
                return False
            if clean.startswith("@") and not next_blank and len(clean) > 1:
                self.character(s.lstrip()[1:].strip(), src)
                return False
            if next_blank and _is_transition(clean):
                self.add("transition", s, src)
                self.reset()
                return False
            if not next_blank and is_character_cue(clean):
                self.character(s, src)
                return False

        if self.mode == "action" and self.cur is not None and not prev_blank:
            self.extend(self.cur, "\n" + raw)
        else:
            self.reset()
            self.cur = self.add("action", raw, src)
            self.mode = "action"
        return False

    def heading(self, s: str, src: int, *, forced: bool) -> None:
        number = None
        m = _SCENE_NUMBER.search(_SENTINEL.sub("", s))
        if m:
            number = m.group(1)
            # Drop the last "#..#" group (notes may follow it on the raw line).
            idx = s.rfind(f"#{number}#")
            s = (s[:idx].rstrip() + s[idx + len(number) + 2 :]).strip()
        self.add("scene_heading", s, src, scene_number=number, forced=forced)
        self.reset()

    def character(self, s: str, src: int) -> None:
        self.reset()
        dual = s.endswith("^")
        if dual:
            s = s[:-1].rstrip()
        self.add("character", s, src, dual=dual)
        self.mode = "dialogue"


def _finalize(els: list[Element], notes: list[str], strip: bool) -> None:
    for el in els:
        if el.type in ("note", "boneyard", "page_break"):
            continue
        text, lifted = _lift_notes(el.text, notes, strip)
        el.text = text.rstrip() if el.type == "action" else text.strip()
        el.notes = lifted
        if el.type == "scene_heading":
            parts = parse_scene_heading(el.text)
            el.int_ext, el.location, el.time_of_day = (
                parts["int_ext"],
                parts["location"],
                parts["time_of_day"],
            )
        elif el.type == "character":
            name, exts, _dual, leftover = _split_cue(_strip_markup(el.text))
            el.name = name or leftover or el.text
            el.extensions = exts


def parse_fountain(text: str, *, strip_emphasis: bool = False, keep_boneyard: bool = False) -> Screenplay:
    """Parse Fountain text. Boneyard is dropped unless ``keep_boneyard``; emphasis kept unless stripped."""
    if not isinstance(text, str):
        raise ScriptParseError(
            f"Fountain input must be text (str), got {type(text).__name__}; use parse_any() for bytes"
        )
    if len(text) > _MAX_CHARS:
        raise ScriptParseError(f"Fountain input too large ({len(text)} characters > {_MAX_CHARS})")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    bad = _RESERVED.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise ScriptParseError(f"reserved private-use character U+{ord(bad.group()):04X} in input", line)
    text = text.replace("\t", "    ")
    lines, notes, boneyards = _preprocess(text)
    title, start = _parse_title_page(lines, notes, strip_emphasis)
    els = _Builder(lines, notes, boneyards, keep_boneyard).run(start)
    _finalize(els, notes, strip_emphasis)
    return Screenplay(title_page=title, elements=els, language="en")


# ---------------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------------


def _insert_notes(text: str, notes: list[InlineNote]) -> str:
    if not notes:
        return text
    # One left-to-right pass (slicing the text once per note was quadratic); notes that share an
    # offset keep their order, so they read back in the same order.
    out: list[str] = []
    pos = 0
    for n in sorted(notes, key=lambda n: n.offset):
        off = max(pos, min(n.offset, len(text)))
        out += (text[pos:off], f"[[{n.text}]]")
        pos = off
    out.append(text[pos:])
    return "".join(out)


def _action_line_needs_force(line: str, first: bool, single: bool) -> bool:
    s = line.strip()
    if not s:
        return False
    if s.startswith(("!", "#", "~", ">", "@")) or _PAGE_BREAK.match(s):
        return True
    if s.startswith("=") and not s.startswith("=="):
        return True
    if not first:
        return False
    if s.startswith(".") and not s.startswith("..") and len(s) > 1:
        return True
    if single and (_SCENE_RE.match(s) or _is_transition(s)):
        return True
    return not single and is_character_cue(s)


def _action_lines(text: str) -> list[str]:
    lines = text.split("\n")
    out: list[str] = []
    for k, line in enumerate(lines):
        if not line.strip():
            out.append("  ")
        elif _action_line_needs_force(line, k == 0, len(lines) == 1):
            out.append("!" + line)
        else:
            out.append(line)
    return out


def _cue_text(el: Element) -> str:
    text = el.text.strip() or " ".join([el.name or "", *(f"({e})" for e in el.extensions)]).strip()
    forced = not is_character_cue(text) or text.startswith("@")
    return ("@" if forced else "") + text + (" ^" if el.dual else "")


def write_fountain(sp: Screenplay) -> str:
    """Render a screenplay as Fountain; ``parse_fountain`` reads it back to the same elements."""
    blocks: list[list[str]] = []
    if sp.title_page:
        tp: list[str] = []
        for f in sp.title_page:
            values = f.value.split("\n")
            if len(values) == 1 and values[0]:
                tp.append(f"{f.key}: {values[0]}")
            else:
                tp.append(f"{f.key}:")
                tp.extend("    " + v for v in values)
        blocks.append(tp)

    in_dialogue = False
    els = sp.elements
    for idx, el in enumerate(els):
        text = _insert_notes(el.text, el.notes)
        t = el.type
        if in_dialogue and t in ("parenthetical", "dialogue", "lyrics", "note"):
            if t == "note":
                nxt = els[idx + 1].type if idx + 1 < len(els) else None
                if nxt in ("parenthetical", "dialogue", "lyrics"):
                    blocks[-1].append(f"[[{el.text}]]")
                    continue
                in_dialogue = False
            else:
                blocks[-1].extend(_dialogue_lines(t, text))
                continue
        in_dialogue = False
        if t == "scene_heading":
            needs_dot = el.forced or not _SCENE_RE.match(_strip_markup(text).strip())
            line = ("." if needs_dot else "") + text.strip()
            if el.scene_number:
                line += f" #{el.scene_number}#"
            blocks.append([line])
        elif t == "action":
            blocks.append(_action_lines(text))
        elif t == "character":
            blocks.append([_cue_text(_with_text(el, text))])
            in_dialogue = True
        elif t in ("parenthetical", "dialogue", "lyrics"):
            # Orphan dialogue (no cue before it): keep its content as forced lines.
            if t == "lyrics":
                blocks.append(["~" + ln for ln in text.split("\n")])
            else:
                blocks.append(_action_lines(text))
        elif t == "transition":
            s = text.strip()
            blocks.append([s if _is_transition(_strip_markup(s)) else ">" + s])
        elif t == "centered":
            blocks.append([f">{line.strip()}<" for line in text.split("\n") if line.strip()] or ["><"])
        elif t == "note":
            blocks.append([f"[[{el.text}]]"])
        elif t == "section":
            blocks.append(["#" * max(1, el.depth) + " " + text.strip()])
        elif t == "synopsis":
            blocks.append(["= " + text.strip()])
        elif t == "page_break":
            blocks.append(["==="])
        elif t == "boneyard":
            blocks.append([f"/*{el.text}*/"])
    if not sp.title_page and blocks and els and els[0].type == "action" and _TITLE_KEY.match(blocks[0][0]):
        blocks[0][0] = "!" + blocks[0][0]  # an opening "Key: value" action would read as a title page
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"


def _with_text(el: Element, text: str) -> Element:
    return Element(
        type=el.type, text=text, line=el.line, name=el.name, extensions=list(el.extensions), dual=el.dual
    )


def _dialogue_lines(t: str, text: str) -> list[str]:
    if t == "lyrics":
        return ["~" + ln for ln in text.split("\n")]
    if t == "parenthetical":
        s = text.strip()
        if not (s.startswith("(") and s.endswith(")")):
            s = f"({s})"
        return [ln.strip() for ln in s.split("\n")]
    return [ln if ln.strip() else "  " for ln in text.split("\n")]

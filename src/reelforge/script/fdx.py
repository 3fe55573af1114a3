"""Final Draft (.fdx) reader and writer.

FDX is XML, so the reader is careful: documents are parsed by expat (the engine under
``xml.etree``) into ``xml.etree.ElementTree`` elements, and any ``<!DOCTYPE``, ``<!ENTITY`` or external
entity reference aborts the parse before anything is expanded (the "billion laughs" and XXE attacks
need one of those). Styled ``<Text>`` runs become Fountain emphasis markup, so FDX, Fountain and the
model all carry emphasis the same way.

Elements Final Draft has no paragraph type for (notes, sections, synopses, lyrics, boneyard, inline
notes, title page keys) are written as ``General`` paragraphs / extra attributes that Final Draft
ignores, and this reader turns back into the original elements.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

from reelforge.errors import ScriptParseError

from .fountain import _SCENE_RE, _split_cue, parse_scene_heading
from .model import (
    Element,
    InlineNote,
    Screenplay,
    TitleField,
    emphasis_runs,
    runs_to_markup,
    strip_emphasis,
)

__all__ = ["parse_fdx", "write_fdx"]

_MAX_BYTES = 100_000_000

_TYPE_MAP = {
    "Scene Heading": "scene_heading",
    "Action": "action",
    "Character": "character",
    "Parenthetical": "parenthetical",
    "Dialogue": "dialogue",
    "Transition": "transition",
    "General": "action",
    "Shot": "action",
    "Lyrics": "lyrics",
    "Cast List": "note",
    "New Act": "section",
    "End of Act": "section",
}

_RF_TYPE = "ReelforgeType"
_RF_KEY = "ReelforgeKey"
_RF_NOTES = "ReelforgeNotes"
_RF_DEPTH = "ReelforgeDepth"


# ---------------------------------------------------------------------------------------------------
# Safe XML
# ---------------------------------------------------------------------------------------------------


def _safe_parse(data: bytes | str) -> tuple[ET.Element, dict[int, int]]:
    """Parse XML with expat into ElementTree elements; refuse DTDs and entities. Returns root, lines."""
    if isinstance(data, str):
        parser = expat.ParserCreate(encoding="UTF-8")
        payload = data.encode("utf-8")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        parser = expat.ParserCreate()
        payload = bytes(data)
    else:
        raise ScriptParseError(f"FDX input must be bytes or str, got {type(data).__name__}")
    if len(payload) > _MAX_BYTES:
        raise ScriptParseError(f"FDX input too large ({len(payload)} bytes > {_MAX_BYTES})")

    stack: list[ET.Element] = []
    root: list[ET.Element] = []
    lines: dict[int, int] = {}
    # Character data arrives in chunks; it is collected here and attached once at the next tag
    # (appending each chunk to ``el.text`` re-copied the text so far: quadratic for a long run).
    pending: list[str] = []

    def flush() -> None:
        if not pending or not stack:
            pending.clear()
            return
        el = stack[-1]
        text = "".join(pending)
        pending.clear()
        if len(el):
            last = el[-1]
            last.tail = (last.tail or "") + text
        else:
            el.text = (el.text or "") + text

    def refuse(what: str) -> None:
        raise ScriptParseError(
            f"FDX contains a {what}; refused (DTDs and entities are not allowed in screenplay XML)",
            parser.CurrentLineNumber,
        )

    def start(tag: str, attrs: dict[str, str]) -> None:
        flush()
        el = ET.Element(tag, attrs)
        lines[id(el)] = parser.CurrentLineNumber
        if stack:
            stack[-1].append(el)
        else:
            root.append(el)
        stack.append(el)

    def end(tag: str) -> None:
        flush()
        stack.pop()

    def chars(text: str) -> None:
        if stack:
            pending.append(text)

    parser.StartDoctypeDeclHandler = lambda *a: refuse("DOCTYPE declaration")
    parser.EntityDeclHandler = lambda *a: refuse("ENTITY declaration")
    parser.ExternalEntityRefHandler = lambda *a: refuse("external entity reference")  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.buffer_text = True
    try:
        parser.Parse(payload, True)
    except expat.ExpatError as exc:
        raise ScriptParseError(
            f"malformed FDX XML: {expat.errors.messages.get(exc.code, str(exc))}", exc.lineno
        ) from exc
    if not root:
        raise ScriptParseError("empty FDX document", 1)
    return root[0], lines


# ---------------------------------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------------------------------


def _styles(style: str | None) -> frozenset[str]:
    out = set()
    for part in (style or "").split("+"):
        p = part.strip().lower()
        if p in ("bold", "italic", "underline"):
            out.add(p)
    return frozenset(out)


def _paragraph_text(p: ET.Element, strip: bool) -> str:
    runs = []
    for t in p.findall("Text"):
        runs.append((t.text or "", _styles(t.get("Style"))))
    markup = runs_to_markup(runs)
    return strip_emphasis(markup) if strip else markup


def _guess_title_key(text: str, index: int, alignment: str, seen: set[str]) -> str:
    low = text.lower()
    if "title" not in seen and index == 0:
        return "Title"
    if low.startswith(("written by", "by", "screenplay by", "story by", "teleplay by")) and len(low) < 40:
        return "Credit"
    if "credit" in seen and "author" not in seen:
        return "Author"
    if "draft" in low or (re.search(r"\b(19|20)\d\d\b", low) and len(low) < 40):
        return "Draft date"
    if "copyright" in low or "\u00a9" in text:
        return "Copyright"
    if "based on" in low or "source" in low:
        return "Source"
    if alignment.lower() == "left" or "@" in text or re.search(r"\d{3}", text):
        return "Contact"
    return "Notes"


def _read_title_page(root: ET.Element, strip: bool) -> list[TitleField]:
    tp = root.find("TitlePage")
    if tp is None:
        return []
    content = tp.find("Content")
    paras = content.findall("Paragraph") if content is not None else tp.findall(".//Paragraph")
    fields: list[TitleField] = []
    values: list[list[str]] = []  # each field's lines, joined once at the end
    seen: set[str] = set()
    last_key: str | None = None
    last_align = ""
    gap = True
    index = 0
    for p in paras:
        text = _paragraph_text(p, strip)
        if not text.strip():
            gap = True
            continue
        align = p.get("Alignment", "")
        key = p.get(_RF_KEY)
        explicit = key is not None
        if key is None:
            guess = _guess_title_key(strip_emphasis(text).strip(), index, align, seen)
            # Adjacent lines with the same alignment continue one value (a two-line title, an
            # address), except after a credit line or when the line is clearly a new field.
            continues = (
                not gap
                and last_key is not None
                and last_key != "Credit"
                and align == last_align
                and guess not in ("Credit", "Draft date", "Copyright", "Source")
            )
            key = last_key if continues and last_key is not None else guess
        index += 1
        if fields and key == last_key and (not gap or explicit):
            values[-1].append(text.strip())
        else:
            fields.append(TitleField(key, ""))
            values.append([text.strip()])
        seen.add(key.lower())
        last_key, last_align = key, align
        gap = False
    for f, lines in zip(fields, values, strict=True):
        f.value = "\n".join(lines)
    return fields


def _make_element(p: ET.Element, line: int, strip: bool) -> Element:
    fdx_type = p.get("Type", "General")
    rf_type = p.get(_RF_TYPE)
    etype = rf_type or _TYPE_MAP.get(fdx_type, "action")
    if etype == "action" and fdx_type == "Action" and p.get("Alignment", "").lower() == "center":
        etype = "centered"
    text = _paragraph_text(p, strip)
    el = Element(type=etype, text=text if etype == "action" else text.strip(), line=line)
    if (fdx_type not in _TYPE_MAP and rf_type is None) or fdx_type in ("General", "Shot", "Cast List"):
        el.attrs["fdx_type"] = fdx_type
    if etype == "scene_heading":
        parts = parse_scene_heading(el.text)
        el.int_ext, el.location, el.time_of_day = parts["int_ext"], parts["location"], parts["time_of_day"]
        number = p.get("Number")
        if number is None:
            props = p.find("SceneProperties")
            if props is not None:
                number = props.get("Number")
        el.scene_number = number or None
        el.forced = not _SCENE_RE.match(strip_emphasis(el.text).strip())
    elif etype == "character":
        name, exts, _dual, leftover = _split_cue(strip_emphasis(el.text))
        el.name = name or leftover or el.text
        el.extensions = exts
    elif etype == "parenthetical":
        if not (el.text.startswith("(") and el.text.endswith(")")):
            el.text = f"({el.text})"
    elif etype == "section":
        el.depth = int(p.get(_RF_DEPTH, "1"))
    notes = p.get(_RF_NOTES)
    if notes:
        try:
            el.notes = [InlineNote.from_dict(n) for n in json.loads(notes)]
        except (ValueError, TypeError, KeyError) as exc:
            raise ScriptParseError(f"bad {_RF_NOTES} attribute: {exc}", line) from exc
    return el


def parse_fdx(data: bytes | str, *, strip_emphasis: bool = False) -> Screenplay:
    """Read a Final Draft document. Consecutive Dialogue paragraphs under one cue become one element."""
    root, lines = _safe_parse(data)
    if root.tag != "FinalDraft":
        raise ScriptParseError(f"not a Final Draft document (root element <{root.tag}>)", lines.get(id(root)))
    content = root.find("Content")
    if content is None:
        raise ScriptParseError("FDX has no <Content> element", lines.get(id(root)))
    els: list[Element] = []
    # Consecutive Dialogue paragraphs merge into one element; their texts are joined once at the end.
    merged: dict[int, list[str]] = {}

    def add(p: ET.Element, dual: bool) -> None:
        if p.get("StartsNewPage", "").lower() == "yes" and els:
            els.append(Element(type="page_break", line=lines.get(id(p), 0)))
        el = _make_element(p, lines.get(id(p), 0), strip_emphasis)
        if el.type == "page_break":
            return
        prev = els[-1] if els else None
        if (
            prev is not None
            and el.type in ("dialogue", "lyrics")
            and prev.type == el.type
            and not el.notes
            and not prev.notes
        ):
            merged.setdefault(id(prev), [prev.text]).append(el.text)
            return
        if el.type == "character" and dual:
            el.dual = True
        els.append(el)

    for p in content.findall("Paragraph"):
        dd = p.find("DualDialogue")
        if dd is not None:
            cues = 0
            for q in dd.findall("Paragraph"):
                if q.get("Type") == "Character":
                    cues += 1
                add(q, dual=cues == 2 and q.get("Type") == "Character")
            continue
        if p.get(_RF_TYPE) == "page_break":
            els.append(Element(type="page_break", line=lines.get(id(p), 0)))
            continue
        add(p, dual=False)
    for el in els:
        if id(el) in merged:
            el.text = "\n".join(merged[id(el)])
    return Screenplay(title_page=_read_title_page(root, strip_emphasis), elements=els, language="en")


# ---------------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------------

_WRITE_TYPE = {
    "scene_heading": "Scene Heading",
    "action": "Action",
    "character": "Character",
    "parenthetical": "Parenthetical",
    "dialogue": "Dialogue",
    "transition": "Transition",
    "centered": "Action",
}


def _text_runs(parent: ET.Element, text: str) -> None:
    runs = emphasis_runs(text) or [("", frozenset())]
    for seg, styles in runs:
        t = ET.SubElement(parent, "Text")
        if styles:
            t.set("Style", "+".join(s.capitalize() for s in ("bold", "italic", "underline") if s in styles))
        t.text = seg


def _paragraph(parent: ET.Element, el: Element, new_page: bool) -> ET.Element:
    attrs: dict[str, str] = {}
    if el.type in _WRITE_TYPE:
        fdx_type = _WRITE_TYPE[el.type]
        orig = el.attrs.get("fdx_type")
        if el.type == "action" and orig in ("General", "Shot"):
            fdx_type = orig
        attrs["Type"] = fdx_type
    else:
        attrs["Type"] = "General"
        attrs[_RF_TYPE] = el.type
    if el.type == "centered":
        attrs["Alignment"] = "Center"
    if el.type == "section":
        attrs[_RF_DEPTH] = str(max(1, el.depth))
    if el.type == "scene_heading" and el.scene_number:
        attrs["Number"] = el.scene_number
    if new_page:
        attrs["StartsNewPage"] = "Yes"
    if el.notes:
        attrs[_RF_NOTES] = json.dumps([n.to_dict() for n in el.notes], ensure_ascii=False)
    p = ET.SubElement(parent, "Paragraph", attrs)
    if el.type == "scene_heading" and el.scene_number:
        ET.SubElement(p, "SceneProperties", {"Number": el.scene_number})
    _text_runs(p, el.text)
    return p


def _dual_ranges(sp: Screenplay) -> dict[int, int]:
    """Map start index -> end index (exclusive) of each dual-dialogue block that can be wrapped."""
    out: dict[int, int] = {}
    els = sp.elements
    for i, el in enumerate(els):
        if el.type == "character" and el.dual:
            j = sp.dual_partner(i)
            if j is None or any(k in out for k in range(j, i)):
                continue
            end = i + 1
            while end < len(els) and els[end].type in ("dialogue", "parenthetical", "lyrics"):
                end += 1
            out[j] = end
    return out


def write_fdx(sp: Screenplay) -> str:
    """Render a Final Draft 12 style document (UTF-8 XML text)."""
    root = ET.Element("FinalDraft", {"DocumentType": "Script", "Template": "No", "Version": "5"})
    content = ET.SubElement(root, "Content")
    ranges = _dual_ranges(sp)
    els = sp.elements
    new_page = False
    i = 0
    while i < len(els):
        el = els[i]
        if el.type == "page_break":
            if i == len(els) - 1:
                ET.SubElement(content, "Paragraph", {"Type": "General", _RF_TYPE: "page_break"})
            new_page = True
            i += 1
            continue
        if i in ranges:
            outer = ET.SubElement(content, "Paragraph")
            if new_page:
                outer.set("StartsNewPage", "Yes")
                new_page = False
            dd = ET.SubElement(outer, "DualDialogue")
            for k in range(i, ranges[i]):
                _paragraph(dd, els[k], False)
            i = ranges[i]
            continue
        _paragraph(content, el, new_page)
        new_page = False
        i += 1
    if sp.title_page:
        tp = ET.SubElement(root, "TitlePage")
        tc = ET.SubElement(tp, "Content")
        for f in sp.title_page:
            align = "Left" if f.key.lower() in ("contact", "notes", "copyright", "draft date") else "Center"
            for line in f.value.split("\n") or [""]:
                p = ET.SubElement(tc, "Paragraph", {"Alignment": align, _RF_KEY: f.key})
                _text_runs(p, line)
            ET.SubElement(tc, "Paragraph", {"Alignment": align})  # spacing between fields
    ET.indent(root, space="  ")  # only touches whitespace between elements, never <Text> content
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + body + "\n"

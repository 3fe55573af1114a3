"""Layouts the asset page draws: a screenplay set on US Letter pages, and a lineage graph placed in
columns for an SVG. Pure functions of their input (no studio), so they are tested on their own.

Screenplay pages follow the usual industry geometry in Courier 12 pt (10 characters and 6 lines to
the inch): 1.5" left and 1" right margins give 60 columns of action, 54 lines a page; dialogue is
35 columns wide 1" in, parentheticals 1.5" in, character cues 2" in, transitions flush right. Text
is wrapped here, not by the browser, so what is counted for a page break is exactly what is drawn;
a speech that does not fit is split with (MORE) and CHARACTER (CONT'D), as a printed script does.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

LINES_PER_PAGE = 54
ACTION_WIDTH = 60
# type -> (indent in columns from the action margin, width in columns)
GEOMETRY: dict[str, tuple[int, int]] = {
    "scene_heading": (0, 60), "action": (0, 60), "centered": (0, 60), "transition": (0, 60),
    "character": (20, 38), "parenthetical": (15, 25), "dialogue": (10, 35), "lyrics": (10, 35),
    "more": (20, 20),
}
# the same in the half-width columns of dual dialogue
DUAL_GEOMETRY: dict[str, tuple[int, int]] = {
    "character": (8, 22), "parenthetical": (3, 20), "dialogue": (0, 28), "lyrics": (0, 28), "more": (8, 20),
}
SPEECH = ("parenthetical", "dialogue", "lyrics")
NOT_PRINTED = ("note", "boneyard", "section", "synopsis")


# -- wrapping ------------------------------------------------------------------------------------
def char_width(c: str) -> int:
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def wrap_spans(text: str, width: int) -> list[tuple[int, int]]:
    """(start, end) offsets of the lines ``text`` wraps to in ``width`` columns: breaks at spaces,
    before a wide (CJK) character, at newlines, and inside a word longer than a line."""
    out: list[tuple[int, int]] = []
    pos = 0
    for para in text.split("\n"):
        start, end = pos, pos + len(para)
        pos = end + 1
        line_start, cols = start, 0
        brk: int | None = None  # the last place this line may end
        i = start
        while i < end:
            c = text[i]
            w = char_width(c)
            if c == " ":
                brk = i
            elif w == 2 and i > line_start and text[i - 1] != " ":
                brk = i
            if cols + w > width and i > line_start:
                cut = i if c == " " else (brk if brk is not None and brk > line_start else i)
                e = cut
                while e > line_start and text[e - 1] == " ":
                    e -= 1
                out.append((line_start, e))
                i = cut
                while i < end and text[i] == " ":
                    i += 1
                line_start, cols, brk = i, 0, None
                continue
            cols += w
            i += 1
        if line_start < end or start == end:
            out.append((line_start, end))
    return out


def _styled(text: str) -> tuple[str, list[frozenset[str]]]:
    """Plain text and the emphasis of each character (Fountain markup: bold, italic, underline)."""
    from reelforge.script.model import emphasis_runs

    plain, styles = [], []
    for seg, st in emphasis_runs(text):
        plain.append(seg)
        styles.extend([st] * len(seg))
    return "".join(plain), styles


def _markup(plain: str, styles: list[frozenset[str]], start: int, end: int) -> Markup:
    out, i = [], start
    while i < end:
        j = i
        while j < end and styles[j] == styles[i]:
            j += 1
        seg = escape(plain[i:j])
        st = styles[i]
        if st:
            cls = " ".join(f"sp-{s}" for s in sorted(st))
            out.append(Markup('<span class="{}">{}</span>').format(cls, seg))
        else:
            out.append(seg)
        i = j
    return Markup("").join(out)


def wrap_markup(text: str, width: int, *, upper: bool = False) -> list[Markup]:
    plain, styles = _styled(text.strip("\n"))
    if upper:
        plain = plain.upper()
    return [_markup(plain, styles, a, b) for a, b in wrap_spans(plain, width)]


# -- screenplay pages ----------------------------------------------------------------------------
@dataclass
class Row:
    """One printed line: ``kind`` is an element type, ``blank``, ``more`` or ``dual``."""

    kind: str
    html: Markup = field(default_factory=Markup)
    right: Row | None = None  # dual dialogue: the right-hand column (``html`` is the left one)
    left_kind: str = ""
    scene_number: str | None = None
    anchor: str | None = None


@dataclass
class SheetPage:
    number: int
    rows: list[Row] = field(default_factory=list)


@dataclass
class ScriptLayout:
    title: str | None
    title_page: dict[str, list[Markup]] | None
    pages: list[SheetPage]
    scenes: list[dict[str, Any]]  # {page, heading, number, anchor}
    language: str = "en"

    @property
    def n_pages(self) -> int:
        return len(self.pages)


@dataclass
class _Block:
    rows: list[Row]
    space: int  # blank lines before it (dropped at the top of a page)
    speech: dict[str, Any] | None = None  # a single speech that may be split: {"cue": str, "dual": bool}
    keep_with_next: bool = False


def _speech_rows(cue: str, parts: list[tuple[str, str]], geometry: dict[str, tuple[int, int]]) -> list[Row]:
    rows = [Row("character", line) for line in wrap_markup(cue, geometry["character"][1], upper=True)]
    for kind, text in parts:
        rows += [Row(kind, line) for line in wrap_markup(text, geometry[kind][1])]
    return rows


def _cue(el: Any) -> str:
    return el.text.replace("^", "").strip() or (el.name or "")


def _blocks(elements: list[Any], scenes: list[dict[str, Any]]) -> list[_Block | None]:
    """Blocks of rows; None is a forced page break."""
    blocks: list[_Block | None] = []
    i, n = 0, len(elements)
    while i < n:
        el = elements[i]
        t = el.type
        if t in NOT_PRINTED:
            i += 1
            continue
        if t == "page_break":
            blocks.append(None)
            i += 1
            continue
        if t == "character":
            parts: list[tuple[str, str]] = []
            j = i + 1
            while j < n and elements[j].type in SPEECH + NOT_PRINTED:
                if elements[j].type in SPEECH:
                    parts.append((elements[j].type, elements[j].text))
                j += 1
            cue = _cue(el)
            prev = blocks[-1] if blocks else None
            if el.dual and prev is not None and prev.speech is not None and not prev.speech.get("dual"):
                # the right-hand speaker of dual dialogue: set beside the previous speech
                left = _speech_rows(prev.speech["cue"], prev.speech["parts"], DUAL_GEOMETRY)
                right = _speech_rows(cue, parts, DUAL_GEOMETRY)
                rows = []
                for k in range(max(len(left), len(right))):
                    lr = left[k] if k < len(left) else Row("blank")
                    rr = right[k] if k < len(right) else Row("blank")
                    rows.append(Row("dual", lr.html, right=rr, left_kind=lr.kind))
                blocks[-1] = _Block(rows, prev.space, {"cue": prev.speech["cue"], "dual": True, "parts": []})
            else:
                blocks.append(_Block(_speech_rows(cue, parts, GEOMETRY), 1, {"cue": cue, "parts": parts}))
            i = j
            continue
        if t in SPEECH:  # speech without a cue (a parser's leftover): set as dialogue
            blocks.append(_Block([Row(t, line) for line in wrap_markup(el.text, GEOMETRY[t][1])], 0))
            i += 1
            continue
        width = GEOMETRY.get(t, (0, ACTION_WIDTH))[1]
        upper = t in ("scene_heading", "transition")
        rows = [Row(t, line) for line in wrap_markup(el.text, width, upper=upper)]
        if t == "scene_heading" and rows:
            anchor = f"scene-{len(scenes) + 1}"
            rows[0].scene_number, rows[0].anchor = el.scene_number, anchor
            scenes.append({"heading": el.plain_text.upper(), "number": el.scene_number or str(len(scenes) + 1),
                           "anchor": anchor, "page": 0})
        blocks.append(_Block(rows, 2 if t == "scene_heading" else 1, keep_with_next=t == "scene_heading"))
        i += 1
    return blocks


def _split_speech(block: _Block, room: int) -> tuple[list[Row], list[Row]] | None:
    """A speech cut to fit ``room`` lines with (MORE), the rest under CUE (CONT'D); None when it
    cannot be cut there (at least the cue and two lines before, two lines after)."""
    rows = block.rows
    keep = room - 1  # the (MORE) line
    if block.speech is None or block.speech.get("dual") or keep < 3 or len(rows) - keep < 2:
        return None
    while keep > 2 and rows[keep - 1].kind == "parenthetical":
        keep -= 1  # never leave a parenthetical last on the page
    if keep < 3:
        return None
    head = [*rows[:keep], Row("more", Markup("(MORE)"))]
    cue = block.speech["cue"]
    cont = Markup(escape(cue.upper() + ("" if "CONT'D" in cue.upper() else " (CONT'D)")))
    return head, [Row("character", cont), *rows[keep:]]


def paginate(blocks: list[_Block | None], scenes: list[dict[str, Any]]) -> list[SheetPage]:
    pages = [SheetPage(1)]
    used = 0

    def new_page() -> None:
        nonlocal used
        pages.append(SheetPage(len(pages) + 1))
        used = 0

    def place(rows: list[Row], space: int) -> None:
        nonlocal used
        if used:
            pages[-1].rows += [Row("blank")] * space
            used += space
        for r in rows:
            if r.anchor:
                for s in scenes:
                    if s["anchor"] == r.anchor:
                        s["page"] = pages[-1].number
            pages[-1].rows.append(r)
        used += len(rows)

    for k, block in enumerate(blocks):
        if block is None:
            if used:
                new_page()
            continue
        space = block.space if used else 0
        need = space + len(block.rows)
        if block.keep_with_next:  # a heading stays with the first two lines of what follows
            nxt = next((b for b in blocks[k + 1:] if b is not None), None)
            if nxt is not None:
                need += nxt.space + min(2, len(nxt.rows))
        if used + need <= LINES_PER_PAGE:
            place(block.rows, block.space)
            continue
        room = LINES_PER_PAGE - used - space
        split = _split_speech(block, room) if used else None
        if split is not None:
            place(split[0], block.space)
            new_page()
            rows = split[1]
        else:
            if used:
                new_page()
            rows = block.rows
        while len(rows) > LINES_PER_PAGE:  # longer than a page: cut it anywhere
            place(rows[:LINES_PER_PAGE], 0)
            new_page()
            rows = rows[LINES_PER_PAGE:]
        place(rows, 0)
    return pages


def _title_page(sp: Any) -> dict[str, list[Markup]] | None:
    if not sp.title_page:
        return None
    center: list[Markup] = []
    left: list[Markup] = []
    right: list[Markup] = []
    fields = {f.key.lower(): f.value for f in sp.title_page}
    for key in ("title", "credit", "author", "authors", "source"):
        if key in fields:
            if center:
                center.append(Markup(""))
            center += wrap_markup(fields[key], ACTION_WIDTH, upper=key == "title")
    for key in ("contact", "copyright"):
        if key in fields:
            left += wrap_markup(fields[key], 30)
    for key in ("draft date", "date", "notes"):
        if key in fields:
            right += wrap_markup(fields[key], 30)
    return {"center": center, "left": left, "right": right}


def layout_screenplay(sp: Any) -> ScriptLayout:
    """A parsed ``reelforge.script.model.Screenplay`` set on pages."""
    scenes: list[dict[str, Any]] = []
    pages = paginate(_blocks(sp.elements, scenes), scenes)
    return ScriptLayout(sp.title, _title_page(sp), pages, scenes, sp.language)


# -- lineage ---------------------------------------------------------------------------------------
NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 184, 46, 44, 12, 12


def node_href(kind: str, node_id: str) -> str:
    return {"asset": f"/assets/{node_id}", "job": f"/jobs/{node_id}", "dataset": f"/datasets/{node_id}",
            "model": f"/models/{node_id}"}.get(kind, "#")


def _short(text: str, n: int = 24) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def layout_lineage(graph: dict[str, Any]) -> dict[str, Any]:
    """Columns for a lineage graph (``LineageGraph.to_dict()``): the root on the right, what it was
    made from to its left, a node's column set by its longest path to the root (so it is left of
    every child and edges always run left to right)."""
    nodes: dict[str, dict[str, Any]] = graph["nodes"]
    root = graph["root"]
    depth = {root: 0}
    order = [root]
    # longest distance from the root, walked breadth first (a DAG: at most len(nodes) passes)
    for _ in range(len(nodes)):
        changed = False
        for nid in list(order):
            for parent in nodes.get(nid, {}).get("parents", []):
                if parent not in nodes:
                    continue
                d = depth[nid] + 1
                if depth.get(parent, -1) < d and d <= len(nodes):
                    if parent not in depth:
                        order.append(parent)
                    depth[parent] = d
                    changed = True
        if not changed:
            break
    max_d = max(depth.values())
    columns: dict[int, list[str]] = {}
    for nid in order:
        columns.setdefault(max_d - depth[nid], []).append(nid)
    height = max(len(c) for c in columns.values())
    placed: dict[str, dict[str, Any]] = {}
    for col, ids in columns.items():
        top = PAD + (height - len(ids)) * (NODE_H + ROW_GAP) / 2
        for row, nid in enumerate(ids):
            n = nodes[nid]
            detail = n.get("detail", {})
            sub = {"asset": detail.get("kind", ""), "job": detail.get("status", ""), "model": detail.get("kind", ""),
                   "dataset": f"{detail.get('items', '')} items"}.get(n["kind"], "")
            placed[nid] = {"id": nid, "kind": n["kind"], "label": n["label"],
                           "short": _short(n["label"].rsplit("/", 1)[-1] if n["kind"] == "asset" else n["label"]),
                           "sub": sub, "x": PAD + col * (NODE_W + COL_GAP), "y": top + row * (NODE_H + ROW_GAP),
                           "href": node_href(n["kind"], nid), "root": nid == root}
    edges = []
    for nid, n in nodes.items():
        if nid not in placed:
            continue
        for parent in n.get("parents", []):
            if parent in placed:
                a, b = placed[parent], placed[nid]
                x1, y1 = a["x"] + NODE_W, a["y"] + NODE_H / 2
                x2, y2 = b["x"], b["y"] + NODE_H / 2
                mid = (x1 + x2) / 2
                edges.append({"d": f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}",
                              "from": parent, "to": nid})
    width = PAD * 2 + (max_d + 1) * NODE_W + max_d * COL_GAP
    total_h = PAD * 2 + height * NODE_H + (height - 1) * ROW_GAP
    hidden = {}
    for n in nodes.values():
        d = n.get("detail", {})
        if n["kind"] == "dataset" and d.get("items", 0) > d.get("shown_members", 0):
            hidden[n["label"]] = d["items"] - d.get("shown_members", 0)
    return {"nodes": list(placed.values()), "edges": edges, "width": width, "height": total_h,
            "node_w": NODE_W, "node_h": NODE_H, "hidden_members": hidden}

"""Pages: the project's screenplays, one screenplay's report (cast, scenes, locations, INT/EXT and
DAY/NIGHT, the character network, the stripboard; sentiment arcs, conflicts and turning points from
its latest ``script.analyze`` job), and search across the project's scripts.

What is cheap (parsing, the breakdown in page eighths, counts, the co-occurrence network) is
computed here through ``reelforge.script`` and cached by content hash; the sentiment analysis loads
models and takes seconds, so it is read from the analysis a job saved (a writer gets a button to run
one). Search uses the stored index built by ``script.index`` and never starts a job from a page.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from reelforge.access.policy import READ
from reelforge.catalog.search import SEARCH_INDEX_MODEL
from reelforge.errors import InvalidInput, NotFound
from reelforge.web.deps import Page, PageDep

if TYPE_CHECKING:
    from reelforge.catalog.entities import Asset, Project
    from reelforge.script.breakdown import Breakdown
    from reelforge.script.model import Screenplay

router = APIRouter()
PER_PAGE = 50
MAX_TEXT_SEARCH = 200  # screenplays read by the plain text search
MAX_TEXT_HITS = 100
_CACHE_SIZE = 64


@dataclass
class Parsed:
    """What the pages need of one screenplay file, computed once per content hash."""

    sp: Screenplay
    bd: Breakdown
    rows: list[tuple[int, str, str | None, str, int]] = field(default_factory=list)  # scene, heading, who, text, line

    @property
    def summary(self) -> dict[str, Any]:
        return {"title": self.sp.title, "pages": self.bd.to_dict()["total_pages"], "scenes": len(self.bd.scenes),
                "characters": len(self.sp.characters()), "language": self.sp.language,
                "author": (self.sp.title_value("Author") or self.sp.title_value("Authors") or "").strip(),
                # The script's shape at a glance: its strips in script order, as wide as they are long.
                "board": [(strip_class(s.int_ext, s.day_night), max(s.eighths, 1)) for s in self.bd.scenes]}


_cache: OrderedDict[str, Parsed] = OrderedDict()
_lock = threading.Lock()


def parsed(page: Page, asset: Asset) -> Parsed:
    """The parsed screenplay of an asset (a small LRU cache by content: the same bytes parse the same)."""
    from reelforge.script.breakdown import breakdown
    from reelforge.script.formats import read_file

    key = f"{asset.sha256}:{asset.name.rsplit('.', 1)[-1].lower()}"
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    sp = read_file(page.studio.assets.local_path(asset), filename=asset.name)
    bd = breakdown(sp)
    rows = [(i, heading, who, text, line) for i, (_sid, heading, items) in enumerate(sp.search_scenes())
            for who, text, line in items]
    value = Parsed(sp, bd, rows)
    with _lock:
        _cache[key] = value
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def _screenplay(page: Page, proj: Project, asset_id: str) -> Asset:
    a = page.guard.asset(page.p, asset_id, READ)
    if a.project_id != proj.id or a.kind != "screenplay":
        raise NotFound(f"no screenplay {asset_id!r}")
    return a


@router.get("/p/{project}/screenplays")
def screenplays(project: str, page: PageDep, cursor: str | None = Query(None, max_length=2000)) -> HTMLResponse:
    proj = page.project(project)
    listing = page.studio.browse.assets(proj.id, kind="screenplay", sort="name", order="asc", limit=PER_PAGE,
                                        cursor=cursor)
    rows = []
    for a in listing.items:
        try:
            rows.append((a, parsed(page, a).summary, None))
        except InvalidInput as e:  # a file the parser refuses still gets its row, with why
            rows.append((a, None, str(e)))
    return page.render("screenplays/list.html", project=proj, rows=rows, next_cursor=listing.next_cursor,
                       first_page=cursor is None)


# -- search ------------------------------------------------------------------------------------
def _word(w: str) -> str:
    """A query word as a pattern: whole words where words are spaced (Latin), any run elsewhere
    (Chinese has no spaces between words)."""
    return rf"\b{re.escape(w)}\b" if w.isascii() else re.escape(w)


def highlight(text: str, query: str) -> Markup:
    """``text`` escaped, with the query's words marked."""
    words = sorted({w for w in re.findall(r"\w+", query.lower()) if len(w) > 1 or not w.isascii()},
                   key=len, reverse=True)
    if not words:
        return Markup(escape(text))
    pattern = re.compile("|".join(_word(w) for w in words), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last:m.start()]))
        out.append(Markup("<mark>") + escape(m.group()) + Markup("</mark>"))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def _text_hits(page: Page, proj: Project, q: str) -> tuple[list[dict[str, Any]], bool]:
    """Lines (and action) holding every word of the query, as written, in script order."""
    words = [re.compile(_word(w), re.IGNORECASE) for w in re.findall(r"\w+", q)] or [re.compile(re.escape(q))]
    hits: list[dict[str, Any]] = []
    assets = page.studio.browse.assets(proj.id, kind="screenplay", sort="name", limit=MAX_TEXT_SEARCH).items
    for a in assets:
        try:
            p = parsed(page, a)
        except InvalidInput:
            continue
        for scene, heading, who, text, line in p.rows:
            where = f"{who or ''} {text}"
            if all(w.search(where) for w in words):
                hits.append({"asset": a.id, "name": a.name, "title": p.sp.title or a.name, "scene_index": scene,
                             "heading": heading, "character": who, "text": text, "line": line})
                if len(hits) >= MAX_TEXT_HITS:
                    return hits, True
    return hits, False


@router.get("/p/{project}/screenplays/search")
def search(project: str, page: PageDep, q: str = Query("", max_length=1000),
           kind: str | None = Query(None, max_length=20)) -> HTMLResponse:
    proj = page.project(project)
    q = q.strip()
    kind = kind if kind in ("scene", "line") else None
    state: dict[str, Any] = {"hits": [], "no_index": False, "stale": False, "problem": None, "text_hits": [],
                             "text_more": False, "index": None}
    screenplay_ids = sorted(a.id for a in page.studio.assets.list(project=proj.id, kind="screenplay"))
    try:
        state["index"] = page.studio.models.get(SEARCH_INDEX_MODEL, proj.id)
    except NotFound:
        state["no_index"] = True
    if state["index"] is not None:
        state["stale"] = state["index"].config.get("screenplays") != screenplay_ids
    if q:
        if screenplay_ids and state["index"] is not None:
            try:
                # reindex=False: a page only reads; the index is rebuilt by a script.index job.
                state["hits"] = page.studio.search.query(q, k=20, kind=kind or None, project=proj.id,
                                                         reindex=False)
            except NotFound:
                state["no_index"] = True
            except InvalidInput as e:
                state["problem"] = str(e)
        state["text_hits"], state["text_more"] = _text_hits(page, proj, q)
    titles = {}
    for h in state["hits"]:
        meta = h.get("meta", {})
        titles[meta.get("asset", "")] = meta.get("title") or meta.get("name")
    return page.render("screenplays/search.html", project=proj, q=q, kind=kind or "", n_screenplays=len(screenplay_ids),
                       highlight=highlight, max_text_hits=MAX_TEXT_HITS, **state)


# -- one screenplay ------------------------------------------------------------------------------
STRIP_CLASSES = {("INT", "DAY"): "int-day", ("EXT", "DAY"): "ext-day", ("INT", "NIGHT"): "int-night",
                 ("EXT", "NIGHT"): "ext-night", ("INT/EXT", "DAY"): "intext-day", ("INT/EXT", "NIGHT"): "intext-night"}


def strip_class(int_ext: str | None, dn: str | None) -> str:
    ie = "EXT" if int_ext == "EST" else (int_ext or "")
    return STRIP_CLASSES.get((ie, dn or ""), "other")


def _characters(p: Parsed) -> list[dict[str, Any]]:
    """Speaking cast by lines (cast ids the way a breakdown numbers them: 1 is the lead), then
    characters who are on screen but never speak."""
    lines: Counter[str] = Counter()
    words: Counter[str] = Counter()
    for d in p.sp.dialogue_lines():
        lines[d.character] += 1
        words[d.character] += len(d.text.split())
    scenes: dict[str, list[int]] = defaultdict(list)
    eighths: Counter[str] = Counter()
    for s in p.bd.scenes:
        for c in s.all_cast:
            scenes[c].append(s.index)
            eighths[c] += s.eighths
    names = sorted(set(lines) | set(scenes), key=lambda n: (-lines[n], -words[n], n))
    return [{"id": i + 1, "name": n, "lines": lines[n], "words": words[n], "scenes": len(scenes[n]),
             "eighths": eighths[n], "speaking": lines[n] > 0} for i, n in enumerate(names)]


def _locations(p: Parsed) -> list[dict[str, Any]]:
    by: dict[str, dict[str, Any]] = {}
    for s in p.bd.scenes:
        key = s.location or s.heading
        d = by.setdefault(key, {"name": key, "scenes": 0, "eighths": 0, "int_ext": set(), "day_night": set()})
        d["scenes"] += 1
        d["eighths"] += s.eighths
        if s.int_ext:
            d["int_ext"].add(s.int_ext)
        if s.day_night:
            d["day_night"].add(s.day_night)
    return sorted(by.values(), key=lambda d: (-d["eighths"], d["name"]))


def _split(p: Parsed) -> dict[str, Any]:
    """Scenes and page eighths by INT/EXT, by DAY/NIGHT and by both (the four strip colours)."""
    ie: Counter[str] = Counter()
    dn: Counter[str] = Counter()
    both: Counter[str] = Counter()
    ie_e: Counter[str] = Counter()
    dn_e: Counter[str] = Counter()
    for s in p.bd.scenes:
        i = "EXT" if s.int_ext == "EST" else (s.int_ext or "?")
        d = s.day_night or "?"
        ie[i] += 1
        dn[d] += 1
        ie_e[i] += s.eighths
        dn_e[d] += s.eighths
        both[strip_class(s.int_ext, s.day_night)] += 1
    return {"int_ext": ie, "day_night": dn, "int_ext_eighths": ie_e, "day_night_eighths": dn_e, "both": both}


def _network(p: Parsed, cast: list[dict[str, Any]], size: int = 380) -> dict[str, Any]:
    """Speaking characters on a circle (the most central at the top); an edge for each pair that
    speaks in a scene together, as thick as the number of such scenes."""
    speaking = [c for c in cast if c["speaking"]][:16]
    names = [c["name"] for c in speaking]
    weight: Counter[tuple[str, str]] = Counter()
    for sc in p.sp.scenes():
        who = [n for n in sc.speakers() if n in names]
        for i, a in enumerate(who):
            for b in who[i + 1:]:
                weight[tuple(sorted((a, b)))] += 1  # type: ignore[index]
    degree: Counter[str] = Counter()
    for (a, b), w in weight.items():
        degree[a] += w
        degree[b] += w
    order = sorted(names, key=lambda n: (-degree[n], n))
    r = size / 2 - 50
    cx = cy = size / 2
    top = max((c["lines"] for c in speaking), default=1) or 1
    nodes = {}
    for i, n in enumerate(order):
        angle = -math.pi / 2 + 2 * math.pi * i / max(len(order), 1)
        c = next(x for x in speaking if x["name"] == n)
        nodes[n] = {"name": n, "x": round(cx + r * math.cos(angle), 1), "y": round(cy + r * math.sin(angle), 1),
                    "r": round(9 + 15 * math.sqrt(c["lines"] / top), 1), "lines": c["lines"], "id": c["id"],
                    "anchor": "middle" if abs(math.cos(angle)) < 0.3 else ("start" if math.cos(angle) > 0 else "end"),
                    "lx": round(cx + (r + 30) * math.cos(angle), 1), "ly": round(cy + (r + 30) * math.sin(angle) + 5, 1),
                    "degree": degree[n]}
    wmax = max(weight.values(), default=1)
    edges = [{"a": a, "b": b, "w": w, "x1": nodes[a]["x"], "y1": nodes[a]["y"], "x2": nodes[b]["x"], "y2": nodes[b]["y"],
              "width": round(1 + 5 * w / wmax, 1), "opacity": round(0.25 + 0.6 * w / wmax, 2)}
             for (a, b), w in sorted(weight.items(), key=lambda kv: kv[1])]
    return {"size": size, "margin": 80, "nodes": list(nodes.values()), "edges": edges,
            "top_pairs": sorted(weight.items(), key=lambda kv: (-kv[1], kv[0]))[:3]}


def _latest_analysis(page: Page, proj: Project, asset: Asset) -> tuple[dict[str, Any] | None, Asset | None]:
    """The analysis JSON of the newest ``script.analyze`` job on this screenplay, if any."""
    for a in page.studio.browse.assets(proj.id, tags=["analysis"], sort="created_at", order="desc", limit=200).items:
        if a.meta.get("screenplay") == asset.id and a.name.endswith(".json"):
            try:
                with open(page.studio.assets.local_path(a), encoding="utf-8") as f:
                    data = json.load(f)
            except (OSError, ValueError):
                continue
            return (data if isinstance(data, dict) else None), a
    return None, None


def _arc(analysis: dict[str, Any], headings: list[str], width: int = 860, height: int = 190) -> dict[str, Any] | None:
    """Sentiment per scene (bars) and the smoothed arc (a line), in SVG coordinates."""
    raw = [v if isinstance(v, (int, float)) else 0.0 for v in analysis.get("scene_sentiment") or []]
    arc = [v if isinstance(v, (int, float)) else 0.0 for v in analysis.get("scene_arc") or []]
    if not raw:
        return None
    pad_l, pad_r, pad_t, pad_b = 44, 12, 12, 30
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    n = len(raw)
    step = w / n
    lim = max(0.25, max(abs(v) for v in raw + arc))
    y = lambda v: pad_t + h / 2 - (v / lim) * (h / 2)  # noqa: E731
    bars = [{"x": round(pad_l + i * step + step * 0.18, 1), "w": round(step * 0.64, 1),
             "y": round(min(y(v), y(0)), 1), "h": round(max(abs(y(v) - y(0)), 1), 1), "v": v, "pos": v >= 0,
             "label": f"{i + 1}", "heading": headings[i] if i < len(headings) else ""} for i, v in enumerate(raw)]
    line = " ".join(f"{pad_l + (i + 0.5) * step:.1f},{y(v):.1f}" for i, v in enumerate(arc))
    turning = {t.get("scene_index") for t in analysis.get("turning_points") or [] if isinstance(t, dict)}
    marks = [{"x": round(pad_l + (i + 0.5) * step, 1), "y": round(y(arc[i]) if i < len(arc) else y(0), 1)}
             for i in sorted(x for x in turning if isinstance(x, int) and 0 <= x < n)]
    ticks = [{"v": v, "y": round(y(v), 1), "label": f"{v:+.2f}" if v else "0"} for v in (lim, lim / 2, 0, -lim / 2, -lim)]
    every = max(1, math.ceil(n / 24))
    xlabels = [{"x": round(pad_l + (i + 0.5) * step, 1), "label": str(i + 1)} for i in range(0, n, every)]
    return {"width": width, "height": height, "bars": bars, "line": line, "marks": marks, "ticks": ticks,
            "xlabels": xlabels, "pad_l": pad_l, "pad_t": pad_t, "h": h, "w": w, "zero": round(y(0), 1)}


@router.get("/p/{project}/screenplays/{asset_id}")
def screenplay(project: str, asset_id: str, page: PageDep,
               board: str = Query("script", pattern="^(script|location)$")) -> HTMLResponse:
    proj = page.project(project)
    a = _screenplay(page, proj, asset_id)
    try:
        p = parsed(page, a)
    except InvalidInput as e:
        return page.render("screenplays/report.html", project=proj, asset=a, problem=str(e), board=board)
    from reelforge.script.breakdown import format_eighths

    cast = _characters(p)
    cast_id = {c["name"]: c["id"] for c in cast}
    scenes = list(p.bd.scenes)
    if board == "location":
        # How a first AD groups strips before scheduling: by set, then day/night, then script order.
        scenes.sort(key=lambda s: (s.location or s.heading, s.int_ext or "", s.day_night or "", s.index))
    analysis, analysis_asset = _latest_analysis(page, proj, a)
    arc = _arc(analysis, [s.heading for s in p.bd.scenes]) if analysis else None
    return page.render(
        "screenplays/report.html", project=proj, asset=a, sp=p.sp, bd=p.bd, summary=p.summary, cast=cast,
        cast_id=cast_id, locations=_locations(p), split=_split(p), network=_network(p, cast), board=board,
        strips=scenes, strip_cast={s.index: sorted(cast_id.get(c, 0) for c in s.all_cast) for s in scenes},
        strip_class=strip_class, eighths=format_eighths, analysis=analysis,
        analysis_asset=analysis_asset, arc=arc, problem=None,
        by_index={s.index: s for s in p.bd.scenes},
    )

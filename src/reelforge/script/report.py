"""A self-contained HTML analysis report with hand-written inline SVG charts (no matplotlib, no JS).

Every piece of screenplay text goes through ``html.escape`` before it reaches the page.
"""

from __future__ import annotations

import html
import math

import networkx as nx

from .analysis import Analysis
from .breakdown import format_eighths, strip_color
from .model import Screenplay

__all__ = ["render_html_report"]

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _f(x: float) -> str:
    return f"{x:.1f}"


def _axes(w: int, h: int, m: dict[str, int], n: int, labels: list[str], title: str) -> list[str]:
    """Frame, zero line, y ticks at -1/0/1 and scene labels for a sentiment chart."""
    out = [f'<text x="{w / 2:.0f}" y="16" text-anchor="middle" class="t">{_e(title)}</text>']
    x0, x1, y0, y1 = m["l"], w - m["r"], m["t"], h - m["b"]
    out.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="none" stroke="#ccc"/>')
    for v in (-1.0, -0.5, 0.0, 0.5, 1.0):
        y = y0 + (1 - (v + 1) / 2) * (y1 - y0)
        dash = "" if v == 0 else ' stroke-dasharray="3,3"'
        out.append(f'<line x1="{x0}" x2="{x1}" y1="{_f(y)}" y2="{_f(y)}" stroke="#bbb"{dash}/>')
        out.append(f'<text x="{x0 - 6}" y="{_f(y + 4)}" text-anchor="end" class="s">{v:+.1f}</text>')
    step = max(1, math.ceil(n / 30))
    for i in range(0, n, step):
        x = _sx(i, n, x0, x1)
        out.append(f'<text x="{_f(x)}" y="{y1 + 14}" text-anchor="middle" class="s">{_e(labels[i])}</text>')
    out.append(f'<text x="{(x0 + x1) / 2:.0f}" y="{h - 4}" text-anchor="middle" class="s">scene</text>')
    return out


def _sx(i: float, n: int, x0: float, x1: float) -> float:
    return x0 + (i / (n - 1) if n > 1 else 0.5) * (x1 - x0)


def _sy(v: float, y0: float, y1: float) -> float:
    return y0 + (1 - (max(-1.0, min(1.0, v)) + 1) / 2) * (y1 - y0)


def _arc_svg(a: Analysis) -> str:
    w, h = 820, 280
    m = {"l": 44, "r": 16, "t": 26, "b": 34}
    n = len(a.scene_sentiment)
    out = _axes(w, h, m, n, a.scene_numbers, "Sentiment arc (dots: scene mean, line: smoothed)")
    x0, x1, y0, y1 = m["l"], w - m["r"], m["t"], h - m["b"]
    for tp in a.turning_points:
        x = _sx(tp.scene_index, n, x0, x1)
        out.append(
            f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{y0}" y2="{y1}" stroke="#e6550d" stroke-width="2" '
            f'stroke-dasharray="5,3"><title>turning point: scene {_e(tp.scene_number)}</title></line>'
        )
    if n:
        pts = " ".join(f"{_f(_sx(i, n, x0, x1))},{_f(_sy(v, y0, y1))}" for i, v in enumerate(a.scene_arc))
        out.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="2.5"/>')
        for i, v in enumerate(a.scene_sentiment):
            out.append(
                f'<circle cx="{_f(_sx(i, n, x0, x1))}" cy="{_f(_sy(v, y0, y1))}" r="3.5" fill="#555">'
                f"<title>{_e(a.scene_headings[i])}: {v:+.2f}</title></circle>"
            )
    return _svg(w, h, out, "sentiment-arc")


def _top_characters(a: Analysis, k: int) -> list[str]:
    return [c.name for c in a.characters[:k]]


def _char_arcs_svg(a: Analysis) -> str:
    w, h = 820, 300
    m = {"l": 44, "r": 150, "t": 26, "b": 34}
    n = len(a.scene_sentiment)
    out = _axes(w, h, m, n, a.scene_numbers, "Character arcs (rolling mean over the scenes they speak in)")
    x0, x1, y0, y1 = m["l"], w - m["r"], m["t"], h - m["b"]
    for k, name in enumerate(_top_characters(a, len(PALETTE))):
        color = PALETTE[k % len(PALETTE)]
        arc = a.character_arcs.get(name, [])
        pts = [(_sx(p["scene_index"], n, x0, x1), _sy(p["smoothed"], y0, y1)) for p in arc]
        if len(pts) > 1:
            out.append(
                '<polyline points="'
                + " ".join(f"{_f(x)},{_f(y)}" for x, y in pts)
                + f'" fill="none" stroke="{color}" stroke-width="2"/>'
            )
        for x, y in pts:
            out.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3" fill="{color}"/>')
        ly = y0 + 14 + k * 18
        out.append(f'<rect x="{x1 + 12}" y="{ly - 9}" width="12" height="12" fill="{color}"/>')
        out.append(f'<text x="{x1 + 30}" y="{ly + 1}" class="s">{_e(name)}</text>')
    return _svg(w, h, out, "character-arcs")


def _network_svg(a: Analysis) -> str:
    w, h = 520, 420
    out = [
        f'<text x="{w / 2:.0f}" y="16" text-anchor="middle" class="t">Interaction network '
        "(node size: eigenvector centrality, edge width: shared scenes, red: conflict)</text>"
    ]
    names = list(a.centrality)
    if not names:
        return _svg(w, h, out, "network")
    g = nx.Graph()
    g.add_nodes_from(names)
    for e in a.edges:
        g.add_edge(e.a, e.b, weight=max(e.cooccurrence, 0.5))
    pos = nx.spring_layout(g, seed=7, weight="weight") if len(names) > 1 else {names[0]: (0.0, 0.0)}
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    span_x = (max(xs) - min(xs)) or 1.0
    span_y = (max(ys) - min(ys)) or 1.0

    def px(name: str) -> tuple[float, float]:
        x, y = pos[name]
        return 70 + (x - min(xs)) / span_x * (w - 140), 75 + (y - min(ys)) / span_y * (h - 120)

    conflict_pairs = {frozenset((c.a, c.b)) for c in a.conflicts}
    max_co = max((e.cooccurrence for e in a.edges), default=1) or 1
    for e in a.edges:
        (xa, ya), (xb, yb) = px(e.a), px(e.b)
        color = "#d62728" if frozenset((e.a, e.b)) in conflict_pairs else "#999"
        width = 1 + 5 * e.cooccurrence / max_co
        out.append(
            f'<line x1="{_f(xa)}" y1="{_f(ya)}" x2="{_f(xb)}" y2="{_f(yb)}" stroke="{color}" '
            f'stroke-width="{width:.1f}" stroke-opacity="0.8"><title>{_e(e.a)} - {_e(e.b)}: '
            f"{e.cooccurrence} scenes, {e.exchanges} exchanges</title></line>"
        )

    def size(name: str) -> float:
        c = a.centrality[name]
        v = c.get("eigenvector")
        if v is None:
            v = c.get("degree") or 0.0
        return 8 + 26 * float(v)

    for name in names:
        x, y = px(name)
        r = size(name)
        out.append(
            f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{r:.1f}" fill="#6baed6" stroke="#08519c">'
            f"<title>{_e(name)}</title></circle>"
        )
        out.append(f'<text x="{_f(x)}" y="{_f(y - r - 4)}" text-anchor="middle" class="s">{_e(name)}</text>')
    return _svg(w, h, out, "network")


def _bars_svg(a: Analysis) -> str:
    chars = a.characters[:20]
    bar_h, gap = 18, 6
    w = 520
    h = 40 + len(chars) * (bar_h + gap)
    out = [
        f'<text x="{w / 2:.0f}" y="16" text-anchor="middle" class="t">Lines (speech turns) per character</text>'
    ]
    top = max((c.lines for c in chars), default=1) or 1
    x0, x1 = 130, w - 50
    for k, c in enumerate(chars):
        y = 30 + k * (bar_h + gap)
        bw = (x1 - x0) * c.lines / top
        out.append(f'<text x="{x0 - 6}" y="{y + 13}" text-anchor="end" class="s">{_e(c.name)}</text>')
        out.append(
            f'<rect x="{x0}" y="{y}" width="{bw:.1f}" height="{bar_h}" fill="{PALETTE[k % len(PALETTE)]}"/>'
        )
        out.append(f'<text x="{x0 + bw + 4:.1f}" y="{y + 13}" class="s">{c.lines}</text>')
    return _svg(w, h, out, "lines-per-character")


def _svg(w: int, h: int, body: list[str], ident: str) -> str:
    return (
        f'<svg id="{ident}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img">' + "".join(body) + "</svg>"
    )


def _table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    """Rows are pre-escaped HTML cells."""
    head = "".join(f"<th>{_e(x)}</th>" for x in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{margin-bottom:2px} h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666} svg{background:#fff;border:1px solid #eee;margin:8px 8px 8px 0}
svg .t{font-size:13px;font-weight:600} svg .s{font-size:11px;fill:#333}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th{background:#f0f0f0;text-align:left;padding:5px} td{border-top:1px solid #e4e4e4;padding:5px;vertical-align:top}
.neg{color:#b2182b} .pos{color:#1a7837} .q{font-family:Courier New,monospace}
.flex{display:flex;flex-wrap:wrap}
"""


def _score(v: float) -> str:
    cls = "neg" if v < -0.05 else "pos" if v > 0.05 else ""
    return f'<span class="{cls}">{v:+.2f}</span>'


def render_html_report(analysis: Analysis, sp: Screenplay) -> str:
    """One HTML page: arcs, network, line counts, conflicts and turning points with their evidence."""
    a = analysis
    title = a.title or sp.title or "Untitled screenplay"
    bd = a.breakdown
    parts: list[str] = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)} - screenplay analysis</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<div class="meta">{len(a.scene_numbers)} scenes &middot; {_e(format_eighths(bd.total_eighths))} pages '
        f"&middot; {len(a.characters)} speaking characters &middot; sentiment: {_e(a.sentiment_model)} "
        f"&middot; smoothing: {_e(a.params.get('smoothing', ''))}</div>",
        "<h2>Sentiment</h2>",
        _arc_svg(a),
        _char_arcs_svg(a),
        "<h2>Characters</h2>",
        '<div class="flex">',
        _network_svg(a),
        _bars_svg(a),
        "</div>",
    ]
    rows = []
    for c in a.characters:
        cen = a.centrality.get(c.name, {})
        eig = cen.get("eigenvector")
        rows.append(
            [
                _e(c.name),
                str(c.lines),
                str(c.words),
                str(len(c.scenes)),
                _e(format_eighths(c.eighths)),
                f"{_e(a.scene_numbers[c.first_scene])} (line {c.first_line})",
                f"{_e(a.scene_numbers[c.last_scene])} (line {c.last_line})",
                f"{cen.get('degree', 0.0):.2f}",
                f"{cen.get('betweenness', 0.0):.2f}",
                f"{eig:.2f}" if eig is not None else "n/a",
                _score(c.sentiment),
            ]
        )
    parts.append(
        _table(
            [
                "Character",
                "Lines",
                "Words",
                "Scenes",
                "Pages present",
                "First (scene)",
                "Last (scene)",
                "Degree",
                "Betweenness",
                "Eigenvector",
                "Mean sentiment",
            ],
            rows,
        )
    )

    parts.append("<h2>Conflicts</h2>")
    if not a.conflicts:
        parts.append(
            "<p>No pair of characters has consistently hostile exchanges "
            f"(threshold {a.params.get('conflict_threshold')}, at least "
            f"{a.params.get('min_exchanges')} exchanges).</p>"
        )
    for c in a.conflicts:
        parts.append(
            f"<h3>{_e(c.a)} &harr; {_e(c.b)}: mean {_score(c.score)} over {c.exchanges} exchanges, "
            f"scenes {_e(', '.join(a.scene_numbers[i] for i in c.scenes))}</h3>"
        )
        ev_rows = []
        for ex in c.evidence:
            ev_rows.append(
                [
                    _e(a.scene_numbers[ex.scene_index]),
                    f'<b>{_e(ex.first.character)}</b> <span class="q">{_e(ex.first.text)}</span> '
                    f"(line {ex.first.line}) {_score(ex.first.compound)}",
                    f'<b>{_e(ex.reply.character)}</b> <span class="q">{_e(ex.reply.text)}</span> '
                    f"(line {ex.reply.line}) {_score(ex.reply.compound)}",
                    _score(ex.score),
                ]
            )
        parts.append(_table(["Scene", "Line", "Reply", "Exchange"], ev_rows))

    parts.append("<h2>Turning points</h2>")
    if not a.turning_points:
        parts.append(
            f"<p>No scene changes the smoothed sentiment by more than {a.params.get('min_turn_delta')}.</p>"
        )
    tp_rows = []
    for tp in a.turning_points:
        ev = "<br>".join(
            f"{'<b>' + _e(u.character) + '</b> ' if u.character else '<i>action</i> '}"
            f'<span class="q">{_e(u.text)}</span> (line {u.line}) {_score(u.compound)}'
            for u in tp.evidence
        )
        tp_rows.append(
            [
                _e(tp.scene_number),
                _e(tp.heading),
                _e(tp.direction),
                _score(tp.delta),
                f"{_score(tp.before)} &rarr; {_score(tp.after)}",
                ev,
            ]
        )
    if tp_rows:
        parts.append(
            _table(
                ["Scene", "Heading", "Direction", "Change", "Before \u2192 after", "Justifying lines"],
                tp_rows,
            )
        )

    parts.append("<h2>Scenes</h2>")
    sc_rows = []
    for s in bd.scenes:
        color = strip_color(s.int_ext, s.day_night)
        sc_rows.append(
            [
                f'<span style="background:{color};border:1px solid #999;padding:0 6px">{_e(s.number)}</span>',
                _e(s.heading),
                _e(s.pages),
                str(s.page),
                _e(", ".join(s.all_cast)),
                _score(a.scene_sentiment[s.index]) if s.index < len(a.scene_sentiment) else "",
            ]
        )
    parts.append(_table(["Scene", "Heading", "Pages", "Page", "Cast", "Sentiment"], sc_rows))
    parts.append("</body></html>\n")
    return "".join(parts)

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from reelforge.script.analysis import analyze
from reelforge.script.fountain import parse_fountain
from reelforge.script.io import load_sample
from reelforge.script.report import render_html_report


def _svgs(page: str) -> dict[str, ET.Element]:
    out = {}
    for m in re.finditer(r"<svg id=\"([a-z-]+)\".*?</svg>", page, flags=re.S):
        out[m.group(1)] = ET.fromstring(m.group(0))  # every chart is well-formed XML
    return out


def test_sample_report_has_all_charts_and_tables() -> None:
    sp = load_sample()
    a = analyze(sp)
    page = render_html_report(a, sp)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    svgs = _svgs(page)
    assert set(svgs) == {"sentiment-arc", "character-arcs", "network", "lines-per-character"}
    ns = "{http://www.w3.org/2000/svg}"
    arc = svgs["sentiment-arc"]
    assert len(arc.findall(f"{ns}circle")) == len(a.scene_sentiment)
    assert len(arc.findall(f"{ns}polyline")) == 1
    net = svgs["network"]
    circles = net.findall(f"{ns}circle")
    assert len(circles) == len(a.centrality)
    radius = {c.find(f"{ns}title").text: float(c.get("r")) for c in circles}
    assert max(radius, key=radius.get) == "MARGOT"  # node size follows centrality
    red = [ln for ln in net.findall(f"{ns}line") if ln.get("stroke") == "#d62728"]
    assert any(
        "DESMOND" in ln.find(f"{ns}title").text and "MARGOT" in ln.find(f"{ns}title").text for ln in red
    )
    bars = svgs["lines-per-character"].findall(f"{ns}rect")
    assert len(bars) == len(a.characters)
    widths = [float(b.get("width")) for b in bars]
    assert widths == sorted(widths, reverse=True)
    assert "Conflicts" in page and "Turning points" in page
    assert "vulture" in page  # the justifying lines are quoted
    assert "INT. PALLADIUM CINEMA - BASEMENT - NIGHT" in page


def test_report_escapes_screenplay_text() -> None:
    sp = parse_fountain(
        "Title: <img src=x onerror=alert(1)>\n\nINT. <B>LAB</B> - DAY\n\n"
        "@<script>EVIL</script>\nI hate you & your <i>tags</i>, liar.\n\n"
        "BOB\nYou are a disgusting cruel monster.\n\n"
        "@<script>EVIL</script>\nTerrible, awful, hateful man.\n\n"
        "BOB\nGet out, you vile liar.\n"
    )
    a = analyze(sp)
    assert a.conflicts  # hostile enough to be reported, with the raw text as evidence
    page = render_html_report(a, sp)
    assert "<script>" not in page and "<img" not in page and "<i>tags" not in page and "<B>LAB" not in page
    assert "&lt;script&gt;EVIL&lt;/script&gt;" in page
    assert "&amp; your &lt;i&gt;tags&lt;/i&gt;" in page
    _svgs(page)  # charts still parse with hostile names inside

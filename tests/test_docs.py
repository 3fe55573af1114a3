"""The documentation: its runnable examples run, and the site builds with no warning and renders.

Runnable examples: a fenced ``bash`` or ``python`` block in ``docs/**/*.md`` directly under the line
``<!-- runnable -->`` is run, the blocks of one page in order in one fresh folder: bash with
``-euo pipefail``, the venv's ``bin`` first on PATH, no ``REELFORGE_HOME``/``REELFORGE_SERVER``/
``REELFORGE_TOKEN``, ``HOME`` a fresh folder and ``COLUMNS=200``; python with the venv's python. The
working directory a bash block ends in is where the next block starts, so a page reads like a shell
session (``reelforge init studio && cd studio`` in one block, ``reelforge ls`` in the next). A block
that needs a Debian tool says so, ``<!-- runnable needs: espeak-ng -->``: its page is skipped where
the tool is missing (a failure where the matching ``REELFORGE_REQUIRE_*`` is 1, as in CI).

The site: ``scripts/gen_reference.py`` and ``mkdocs build --strict`` on a copy of ``docs/`` (what
``scripts/docs.sh --strict`` runs), then Chromium opens the built getting-started page from a
loopback server: dark scheme, nothing fetched from anywhere else, offline search answering; a
1440×900 screenshot goes to ``$REELFORGE_UI_ARTIFACTS`` (default ``build/ui-screenshots``).
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MARKER = re.compile(r"^<!--\s*runnable(?:\s+needs:\s*(?P<needs>[\w.+ ,-]+?))?\s*-->$")
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
LANGS = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}
# A missing tool fails instead of skipping where its switch is 1 (CI sets them).
REQUIRE = {"espeak-ng": "REELFORGE_REQUIRE_ESPEAK", "chromium": "REELFORGE_REQUIRE_BROWSER"}
BLOCK_TIMEOUT = 600
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1440, "height": 900}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str  # bash | python
    code: str
    needs: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def runnable_blocks(page: Path) -> list[Block]:
    """The runnable blocks of a page, in order. A marker not directly over a bash or python fence is
    an error, so a typo cannot silently turn an example off."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i].strip())
        if not m:
            i += 1
            continue
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        opening = lines[i + 1] if i + 1 < len(lines) else ""
        f = FENCE.match(opening[len(indent):]) if opening.startswith(indent) else None
        if not f:
            raise ValueError(f"{page}:{i + 1}: <!-- runnable --> must be directly followed by a fenced code block")
        lang = LANGS.get(f["lang"].lower())
        if lang is None:
            raise ValueError(f"{page}:{i + 2}: runnable blocks are bash or python, not {f['lang']!r}")
        body: list[str] = []
        j = i + 2
        while j < len(lines) and not lines[j][len(indent):].startswith(f["fence"]):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        if j == len(lines):
            raise ValueError(f"{page}:{i + 2}: the runnable block is never closed")
        needs = tuple(t for t in re.split(r"[\s,]+", m["needs"] or "") if t)
        blocks.append(Block(page, i + 2, lang, "\n".join(body) + "\n", needs))
        i = j + 1
    return blocks


def pages_with_examples(root: Path = DOCS) -> list[Path]:
    return sorted(p for p in root.rglob("*.md") if "<!-- runnable" in p.read_text(encoding="utf-8"))


def example_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("REELFORGE_HOME", "REELFORGE_SERVER", "REELFORGE_TOKEN", "PYTEST_CURRENT_TEST")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", COLUMNS="200",
               HOME=str(home), NO_COLOR="1", PYTHONUNBUFFERED="1")
    return env


# Runs a block in the folder the previous one ended in, then notes where this one ended.
_BASH_WRAPPER = 'set -euo pipefail\ncd "$1"\n. "$2"\npwd > "$3"\n'


def run_blocks(blocks: list[Block], work: Path) -> None:
    """Run the blocks in order in ``work``; the first that exits non-zero fails with its output."""
    work.mkdir(parents=True, exist_ok=True)
    home = work.parent / (work.name + "-home")
    home.mkdir(exist_ok=True)
    state = work.parent / (work.name + "-cwd")
    state.write_text(str(work))
    env = example_env(home)
    for n, block in enumerate(blocks):
        cwd = Path(state.read_text().strip())
        script = work.parent / f"{work.name}-block{n}.{'sh' if block.lang == 'bash' else 'py'}"
        script.write_text(block.code, encoding="utf-8")
        if block.lang == "bash":
            wrapper = work.parent / f"{work.name}-wrapper.sh"
            wrapper.write_text(_BASH_WRAPPER)
            cmd = ["bash", str(wrapper), str(cwd), str(script), str(state)]
        else:
            cmd = [sys.executable, str(script)]
        try:
            r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{block.where}: the {block.lang} block ran past {BLOCK_TIMEOUT} s")
        if r.returncode != 0:
            pytest.fail(f"{block.where}: the {block.lang} block exited {r.returncode}\n--- block:\n{block.code}"
                        f"--- stdout:\n{r.stdout[-3000:]}\n--- stderr:\n{r.stderr[-3000:]}", pytrace=False)


def check_tools(blocks: list[Block]) -> None:
    for tool in sorted({t for b in blocks for t in b.needs}):
        if shutil.which(tool) is None:
            reason = f"an example needs {tool}, which is not installed (apt-get install -y {tool})"
            switch = REQUIRE.get(tool)
            if switch and os.environ.get(switch) == "1":
                pytest.fail(reason)
            pytest.skip(reason)


# ---- the examples -------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", pages_with_examples(), ids=lambda p: str(p.relative_to(DOCS)))
def test_runnable_examples(page: Path, tmp_path: Path) -> None:
    blocks = runnable_blocks(page)
    check_tools(blocks)
    run_blocks(blocks, tmp_path / "work")


def test_harness_runs_a_page_like_a_shell_session(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n<!-- runnable -->\n```bash\nreelforge init studio && cd studio\necho one > note.txt\n```\n\n"
        "Text between.\n\n!!! note\n    <!-- runnable -->\n    ```python\n    import os, pathlib\n"
        "    assert pathlib.Path('note.txt').read_text() == 'one\\n', os.getcwd()\n"
        "    assert 'REELFORGE_HOME' not in os.environ\n    ```\n\n"
        "```bash\nexit 1  # not marked: never run\n```\n\n<!-- runnable -->\n~~~bash\ntest -f reelforge.toml\n"
        "test \"$COLUMNS\" = 200\nreelforge ls\n~~~\n", encoding="utf-8")
    blocks = runnable_blocks(page)
    assert [(b.lang, b.line) for b in blocks] == [("bash", 4), ("python", 13), ("bash", 24)]
    run_blocks(blocks, tmp_path / "work")  # the cwd carried from block 1 (studio/) to blocks 2 and 3
    assert (tmp_path / "work" / "studio" / "note.txt").exists()


def test_harness_fails_on_a_failing_block(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- runnable -->\n```bash\ntrue\n```\n\n<!-- runnable -->\n```bash\nfalse | cat\necho unreached\n```\n",
                    encoding="utf-8")
    with pytest.raises(pytest.fail.Exception, match=r"page\.md:7: the bash block exited 1"):
        run_blocks(runnable_blocks(page), tmp_path / "work")  # pipefail: the false in the pipe counts


def test_harness_refuses_a_marker_without_a_block(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- runnable -->\n\n```bash\ntrue\n```\n", encoding="utf-8")
    with pytest.raises(ValueError, match="directly followed"):
        runnable_blocks(page)
    page.write_text("<!-- runnable -->\n```yaml\na: 1\n```\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bash or python"):
        runnable_blocks(page)
    page.write_text("<!-- runnable needs: no-such-tool-here -->\n```bash\nno-such-tool-here\n```\n", encoding="utf-8")
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-here"):
        check_tools(runnable_blocks(page))


# ---- the site ---------------------------------------------------------------------------------------------

def build_site(docs: Path, out: Path, *, generate: bool = True) -> subprocess.CompletedProcess[str]:
    """What ``scripts/docs.sh --strict`` runs after its install step, on a copy of ``docs`` in
    ``out/docs``: the reference generated into it, then ``mkdocs build --strict`` through a config that
    inherits the repository's ``mkdocs.yml`` (same nav, theme and link checks) into ``out/site``."""
    copy = out / "docs"
    shutil.copytree(docs, copy, ignore=None if not generate else shutil.ignore_patterns("reference"))
    if generate:
        gen = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_reference.py"), "--out", str(copy / "reference")],
                             capture_output=True, text=True, timeout=300)
        if gen.returncode != 0:
            return gen
    config = out / "mkdocs.yml"
    config.write_text(f"INHERIT: {ROOT / 'mkdocs.yml'}\ndocs_dir: {copy}\nsite_dir: {out / 'site'}\n", encoding="utf-8")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config)],
                          capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("material", reason="the docs extra: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    r = build_site(DOCS, out)
    assert r.returncode == 0, f"the site does not build with --strict:\n{r.stdout[-4000:]}\n{r.stderr[-6000:]}"
    return out


@pytest.fixture(scope="module")
def site(built: Path) -> Path:
    return built / "site"


def test_site_builds_strict_with_the_reference(site: Path) -> None:
    from reelforge.compute.registry import all_tasks

    assert (site / "getting-started.html").exists() and (site / "reference" / "api.html").exists()
    # Every product task is documented on its group's page, parameters and all. Tasks the test suite
    # registers itself (tests.* modules, loaded by other test files in this process) are fixtures.
    for spec in (t for t in all_tasks() if not t.fn.__module__.startswith("tests.")):
        html = (site / "reference" / "tasks" / f"{spec.name.split('.')[0]}.html").read_text(encoding="utf-8")
        assert f'id="{re.sub(r"[^a-z0-9]+", "-", spec.name)}"' in html
        for f in spec.param_fields():
            assert f"<code>{f.flag}" in html, (spec.name, f.flag)
    cli = (site / "reference" / "cli.html").read_text(encoding="utf-8")
    for command in ("reelforge add", "reelforge run", "reelforge dataset create", "reelforge serve"):
        assert f'id="{command.replace(" ", "-")}"' in cli
    config = (site / "reference" / "configuration.html").read_text(encoding="utf-8")
    assert "REELFORGE_LIMIT_MAX_PIXELS" in config and "REELFORGE_SERVER_TRUSTED_PROXIES" in config
    # Offline: no page loads a script, style sheet, font or image from another host.
    remote = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)=["']?(?:https?:)?//""", re.I)
    for html in site.rglob("*.html"):
        assert not remote.search(html.read_text(encoding="utf-8")), f"{html} loads something from another host"


def test_strict_build_fails_on_a_broken_link(built: Path, tmp_path: Path) -> None:
    """The check above means something: the same build, one page given a dead link, fails."""
    docs = tmp_path / "src"
    shutil.copytree(built / "docs", docs)  # with the reference generated above
    with (docs / "security.md").open("a", encoding="utf-8") as fh:
        fh.write("\nSee [the old page](no-such-page.md).\n")
    r = build_site(docs, tmp_path / "out", generate=False)
    assert r.returncode != 0 and "no-such-page.md" in r.stdout + r.stderr


@pytest.fixture()
def served(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_getting_started_renders_offline(served: str) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        reason = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("REELFORGE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api")
    artifacts = Path(os.environ.get("REELFORGE_UI_ARTIFACTS", ROOT / "build" / "ui-screenshots"))
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{served}/getting-started.html", wait_until="load")
            page.wait_for_load_state("networkidle")
            assert page.locator("article h1").first.is_visible()
            # Dark by default, with the toggle to the light scheme.
            assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") == "slate"
            assert page.locator("label[title='Switch to the light theme']").count() >= 1
            page.screenshot(path=str(artifacts / "90-docs-getting-started.png"))
            # The search index is bundled: a query answers with no server behind it.
            page.locator("input.md-search__input").click()
            page.keyboard.type("lineage", delay=30)  # key by key, as a person types (fill() raced the index)
            page.locator(".md-search-result__item").first.wait_for(timeout=15_000)
            assert errors == [], errors
            outside = [u for u in requests if not u.startswith((served, "data:", "blob:"))]
            assert outside == [], f"the offline site fetched from elsewhere: {outside}"
        finally:
            browser.close()

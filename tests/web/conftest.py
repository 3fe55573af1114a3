"""The web UI in a real browser: a live server (uvicorn in a thread) on a studio with accounts,
and Debian's Chromium driven by Playwright (never ``playwright install``).

Screenshots go to ``$REELFORGE_UI_ARTIFACTS`` (default ``build/ui-screenshots``) at 1440×900, so a
reviewer can look at every page. Every page the tests open is checked for console errors, images
without alt text and form controls without a label (``ui_checks``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reelforge.studio import Studio

pytest.importorskip("fastapi")  # the server extra: pip install -e ".[server]"
pytest.importorskip("uvicorn")
from tests.server.conftest import png_bytes

ARTIFACTS = Path(os.environ.get("REELFORGE_UI_ARTIFACTS", Path(__file__).resolve().parents[2] / "build" / "ui-screenshots"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1440, "height": 900}
PASSWORDS = {"ed": "ed-password-1", "vera": "vera-password-1", "root": "root-password-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    studio: Studio
    url: str
    server: Any
    thread: threading.Thread
    ids: dict[str, str] = field(default_factory=dict)


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        reason = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("REELFORGE_REQUIRE_BROWSER") == "1":  # CI: a missing browser is a failure
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def start_server(studio: Studio, *, workers: int = 0) -> LiveServer:
    import uvicorn

    from reelforge.server.app import create_app
    from reelforge.server.config import ServerConfig
    from reelforge.server.workers import EmbeddedWorkers

    config = ServerConfig.load(studio.settings, workers=workers, worker_mode="thread", access_log=False)
    pool = EmbeddedWorkers(studio, config.workers, config.worker_mode)
    app = create_app(studio, config, embedded_workers=pool.alive)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    pool.start()
    server._rf_pool = pool  # type: ignore[attr-defined]
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    # localhost, not 127.0.0.1: Chromium keeps Secure cookies for http://localhost (a secure context).
    return LiveServer(studio, f"http://localhost:{port}", server, thread)


def stop_server(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=10)
    live.server._rf_pool.stop()


def seed_studio(studio: Studio, tmp: Path) -> dict[str, str]:
    """Two projects, an editor, a viewer and a studio admin, and a few images in alpha."""
    access = studio.access
    alpha = studio.projects.create("alpha", description="The seed project of the UI tests")
    studio.projects.create("beta")
    for name, pw in PASSWORDS.items():
        access.create_user(name, pw, admin=name == "root")
    access.grant("ed", "alpha", "editor")
    access.grant("vera", "alpha", "viewer")
    folder = tmp / "seed"
    folder.mkdir()
    for i in range(6):
        (folder / f"plate_{i:02d}.png").write_bytes(png_bytes((96, 64), seed=i))
    studio.ingest(sorted(folder.iterdir()), project="alpha", tags=["seed"])
    return {"alpha": alpha.id}


@contextlib.contextmanager
def serving(studio: Studio, *, workers: int = 0, **ids: str) -> Iterator[LiveServer]:
    """Serve ``studio`` for the block; afterwards stop the server and close the studio."""
    server = start_server(studio, workers=workers)
    server.ids.update(ids)
    try:
        yield server
    finally:
        stop_server(server)
        studio.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("web")
    studio = Studio.init(tmp / "studio")
    with serving(studio, workers=1, **seed_studio(studio, tmp)) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    pw_mod = pytest.importorskip("playwright.sync_api")
    path = _chromium()
    with pw_mod.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class UiChecks:
    """Collects console errors and page errors of a page; ``check()`` also looks for images
    without alt text and form controls without a label on the page as it is now."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def expected_error(self) -> None:
        """Forget what was logged so far: the test just provoked an error answer on purpose
        (a refused sign-in answers 401, and Chromium logs every non-2xx page load)."""
        self.errors.clear()

    def check(self) -> None:
        problems = self.page.evaluate("""() => {
          const out = [];
          for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) out.push('img without alt: ' + img.src);
          for (const c of document.querySelectorAll('input, select, textarea')) {
            if (c.type === 'hidden' || c.closest('[hidden]')) continue;
            const labelled = c.labels && c.labels.length || c.getAttribute('aria-label') || c.getAttribute('aria-labelledby') || c.title;
            if (!labelled) out.push('control without label: ' + (c.name || c.id || c.outerHTML.slice(0, 80)));
          }
          return out;
        }""")
        assert not problems, problems
        assert not self.errors, self.errors


def new_page(browser: Any, live: LiveServer, who: str | None = None, *, locale: str = "en-US") -> tuple[Any, Any, UiChecks]:
    """A fresh context (no shared cookies) and page, signed in as ``who`` when given."""
    context = browser.new_context(viewport=VIEWPORT, locale=locale, base_url=live.url)
    page = context.new_page()
    checks = UiChecks(page)
    if who:
        page.goto("/login")
        page.fill("#username", who)
        page.fill("#password", PASSWORDS[who])
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/login" not in u)
    return context, page, checks


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path

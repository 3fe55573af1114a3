"""The whole studio in one browser session, as the issue asks: sign in, upload a folder of images,
build a dataset, launch a short GAN training from the generated form, watch its progress bar and
loss plot move, sample the model, see the samples in the gallery, open a sample's provenance, run it
again, publish a board as an exhibition and open its share link in a fresh context with no session;
and a viewer is offered no launch and is refused a direct POST."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from reelforge.studio import Studio
from tests.web.conftest import (
    VIEWPORT,
    LiveServer,
    UiChecks,
    new_page,
    seed_studio,
    serving,
    shot,
)

# Small enough for seconds on two CPU cores, long enough to be watched running.
# Long enough to watch: on a quiet CI machine 80 steps of this tiny model finished between two polls.
TRAIN = {"steps": "400", "batch_size": "4", "base_channels": "8", "z_dim": "16", "sample_every": "100",
         "checkpoint_every": "1000", "threads": "1"}


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("flow")
    studio = Studio.init(tmp / "studio")
    with serving(studio, workers=1, **seed_studio(studio, tmp)) as server:
        yield server


def _tiles(folder: Path, n: int = 8) -> Path:
    """A folder of 32×32 tiles: a bright square on a plain ground, in different colours."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(11)
    for i in range(n):
        img = np.zeros((32, 32, 3), np.uint8)
        img[...] = rng.integers(20, 90, 3)
        y, x = rng.integers(2, 14, 2)
        img[y : y + 16, x : x + 16] = rng.integers(120, 255, 3)
        Image.fromarray(img).save(folder / f"tile_{i}.png")
    return folder


def _until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _job_page_done(page: Any, seconds: float = 180) -> None:
    page.wait_for_selector("#job-status .status-succeeded", timeout=seconds * 1000)


def test_the_studio_end_to_end(browser: Any, flow: LiveServer, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    studio = flow.studio
    context, page, checks = new_page(browser, flow, "ed")

    # 1. Upload a folder of images (drag-and-drop's folder picker twin).
    page.goto("/p/alpha/assets#upload")
    page.set_input_files("#folder-input", str(_tiles(tmp_path / "tiles")))
    page.wait_for_selector("#upload-results[data-finished=true]", timeout=60_000)
    assert page.locator("#upload-summary").inner_text().startswith("8 added")
    checks.check()
    shot(page, "50-flow-uploaded")
    tiles = [a for a in studio.assets.list(project="alpha") if a.name.startswith("tiles/")]
    assert len(tiles) == 8

    # 2. Build a dataset from a filter on those names, every item in train.
    page.goto("/p/alpha/datasets/new?name=tiles/*")
    page.fill("#ds-name", "tiles")
    page.fill("#sp-train", "1")
    page.fill("#sp-val", "0")
    page.fill("#sp-test", "0")
    page.click("#ds-submit")
    page.wait_for_url(re.compile(r".*/datasets/dsv_\w+$"))
    dsv = page.url.rsplit("/", 1)[1]
    assert studio.datasets.get(dsv).n_items == 8
    checks.check()

    # 3. Launch a short GAN training from the form generated from gan.train's schema.
    page.goto("/p/alpha/run/gan.train")
    page.select_option("#p-dataset", dsv)
    page.fill("#p-name", "tiles-gan")
    page.select_option("#p-resolution", "32")
    for name, value in TRAIN.items():
        page.fill(f"#p-{name}", value)
    page.fill("#run-seed", "5")
    checks.check()
    shot(page, "51-flow-launch")
    page.click("#launch button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/job_\w+$"))

    # 4. Watch it: the bar moves and the loss plot gains points while the job runs.
    bars: set[int] = set()
    points: set[int] = set()

    def moving() -> bool:
        bars.add(int(page.get_attribute("#job-progress", "aria-valuenow") or 0))
        points.add(int(page.evaluate("() => +(document.querySelector('canvas[data-metric=\"loss_g\"]')?.dataset.points || 0)")))
        return len({b for b in bars if 0 < b < 100}) >= 2 and len({p for p in points if p > 0}) >= 2

    _until(moving, 120, "the progress bar and the loss plot to move")
    shot(page, "52-flow-training")
    _job_page_done(page)
    model_link = page.locator("a[href^='/models/mdl_']").first
    model_link.wait_for()
    model_id = (model_link.get_attribute("href") or "").rsplit("/", 1)[1]
    checks.check()

    # 5. Sample the model from its page, through the launcher it links to.
    page.goto(f"/models/{model_id}")
    page.click("a[data-task='gan.sample']")
    page.wait_for_url(re.compile(r".*/run/gan\.sample\?model="))
    assert page.input_value("#p-model") == model_id
    page.fill("#p-n", "6")
    page.click("#launch button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/job_\w+$"))
    sample_job = page.url.rsplit("/", 1)[1]
    _job_page_done(page)

    # 6. The samples are in the gallery, with their provenance; "run again" prefills the launcher.
    page.goto("/p/alpha/gallery")
    made = [a.id for a in studio.browse.assets(flow.ids["alpha"], created_by_job=sample_job, limit=50).items
            if "contact-sheet" not in a.tags]
    assert len(made) == 6
    card = page.locator(f'.gen-card[data-asset-id="{made[0]}"]')
    expect(card).to_be_visible()
    card.locator(".gen-open").click()
    expect(page.locator("#prov-dialog")).to_be_visible()
    assert model_id in page.locator("#prov-params").inner_text()
    checks.check()
    shot(page, "53-flow-provenance")
    page.click("#prov-again")
    page.wait_for_url(re.compile(rf".*/run/gan\.sample\?from_job={sample_job}"))
    assert page.input_value("#p-model") == model_id and page.input_value("#p-n") == "6"
    before = len(studio.jobs.list())
    page.click("#launch button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/job_\w+$"))
    assert len(studio.jobs.list()) == before + 1

    # 7. A board of two samples, published; the share link opens with no session at all.
    page.goto("/p/alpha/gallery")
    for aid in made[:2]:
        page.locator(f'.gen-card[data-asset-id="{aid}"] .gen-open').hover()
        page.check(f'.gen-card[data-asset-id="{aid}"] .select')
    page.fill("#new-board-name", "Flow selects")
    page.click("#new-board button[type=submit]")
    page.wait_for_url("**/boards/brd_*")
    page.click("#publish-open")
    page.fill("#pub-title", "Tiles, an exhibition")
    page.click("#publish-form button[type=submit]")
    page.locator("#publish-result").wait_for(state="visible")
    url = page.input_value("#share-url")
    checks.check()
    context.close()

    visitor = browser.new_context(viewport=VIEWPORT, locale="en-US")
    v = visitor.new_page()
    vchecks = UiChecks(v)
    response = v.goto(url)
    assert response is not None and response.status == 200 and visitor.cookies() == []
    assert v.locator(".slide").count() == 2
    v.wait_for_function("() => document.querySelector('.slide:not([hidden]) img')?.naturalWidth > 0")
    assert "Tiles, an exhibition" in v.content()
    vchecks.check()
    shot(v, "54-flow-exhibition")
    visitor.close()


def test_a_viewer_cannot_launch(browser: Any, flow: LiveServer) -> None:
    context, page, checks = new_page(browser, flow, "vera")
    page.goto("/p/alpha/run")
    assert page.locator("a.launch, a[href*='/run/']").count() == 0
    page.goto("/p/alpha")
    assert page.locator("a[href$='/run']").filter(has_text="Run a task").count() == 0
    checks.check()
    before = len(flow.studio.jobs.list())
    status = page.evaluate("""async () => {
        const csrf = document.cookie.split('; ').find(c => c.startsWith('reelforge_csrf=')).split('=')[1];
        const r = await fetch('/api/v1/projects/alpha/jobs', {method: 'POST', headers: {
            'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify({task: 'system.ping'})});
        return r.status;
    }""")
    assert status in (403, 404)
    assert len(flow.studio.jobs.list()) == before
    context.close()

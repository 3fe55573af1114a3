"""The gallery, boards and exhibitions in Chromium, on real generated work: a tiny GAN trained a few
steps, then ``gan.sample`` and ``gan.walk`` run by the live server's worker.

Checked: the gallery shows outputs with their provenance and "run again" links; a board is made,
reordered by keyboard and by drag, trimmed and published; the share link works in a fresh browser
with no session (slideshow, captions, a looping muted video) until it is revoked; a generated PNG
dropped on the gallery shows its settings; a viewer is offered no change and the API refuses her.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from reelforge.studio import Studio
from tests.web.conftest import VIEWPORT, LiveServer, new_page, seed_studio, serving, shot

# Small and quick (about two seconds of training on one thread), yet past the first grey blur.
TINY = {"resolution": 32, "base_channels": 8, "batch_size": 8, "z_dim": 16, "threads": 1, "loss": "ns",
        "lr_g": 2e-3, "lr_d": 1e-3, "ema_decay": 0.0, "diffaug": ""}


def _plates(folder: Path, n: int = 24, size: int = 48) -> list[Path]:
    """Soft coloured discs on dark grounds: what a tiny GAN learns something of in a few seconds."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for i in range(n):
        ground = rng.uniform(0, 1, 3) * np.array([0.35, 0.25, 0.5])
        disc = rng.uniform(0.3, 1, 3)
        cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.35)
        alpha = np.clip(1 - np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / r, 0, 1)[..., None] ** 0.8
        img = ground * (1 - alpha) + disc * alpha + yy[..., None] * np.array([0.1, 0.05, 0.2])
        out.append(folder / f"p{i:02d}.png")
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(out[-1])
    return out


def _wait(studio: Studio, job_id: str, timeout: float = 120) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = studio.jobs.get(job_id)
        if job.finished:
            assert job.status == "succeeded", job.error
            return job
        time.sleep(0.1)
    raise AssertionError(f"{job_id} did not finish in {timeout}s")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The seeded studio plus generated work: a GAN trained inline for a few steps (two training
    grid), then a sample batch (6 images and a contact sheet) and a latent walk made by the
    server's own worker."""
    tmp = tmp_path_factory.mktemp("gallery")
    studio = Studio.init(tmp / "studio")
    ids = seed_studio(studio, tmp)
    studio.assets.add(_plates(tmp / "plates"), project="alpha", tags=["plates"])
    dv = studio.datasets.create("plates", project="alpha", kind="image", tags=["plates"], splits=(1, 0, 0))
    train = studio.jobs.submit("gan.train", {"dataset": dv.ref, "name": "nebula", "steps": 60, "sample_every": 30,
                                             "checkpoint_every": 100, **TINY}, project="alpha", seed=7).run()
    assert train.status == "succeeded", train.error
    with serving(studio, workers=1) as server:
        sample = studio.jobs.submit("gan.sample", {"model": "nebula", "n": 6}, project="alpha", seed=100)
        walk = studio.jobs.submit("gan.walk", {"model": "nebula", "fps": 8, "duration": 2, "size": 128, "gif": False},
                                  project="alpha", seed=3)
        sample_job, walk_job = _wait(studio, sample.id), _wait(studio, walk.id)
        server.ids.update(ids, sample_job=sample_job.id, walk_job=walk_job.id, video=walk_job.result["video"],
                          sheet=sample_job.result["contact_sheet"], model=train.result["model"])
        server.ids["samples"] = ",".join(sample_job.result["samples"])
        yield server


def _samples(live: LiveServer) -> list[str]:
    return live.ids["samples"].split(",")


def test_gallery_shows_generated_work_with_provenance(browser: Any, live: LiveServer) -> None:
    context, page, checks = new_page(browser, live, "ed")
    page.goto("/p/alpha/gallery")
    cards = page.locator(".gen-card")
    shown = set(cards.evaluate_all("els => els.map(e => e.dataset.assetId)"))
    # The samples and the walk; not the contact sheet, not the training grid, not the plates.
    assert shown == {*_samples(live), live.ids["video"]}
    assert page.locator(f'.gen-card[data-asset-id="{live.ids["video"]}"] .kind-badge').count() == 1
    first = page.locator(f'.gen-card[data-asset-id="{_samples(live)[2]}"]')
    first.locator(".gen-open").hover()
    hover = first.locator(".hover-prov")
    page.wait_for_function("el => getComputedStyle(el).opacity === '1'", arg=hover.element_handle())
    assert "nebula v1" in hover.inner_text() and "seed 102" in hover.inner_text()
    checks.check()
    shot(page, "40-gallery")

    first.locator(".gen-open").click()
    dialog = page.locator("#prov-dialog")
    dialog.wait_for(state="visible")
    kv = page.locator("#prov-kv").inner_text()
    assert "nebula@1" in kv and "102" in kv and "gan.sample" in kv and "plates@1" in kv and live.ids["sample_job"] in kv
    again = page.locator("#prov-again").get_attribute("href")
    assert again == f"/p/alpha/run/gan.sample?from_job={live.ids['sample_job']}"
    assert page.locator("#prov-vary").get_attribute("href") == again + "&seed=random"
    recreate = parse_qs(urlparse(page.locator("#prov-recreate").get_attribute("href")).query)
    assert recreate["seed"] == ["102"] and '"n":1' in recreate["params"][0]
    assert f'"model": "{live.ids["model"]}"' in page.locator("#prov-params").inner_text()
    page.wait_for_function("() => { const i = document.querySelector('#prov-media img'); return i && i.complete && i.naturalWidth > 0; }")
    checks.check()
    shot(page, "41-gallery-provenance")
    page.keyboard.press("ArrowRight")  # the next piece, without closing
    assert page.locator("#prov-name").inner_text() != ""
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    page.check("#f-sheets")  # the toggle shows the sheets and training grids too
    page.wait_for_url("**/gallery?*sheets=1*")
    shown = set(page.locator(".gen-card").evaluate_all("els => els.map(e => e.dataset.assetId)"))
    assert live.ids["sheet"] in shown and len(shown) == 10  # and two training grids
    checks.check()
    context.close()


def test_board_exhibition_and_revoke(browser: Any, live: LiveServer) -> None:
    studio = live.studio
    context, page, checks = new_page(browser, live, "ed")
    page.goto("/p/alpha/gallery")
    picks = [live.ids["video"], *_samples(live)[:3]]
    for aid in picks:
        page.locator(f'.gen-card[data-asset-id="{aid}"] .gen-open').hover()
        page.check(f'.gen-card[data-asset-id="{aid}"] .select')
    assert page.locator("#bulk-count").inner_text() == "4 selected"
    page.fill("#new-board-name", "Selects")
    page.click("#new-board button[type=submit]")
    page.wait_for_url("**/boards/brd_*")
    board_id = page.url.rsplit("/", 1)[1]
    order = lambda: studio.boards.get(board_id).asset_ids  # noqa: E731
    # The board keeps the gallery's order (newest first), whatever order the boxes were ticked in.
    assert set(order()) == set(picks)
    start = order()
    assert page.locator(".board-item").count() == 4

    # Keyboard: the first item one place later.
    page.locator(".board-item").first.locator("[data-move='1']").click()
    page.wait_for_function("() => document.querySelector('#order-status').textContent.includes('2')")
    _eventually(lambda: order() == [start[1], start[0], *start[2:]])
    # Drag: the last item to the front.
    before = order()
    page.drag_and_drop(".board-item:nth-child(4) .gen-open", ".board-item:nth-child(1) .gen-open",
                       target_position={"x": 5, "y": 50})
    _eventually(lambda: order() == [before[3], *before[:3]])
    assert page.locator(".board-item .pos").all_inner_texts() == ["1", "2", "3", "4"]
    # Remove one: three stay.
    gone = order()[1]
    page.locator(f'.board-item[data-asset-id="{gone}"] [data-remove]').click()
    _eventually(lambda: gone not in order() and len(order()) == 3)
    # the server answers before the page removes the card: wait for the page, not only the server
    page.wait_for_function("() => document.querySelectorAll('.board-item').length === 3")
    checks.check()
    shot(page, "42-board")

    page.click("#publish-open")
    page.fill("#pub-title", "Open studio")
    page.select_option("#pub-expiry", "30")
    page.click("#publish-form button[type=submit]")
    page.locator("#publish-result").wait_for(state="visible")
    url = page.input_value("#share-url")
    assert url.startswith(live.url + "/x/") and len(url.rsplit("/", 1)[1]) == 43
    checks.check()
    page.keyboard.press("Escape")
    page.wait_for_load_state()

    # A visitor: a fresh browser context, no session, no cookies at all.
    visitor = browser.new_context(viewport=VIEWPORT, locale="en-US")
    v = visitor.new_page()
    from tests.web.conftest import UiChecks

    vchecks = UiChecks(v)
    response = v.goto(url)
    assert response is not None and response.status == 200
    assert visitor.cookies() == []
    assert "alpha" not in v.content()
    assert v.locator(".mainnav, .whoami, #project-switcher").count() == 0
    slides = v.locator(".slide")
    assert slides.count() == 3 and v.locator("#ex-count").inner_text() == "01 / 03"
    # Walk to an image slide and hold it for the photograph.
    items = order()
    image_at = next(i for i, a in enumerate(items) if a != live.ids["video"])
    for _ in range(image_at):
        v.keyboard.press("ArrowRight")
    v.keyboard.press(" ")  # pause
    assert "paused" in (v.locator("#stage").get_attribute("class") or "")
    current = v.locator(".slide:not([hidden])")
    v.wait_for_function("() => { const i = document.querySelector('.slide:not([hidden]) img'); return i && i.complete && i.naturalWidth > 0; }")
    caption = current.locator(".caption").inner_text()
    assert "nebula v1" in caption.lower() or "NEBULA V1" in caption
    assert "seed" in caption.lower()
    v.mouse.move(700, 400)
    v.wait_for_timeout(900)  # the slide's fade-in
    vchecks.check()
    shot(v, "44-exhibition-public")
    # The walk: muted, looping, playing.
    video_at = items.index(live.ids["video"])
    v.keyboard.press("Home")
    for _ in range(video_at):
        v.keyboard.press("ArrowRight")
    video = v.locator(".slide:not([hidden]) video")
    assert video.count() == 1
    assert video.evaluate("el => el.muted && el.loop && el.autoplay")
    if video.evaluate("el => el.canPlayType('video/mp4; codecs=\"avc1.42E01E\"')"):
        v.wait_for_function("() => { const el = document.querySelector('.slide:not([hidden]) video'); return el.currentTime > 0.2 && !el.paused; }",
                            timeout=15000)
    v.keyboard.press(" ")  # play again: it advances by itself
    v.wait_for_function("n => document.querySelector('#ex-count').textContent !== n",
                        arg=v.locator("#ex-count").inner_text(), timeout=15000)
    vchecks.check()

    # The managers' list, then revoke.
    page.goto("/p/alpha/exhibitions")
    row = page.locator("tr[data-exhibition-id]").filter(has_text="Open studio")
    assert row.locator("[data-status-badge]").inner_text() == "live"
    checks.check()
    shot(page, "43-exhibitions")
    page.once("dialog", lambda d: d.accept())
    row.locator("[data-revoke]").click()
    page.wait_for_function("() => document.querySelector('[data-status-badge]').textContent === 'revoked'")
    response = v.goto(url)
    assert response is not None and response.status == 404
    assert "not available" in v.locator("h1").inner_text()
    item = v.request.get(f"{live.url}/x/{url.rsplit('/', 1)[1]}/items/{items[0]}")
    assert item.status == 404
    vchecks.expected_error()
    page.reload()
    assert page.locator("tr[data-status='revoked']").count() >= 1
    checks.check()
    visitor.close()
    context.close()


def test_a_dropped_png_loads_its_settings(browser: Any, live: LiveServer) -> None:
    context, page, checks = new_page(browser, live, "ed")
    page.goto("/p/alpha/gallery")
    target = _samples(live)[4]
    # The bytes of a generated PNG, dropped on the page as a file (a DataTransfer built in the page).
    page.evaluate("""async (id) => {
      const blob = await (await fetch(`/api/v1/assets/${id}/content`)).blob();
      const file = new File([blob], 'sample-0004.png', { type: 'image/png' });
      const dt = new DataTransfer();
      dt.items.add(file);
      for (const type of ['dragenter', 'dragover']) document.body.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
      document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }""", target)
    dialog = page.locator("#png-dialog")
    dialog.wait_for(state="visible")
    assert page.locator("#drop-overlay").is_hidden()
    assert "Verified" in page.locator("#png-status").inner_text()
    kv = page.locator("#png-kv").inner_text()
    assert "gan.sample" in kv and "100" in kv and "seed 104" in kv and live.ids["sample_job"] in kv
    again = urlparse(page.locator("#png-again").get_attribute("href"))
    assert again.path == "/p/alpha/run/gan.sample"
    q = parse_qs(again.query)
    assert q["seed"] == ["100"] and f'"model":"{live.ids["model"]}"' in q["params"][0].replace(" ", "")
    assert parse_qs(urlparse(page.locator("#png-recreate").get_attribute("href")).query)["seed"] == ["104"]
    page.wait_for_function("() => document.querySelector('#png-preview').complete")
    checks.check()
    shot(page, "45-png-settings")
    page.keyboard.press("Escape")

    # The file-picker way, with a PNG that carries nothing: said so, nothing to run.
    from tests.server.conftest import png_bytes

    page.set_input_files("#png-input", files=[{"name": "plain.png", "mimeType": "image/png", "buffer": png_bytes()}])
    dialog.wait_for(state="visible")
    assert "no reelforge settings" in page.locator("#png-status").inner_text()
    assert page.locator("#png-again").is_hidden()
    checks.check()
    context.close()


def test_a_viewer_is_offered_no_changes(browser: Any, live: LiveServer) -> None:
    studio = live.studio
    board = studio.boards.create("alpha", "Vera sees", asset_ids=_samples(live)[:2])
    studio.boards.publish(board.id, "Shown to vera")
    context, page, checks = new_page(browser, live, "vera")
    page.goto("/p/alpha/gallery")
    assert page.locator(".gen-card").count() == 7
    assert page.locator(".gen-card .select, #new-board, #bulkbar").count() == 0
    page.locator(".gen-open").first.click()
    page.locator("#prov-dialog").wait_for(state="visible")
    assert page.locator("#prov-again, #prov-vary, #prov-add").count() == 0
    checks.check()
    page.goto(f"/boards/{board.id}")
    assert page.locator(".board-item").count() == 2
    assert page.locator("#publish-open, [data-move], [data-remove], #board-delete").count() == 0
    assert page.locator(".board-item[draggable=true]").count() == 0
    checks.check()
    page.goto("/p/alpha/exhibitions")
    assert page.locator("tr[data-exhibition-id]").filter(has_text="Shown to vera").count() == 1
    assert page.locator("[data-revoke], [data-relink], #publish-form").count() == 0
    checks.check()
    status = page.evaluate("""async (id) => {
      const csrf = document.cookie.split('; ').find((c) => c.startsWith('reelforge_csrf=')).split('=')[1];
      const r = await fetch(`/api/v1/boards/${id}/exhibitions`, { method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': decodeURIComponent(csrf) },
        body: JSON.stringify({ title: 'mine now' }) });
      return r.status;
    }""", board.id)
    assert status in (403, 404)
    checks.expected_error()  # Chromium logs the refused request
    assert [e.title for e in studio.boards.exhibitions("alpha", board_id=board.id)] == ["Shown to vera"]
    context.close()


def _eventually(cond: Any, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    assert cond()

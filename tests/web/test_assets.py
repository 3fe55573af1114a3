"""The asset browser and the asset page: in Chromium (filters, multi-select and tagging, folder
upload with refused files, previews of every kind, the lineage graph, a viewer's read-only view),
and without a browser (the batch tag endpoint, the new listing filters, the page's 404s and bad
input, a project of 10,000 assets, the screenplay and lineage layouts)."""

from __future__ import annotations

import base64
import secrets
import time
import wave
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelforge.studio import Studio
from tests.server.conftest import auth, make_client, png_bytes
from tests.web.conftest import LiveServer, new_page, seed_studio, serving, shot

SCRIPT_SCENES = 36


def make_clip(path: Path, frames: int = 48, fps: int = 24, size: tuple[int, int] = (320, 180)) -> Path:
    """A tiny H.264 clip: a bright bar sweeping across a gradient (each frame differs)."""
    import av

    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=Fraction(fps), options={"preset": "ultrafast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            arr = np.empty((h, w, 3), dtype=np.uint8)
            arr[..., 0] = x[None, :] * 0.4
            arr[..., 1] = 40 + (np.arange(h, dtype=np.float32)[:, None] / h) * 80
            arr[..., 2] = 120
            bar = int(i * (w - 24) / max(1, frames - 1))
            arr[:, bar:bar + 24] = (240, 200, 90)
            frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def make_wav(path: Path, seconds: float = 2.0, rate: int = 16000) -> Path:
    """A tone whose loudness swells and falls (a waveform with a visible shape)."""
    t = np.arange(int(seconds * rate)) / rate
    env = 0.15 + 0.8 * np.abs(np.sin(np.pi * t / seconds * 3))
    rng = np.random.default_rng(0)
    sig = env * (0.7 * np.sin(2 * np.pi * 220 * t) + 0.3 * rng.standard_normal(t.size).clip(-1, 1))
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes((sig.clip(-1, 1) * 32000).astype(np.int16).tobytes())
    return path


def make_still(path: Path, hue: int, seed: int) -> Path:
    """A landscape still: a sky gradient, a sun and layered hills (something for the eye to judge)."""
    from PIL import Image

    w, h = 480, 270
    rng = np.random.default_rng(seed)
    palettes = [((18, 24, 60), (236, 120, 70)), ((10, 40, 70), (120, 200, 230)), ((40, 20, 50), (250, 190, 120)),
                ((5, 10, 20), (60, 80, 140))]
    top, bottom = (np.array(c, dtype=np.float32) for c in palettes[hue % len(palettes)])
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(top + (bottom - top) * y, (h, w, 3)).copy()
    yy, xx = np.mgrid[0:h, 0:w]
    sx, sy = rng.integers(80, w - 80), rng.integers(50, 120)
    sun = np.clip(1.4 - np.hypot(xx - sx, yy - sy) / 30, 0, 1)[..., None]
    img = img * (1 - sun) + np.array((255, 236, 200)) * sun
    for layer in range(3):
        ridge = h * (0.55 + 0.13 * layer) + 18 * np.sin(xx[0] / (60 + 25 * layer) + rng.uniform(0, 6)) \
            + 9 * np.sin(xx[0] / 17 + rng.uniform(0, 6))
        shade = np.array(top) * (0.7 - 0.2 * layer)
        img[yy >= ridge[None, :]] = shade
    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(path)
    return path


def fountain(scenes: int = SCRIPT_SCENES) -> str:
    out = ["Title: The Long Night\nCredit: written by\nAuthor: Mei Lin\nDraft date: 2026-03-01\nContact: studio@example.com\n\n",
           "FADE IN:\n\n"]
    for i in range(1, scenes + 1):
        out.append(f"INT. PROJECTION BOOTH - NIGHT #{i}#\n\n")
        out.append("The projector *hums*. Dust turns in the beam of light as MARA threads a reel, "
                   "checking each frame against the lamp before she lets it run.\n\n")
        out.append("MARA\n(under her breath)\nTwenty-four frames a second. Never one more, never one less.\n\n")
        out.append("JONAS (O.S.)\nYou say that every night, and every night the film **still** breaks at the same splice.\n\n")
        if i % 3 == 0:
            out.append("MARA\nThen tonight it won't.\n\nJONAS ^\nIt will.\n\n")
        out.append("CUT TO:\n\n")
    out.append("> THE END <\n")
    return "".join(out)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The UI tests' seed (ed, vera, six plates tagged seed) plus a video with its proxy, a WAV, a
    screenplay, a dataset of the plates and a contact sheet generated from it (with provenance)."""
    tmp = tmp_path_factory.mktemp("assets-web")
    studio = Studio.init(tmp / "studio")
    ids = seed_studio(studio, tmp)
    media = tmp / "media"
    (media / "clips").mkdir(parents=True)
    (media / "sound").mkdir()
    (media / "scripts").mkdir()
    (media / "stills").mkdir()
    for i, name in enumerate(("dawn_001", "harbour_002", "dusk_003", "night_004")):
        make_still(media / "stills" / f"{name}.png", i, seed=i)
    make_clip(media / "clips" / "shot_010.mp4")
    make_wav(media / "sound" / "room_tone.wav")
    (media / "scripts" / "long_night.fountain").write_text(fountain(), encoding="utf-8")
    report = studio.ingest([media], project="alpha", tags=["dailies"])
    for job_id in report.jobs:  # the video's proxy, made now rather than by the server's worker
        assert studio.jobs.handle(job_id).run().status.value == "succeeded"
    by_kind = {a.kind: a for a in report.added}
    dv = studio.datasets.create("plates", project="alpha", kind="image", tags=["seed"])
    sheet_job = studio.jobs.submit("media.contact_sheet", {"dataset": dv.id}, project="alpha").run()
    ids.update(video=by_kind["video"].id, audio=by_kind["audio"].id, script=by_kind["screenplay"].id,
               dsv=dv.id, sheet=sheet_job.result["contact_sheet"], sheet_job=sheet_job.id)
    ids["beta_asset"] = studio.assets.add([_write(tmp / "b.png", png_bytes(seed=77))], project="beta").added[0].id
    with serving(studio, **ids) as server:
        yield server


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _names(page: Any) -> list[str]:
    return page.locator("#asset-grid .ab-card").evaluate_all("cs => cs.map(c => c.dataset.name)")


def _filter(page: Any, **values: str) -> None:
    for field, value in values.items():
        selector = f"#f-{field}"
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    page.click("#filter-form button[type=submit]")
    page.wait_for_load_state()


def test_browse_filter_select_and_tag(browser: Any, world: LiveServer) -> None:
    from reelforge.web.pages import assets as pages

    context, page, checks = new_page(browser, world, "ed")
    page.goto("/p/alpha/assets")
    assert len(_names(page)) == 15  # 6 plates, 4 stills, a clip and its proxy, a WAV, a script, a sheet
    checks.check()

    _filter(page, kind="video")
    assert sorted(_names(page)) == ["clips/shot_010.mp4", "proxies/clips/shot_010.mp4"]
    assert "kind=video" in page.locator("#dataset-from-filter").get_attribute("href")
    _filter(page, kind="", generated="yes")
    assert sorted(_names(page)) == ["contact_sheets/plates_v1.png", "proxies/clips/shot_010.mp4"]
    _filter(page, generated="no", tag="seed", name="plate_0[0-2]*")
    assert sorted(_names(page)) == ["plate_00.png", "plate_01.png", "plate_02.png"]
    href = page.locator("#dataset-from-filter").get_attribute("href")
    assert href.startswith("/p/alpha/datasets/new?") and "tag=seed" in href and "name=plate_0" in href
    page.goto(f"/p/alpha/assets?dataset={world.ids['dsv']}&sort=name&order=asc")
    assert _names(page) == [f"plate_{i:02d}.png" for i in range(6)]
    page.goto("/p/alpha/assets?kind=image&sort=name&order=desc")

    # select: a click, a shift-click range, then the keyboard (Ctrl+A, Escape, arrows + space)
    boxes = page.locator("#asset-grid input.ab-select")
    boxes.nth(0).click()
    boxes.nth(3).click(modifiers=["Shift"])
    assert page.locator("#sel-count").inner_text() == "4 selected"
    boxes.nth(3).press("Control+a")
    assert page.locator("#asset-grid .ab-card.selected").count() == len(_names(page))
    boxes.nth(3).press("Escape")
    assert page.locator("#selection-bar").is_hidden()
    boxes.nth(0).focus()
    page.keyboard.press("Space")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    assert page.locator("#sel-count").inner_text() == "3 selected"
    chosen = page.locator("#asset-grid .ab-card.selected").evaluate_all("cs => cs.map(c => c.dataset.assetId)")
    assert len(chosen) == 3
    link = page.locator("#sel-dataset").get_attribute("href")
    assert link == f"/p/alpha/datasets/new?assets={','.join(chosen)}"
    assert page.evaluate("JSON.parse(sessionStorage.getItem('rf-selection'))") == chosen

    page.fill("#sel-tag", "approved")
    page.click("#sel-add-tag")
    page.wait_for_function("() => [...document.querySelectorAll('.ab-card.selected')].every(c => c.dataset.tags.includes('approved'))")
    studio = world.studio
    assert all("approved" in a.tags for a in studio.assets.get_many(chosen))
    others = [a for a in studio.assets.list(project="alpha") if a.id not in chosen]
    assert others and not any("approved" in a.tags for a in others)
    page.mouse.move(0, 0)
    shot(page, "10-assets-browser")
    page.click("#sel-remove-tag")
    page.wait_for_function("() => ![...document.querySelectorAll('.ab-card.selected')].some(c => c.dataset.tags.includes('approved'))")
    assert not any("approved" in a.tags for a in studio.assets.get_many(chosen))
    checks.check()

    # "load more" appends the next page of the cursor (pages of 6 here, instead of 100)
    saved = pages.PAGE_SIZE
    pages.PAGE_SIZE = 6
    try:
        page.goto("/p/alpha/assets?sort=name&order=asc")
        assert len(_names(page)) == 6
        page.click("#load-more")
        page.wait_for_function("() => document.querySelectorAll('#asset-grid .ab-card').length === 12")
        page.click("#load-more")
        page.wait_for_function("() => document.querySelectorAll('#asset-grid .ab-card').length === 15")
        assert page.locator("#load-more").count() == 0
        names = _names(page)
        assert names == sorted(names) and len(set(names)) == 15
    finally:
        pages.PAGE_SIZE = saved
    checks.check()
    context.close()


def test_upload_a_folder_with_refused_files(browser: Any, world: LiveServer, tmp_path: Path) -> None:
    studio = world.studio
    folder = tmp_path / "shots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.png").write_bytes(png_bytes((80, 60), seed=501))
    (folder / "b.png").write_bytes(png_bytes((80, 60), seed=502))
    (folder / "sub" / "c.png").write_bytes(png_bytes((80, 60), seed=503))
    (folder / "notes.png").write_text("this is a text file, not a picture\n")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + secrets.token_bytes(200))
    (folder / "plate_00_again.png").write_bytes(png_bytes((96, 64), seed=0))  # the bytes of plate_00.png
    before = len(studio.assets.list(project="alpha"))

    context, page, checks = new_page(browser, world, "ed")
    page.goto("/p/alpha/assets#upload")
    assert page.locator("#upload").is_visible()
    page.set_input_files("#folder-input", str(folder))
    page.wait_for_selector("#upload-results[data-finished=true]", timeout=60_000)
    rows = {r["name"]: r for r in page.locator("#upload-list li").evaluate_all(
        "ls => ls.map(l => ({name: l.dataset.name, cls: l.className, text: l.innerText}))")}
    assert set(rows) == {"shots/a.png", "shots/b.png", "shots/sub/c.png", "shots/notes.png", "shots/broken.jpg",
                         "shots/plate_00_again.png"}
    assert {n for n, r in rows.items() if "added" in r["cls"]} == {"shots/a.png", "shots/b.png", "shots/sub/c.png"}
    assert "duplicate" in rows["shots/plate_00_again.png"]["cls"]
    refused = page.locator("#upload-refused-list li").evaluate_all(
        "ls => ls.map(l => [l.dataset.name, l.textContent])")
    assert sorted(n for n, _ in refused) == ["shots/broken.jpg", "shots/notes.png"]
    for name, text in refused:
        reason = text.split(": ", 1)[1]
        assert len(reason) > 10 and "\n" not in reason, text  # the API's one-line reason
        assert "/uploads/" not in text and not reason.startswith(name), text  # no server path, no name twice
    assert page.locator("#upload-summary").inner_text() == "3 added · 1 already in the project · 2 refused"
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "11-assets-upload-results")
    checks.expected_error()  # Chromium logs the refused uploads' 4xx answers

    after = studio.assets.list(project="alpha")
    assert len(after) == before + 3  # refused files left nothing behind
    names = {a.name for a in after}
    assert {"shots/a.png", "shots/b.png", "shots/sub/c.png"} <= names
    assert not names & {"shots/notes.png", "shots/broken.jpg", "shots/plate_00_again.png"}

    # a file dropped on the page (a DataTransfer, as a drag from the desktop gives)
    data = base64.b64encode(png_bytes((40, 30), seed=504)).decode()
    page.evaluate("""(b64) => {
      const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], "dropped.png", {type: "image/png"}));
      for (const type of ["dragenter", "dragover", "drop"])
        document.querySelector("#asset-grid").dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
    }""", data)
    page.wait_for_function("() => document.querySelector('#upload-list li[data-name=\"dropped.png\"]')?.classList.contains('added')")
    assert studio.assets.get("dropped.png", project="alpha").kind == "image"
    checks.check()
    context.close()


def test_asset_pages_by_kind(browser: Any, world: LiveServer) -> None:
    ids = world.ids
    context, page, checks = new_page(browser, world, "ed")

    # a generated image: zoom, provenance, lineage back to the plates
    page.goto(f"/assets/{ids['sheet']}")
    stage = page.locator("#image-stage")
    page.wait_for_function("() => document.getElementById('image-view').complete")
    assert "fit" in stage.get_attribute("class")
    page.click("#image-view")
    assert stage.get_attribute("data-zoom") == "100"
    natural = page.evaluate("document.getElementById('image-view').naturalWidth")
    assert page.locator("#image-view").evaluate("i => i.getBoundingClientRect().width") == natural
    page.keyboard.press("z")
    assert stage.get_attribute("data-zoom") == "fit"
    assert page.locator("#prov-status").inner_text() == "Verified"
    prov = page.locator(".av-prov").inner_text()
    assert "media.contact_sheet" in prov and "plates@1" in prov
    hrefs = page.locator("a.lg-node").evaluate_all("ns => ns.map(n => n.getAttribute('href'))")
    assert f"/jobs/{ids['sheet_job']}" in hrefs and f"/datasets/{ids['dsv']}" in hrefs
    assert sum(h.startswith("/assets/") for h in hrefs) == 7  # the sheet and the six plates
    page.locator("a.lg-node").first.focus()
    assert page.evaluate("document.activeElement.classList.contains('lg-node')")
    for href in hrefs:
        if href.startswith("/assets/"):
            assert context.request.get(world.url + href).status == 200
    page.fill("#new-tag", "keeper")
    page.press("#new-tag", "Enter")
    page.wait_for_selector(".av-untag[data-tag=keeper]")
    assert "keeper" in world.studio.assets.get(ids["sheet"]).tags
    page.click(".av-untag[data-tag=keeper]")
    page.wait_for_selector(".av-untag[data-tag=keeper]", state="detached")
    assert world.studio.assets.get(ids["sheet"]).tags == ["contact-sheet"]
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "12-asset-image")
    checks.check()

    # a video: played from its proxy, stepped frame by frame
    page.goto(f"/assets/{ids['video']}")
    video = page.locator("#video-view")
    assert video.get_attribute("data-proxy") and video.get_attribute("src") == video.get_attribute("data-proxy")
    page.wait_for_function("() => document.getElementById('video-view').readyState >= 1", timeout=20_000)
    page.locator("body").press(".")
    page.locator("body").press(".")
    page.wait_for_function("() => document.getElementById('timecode').dataset.frame === '2'")
    assert page.locator("#timecode").inner_text() == "00:00:00:02"
    page.click("#frame-back")
    page.wait_for_function("() => document.getElementById('timecode').dataset.frame === '1'")
    assert "frame 2 of 48" in page.locator("#frame-no").inner_text()
    assert page.locator("#scrub").input_value() == "1"
    page.fill("#scrub", "30")  # the scrubber goes to a frame
    page.wait_for_function("() => document.getElementById('timecode').dataset.frame === '30'")
    assert page.locator("#timecode").inner_text() == "00:00:01:06"
    page.click("#frame-back")
    page.wait_for_function("() => document.getElementById('timecode').dataset.frame === '29'")
    page.wait_for_function("() => { const v = document.getElementById('video-view'); return v.readyState >= 3 && !v.seeking; }", timeout=20_000)
    page.wait_for_timeout(300)  # the player's own spinner fades out
    shot(page, "13-asset-video")
    page.click("#src-original")
    page.wait_for_function(f"() => document.getElementById('video-view').src.endsWith('{ids['video']}/content')")
    checks.check()

    # audio: a waveform decoded in the page, and a player
    page.goto(f"/assets/{ids['audio']}")
    page.wait_for_selector("#waveform[data-drawn=true]", timeout=20_000)
    lit = page.evaluate("""() => {
      const c = document.getElementById('waveform'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 150) n++; return n; }""")
    assert lit > 1000  # the wave's pixels, not an empty canvas
    shot(page, "14-asset-audio")
    checks.check()

    # a screenplay, set on pages ten at a time
    page.goto(f"/assets/{ids['script']}")
    assert page.locator(".sp-title-page").inner_text().startswith("THE LONG NIGHT")
    first = page.locator(".sp-page:not(.sp-title-page)").first
    assert first.locator(".t-scene_heading").first.inner_text().split("\n") == ["1", "INT. PROJECTION BOOTH - NIGHT", "1"]
    assert first.locator(".t-character").first.inner_text() == "MARA"
    assert first.locator(".t-parenthetical").first.inner_text() == "(under her breath)"
    assert first.locator(".t-transition").first.inner_text() == "CUT TO:"
    assert page.locator(".sp-dual").count() > 0
    assert page.locator(".sp-page:not(.sp-title-page)").count() == 10
    pos = page.locator(".sp-pos").inner_text()
    assert pos.startswith("Pages 1–10 of ") and f"{SCRIPT_SCENES} scenes" in pos
    # the dialogue column sits right of the action column, the cue further right still
    x = {k: page.locator(f".sp-page .t-{k}").first.evaluate("e => e.getBoundingClientRect().left + parseFloat(getComputedStyle(e).paddingLeft)")
         for k in ("action", "dialogue", "character")}
    assert x["action"] < x["dialogue"] < x["character"]
    page.evaluate("() => window.scrollTo(0, document.getElementById('page-1').offsetTop - 40)")
    shot(page, "15-asset-screenplay")
    page.click(".sp-toolbar a[rel=next]")
    page.wait_for_url("**sp=11**")
    assert page.locator(".sp-page").first.get_attribute("id") == "page-11"
    checks.check()
    context.close()


def test_a_viewer_browses_without_upload_or_tagging(browser: Any, world: LiveServer) -> None:
    context, page, checks = new_page(browser, world, "vera")
    page.goto("/p/alpha/assets")
    assert page.locator("#asset-grid .ab-card").count() >= 15
    for absent in ("#upload", "#upload-toggle", "input.ab-select", "#selection-bar", "#dataset-from-filter"):
        assert page.locator(absent).count() == 0, absent
    page.goto(f"/assets/{world.ids['sheet']}")
    assert page.locator("#tag-form").count() == 0 and page.locator(".av-untag").count() == 0
    assert page.locator("a.lg-node").count() >= 8 and page.locator("#download").count() == 1
    checks.check()
    response = page.goto(f"/assets/{world.ids['beta_asset']}")  # another project's asset: not found
    assert response is not None and response.status == 404
    checks.expected_error()
    context.close()


# -- without a browser ---------------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Studio, Any, dict[str, str], dict[str, str]]]:
    studio = Studio.init(tmp_path / "studio")
    studio.projects.create("alpha")
    studio.projects.create("beta")
    tokens = {}
    for who, role in (("ed", "editor"), ("vera", "viewer")):
        studio.access.create_user(who, f"{who}-password-1")
        studio.access.grant(who, "alpha", role)
        tokens[who] = studio.access.create_token(who, "t", scopes=["read", "write"])[1]
    src = tmp_path / "src"
    (src / "cats").mkdir(parents=True)
    for i in range(3):
        (src / "cats" / f"c{i}.png").write_bytes(png_bytes(seed=i))
    ids = {f"c{i}": a.id for i, a in enumerate(studio.assets.add([src], project="alpha", tags=["cat"]).added)}
    ids["beta"] = studio.assets.add([_write(tmp_path / "b.png", png_bytes(seed=50))], project="beta").added[0].id
    try:
        yield studio, make_client(studio), {k: auth(v) for k, v in tokens.items()}, ids
    finally:
        studio.close()


def test_batch_tags_all_or_nothing(served: tuple[Studio, Any, dict[str, str], dict[str, str]]) -> None:
    studio, client, h, ids = served
    url = "/api/v1/projects/alpha/assets/tags"
    two = [ids["c0"], ids["c1"]]
    r = client.post(url, headers=h["ed"], json={"asset_ids": two, "add": ["hero", "night"], "remove": ["cat"]})
    assert r.status_code == 200, r.text
    assert [a["tags"] for a in r.json()["items"]] == [["hero", "night"], ["hero", "night"]]
    assert studio.assets.get(ids["c2"]).tags == ["cat"]

    def unchanged() -> None:
        assert [studio.assets.get(i).tags for i in (ids["c0"], ids["c1"], ids["c2"])] == \
            [["hero", "night"], ["hero", "night"], ["cat"]]

    r = client.post(url, headers=h["ed"], json={"asset_ids": [ids["c2"], ids["beta"]], "add": ["x"]})
    assert r.status_code == 404 and ids["beta"] in r.json()["error"]["message"]  # another project's: absent here
    unchanged()
    r = client.post(url, headers=h["ed"], json={"asset_ids": [ids["c2"], "ast_nope"], "add": ["x"]})
    assert r.status_code == 404
    unchanged()
    assert client.post(url, headers=h["ed"], json={"asset_ids": [ids["c2"]], "add": ["a,b"]}).status_code == 400
    assert client.post(url, headers=h["ed"], json={"asset_ids": [ids["c2"]]}).status_code == 400
    assert client.post(url, headers=h["ed"], json={"asset_ids": []}).status_code == 400
    assert client.post(url, headers=h["vera"], json={"asset_ids": [ids["c2"]], "add": ["x"]}).status_code == 403
    assert client.post("/api/v1/projects/beta/assets/tags", headers=h["ed"],
                       json={"asset_ids": [ids["beta"]], "add": ["x"]}).status_code == 404
    unchanged()


def test_listing_filters_over_the_api(served: tuple[Studio, Any, dict[str, str], dict[str, str]]) -> None:
    studio, client, h, ids = served
    dv = studio.datasets.create("two", project="alpha", assets=[ids["c0"], ids["c1"]])
    sheet = studio.jobs.submit("media.contact_sheet", {"assets": [ids["c2"]]}, project="alpha").run()
    made = sheet.result["contact_sheet"]
    url = "/api/v1/projects/alpha/assets"

    def listed(**params: Any) -> set[str]:
        r = client.get(url, headers=h["vera"], params=params)
        assert r.status_code == 200, r.text
        return {a["id"] for a in r.json()["items"]}

    assert listed(generated="true") == {made}
    assert listed(generated="false") == {ids["c0"], ids["c1"], ids["c2"]}
    assert listed(dataset=dv.id) == {ids["c0"], ids["c1"]}
    assert listed(dataset=f"{dv.dataset_id}@1", tag="cat") == {ids["c0"], ids["c1"]}
    assert listed(derived_from=ids["c2"]) == {made}
    assert listed(derived_from=ids["c0"]) == set()
    assert client.get(url, headers=h["vera"], params={"dataset": "dsv_01m8qrez660vwzggxg6x97ywnh"}).status_code == 404
    assert client.get(url, headers=h["vera"], params={"generated": "maybe"}).status_code == 400


def test_pages_answer_404_and_bad_input_in_the_page(served: tuple[Studio, Any, dict[str, str], dict[str, str]]) -> None:
    studio, client, h, ids = served
    r = client.get(f"/assets/{ids['beta']}", headers=h["ed"])
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert client.get("/assets/ast_nope", headers=h["ed"]).status_code == 404
    assert client.get(f"/assets/{ids['c0']}", headers=h["vera"]).status_code == 200
    r = client.get(f"/assets/{ids['c0']}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get("/p/beta/assets", headers=h["ed"]).status_code == 404
    for query, message in (("sort=bogus", "Sort by name, date or size."), ("cursor=zzz", "invalid cursor"),
                           ("kind=hologram", "Unknown kind hologram."), ("dataset=dsv_x", "no dataset")):
        r = client.get(f"/p/alpha/assets?{query}", headers=h["ed"])
        assert r.status_code == 200 and 'id="browse-error"' in r.text and message in r.text, query
        assert r.text.count('class="card asset-card') == 0
    # a refused upload leaves the project as it was
    before = len(studio.assets.list(project="alpha"))
    r = client.post("/api/v1/projects/alpha/assets", headers=h["ed"],
                    files={"file": ("fake.png", b"plain text, not a picture", "image/png")})
    assert r.status_code in (415, 422) and r.json()["error"]["message"]
    assert len(studio.assets.list(project="alpha")) == before


def test_ten_thousand_assets_are_browsed_a_page_at_a_time(served: tuple[Studio, Any, dict[str, str], dict[str, str]],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import insert

    from reelforge.catalog import browse
    from reelforge.db.models import AssetRow
    from reelforge.ids import new_id

    studio, client, h, _ = served
    proj = studio.projects.get("alpha")
    now = time.time()
    rows = [dict(id=new_id("ast"), project_id=proj.id, name=f"plates/frame_{i:05d}.png", kind="image", format="png",
                 mime="image/png", sha256=secrets.token_hex(32), size=1000 + i, info={"width": 8, "height": 8},
                 meta={}, thumb_sha256=None, source="bench", created_at=now + i * 1e-3, created_by_job=None)
            for i in range(10_000)]
    with studio.engine.begin() as conn:
        for i in range(0, len(rows), 2000):
            conn.execute(insert(AssetRow), rows[i:i + 2000])
    loaded: list[int] = []
    real = browse.load_assets
    monkeypatch.setattr(browse, "load_assets", lambda s, rs: _count(real, loaded, s, rs))
    r = client.get("/p/alpha/assets", headers=h["ed"])
    assert r.status_code == 200
    assert r.text.count('class="card asset-card') == 100
    assert loaded == [100]  # one page of rows read, not the project
    next_url = r.text.split('id="load-more" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    deep = client.get(next_url + "&partial=1", headers=h["ed"])
    assert deep.text.count('class="card asset-card') == 100 and 'data-next-url="/p/alpha/assets?' in deep.text


def _count(real: Any, loaded: list[int], s: Any, rows: Any) -> Any:
    rows = list(rows)
    loaded.append(len(rows))
    return real(s, rows)


def test_screenplay_pages_and_lineage_layout() -> None:
    from reelforge.script.formats import parse_any
    from reelforge.web.pages.assets_layout import (
        LINES_PER_PAGE,
        layout_lineage,
        layout_screenplay,
        wrap_spans,
    )

    text = "one two three four five six seven eight nine ten"
    assert [text[a:b] for a, b in wrap_spans(text, 14)] == ["one two three", "four five six", "seven eight", "nine ten"]
    assert [s[a:b] for s in ["我们是中国人民的朋友"] for a, b in wrap_spans(s, 8)] == ["我们是中", "国人民的", "朋友"]
    long_speech = "MARA\n" + " ".join(["Every frame counts, every single one."] * 60) + "\n"
    sp = parse_any("INT. BOOTH - NIGHT\n\n" + "The lamp hums.\n\n" * 15 + long_speech + "\nCUT TO:\n", "x.fountain")
    lay = layout_screenplay(sp)
    assert lay.n_pages >= 3 and all(len(p.rows) <= LINES_PER_PAGE for p in lay.pages)
    kinds = [[r.kind for r in p.rows] for p in lay.pages]
    assert kinds[0][-1] == "more" and str(lay.pages[1].rows[0].html) == "MARA (CONT&#39;D)"
    assert lay.scenes == [{"heading": "INT. BOOTH - NIGHT", "number": "1", "anchor": "scene-1", "page": 1}]

    graph = {"root": "ast_c", "nodes": {
        "ast_c": {"kind": "asset", "label": "c.png", "detail": {"kind": "image"}, "parents": ["job_1"]},
        "job_1": {"kind": "job", "label": "t.x", "detail": {"status": "succeeded"}, "parents": ["dsv_1", "ast_a"]},
        "dsv_1": {"kind": "dataset", "label": "d@1", "detail": {"items": 40, "shown_members": 1}, "parents": ["ast_a"]},
        "ast_a": {"kind": "asset", "label": "a.png", "detail": {"kind": "image"}, "parents": []},
    }}
    g = layout_lineage(graph)
    x = {n["id"]: n["x"] for n in g["nodes"]}
    assert x["ast_a"] < x["dsv_1"] < x["job_1"] < x["ast_c"]  # everything left of what it made
    assert len(g["edges"]) == 4 and g["hidden_members"] == {"d@1": 39}
    assert {n["id"]: n["href"] for n in g["nodes"]}["dsv_1"] == "/datasets/dsv_1"

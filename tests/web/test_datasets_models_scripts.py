"""Datasets, models and screenplays in the web UI.

In Chromium: build a dataset version from the asset browser's selection (labels from tags, split
ratios, seed), refuse a bad split, build a second version from a filter and open the diff; a model
trained here (a tiny GAN, a few steps on CPU) with its curves, sample strip and launcher links; a
screenplay's report, stripboard and search; and what a viewer is not offered. Without a browser:
the dataset diff service, labels from tags, the API's refusals and the pages' guards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import save

from reelforge.catalog.search import SEARCH_INDEX_MODEL
from reelforge.errors import InvalidInput, NotFound
from reelforge.studio import Studio
from tests.web.conftest import LiveServer, new_page, seed_studio, serving, shot

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "reelforge" / "samples" / "the_last_reel.fountain"
TINY_GAN = {"resolution": 32, "base_channels": 8, "batch_size": 8, "z_dim": 16, "threads": 1}
# Production strip colours: INT day white, EXT day yellow, INT night blue, EXT night green.
STRIP_RGB = {("INT", "DAY"): "rgb(244, 243, 238)", ("EXT", "DAY"): "rgb(255, 241, 118)",
             ("INT", "NIGHT"): "rgb(144, 202, 249)", ("EXT", "NIGHT"): "rgb(165, 214, 167)"}


def _crops(image: np.ndarray, folder: Path, stem: str, n: int, size: int = 96, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        y, x = rng.integers(0, image.shape[0] - size), rng.integers(0, image.shape[1] - size)
        path = folder / f"{stem}_{i:02d}.png"
        Image.fromarray(image[y : y + size, x : x + size]).save(path)
        out.append(path)
    return out


def _stills(studio: Studio, tmp: Path) -> dict[str, list[str]]:
    """Stills of two classes, tagged ``plate`` and ``class:cat`` / ``class:coffee``."""
    from skimage import data

    ids: dict[str, list[str]] = {}
    for label, image in (("cat", data.chelsea()), ("coffee", data.coffee())):
        paths = _crops(image, tmp / "stills" / label, label, 6, seed=len(label))
        report = studio.ingest(paths, project="alpha", tags=["plate", f"class:{label}"])
        ids[label] = [a.id for a in report.added]
    return ids


def _trained_gan(studio: Studio, tmp: Path) -> str:
    from skimage import data

    paths = _crops(data.hubble_deep_field(), tmp / "nebula", "field", 16, size=48, seed=3)
    studio.ingest(paths, project="alpha", tags=["nebula"])
    dv = studio.datasets.create("nebula-plates", project="alpha", tags=["nebula"], splits=(1, 0, 0))
    job = studio.jobs.submit("gan.train", {"dataset": dv.id, "name": "nebula", "steps": 16, "sample_every": 4,
                                           "checkpoint_every": 100, **TINY_GAN}, project="alpha", seed=7).run()
    assert job.status == "succeeded", job.error
    return str(job.result["model"])


@pytest.fixture(scope="module")
def studio_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("dms")
    studio = Studio.init(tmp / "studio")
    ids = seed_studio(studio, tmp)
    stills = _stills(studio, tmp)
    model = _trained_gan(studio, tmp)
    screenplay = studio.ingest([SAMPLE], project="alpha").added[0]
    studio.ingest([SAMPLE.with_name("chinese_sample.txt")], project="alpha")  # a second, in Chinese
    analysis = studio.jobs.submit("script.analyze", {"screenplay": screenplay.id}, project="alpha").run()
    assert analysis.status == "succeeded", analysis.error
    with serving(studio, **ids, model=model, screenplay=screenplay.id) as server:
        server.ids.update({f"{k}{i}": v for k, vs in stills.items() for i, v in enumerate(vs)})
        yield server


def _wait_preview(page: Any, n: int) -> None:
    page.wait_for_function("n => document.getElementById('pv-count').textContent === String(n)", arg=n)
    page.wait_for_function("() => document.getElementById('pv-message').textContent !== 'Checking…'")


def _versions(studio: Studio, name: str) -> list[Any]:
    return [v for v in studio.datasets.list(studio.projects.get("alpha").id) if v.dataset_name == name]


def test_build_datasets_from_a_selection_and_a_filter_and_diff_them(browser: Any, studio_live: LiveServer) -> None:
    from playwright.sync_api import expect

    live, studio, ids = studio_live, studio_live.studio, studio_live.ids
    context, page, checks = new_page(browser, live, "ed")
    selection = [ids[f"cat{i}"] for i in range(4)] + [ids[f"coffee{i}"] for i in range(4)]
    page.goto("/p/alpha/datasets")
    # What the asset browser leaves behind when its selection goes to "Build dataset".
    page.evaluate("ids => sessionStorage.setItem('rf-selection', JSON.stringify(ids))", selection)
    page.goto("/p/alpha/datasets/new?from=selection")
    assert page.locator("#src-selection").is_checked()
    assert page.locator("#sel-summary").inner_text() == "8 assets selected"
    page.fill("#ds-name", "stills")
    page.check("#lab-tag")
    page.fill("#sp-train", "0.5")
    page.fill("#sp-val", "0.25")
    page.fill("#sp-test", "0.25")
    page.fill("#sp-seed", "3")
    _wait_preview(page, 8)
    expect(page.locator("#pv-labels [data-label=cat]")).to_have_text("cat · 4")  # once the last preview is in
    expect(page.locator("#pv-labels [data-label=coffee]")).to_have_text("coffee · 4")
    page.wait_for_function("() => [...document.querySelectorAll('#pv-thumbs img')].filter(i => i.complete && i.naturalWidth).length === 8")
    checks.check()
    page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
    shot(page, "31-dataset-new")

    # A bad split is refused in the page, and nothing is created.
    page.fill("#sp-val", "0.2")
    page.fill("#sp-test", "0.1")
    page.fill("#sp-train", "0.5")
    page.click("#ds-submit")
    error = page.locator("#ds-error")
    assert error.is_visible() and "must sum to 1" in error.inner_text() and "0.8" in error.inner_text()
    assert page.locator("#sp-sum").inner_text() == "0.8"
    assert not _versions(studio, "stills")
    page.fill("#sp-val", "0.25")
    page.fill("#sp-test", "0.25")
    assert not error.is_visible()
    page.click("#ds-submit")
    page.wait_for_url("**/datasets/dsv_*")
    v1 = _versions(studio, "stills")
    assert len(v1) == 1 and v1[0].n_items == 8
    assert v1[0].spec["explicit"] and v1[0].spec["seed"] == 3 and v1[0].spec["splits"] == [0.5, 0.25, 0.25]
    assert v1[0].spec["label_from"] == "tag:class:" and v1[0].counts["labels"] == {"cat": 4, "coffee": 4}
    assert page.locator("#n-items").inner_text() == "8"
    assert page.locator(".ds-item").count() == 8
    for s in ("train", "val", "test"):
        assert page.locator(f"[data-split-count={s}] .stat-n").inner_text() == str(v1[0].counts["splits"].get(s, 0))
    assert page.locator(".ds-item[data-label=cat]").count() == 4
    checks.check()
    shot(page, "32-dataset-version")

    # "New version" starts from the latest version's recipe: its selection, labels, splits and seed.
    page.click("text=New version")
    page.wait_for_url("**/datasets/new?dataset=stills")
    assert page.locator("#src-selection").is_checked() and page.locator("#sel-summary").inner_text() == "8 assets selected"
    assert page.locator("#lab-tag").is_checked() and page.locator("#sp-seed").input_value() == "3"
    assert [page.locator(f"#sp-{s}").input_value() for s in ("train", "val", "test")] == ["0.5", "0.25", "0.25"]
    _wait_preview(page, 8)

    # A second version from a filter: every still; one still relabelled by a tag change meanwhile.
    studio.assets.tag([ids["cat0"]], add=["class:kitten"], remove=["class:cat"])
    page.goto("/p/alpha/datasets/new?dataset=stills&tag=plate")
    assert page.locator("#src-filter").is_checked() and page.locator("#f-tags").input_value() == "plate"
    assert "Adds version 2" in page.locator("#ds-name-help").inner_text()
    assert page.locator("#lab-tag").is_checked()
    page.fill("#sp-seed", "11")
    _wait_preview(page, 12)
    page.click("#ds-submit")
    page.wait_for_url("**/datasets/dsv_*")
    v2 = _versions(studio, "stills")[0]
    assert v2.version == 2 and v2.n_items == 12 and not v2.spec["explicit"] and v2.spec["tags"] == ["plate"]
    page.click("#diff-prev")
    page.wait_for_url("**/diff?against=*")
    want = studio.datasets.diff(v2.id, v1[0].id)
    assert len(want.added) == 4 and not want.removed and len(want.relabelled) == 1
    for key in ("added", "removed", "relabelled", "moved"):
        assert page.locator(f"[data-count={key}]").inner_text() == str(len(getattr(want, key)))
    assert page.locator("[data-section=added] .ds-item").count() == 4
    assert page.locator("[data-section=relabelled] .ds-note").inner_text() == "cat → kitten"
    checks.check()
    shot(page, "33-dataset-diff")

    page.goto("/p/alpha/datasets")
    card = page.locator(".ds-card[data-dataset=stills]")
    assert card.locator("tbody tr").count() == 2 and card.locator(".ds-version").inner_text() == "v2"
    assert card.locator(f"tr[data-version='{v1[0].id}']").inner_text().count("ed") >= 1  # created by
    assert page.locator("#new-dataset").is_visible()
    checks.check()
    shot(page, "30-datasets")
    context.close()


def test_model_page_curves_samples_and_launch_links(browser: Any, studio_live: LiveServer) -> None:
    live, studio = studio_live, studio_live.studio
    model_id = live.ids["model"]
    model = studio.models.get(model_id)
    context, page, checks = new_page(browser, live, "ed")
    page.goto("/p/alpha/models")
    row = page.locator(f"tr[data-model='{model_id}']")
    assert "nebula" in row.inner_text() and "gan" in row.inner_text()
    assert row.locator(".metric-chip").count() >= 1
    checks.check()
    shot(page, "34-models")

    row.locator("a.model-name").click()
    page.wait_for_url(f"**/models/{model_id}")
    # The curves: drawn from the job's metrics, every series in the legend, pixels on the canvas.
    page.wait_for_function("() => Number(document.getElementById('metrics-plot').dataset.points) > 0")
    series = studio.jobs.metrics(model.created_by_job)
    assert set(page.locator("#plot-legend [data-series]").evaluate_all("bs => bs.map(b => b.dataset.series)")) == set(series)
    points = int(page.locator("#metrics-plot").get_attribute("data-points") or 0)
    assert points == sum(len(v) for v in series.values())
    painted = page.evaluate("""() => { const c = document.getElementById('metrics-plot');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""")
    assert painted > 2000
    assert "loss_d" in (page.locator("#metrics-plot").get_attribute("aria-label") or "")
    page.click("#plot-legend [data-series=loss_d]")  # hide a series: fewer points drawn
    assert int(page.locator("#metrics-plot").get_attribute("data-points") or 0) == points - len(series["loss_d"])

    # The sample grids in step order; scrub with the keyboard.
    steps = page.locator(".strip-frame").evaluate_all("bs => bs.map(b => Number(b.dataset.step))")
    assert steps == [4, 8, 12, 16]
    assert page.locator("#stage-step").inner_text() == "16"
    page.locator(".strip-frame").first.click()
    assert page.locator("#stage-step").inner_text() == "4"
    page.keyboard.press("ArrowRight")
    assert page.locator("#stage-step").inner_text() == "8" and page.locator("#scrub").input_value() == "1"
    page.locator("#scrub").focus()
    page.keyboard.press("End")
    assert page.locator("#stage-step").inner_text() == "16"
    page.wait_for_function("() => document.getElementById('stage-img').complete && document.getElementById('stage-img').naturalWidth > 0")

    # What it can do, in the launcher, with the model (and its dataset) filled in.
    hrefs = {t: page.locator(f".model-actions a[data-task='{t}']").get_attribute("href")
             for t in ("gan.sample", "gan.walk", "gan.evaluate")}
    assert hrefs["gan.sample"] == f"/p/alpha/run/gan.sample?model={model_id}"
    assert hrefs["gan.walk"] == f"/p/alpha/run/gan.walk?model={model_id}"
    assert hrefs["gan.evaluate"] == f"/p/alpha/run/gan.evaluate?model={model_id}&dataset={model.config['dataset']}"
    assert page.locator("#lineage-dataset").get_attribute("href") == f"/datasets/{model.config['dataset']}"
    assert page.locator("#lineage-job").get_attribute("href") == f"/jobs/{model.created_by_job}"
    link = page.locator("a.file-link", has_text="generator_ema.safetensors")
    response = page.request.get(link.get_attribute("href"))
    assert response.status == 200 and response.body()[:8]  # the weights themselves
    assert page.locator("[data-metric=images]").inner_text().endswith("16")
    checks.check()
    page.click("#plot-legend [data-series=loss_d]")  # every series back for the picture
    page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
    shot(page, "35-model")
    context.close()


def test_screenplay_report_stripboard_and_search(browser: Any, studio_live: LiveServer) -> None:
    live, studio = studio_live, studio_live.studio
    sp_id = live.ids["screenplay"]
    context, page, checks = new_page(browser, live, "ed")
    page.goto("/p/alpha/screenplays")
    card = page.locator(f".sp-card[data-asset-id='{sp_id}']")
    assert "THE LAST REEL" in card.inner_text()
    assert card.locator("[data-scenes]").inner_text() == "11" and card.locator("[data-pages]").inner_text() == "9 4/8"
    checks.check()
    shot(page, "36-screenplays")

    card.click()
    page.wait_for_url(f"**/screenplays/{sp_id}")
    assert page.locator("h1").inner_text() == "THE LAST REEL"
    assert page.locator("#st-scenes").inner_text() == "11"
    first = page.locator(".cast-table tbody tr").first
    assert first.get_attribute("data-character") == "MARGOT" and first.locator(".cast-id").inner_text() == "1"
    assert page.locator("svg.network .node").count() >= 4
    assert page.locator("#sentiment-arc rect").count() == 11  # from the script.analyze job of the fixture
    share = {k: page.locator(f".share-row[data-{k}] .share-v").evaluate_all("vs => vs.map(v => v.textContent.split(' ')[0])")
             for k in ("ie", "dn")}
    assert share == {"ie": ["7", "4"], "dn": ["4", "7"]}  # INT, EXT; DAY, NIGHT scenes
    assert page.locator("#run-analysis").get_attribute("href") == f"/p/alpha/run/script.analyze?screenplay={sp_id}"
    checks.check()
    shot(page, "37-screenplay-report")

    strips = page.locator("a.strip")
    assert strips.count() == 11
    seen = set()
    for i in range(11):
        s = strips.nth(i)
        key = (s.get_attribute("data-ie"), s.get_attribute("data-dn"))
        if key in STRIP_RGB:
            assert s.evaluate("e => getComputedStyle(e).backgroundColor") == STRIP_RGB[key], key
            seen.add(key)
    assert seen == set(STRIP_RGB)
    assert strips.first.inner_text().split()[0] == "1" and "7/8" in strips.first.inner_text()
    strips.first.focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.scene") == "2"
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.hash === '#scene-1' && document.activeElement.id === 'scene-1'")
    page.goto(f"/p/alpha/screenplays/{sp_id}?board=location#h-board")
    assert page.locator("ol.strips li.banner").count() > 2  # a banner per set
    page.locator("#h-board").scroll_into_view_if_needed()
    page.evaluate("document.getElementById('h-board').scrollIntoView({block: 'start'})")
    checks.check()
    shot(page, "38-stripboard")

    # Search: without an index, said so (with the way to build one), and exact matches still found.
    page.goto("/p/alpha/screenplays/search?q=burned")
    assert page.locator("#no-index").is_visible()
    assert page.locator("#build-index").get_attribute("href") == "/p/alpha/run/script.index"
    assert page.locator("#text-hits .hit").count() >= 1 and page.locator("#text-hits mark").first.inner_text().lower() == "burned"
    checks.check()
    job = studio.jobs.submit("script.index", {"embedder": "lexical"}, project="alpha").run()
    assert job.status == "succeeded", job.error
    page.goto("/p/alpha/screenplays/search?q=the+letters")
    assert not page.locator("#no-index").count()
    assert page.locator("#semantic-hits .hit").count() >= 3 and page.locator("#text-hits .hit").count() >= 2
    checks.check()
    shot(page, "39-script-search")
    page.goto("/p/alpha/screenplays/search?q=burned+letters&kind=line")
    hits = page.locator("#semantic-hits .hit")
    assert hits.count() >= 1 and "burned" in hits.first.inner_text().lower()
    assert all(k == "hit kind-line" for k in hits.evaluate_all("hs => hs.map(h => h.className)"))
    hits.first.locator("a").click()
    page.wait_for_url(f"**/screenplays/{sp_id}#scene-*")
    assert page.evaluate("document.activeElement.id").startswith("scene-")
    checks.check()
    context.close()


def test_a_viewer_is_not_offered_changes(browser: Any, studio_live: LiveServer) -> None:
    live = studio_live
    context, page, checks = new_page(browser, live, "vera")
    page.goto("/p/alpha/datasets")
    assert page.locator(".ds-card").count() >= 1
    assert not page.locator("#new-dataset").count() and not page.locator(".ds-add").count()
    response = page.goto("/p/alpha/datasets/new")
    assert response is not None and response.status == 404
    checks.expected_error()
    page.goto(f"/models/{live.ids['model']}")
    assert page.locator("h1").inner_text().startswith("nebula")
    assert not page.locator(".model-actions").count()
    page.goto(f"/p/alpha/screenplays/{live.ids['screenplay']}")
    assert not page.locator("#run-analysis").count() and page.locator("a.strip").count() == 11
    checks.check()
    context.close()


# -- without a browser -----------------------------------------------------------------------------
@pytest.fixture
def small(sqlite_studio: Studio, tmp_path: Path) -> tuple[Studio, list[str]]:
    from tests.server.conftest import png_bytes

    s = sqlite_studio
    s.projects.create("alpha")
    s.projects.create("beta")
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(8):
        (folder / f"i{i}.png").write_bytes(png_bytes(seed=100 + i))
    ids = [a.id for a in s.assets.add(sorted(folder.iterdir()), project="alpha", tags=["all"]).added]
    return s, ids


def test_dataset_diff_service(small: tuple[Studio, list[str]]) -> None:
    s, ids = small
    labels = {i: ("a" if n % 2 else "b") for n, i in enumerate(ids)}
    v1 = s.datasets.create("d", project="alpha", assets=ids[:6], labels=labels, splits=(1, 0, 0))
    relabelled = {**labels, ids[0]: "z"}
    v2 = s.datasets.create("d", project="alpha", assets=ids[1:8], labels=relabelled, splits=(0.5, 0.5, 0), seed=1)
    d = s.datasets.diff(v2.id, v1.id)
    assert (d.ref, d.against) == (v2.id, v1.id)
    assert [i.asset_id for i in d.added] == sorted(ids[6:8])
    assert [i.asset_id for i in d.removed] == [ids[0]]  # ids[0] was relabelled too, but it is gone
    assert not d.relabelled
    after = {i.asset_id: i.split for i in s.datasets.get(v2.id).items}
    assert sorted(c.asset_id for c in d.moved) == sorted(k for k in ids[1:6] if after[k] != "train")
    assert all(c.before == "train" and c.after == after[c.asset_id] for c in d.moved)
    assert d.unchanged == 5 - len(d.moved)
    # Relabelled: the same assets, one label changed; and a version against itself is unchanged.
    # (All in train: splits are stratified by label, so a relabel may move items too.)
    v3 = s.datasets.create("d", project="alpha", assets=ids[1:8], labels=relabelled, splits=(1, 0, 0))
    v4 = s.datasets.create("d", project="alpha", assets=ids[1:8], labels={**relabelled, ids[3]: "q"},
                           splits=(1, 0, 0))
    d = s.datasets.diff(v4.ref, v3.ref, "alpha")
    assert [(c.asset_id, c.before, c.after) for c in d.relabelled] == [(ids[3], labels[ids[3]], "q")]
    assert not d.added and not d.removed and not d.moved and d.unchanged == 6
    same = s.datasets.diff(v3.id, v3.id)
    assert not same.changed and same.unchanged == 7
    assert set(same.to_dict()) == {"ref", "against", "unchanged", "added", "removed", "relabelled", "moved"}
    with pytest.raises(NotFound):
        s.datasets.diff(v3.id, "dsv_00000000000000000000000000")


def test_labels_from_tags(small: tuple[Studio, list[str]]) -> None:
    s, ids = small
    s.assets.tag(ids[:3], add=["class:cat"])
    s.assets.tag(ids[3:5], add=["class:dog"])
    v = s.datasets.create("t", project="alpha", tags=["all"], label_from="tag:class:", splits=(1, 0, 0))
    assert v.counts["labels"] == {"cat": 3, "dog": 2}
    assert sum(1 for i in v.items if i.label is None) == 3
    plan = s.datasets.preview("t", project="alpha", tags=["all"], label_from="tag:class:", splits=(1, 0, 0))
    assert plan.content_hash == v.content_hash and len(s.datasets.list()) == 1  # a preview makes nothing
    s.assets.tag([ids[0]], add=["class:dog"])
    with pytest.raises(InvalidInput, match="2 labels from tags class:"):
        s.datasets.create("t", project="alpha", tags=["all"], label_from="tag:class:")
    with pytest.raises(InvalidInput, match="needs a prefix"):
        s.datasets.create("t", project="alpha", tags=["all"], label_from="tag:")
    with pytest.raises(InvalidInput, match="unknown label source"):
        s.datasets.create("t", project="alpha", tags=["all"], label_from="colour")


def _signed_in(studio: Studio, who: str) -> Any:
    from tests.server.conftest import make_client

    c = make_client(studio)
    r = c.post("/login", data={"username": who, "password": f"{who}-password-1"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    c.headers["X-CSRF-Token"] = c.cookies.get("reelforge_csrf")
    return c


def test_dataset_api_refuses_bad_specs_and_previews(small: tuple[Studio, list[str]]) -> None:
    s, ids = small
    s.access.create_user("ed", "ed-password-1")
    s.access.grant("ed", "alpha", "editor")
    c = _signed_in(s, "ed")
    url = "/api/v1/projects/alpha/datasets"
    r = c.post(url, json={"name": "bad", "assets": ids, "splits": [0.5, 0.2, 0.1]})
    assert r.status_code == 400 and r.json()["error"]["message"] == "split ratios 0.5/0.2/0.1 sum to 0.8, not 1"
    r = c.post(url, json={"name": "bad", "tags": ["none-has-this"]})
    assert r.status_code == 400 and "no assets match" in r.json()["error"]["message"]
    r = c.post(url, json={"name": "bad", "tags": ["all"], "label_from": "colour"})
    assert r.status_code == 400 and "unknown label source" in r.json()["error"]["message"]
    r = c.post(url + "?dry_run=true", json={"name": "ok", "tags": ["all"], "splits": [0.5, 0.25, 0.25], "seed": 2})
    assert r.status_code == 200 and r.json()["dry_run"] and r.json()["n_items"] == 8
    assert sum(r.json()["counts"]["splits"].values()) == 8
    assert s.datasets.list() == []  # refusals and the preview made nothing
    v1 = c.post(url, json={"name": "ok", "assets": ids[:5], "splits": [0.6, 0.2, 0.2]}).json()
    v2 = c.post(url, json={"name": "ok", "tags": ["all"], "splits": [0.6, 0.2, 0.2]}).json()
    d = c.get(f"/api/v1/datasets/{v2['id']}/diff", params={"against": v1["id"]}).json()
    assert sorted(i["asset_id"] for i in d["added"]) == sorted(ids[5:])
    r = c.get(f"/api/v1/datasets/{v2['id']}/diff", params={"against": "dsv_00000000000000000000000000"})
    assert r.status_code == 404
    # The builder's source from ?assets= (the asset browser's link), handed to its script.
    r = c.get("/p/alpha/datasets/new", params={"assets": ",".join(ids[:3]), "dataset": "ok"})
    assert r.status_code == 200 and all(i in r.text for i in ids[:3]) and 'id="src-selection" value="selection" checked' in r.text


def test_pages_answer_what_the_caller_may_not_see_as_missing(small: tuple[Studio, list[str]]) -> None:
    s, ids = small
    for who, project, role in (("vera", "alpha", "viewer"), ("otto", "beta", "admin")):
        s.access.create_user(who, f"{who}-password-1")
        s.access.grant(who, project, role)
    v1 = s.datasets.create("d", project="alpha", assets=ids[:4], splits=(1, 0, 0))
    v2 = s.datasets.create("d", project="alpha", assets=ids, splits=(1, 0, 0))
    weights = save({"w": np.arange(4, dtype=np.float32)})
    model = s.models.register("tiny", {"w.safetensors": weights}, kind="test", project="alpha")
    script = s.assets.add([SAMPLE], project="alpha").added[0]
    vera, otto = _signed_in(s, "vera"), _signed_in(s, "otto")
    pages = [f"/datasets/{v2.id}", f"/datasets/{v2.id}/diff?against={v1.id}", f"/models/{model.id}",
             f"/p/alpha/screenplays/{script.id}", "/p/alpha/datasets", "/p/alpha/models", "/p/alpha/screenplays"]
    for url in pages:
        assert vera.get(url).status_code == 200, url
        assert otto.get(url).status_code == 404, url
    assert vera.get("/p/alpha/datasets/new").status_code == 404  # writers only: absent for the others
    # By name and version inside the project, and the versions of the diff by number.
    r = vera.get("/p/alpha/datasets/d@1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/datasets/{v1.id}"
    assert vera.get(f"/datasets/{v2.id}/diff?against=1").status_code == 200
    assert vera.get(f"/datasets/{v2.id}/diff?against=9").status_code == 404
    assert vera.get("/p/alpha/datasets/nothing").status_code == 404
    # A screenplay page only for screenplays of that project.
    assert vera.get(f"/p/alpha/screenplays/{ids[0]}").status_code == 404
    assert vera.get("/p/alpha/screenplays/ast_00000000000000000000000000").status_code == 404
    # Search without an index says so; a viewer's search never starts an index job.
    r = vera.get("/p/alpha/screenplays/search", params={"q": "letters"})
    assert r.status_code == 200 and 'id="no-index"' in r.text and 'id="build-index"' not in r.text
    assert "<mark>letters</mark>" in r.text  # the plain text matches
    assert not s.browse.jobs(s.projects.get("alpha").id).items
    with pytest.raises(NotFound):
        s.models.get(SEARCH_INDEX_MODEL, "alpha")

"""Run launcher, queue and job page: forms generated from task schemas, the prefill contract, a short
GAN training watched live (progress, log, metric plots, sample grids), reordering the queue, and
what a viewer is not offered.

Browser tests (Chromium) are whole flows; the prefill contract and permissions are also checked
without a browser (TestClient on the same studio).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from reelforge.compute.registry import all_tasks
from tests.server.conftest import make_client
from tests.web.conftest import PASSWORDS, LiveServer, new_page, shot

# A GAN small enough to train in seconds on two CPU cores, slow enough to be watched running.
TRAIN = {"steps": "120", "batch_size": "4", "base_channels": "8", "z_dim": "16", "sample_every": "10",
         "checkpoint_every": "1000", "threads": "1"}


@pytest.fixture(scope="module")
def tiny(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A dataset of eight 32×32 images (coloured squares on plain grounds) in alpha: its version id."""
    folder = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(3)
    for i in range(8):
        img = np.zeros((32, 32, 3), np.uint8)
        img[...] = rng.integers(20, 90, 3)
        y, x = rng.integers(2, 14, 2)
        img[y : y + 16, x : x + 16] = rng.integers(120, 255, 3)
        Image.fromarray(img).save(folder / f"tile_{i}.png")
    live.studio.ingest(sorted(folder.iterdir()), project="alpha", tags=["tiny"])
    return live.studio.datasets.create("tiny", project="alpha", tags=["tiny"], splits=(1, 0, 0)).id


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[Any]:
    """A TestClient on the live server's studio, for checks that need no browser."""
    yield make_client(live.studio)


def _login(client: Any, who: str) -> None:
    client.cookies.clear()
    r = client.post("/login", data={"username": who, "password": PASSWORDS[who]}, follow_redirects=False)
    assert r.status_code == 303, r.text


def _value(html: str, control_id: str) -> str | None:
    m = re.search(rf'<input[^>]*id="{re.escape(control_id)}"[^>]*>', html)
    assert m, f"no #{control_id}"
    v = re.search(r'\svalue="([^"]*)"', m.group(0))
    return v.group(1) if v else None


def _jobs(live: LiveServer) -> int:
    return len(live.studio.browse.jobs(live.ids["alpha"], limit=500).items)


def _wait(cond: Any, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# -- without a browser: the prefill contract, permissions, the history partial, SSE ?after ---------
def test_prefill_contract_and_guards(live: LiveServer, client: Any) -> None:
    studio = live.studio
    big = 2**53 + 1  # not a JavaScript double: must reach the form digit for digit
    job = studio.jobs.submit("system.ping", {"message": "again", "steps": 2}, project="alpha", seed=big)
    _login(client, "ed")
    html = client.get(f"/p/alpha/run/system.ping?from_job={job.id}").text
    assert _value(html, "p-message") == "again" and _value(html, "p-steps") == "2"
    assert _value(html, "run-seed") == str(big)
    html = client.get(f"/p/alpha/run/system.ping?from_job={job.id}&seed=random").text
    assert _value(html, "run-seed") == "" and "A new random seed (vary the seed)" in html
    assert _value(html, "p-message") == "again"
    # ?NAME=VALUE: JSON when it parses (5), else text; a text field keeps the digits as text
    html = client.get("/p/alpha/run/system.ping?steps=5&message=2024&seed=42").text
    assert _value(html, "p-steps") == "5" and _value(html, "p-message") == "2024" and _value(html, "run-seed") == "42"
    # ?params={...} sets several; a single ?NAME wins over it
    q = json.dumps({"steps": 7, "message": "a b"})
    html = client.get("/p/alpha/run/system.ping", params={"params": q, "steps": "9"}).text
    assert _value(html, "p-steps") == "9" and _value(html, "p-message") == "a b"
    html = client.get("/p/alpha/run/system.ping?nope=1&seed=x&params=[1]").text
    assert "Unknown parameters ignored: nope" in html and "The seed must be a whole number" in html
    assert "not a JSON object" in html and _value(html, "run-seed") == ""
    # choices and pickers: the option named by the link is selected (a name means its latest version)
    html = client.get("/p/alpha/run/gan.train?resolution=32&dataset=pets-none").text
    assert re.search(r'<option value="32" selected>32</option>', html)
    assert "pets-none (as given)" in html
    # a job of another project (ed cannot see beta) is no source of a prefill
    beta = studio.jobs.submit("system.ping", {}, project="beta")
    assert client.get(f"/p/alpha/run/system.ping?from_job={beta.id}").status_code == 404
    assert client.get(f"/jobs/{beta.id}").status_code == 404
    assert client.get("/p/alpha/run/no.such").status_code == 404
    assert client.get("/p/alpha/jobs?status=bogus").status_code == 400
    part = client.get("/p/alpha/jobs/history?status=queued")
    assert part.status_code == 200 and 'id="history"' in part.text and "<html" not in part.text
    # a viewer: the catalogue without launch buttons, no launcher
    _login(client, "vera")
    html = client.get("/p/alpha/run").text
    assert "system.ping" in html and 'class="btn primary small launch"' not in html
    assert client.get("/p/alpha/run/system.ping").status_code == 404
    assert client.get(f"/jobs/{job.id}").status_code == 200


def test_events_start_after_the_log_the_page_read(live: LiveServer, client: Any) -> None:
    studio = live.studio
    job = studio.jobs.submit("system.ping", {"steps": 4}, project="alpha")
    done = _wait(lambda: (j := studio.jobs.get(job.id)).finished and j, what="the ping")
    assert done.status == "succeeded"
    lines = studio.jobs.logs(job.id)
    _login(client, "ed")
    with client.stream("GET", f"/api/v1/jobs/{job.id}/events?after={lines[1]['id']}") as r:
        text = "".join(r.iter_text())
    assert text.count("event: log") == len(lines) - 2 and "event: end" in text
    with client.stream("GET", f"/api/v1/jobs/{job.id}/events", headers={"Last-Event-ID": str(lines[-1]["id"])}) as r:
        assert "event: log" not in "".join(r.iter_text())


# -- in Chromium ----------------------------------------------------------------------------------
def test_catalogue_and_generated_forms(browser: Any, live: LiveServer, tiny: str) -> None:
    context, page, checks = new_page(browser, live, "ed")
    page.goto("/p/alpha/run")
    assert page.locator(".task-family h2 .fam-name").all_inner_texts()[:5] == [
        "Generative images", "Text to image", "Media", "Screenplays", "System"]
    names = page.locator(".task-card .task-name").all_inner_texts()
    assert sorted(names) == sorted(t.name for t in all_tasks())
    assert page.locator("a.launch").count() == len(names)
    assert "Train a GAN image generator" in page.locator('.task-card[data-task="gan.train"]').inner_text()
    checks.check()
    shot(page, "20-run-tasks")
    page.fill("#task-filter", "system.ping")
    assert page.locator(".task-card:visible").count() == 1
    page.fill("#task-filter", "")

    # system.ping: two fields from its schema; submitted, it lands on its job page and runs
    page.click('.task-card[data-task="system.ping"] a.launch')
    page.wait_for_url("**/p/alpha/run/system.ping")
    assert page.locator(".pf").count() == 2
    assert page.get_attribute("#p-message", "maxlength") == "200"
    assert (page.get_attribute("#p-steps", "min"), page.get_attribute("#p-steps", "max")) == ("0", "100000")
    page.fill("#p-message", "from the form")
    page.fill("#p-steps", "3")
    page.click("#launch button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/job_\w+$"))
    job_id = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("#job-status .status-succeeded", timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('#log .log-line').length >= 3")
    assert "ping step 3/3" in page.locator("#log").inner_text()
    job = live.studio.jobs.get(job_id)
    assert job.params == {"message": "from the form", "steps": 3} and job.submitted_by is not None
    checks.check()

    # an asset input: a select fed by the assets API as you type
    page.goto("/p/alpha/run/media.proxy")
    page.wait_for_function("() => document.querySelectorAll('#p-asset option').length >= 6")
    page.fill("#q-asset", "plate_03")
    page.wait_for_function("() => document.querySelectorAll('#p-asset option').length === 1")
    page.select_option("#p-asset", index=0)
    page.click("#launch button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/job_\w+$"))
    picked = live.studio.jobs.get(page.url.rsplit("/", 1)[1]).params["asset"]
    assert live.studio.assets.get(picked).name == "plate_03.png"
    checks.check()

    # gan.train: a dataset picker, choices as selects, booleans as checkboxes, optional numbers empty
    page.goto("/p/alpha/run/gan.train")
    options = page.locator("#p-dataset option").evaluate_all("os => os.map(o => [o.value, o.textContent])")
    assert [tiny, "tiny@1 · 8 items"] in options
    assert page.locator("#p-resolution option").all_inner_texts() == ["32", "64", "128"]
    assert page.is_checked("#p-hflip") and page.input_value("#p-crop_size") == ""
    # steps come from the preset unless given: an optional number, empty, with its minimum
    assert page.get_attribute("#p-steps", "min") == "1" and page.input_value("#p-steps") == ""
    assert page.locator("#p-preset option:checked").inner_text() == "auto"
    assert "dcgan" in page.locator("#p-preset option").all_inner_texts()
    assert page.locator("#h-ema_decay").inner_text().startswith("decay of the generator")
    page.select_option("#p-dataset", tiny)
    checks.check()
    shot(page, "21-run-form-gan-train")

    # a bad value: the server's one-line message beside the form and the field, no job made
    before = _jobs(live)
    page.fill("#p-steps", "-1")
    page.click("#launch button[type=submit]")
    page.wait_for_selector("#form-error:not([hidden])")
    assert "steps" in page.inner_text("#form-error") and "greater than or equal to 1" in page.inner_text("#e-steps")
    assert page.get_attribute("#p-steps", "aria-invalid") == "true"
    assert _jobs(live) == before and "/run/gan.train" in page.url
    checks.expected_error()  # Chromium logs the 400 answer
    shot(page, "22-run-form-error")

    # invalid JSON in a JSON field is caught before anything is sent
    page.goto("/p/alpha/run/gan.walk")
    page.fill("#p-seeds", "[1, 2")
    page.click("#launch button[type=submit]")
    page.wait_for_selector("#e-seeds:not([hidden])")
    assert page.inner_text("#e-seeds").endswith("Not valid JSON")
    assert _jobs(live) == before
    checks.check()
    context.close()


def test_train_from_the_form_and_watch_it_live(browser: Any, live: LiveServer, tiny: str) -> None:
    context, page, checks = new_page(browser, live, "ed")
    page.goto("/p/alpha/run/gan.train")
    page.select_option("#p-dataset", tiny)
    page.fill("#p-name", "ui-gan")
    page.select_option("#p-resolution", "32")
    for name, value in TRAIN.items():
        page.fill(f"#p-{name}", value)
    page.fill("#run-seed", "7")
    page.click("#launch button[type=submit]")
    page.wait_for_url(re.compile(r".*/jobs/job_\w+$"))
    job_id = page.url.rsplit("/", 1)[1]

    # live: the bar moves, plots fill, sample grids appear, log lines arrive, without a reload
    seen: set[int] = set()
    live_while_running: list[bool] = []

    def watching() -> bool:
        seen.add(int(page.get_attribute("#job-progress", "aria-valuenow") or 0))
        ready = page.evaluate("""() => document.querySelectorAll('#samples .sample').length >= 2
            && +(document.querySelector('canvas[data-metric="loss_g"]')?.dataset.points || 0) >= 15""")
        if ready:
            # a fast machine may finish all 120 steps before this poll: what matters is that plots and
            # samples arrived while the page still said "running", which the first sighting records
            live_while_running.append(page.locator("#job-status .status-running").count() == 1)
        return bool(ready)

    _wait(watching, 90, "plots and samples while training")
    page.wait_for_function("() => document.querySelector('#sample-latest img')?.naturalWidth > 0")
    if live_while_running[0]:
        shot(page, "24-job-running")
    page.wait_for_selector("#job-status .status-succeeded", timeout=120_000)
    seen.add(int(page.get_attribute("#job-progress", "aria-valuenow") or 0))
    assert any(0 < v < 100 for v in seen) and max(seen) == 100, seen

    # the plots: every metric, every step, drawn (coloured pixels of the lines, not only grey axes)
    metrics = page.locator("#metrics figure").evaluate_all("fs => fs.map(f => f.dataset.metric)")
    assert {"loss_d", "loss_g"} <= set(metrics)
    page.wait_for_function("() => +document.querySelector('canvas[data-metric=\"loss_g\"]').dataset.points === 120")
    coloured = page.evaluate("""() => {
        const c = document.querySelector('canvas[data-metric="loss_g"]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) {
          const [r, g, b, a] = [d[i], d[i + 1], d[i + 2], d[i + 3]];
          if (a > 100 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
        }
        return n;
    }""")
    assert coloured > 200, coloured
    assert "loss_g: 120 points" in (page.get_attribute('canvas[data-metric="loss_g"]', "aria-label") or "")
    assert page.locator("#samples .sample").count() == 12  # steps 10, 20, ... 120
    assert "8 images" in page.inner_text("#log")
    # the record, swapped in at the end: the model made and the outputs
    page.wait_for_selector("#job-outputs a[href^='/models/']")
    assert "ui-gan v1" in page.inner_text("#job-outputs")
    assert '"steps": 120' in page.inner_text("#job-details .params")
    assert '"model": "mdl_' in page.inner_text("#job-details .result")
    checks.check()
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "25-job-finished")

    # run again: every param and the seed from the job; vary the seed: the same, seed left empty
    page.click("#btn-again")
    page.wait_for_url(f"**/run/gan.train?from_job={job_id}")
    assert page.input_value("#p-steps") == "120" and page.input_value("#p-z_dim") == "16"
    assert page.input_value("#p-dataset") == tiny and page.input_value("#run-seed") == "7"
    assert page.input_value("#p-resolution") == "32" and page.input_value("#p-name") == "ui-gan"
    page.go_back()
    page.click("#btn-vary")
    page.wait_for_url(f"**/run/gan.train?from_job={job_id}&seed=random")
    assert page.input_value("#run-seed") == "" and "new random seed" in page.inner_text(".seed-note")
    assert page.input_value("#p-steps") == "120"
    checks.check()
    context.close()


def _run_order(live: LiveServer, ids: list[str]) -> list[str]:
    jobs = [live.studio.jobs.get(i) for i in ids]
    return [j.id for j in sorted(jobs, key=lambda j: (-j.priority, j.run_after, j.id))]


SUBMIT = """async ([task, params]) => {
    const { api } = await import('/static/js/app.js');
    return (await api('/api/v1/projects/alpha/jobs', { method: 'POST', body: { task, params } })).id;
}"""


def test_queue_reorder_cancel_retry(browser: Any, live: LiveServer, tiny: str) -> None:
    context, page, checks = new_page(browser, live, "ed")
    page.goto("/p/alpha/jobs")
    assert page.locator("#btn-pause, #btn-resume").count() == 0  # studio admins only
    # a training that runs on while the queue is paused (a pause holds back only what waits)
    training = page.evaluate(SUBMIT, ["gan.train", {"dataset": tiny, "name": "queue-gan", "resolution": 32, "steps": 500,
                                                   **{k: int(v) for k, v in TRAIN.items() if k != "steps"},
                                                   "sample_every": 5000}])
    _wait(lambda: live.studio.jobs.get(training).status == "running", 60, "the training to start")
    root_ctx, root, root_checks = new_page(browser, live, "root")
    root.goto("/p/alpha/jobs")
    root.click("#btn-pause")
    root.wait_for_selector("#queue-state.queue-paused")
    assert live.studio.jobs.queue_state()["paused"]
    try:
        ids = [page.evaluate(SUBMIT, ["system.ping", {"message": m}]) for m in ("first", "second", "third")]
        first, second, third = ids
        queued = "#queued li"
        page.wait_for_function(f"() => document.querySelectorAll('{queued}').length === 3")
        assert page.locator(queued).evaluate_all("ls => ls.map(l => l.dataset.jobId)") == ids
        assert page.locator("#queue-state").inner_text() == "Paused"
        # the running job's bar moves without a reload
        bar = f'#running li[data-job-id="{training}"] .progress'
        page.wait_for_selector(bar)
        start = int(page.get_attribute(bar, "aria-valuenow") or 0)
        page.wait_for_function(f"() => +document.querySelector('{bar}').getAttribute('aria-valuenow') > {max(start, 3)}",
                               timeout=60_000)
        page.wait_for_selector(f'#history tr[data-job-id="{third}"]')  # the history followed too
        checks.check()
        shot(page, "23-queue")

        # the keyboard: "move up" on the second puts it first
        page.focus(f'#queued button[data-move="up"][data-job="{second}"]')
        page.keyboard.press("Enter")
        page.wait_for_function(f"() => document.querySelector('{queued}').dataset.jobId === '{second}'")
        assert _run_order(live, ids) == [second, first, third]
        assert live.studio.jobs.get(second).priority > 0
        # the mouse: drag the third above everything
        page.drag_and_drop(f'#queued li[data-job-id="{third}"]', f'#queued li[data-job-id="{second}"]',
                           target_position={"x": 40, "y": 4})
        page.wait_for_function(f"() => document.querySelector('{queued}').dataset.jobId === '{third}'")
        assert _run_order(live, ids) == [third, second, first]
        assert page.locator(queued).evaluate_all("ls => ls.map(l => l.dataset.jobId)") == [third, second, first]

        # cancel one: it leaves the queue and shows in the history, where it can be retried
        page.click(f'#queued button[data-action="cancel"][data-job="{first}"]')
        page.wait_for_function(f"() => !document.querySelector('#queued li[data-job-id=\"{first}\"]')")
        assert live.studio.jobs.get(first).status == "cancelled"
        retry = f'#history button[data-action="retry"][data-job="{first}"]'
        page.wait_for_selector(retry)
        page.click(retry)
        page.wait_for_selector(f'#queued li[data-job-id="{first}"]')
        assert live.studio.jobs.get(first).status == "queued"
        # cancel the running training: cooperative, it stops at its next step
        page.click(f'#running button[data-action="cancel"][data-job="{training}"]')
        page.wait_for_selector(f'#running li[data-job-id="{training}"]', state="detached", timeout=60_000)
        assert live.studio.jobs.get(training).status == "cancelled"
        checks.check()
        context.close()
    finally:
        live.studio.jobs.resume()
    root.reload()
    root.wait_for_selector("#queue-state.queue-live")
    root.click("#btn-pause")
    root.wait_for_selector("#btn-resume:visible")
    root.click("#btn-resume")
    root.wait_for_selector("#queue-state.queue-live")
    assert not live.studio.jobs.queue_state()["paused"]
    # resumed, the worker runs what waited; the lists empty without a reload
    root.wait_for_function("() => document.querySelectorAll('#queued li, #running li').length === 0", timeout=60_000)
    root_checks.check()
    root_ctx.close()


def test_viewer_is_offered_no_launch(browser: Any, live: LiveServer) -> None:
    context, page, checks = new_page(browser, live, "vera")
    page.goto("/p/alpha/run")
    assert page.locator(".task-card").count() == len(all_tasks())
    assert page.locator("a.launch, a[href*='/run/']").count() == 0
    checks.check()
    response = page.goto("/p/alpha/run/system.ping")
    assert response is not None and response.status == 404
    checks.expected_error()
    page.goto("/p/alpha/jobs")
    before = _jobs(live)
    status = page.evaluate("""async () => {
        const { csrf } = await import('/static/js/app.js');
        const r = await fetch('/api/v1/projects/alpha/jobs', { method: 'POST', credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf() },
          body: JSON.stringify({ task: 'system.ping', params: {} }) });
        return r.status;
    }""")
    assert status in (403, 404) and _jobs(live) == before
    checks.expected_error()
    job_id = page.locator("#history tr[data-job-id]").first.get_attribute("data-job-id")
    assert page.locator("#history button[data-action], #queued button, #running button").count() == 0
    page.goto(f"/jobs/{job_id}")
    assert page.locator("#btn-cancel, #btn-retry, #btn-again, #btn-vary").count() == 0
    checks.check()
    context.close()


def test_form_generation_is_generic() -> None:
    """Any pydantic params model becomes controls: enums behind $ref, optional choices and booleans,
    lists, dicts and nested models as JSON, unions as JSON, paths as text; defaults prefilled."""
    import enum
    from pathlib import Path
    from typing import Literal

    from pydantic import BaseModel, Field

    from reelforge.compute.registry import Params, TaskSpec
    from reelforge.web.pages.run import form_fields

    class Mode(enum.Enum):
        FAST = "fast"
        GOOD = "good"

    class Box(BaseModel):
        w: int = 1

    class P(Params):
        mode: Mode = Mode.GOOD
        pick: Literal["a", "b"] | None = None
        flag: bool | None = None
        on: bool = True
        sizes: list[int] = Field(default_factory=lambda: [1, 2], max_length=4)
        extra: dict[str, float] = Field(default_factory=dict)
        box: Box = Field(default_factory=Box)
        either: int | str = 3
        out: Path = Path("out")
        rate: float = Field(0.5, gt=0, le=1, description="how fast")
        count: int | None = Field(None, ge=1)

    class Stub:
        def _(self, s: str) -> str:
            return s

    spec = TaskSpec(name="x.y", fn=lambda ctx, p: None, params=P)
    got = {f.name: f for f in form_fields(Stub(), None, spec, {"pick": "b", "sizes": [5]})}  # type: ignore[arg-type]
    assert got["mode"].control == "select" and [o.value for o in got["mode"].options] == ['"fast"', '"good"']
    assert [o.selected for o in got["mode"].options] == [False, True]
    assert got["pick"].control == "select" and got["pick"].nullable and got["pick"].options[1].selected
    assert got["flag"].control == "select" and got["flag"].nullable and [o.value for o in got["flag"].options] == ["true", "false"]
    assert got["on"].control == "checkbox" and got["on"].checked
    assert got["sizes"].control == "json" and json.loads(got["sizes"].value) == [5]
    assert got["extra"].control == "json" and got["extra"].value == "{}"
    assert got["box"].control == "json" and json.loads(got["box"].value) == {"w": 1}
    assert got["either"].control == "json" and got["either"].value == "3"
    assert got["out"].control == "text" and got["out"].value == "out"
    rate = got["rate"]
    assert rate.control == "number" and rate.attrs == {"data-exclusive-min": "0", "max": "1", "step": "any"}
    assert rate.value == "0.5" and rate.help == "how fast" and rate.bounds == "0 < x ≤ 1"
    assert got["count"].control == "integer" and got["count"].nullable and got["count"].value == ""

"""The Python SDK: the same operations as the CLI, and schema upgrades on open.

Every test that takes ``door`` runs twice with the same assertions: once on a local studio
(``reelforge.open``) and once on a real server started by the test (``reelforge.connect``: uvicorn
on 127.0.0.1, a free port, a worker thread, an admin's token made through ``studio.access``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import reelforge
from reelforge.catalog.entities import Asset, DatasetVersion, IngestReport, LineageGraph, Model
from reelforge.compute.jobs import Job, JobStatus
from reelforge.db.engine import current_revision, head_revision
from reelforge.errors import Conflict, InvalidInput, MediaError, NotFound, Unauthenticated
from reelforge.studio import Studio
from tests.conftest import make_image

# Jobs of this task stay queued in both setups (no local worker; the server's worker skips it), so
# cancel and retry are checked on a job nobody is running.
IDLE_TASK = "media.fingerprint"


@dataclass
class Door:
    kind: str
    studio: Any  # a Studio, or a RemoteStudio of the same studio
    local: Studio  # the studio itself, for setting things up that no door offers
    url: str = ""
    token: str = ""

    def reopen(self) -> Any:
        self.studio.close()
        if self.kind == "local":
            self.studio = reelforge.open(self.local.home)
        else:
            self.studio = reelforge.connect(self.url, self.token)
        return self.studio


@pytest.fixture(params=["local", "remote"])
def door(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Door]:
    studio = reelforge.init(tmp_path / "s")
    try:
        if request.param == "local":
            d = Door("local", studio, studio)
            yield d
            d.studio.close()
            return
        pytest.importorskip("uvicorn")
        from reelforge.compute.registry import all_tasks
        from tests.live_server import live_server

        served = [t.name for t in all_tasks() if t.name != IDLE_TASK]
        with live_server(studio, worker_tasks=served) as live:
            d = Door("remote", reelforge.connect(live.url, live.token), studio, live.url, live.token)
            yield d
            d.studio.close()
    finally:
        studio.close()


def _pets(root: Path) -> Path:
    for i in range(3):
        make_image(root / "cats" / f"c{i}.png", seed=i)
        make_image(root / "dogs" / f"d{i}.png", seed=10 + i)
    return root


def test_init_refuses_an_existing_studio(tmp_path: Path) -> None:
    reelforge.init(tmp_path / "s").close()
    with pytest.raises(Conflict):
        reelforge.init(tmp_path / "s")
    with pytest.raises(NotFound):
        reelforge.open(tmp_path / "nowhere")


def test_sdk_round_trip(door: Door, tmp_path: Path) -> None:
    studio = door.studio
    added = studio.assets.add([make_image(tmp_path / f"{i}.png", seed=i) for i in range(3)], tags=["x"])
    assert isinstance(added, IngestReport) and len(added.added) == 3 and not added.duplicates
    assert all(isinstance(a, Asset) and a.tags == ["x"] for a in added.added)
    ds = studio.datasets.create("three", assets=added.added, splits=(1, 0, 0))
    assert isinstance(ds, DatasetVersion) and ds.ref == "three@1" and len(ds.items) == 3
    handle = studio.jobs.submit("media.contact_sheet", {"dataset": ds.ref})
    job = handle.wait(timeout=120)
    assert isinstance(job, Job) and job.status == JobStatus.SUCCEEDED and job.id == handle.id
    again = door.reopen()
    assert again.assets.get(job.result["contact_sheet"]).kind == "image"
    assert [j.id for j in again.jobs.list()] == [job.id]
    assert again.jobs.get(job.id).params["dataset"] == ds.id  # the name was resolved at submit
    again_added = again.assets.add([tmp_path / "0.png"])
    assert not again_added.added and again_added.duplicates[0].id == added.added[0].id
    assert again_added.duplicates[0].duplicate


def test_folders_names_datasets_and_exports(door: Door, tmp_path: Path) -> None:
    studio = door.studio
    report = studio.assets.add([_pets(tmp_path / "pets")], meta={"shot": "a"})
    assert sorted(a.name for a in report.added) == [f"cats/c{i}.png" for i in range(3)] + [
        f"dogs/d{i}.png" for i in range(3)]
    assert all(a.meta == {"shot": "a"} for a in report.added)
    assert [a.name for a in studio.assets.list(name="cats/*")] == ["cats/c0.png", "cats/c1.png", "cats/c2.png"]
    assert studio.assets.get("dogs/d1.png").id == next(a.id for a in report.added if a.name == "dogs/d1.png")
    assert len(studio.assets.list(limit=4)) == 4
    dv = studio.datasets.create("pets", kind="image", label_from="folder", splits="0.5,0.5,0")
    assert dv.labels == ["cats", "dogs"] and dv.counts["labels"] == {"cats": 3, "dogs": 3}
    assert studio.datasets.get("pets").id == dv.id == studio.datasets.get("pets@1").id
    assert [v.ref for v in studio.datasets.list()] == ["pets@1"]
    out = studio.datasets.export("pets", tmp_path / "export")
    rows = list(csv.DictReader((out / "manifest.csv").open(encoding="utf-8")))
    assert len(rows) == 6 and all((out / r["path"]).is_file() for r in rows)
    assert {r["path"].split("/")[1] for r in rows} == {"cats", "dogs"}
    assert (out / "dataset.json").is_file()
    first = report.added[0]
    paths = studio.assets.export([first.id], tmp_path / "one")
    assert paths[0].read_bytes() == (tmp_path / "pets" / first.name).read_bytes()
    with pytest.raises(InvalidInput):  # the file is there now: no silent clobbering
        studio.assets.export([first.id], tmp_path / "one")
    assert studio.assets.local_path(first).read_bytes() == paths[0].read_bytes()
    graph = studio.lineage.graph(dv.id)
    assert isinstance(graph, LineageGraph) and graph.root == dv.id and graph.raw_assets()


def test_tags_metadata_and_listings(door: Door, tmp_path: Path) -> None:
    studio = door.studio
    a, b = studio.assets.add([make_image(tmp_path / "a.png", seed=1), make_image(tmp_path / "b.png", seed=2)]).added
    tagged = studio.assets.tag([a.id, b.id], add=["day1", "hero"])
    assert [t.tags for t in tagged] == [["day1", "hero"], ["day1", "hero"]]
    studio.assets.tag([b.id], remove=["hero"])
    assert [x.id for x in studio.assets.list(tags=["hero"])] == [a.id]
    assert [x.id for x in studio.assets.list(tags=["day1"], kind="image")] == [a.id, b.id]
    assert studio.assets.set_meta(a.id, caption="a red nebula", take=3).meta == {"caption": "a red nebula", "take": 3}
    assert studio.assets.get(a.id).meta["take"] == 3
    with pytest.raises(NotFound):
        studio.assets.tag([a.id, "ast_00000000000000000000000000"], add=["x"])
    assert studio.assets.get(a.id).tags == ["day1", "hero"]  # nothing was changed
    assert [p.name for p in studio.projects.list()] == ["default"]
    assert studio.projects.get().name == "default"


def test_errors_are_the_same_classes(door: Door, tmp_path: Path) -> None:
    studio = door.studio
    with pytest.raises(NotFound):
        studio.assets.get("ast_00000000000000000000000000")
    with pytest.raises(NotFound):
        studio.assets.get("no/such/name.png")
    with pytest.raises(NotFound):
        studio.jobs.get("job_00000000000000000000000000")
    with pytest.raises(NotFound):
        studio.models.get("nothing")
    with pytest.raises(NotFound):
        studio.datasets.get("nothing@3")
    with pytest.raises(InvalidInput):
        studio.datasets.create("empty", kind="video")  # no assets match
    with pytest.raises(NotFound):
        studio.jobs.submit("no.such_task", {})
    with pytest.raises(InvalidInput):
        studio.jobs.submit("system.ping", {"steps": -1})
    fake = tmp_path / "fake.png"
    fake.write_text("not an image at all\n", encoding="utf-8")
    with pytest.raises(MediaError):
        studio.assets.add([fake])
    good = make_image(tmp_path / "ok" / "good.png", seed=5)
    (tmp_path / "ok" / "bad.png").write_text("text\n", encoding="utf-8")
    report = studio.assets.add([tmp_path / "ok"], skip_invalid=True)
    assert [a.name for a in report.added] == [good.name]
    assert len(report.rejected) == 1 and "bad.png" in report.rejected[0][0]
    assert [a.name for a in studio.assets.list()] == ["good.png"]  # the refused files left nothing


def test_symlinks_out_of_a_folder_are_refused(door: Door, tmp_path: Path) -> None:
    secret = make_image(tmp_path / "outside" / "secret.png", seed=3)
    folder = tmp_path / "plates"
    make_image(folder / "ok.png", seed=4)
    (folder / "leak.png").symlink_to(secret)
    with pytest.raises(InvalidInput, match="outside the folder"):
        door.studio.assets.add([folder])
    assert door.studio.assets.list() == []


def test_jobs_logs_metrics_cancel_and_retry(door: Door, tmp_path: Path) -> None:
    studio = door.studio
    handle = studio.jobs.submit("system.ping", {"steps": 3, "message": "hi"}, seed=7)
    job = handle.wait(timeout=60)
    assert job.status == JobStatus.SUCCEEDED and job.seed == 7 and job.result["message"] == "hi"
    assert job.progress_done == job.progress_total == 3
    lines = [line["message"] for line in studio.jobs.logs(job.id)]
    assert [m for m in lines if m.startswith("ping step")] == [f"ping step {i}/3" for i in (1, 2, 3)]
    assert [line["message"] for line in studio.jobs.logs(job.id, after_id=studio.jobs.logs(job.id)[0]["id"])] == lines[1:]
    assert studio.jobs.metrics(job.id) == {}
    assert [j.id for j in studio.jobs.list(status="succeeded", task="system.ping")] == [job.id]
    with pytest.raises(Conflict):
        studio.jobs.cancel(job.id)  # already finished
    with pytest.raises(InvalidInput):
        studio.jobs.list(status="bogus")

    dv = studio.datasets.create("one", assets=studio.assets.add([make_image(tmp_path / "x.png")]).added)
    idle = studio.jobs.submit(IDLE_TASK, {"dataset": dv.ref})
    assert idle.job.status == JobStatus.QUEUED
    assert studio.jobs.cancel(idle.id).status == JobStatus.CANCELLED
    assert studio.jobs.retry(idle.id).status == JobStatus.QUEUED
    assert idle.cancel().status == JobStatus.CANCELLED
    with pytest.raises(Conflict):
        studio.jobs.retry(job.id)  # it succeeded: nothing to retry


def test_queue_pause_resume_and_priority(door: Door) -> None:
    studio = door.studio
    assert studio.jobs.pause()["paused"] and studio.jobs.queue_state()["paused"]
    handle = studio.jobs.submit("system.ping", {})
    assert studio.jobs.set_priority(handle.id, 7).priority == 7
    assert studio.jobs.get(handle.id).status == JobStatus.QUEUED  # no worker takes it while paused
    assert studio.jobs.resume()["paused"] is False
    assert handle.wait(timeout=60).status == JobStatus.SUCCEEDED
    with pytest.raises(Conflict):
        studio.jobs.set_priority(handle.id, 1)  # only queued jobs are reordered


def test_models_and_search(door: Door, tmp_path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save

    weights = save({"w": np.arange(6, dtype=np.float32)})
    door.local.models.register("tiny", {"weights.safetensors": weights}, kind="test")
    door.local.models.register("tiny", {"weights.safetensors": weights, "notes.txt": b"v2"}, kind="test")
    studio = door.studio
    assert [m.ref for m in studio.models.list()] == ["tiny@2", "tiny@1"]
    model = studio.models.get("tiny")
    assert isinstance(model, Model) and model.version == 2 and studio.models.get("tiny@1").version == 1
    out = studio.models.export("tiny", tmp_path / "m")
    assert (out / "weights.safetensors").read_bytes() == weights and (out / "reelforge-model.json").is_file()
    assert (studio.models.materialize(model) / "notes.txt").read_bytes() == b"v2"
    scene = tmp_path / "scene.fountain"
    scene.write_text("Title: T\n\nINT. HOUSE - DAY\n\nAnna waits by the window.\n\nANNA\nHello?\n", encoding="utf-8")
    studio.assets.add([scene])
    hits = studio.search.query("window", k=3)
    assert hits and "window" in str(hits[0]).lower()


def test_connect_needs_a_valid_token(door: Door, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if door.kind == "local":
        pytest.skip("tokens are the server's")
    monkeypatch.delenv("REELFORGE_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(Unauthenticated):
        reelforge.connect(door.url)
    with pytest.raises(Unauthenticated):
        reelforge.connect(door.url, "rf_not-a-real-token")
    monkeypatch.setenv("REELFORGE_TOKEN", door.token)
    with reelforge.connect(door.url + "/api/v1/") as s:
        assert s.me()["username"] == "admin"


def test_open_upgrades_an_older_catalog(tmp_path: Path) -> None:
    from alembic import command

    from reelforge.db.engine import _alembic_config

    studio = reelforge.init(tmp_path / "s")
    cfg = _alembic_config(studio.engine)
    with studio.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert current_revision(studio.engine) is None
    studio.close()
    reopened = reelforge.open(tmp_path / "s")
    assert reopened.migrated and current_revision(reopened.engine) == head_revision(reopened.engine)
    assert reopened.assets.list() == []

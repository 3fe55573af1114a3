"""classify.train / apply / similar through the job system on a real studio, and ``reelforge classify``.

The data is skimage's lfw_subset (200 grey 25×25 images: 100 faces, 100 non-faces), ingested as PNGs,
tagged class:face / class:non-face, and made into a dataset labelled from those tags with a seeded
70/15/15 split: the path a studio's own images take.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage.data import lfw_subset
from sqlalchemy import select

from reelforge.cli.main import main
from reelforge.db.engine import session_scope
from reelforge.db.models import JobCheckpointRow
from reelforge.errors import NotFound
from reelforge.studio import Studio

REPO = Path(__file__).resolve().parents[2] / "src"
FAST = {"epochs": 15, "width": 8, "threads": 1}


def _write_lfw(folder: Path) -> dict[str, list[Path]]:
    x = (lfw_subset() * 255).round().astype(np.uint8)
    out: dict[str, list[Path]] = {"face": [], "non-face": []}
    for i, a in enumerate(x):
        label = "face" if i < 100 else "non-face"
        path = folder / f"{i:03d}.png"
        Image.fromarray(a).save(path)
        out[label].append(path)
    return out


@pytest.fixture(scope="module")
def lfw_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    root = tmp_path_factory.mktemp("lfw")
    (root / "src").mkdir()
    s = Studio.init(root / "studio", worker_concurrency=1)
    for label, paths in _write_lfw(root / "src").items():
        s.assets.add(paths, tags=[f"class:{label}"])
    s.datasets.create("lfw", kind="image", label_from="tag:class:", splits="0.7,0.15,0.15", seed=0)
    yield s
    s.close()


@pytest.fixture(scope="module")
def trained(lfw_studio: Studio) -> Any:
    job = lfw_studio.jobs.submit("classify.train", {"dataset": "lfw", "min_accuracy": 0.9, **FAST}, seed=0).run()
    assert job.status == "succeeded", job.error
    return job


def _label(studio: Studio, asset_id: str) -> str:
    return "face" if int(studio.assets.get(asset_id).name.split(".")[0].split("_")[-1]) < 100 else "non-face"


def test_train_reaches_90_percent_on_the_lfw_test_split(lfw_studio: Studio, trained: Any) -> None:
    s, r = lfw_studio, trained.result
    assert r["evaluated_on"] == "test"
    test = r["test"]
    ds = s.datasets.get("lfw")
    assert test["n"] == sum(1 for it in ds.items if it.split == "test") == 30
    assert test["accuracy"] >= 0.9, test
    for name in ("face", "non-face"):
        assert test["per_class"][name]["precision"] >= 0.85 and test["per_class"][name]["recall"] >= 0.85
    assert r["quality"] == {"min_accuracy": 0.9, "passed": True}
    # The confusion matrix counts every test image once, and agrees with the accuracy.
    cm = np.array(test["confusion"])
    assert cm.sum() == 30 and np.trace(cm) == round(test["accuracy"] * 30)
    model = s.models.get(r["model"])
    assert model.kind == "classifier" and model.created_by_job == trained.id
    assert model.metrics["accuracy"] == test["accuracy"] and model.metrics["test_images"] == 30
    assert {"precision/face", "recall/face", "precision/non-face", "recall/non-face"} <= set(model.metrics)
    assert model.config["class_names"] == ["face", "non-face"] and model.config["tag_prefix"] == "class:"
    assert model.config["classifier"]["channels"] == 1  # grey images: a one-channel network
    # The confusion-matrix PNG and the JSON report are outputs of the job, linked to the model.
    png = s.assets.get(r["confusion_image"])
    assert png.kind == "image" and png.created_by_job == trained.id and "confusion-matrix" in png.tags
    with Image.open(s.assets.local_path(png)) as im:
        assert im.width >= 320 and im.height >= 200
    report = json.loads(s.blobs.read_bytes(s.assets.get(r["report"]).sha256))
    assert report["model"] == model.id and report["confusion"] == test["confusion"]
    assert report["confusion_image"] == png.id and report["val"]["n"] == 30
    metrics = s.jobs.metrics(trained.id)
    assert "train/loss" in metrics and "val/accuracy" in metrics


def test_one_class_dataset_is_refused_with_nothing_stored(lfw_studio: Studio, trained: Any) -> None:
    s = lfw_studio
    s.datasets.create("faces-only", kind="image", tags=["class:face"], label_from="tag:class:",
                      splits="0.7,0.15,0.15")
    models, assets = len(s.models.list()), len(s.assets.list())
    job = s.jobs.submit("classify.train", {"dataset": "faces-only", **FAST}).run()
    assert job.status == "failed" and job.attempt == 1
    assert job.error is not None and "\n" not in job.error
    assert "has one class (face): a classifier needs at least two" in job.error
    assert len(s.models.list()) == models and len(s.assets.list()) == assets
    with pytest.raises(NotFound):
        s.jobs.submit("classify.apply", {"model": "mdl_01m8000000000000000000000"})


@pytest.fixture(scope="module")
def incoming(lfw_studio: Studio) -> list[str]:
    """Untagged new images: mirrored copies of the test split, as a user might drop in a new batch."""
    s = lfw_studio
    ds = s.datasets.get("lfw")
    folder = Path(s.home) / "incoming"
    folder.mkdir()
    paths = []
    for it in ds.items:
        if it.split != "test":
            continue
        a = s.assets.get(it.asset_id)
        with Image.open(s.assets.local_path(a)) as im:
            path = folder / f"flip_{a.name}"
            im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(path)
        paths.append(path)
    return [a.id for a in s.assets.add(paths, tags=["incoming"]).assets]


def rf(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_apply_proposes_and_accept_tags_only_above_the_threshold(lfw_studio: Studio, trained: Any,
                                                                 incoming: list[str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    s = lfw_studio
    job = s.jobs.submit("classify.apply", {"model": trained.result["model"], "tags": ["incoming"], "top_k": 2}).run()
    assert job.status == "succeeded", job.error
    assert job.result["assets"] == len(incoming) == 30
    doc = json.loads(s.blobs.read_bytes(s.assets.get(job.result["proposals"]).sha256))
    assert sorted(e["asset"] for e in doc["assets"]) == sorted(incoming)
    right = 0
    for e in doc["assets"]:
        props = e["proposals"]
        assert [p["tag"] for p in props] in (["class:face", "class:non-face"], ["class:non-face", "class:face"])
        assert props[0]["confidence"] >= props[1]["confidence"]
        assert sum(p["confidence"] for p in props) == pytest.approx(1.0, abs=1e-4)
        right += props[0]["label"] == _label(s, e["asset"])
    assert right >= 27  # mirrored faces are still faces: the proposals are right
    # Proposals are not tags: nothing is tagged until accepted.
    assert not any(t.startswith("class:") for a in s.assets.get_many(incoming) for t in a.tags)

    top = sorted(e["proposals"][0]["confidence"] for e in doc["assets"])
    threshold = float(np.round(top[len(top) // 2], 6))  # a threshold half the assets meet
    expected = {e["asset"]: e["proposals"][0]["tag"] for e in doc["assets"]
                if e["proposals"][0]["confidence"] >= threshold}
    assert 0 < len(expected) < 30
    home = s.home
    code, out, err = rf(capsys, "--studio", home, "classify", "accept", job.id, "--min-confidence", threshold,
                        "--dry-run")
    assert code == 0, err
    assert "would tag" in out and not any(t.startswith("class:") for a in s.assets.get_many(incoming) for t in a.tags)
    code, out, err = rf(capsys, "--studio", home, "classify", "accept", job.id, "--min-confidence", threshold)
    assert code == 0, err
    assert f"tagged {len(expected)} assets with {len(expected)} tags" in out
    for a in s.assets.get_many(incoming):
        got = [t for t in a.tags if t.startswith("class:")]
        assert got == ([expected[a.id]] if a.id in expected else []), (a.name, got)
        if a.id in expected:
            assert f"tagged {a.id} {a.name}: {expected[a.id]}" in out
    # Accepting again adds nothing: the tags are there already.
    code, out, err = rf(capsys, "--studio", home, "classify", "accept", job.id, "--min-confidence", threshold)
    assert code == 0, err
    assert "tagged 0 assets with 0 tags" in out and f"{len(expected)} already there" in out
    # An unknown label is refused, not silently matched by nothing.
    code, out, err = rf(capsys, "--studio", home, "classify", "accept", job.id, "--only", "cat")
    assert code != 0 and "no label 'cat'" in err
    # --only narrows to one label; by the proposals asset's id this time.
    code, out, err = rf(capsys, "--studio", home, "--json", "classify", "accept", job.result["proposals"],
                        "--min-confidence", 0, "--only", "non-face", "--dry-run")
    assert code == 0, err
    data = json.loads(out)
    assert {t["label"] for t in data["tagged"] + data["already_tagged"]} == {"non-face"} and data["dry_run"] is True
    # A job that is not classify.apply is refused in one line.
    code, out, err = rf(capsys, "--studio", home, "classify", "accept", trained.id)
    assert code != 0 and "not a finished classify.apply" in err and "Traceback" not in err


def test_similar_ranks_a_near_duplicate_above_unrelated_images(lfw_studio: Studio, trained: Any,
                                                               incoming: list[str],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    s = lfw_studio
    test_faces = [it.asset_id for it in s.datasets.get("lfw").items if it.split == "test"][:15]
    query = next(a for a in s.assets.get_many(test_faces) if _label(s, a.id) == "face")
    shifted = Path(s.home) / "incoming" / f"shift_{query.name}"
    with Image.open(s.assets.local_path(query)) as im:
        Image.fromarray(np.roll(np.asarray(im), (1, 2), axis=(0, 1))).save(shifted)
    dup = s.assets.add([shifted]).assets[0].id
    flip = next(a.id for a in s.assets.get_many(incoming) if a.name == f"flip_{query.name}")
    job = s.jobs.submit("classify.similar", {"model": trained.result["model"], "query": query.id, "k": 1000}).run()
    assert job.status == "succeeded", job.error
    results = job.result["results"]
    assert job.result["searched"] == len(results) == 200 + 30 + 1 - 1  # originals, mirrors, the shift; not the query
    assert all(r["asset"] != query.id for r in results)
    ranked = [r["asset"] for r in results]
    assert set(ranked[:2]) == {flip, dup}, [r["name"] for r in results[:5]]
    scores = {r["asset"]: r["score"] for r in results}
    assert all(scores[flip] > scores[r] and scores[dup] > scores[r] for r in ranked[2:])
    non_faces = [r["score"] for r in results if r["name"].split(".")[0].split("_")[-1] >= "100"]
    assert max(non_faces) < min(scores[flip], scores[dup])
    sheet = s.assets.get(job.result["sheet"])
    assert sheet.kind == "image" and "similar-search" in sheet.tags
    # The command line lists the same ranking.
    code, out, err = rf(capsys, "--studio", s.home, "classify", "similar", query.id, "--model",
                        trained.result["model"], "-k", 3)
    assert code == 0, err
    assert out.index(ranked[0]) < out.index(ranked[2]) and "contact strip:" in out


def test_cli_train_and_apply(lfw_studio: Studio, capsys: pytest.CaptureFixture[str]) -> None:
    home = lfw_studio.home
    code, out, err = rf(capsys, "--studio", home, "classify", "train", "--dataset", "lfw", "--name", "quick",
                        "--epochs", 2, "--width", 4)
    assert code == 0, err
    assert "test accuracy" in out and "precision" in out and "confusion matrix:" in out
    png = next((Path(home) / "outputs" / "evaluations").glob("quick_v1_confusion.png"))
    assert png.is_file()
    code, out, err = rf(capsys, "--studio", home, "classify", "apply", "--model", "quick", "--tag", "incoming",
                        "--min-confidence", 0.5)
    assert code == 0, err
    assert "classify accept" in out and "30 assets" in out
    code, out, err = rf(capsys, "--studio", home, "classify", "apply", "--model", "quick", "--kind", "video")
    assert code != 0 and "\n" not in err.strip() and "Traceback" not in err


def test_training_resumes_after_the_worker_is_killed(tmp_path: Path) -> None:
    s = Studio.init(tmp_path / "studio", lease_seconds=2.0, heartbeat_seconds=0.3, worker_concurrency=1)
    (tmp_path / "src").mkdir()
    for label, paths in _write_lfw(tmp_path / "src").items():
        s.assets.add(paths[::2], tags=[f"class:{label}"])
    s.datasets.create("lfw", kind="image", label_from="tag:class:", splits="0.7,0.15,0.15", seed=0)
    params = {"dataset": "lfw", "epochs": 40, "width": 4, "depth": 2, "threads": 1, "checkpoint_every": 5}
    reference = s.jobs.submit("classify.train", {**params, "name": "ref"}, seed=3).run()
    assert reference.status == "succeeded", reference.error

    h = s.jobs.submit("classify.train", {**params, "name": "killed"}, seed=3)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "reelforge.cli.main", "--studio", str(s.home), "worker", "-n", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        with session_scope(s.Session) as sess:
            ck = sess.scalar(select(JobCheckpointRow).where(JobCheckpointRow.job_id == h.id))
        if ck is not None and h.job.progress_done >= 20:
            break
        assert time.monotonic() < deadline and proc.poll() is None, "training never checkpointed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert h.job.status == "running"
    from reelforge.compute.worker import Worker

    Worker(s, worker_id="rescuer").run(stop_when_idle=True)
    job = h.job
    assert job.status == "succeeded" and job.attempt == 2, job.error
    assert any(m["message"].startswith("resuming from checkpoint") for m in s.jobs.logs(job.id))
    a, b = s.models.get(job.result["model"]), s.models.get(reference.result["model"])
    assert {f.name: f.sha256 for f in a.files}["model.safetensors"] == \
        {f.name: f.sha256 for f in b.files}["model.safetensors"]
    assert job.result["test"] == reference.result["test"]
    s.close()

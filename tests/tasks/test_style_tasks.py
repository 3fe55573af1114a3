"""style.transfer and style.train through a real studio (SQLite): outputs are assets and models with
lineage back to the content, the style and the job; bad input fails the job before anything is stored;
and ``reelforge style`` on the command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from reelforge.cli.main import main
from reelforge.errors import InvalidInput
from reelforge.media import iter_frames, write_video
from reelforge.studio import Studio
from reelforge.vision.style.fast import FastStyleModel
from reelforge.vision.style.optimize import fit_size


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def studio1(tmp_path: Path) -> Iterator[Studio]:
    """A studio whose jobs use one thread and run chunks in this process."""
    s = Studio.init(tmp_path / "studio", worker_concurrency=1)
    yield s
    s.close()


def _png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    big = fit_size(data.astronaut(), 160)
    frames = np.stack([big[30 + t : 94 + t, 20 + 3 * t : 84 + 3 * t] for t in range(8)])
    write_video(iter(frames), tmp_path / "pan.mp4", fps=12)
    return {"content": _png(tmp_path / "astronaut.png", fit_size(data.astronaut(), 64)),
            "style": _png(tmp_path / "hubble.png", fit_size(data.hubble_deep_field()[:400, :400], 64)),
            "dot": _png(tmp_path / "dot.png", np.full((1, 1, 3), 200, np.uint8)),
            "video": tmp_path / "pan.mp4"}


def _pixels(s: Studio, asset_id: str) -> np.ndarray:
    a = s.assets.get(asset_id)
    return np.asarray(Image.open(s.assets.local_path(a)).convert("RGB"))


def test_transfer_an_image_end_to_end(studio1: Studio, files: dict[str, Path]) -> None:
    s = studio1
    content, style = (s.assets.add([files[k]]).assets[0].id for k in ("content", "style"))
    job = s.jobs.submit("style.transfer", {"content": content, "style": style, "steps": 30, "size": 64}).run()
    assert job.status == "succeeded", job.error
    out = s.assets.get(job.result["image"])
    assert out.kind == "image" and out.created_by_job == job.id and out.name.startswith("style/astronaut.")
    assert out.meta["provenance"]["digital_source_type"].endswith("compositeWithTrainedAlgorithmicMedia")
    assert out.meta["generation"]["features"] == "random(seed=0)"
    assert sorted(s.lineage.graph(out.id).raw_assets()) == sorted([content, style])
    pixels, source = _pixels(s, out.id), _pixels(s, content)
    assert pixels.shape == source.shape and np.abs(pixels.astype(float) - source).mean() > 10


def test_a_one_pixel_style_fails_the_job_and_stores_nothing(studio1: Studio, files: dict[str, Path]) -> None:
    s = studio1
    content, dot = (s.assets.add([files[k]]).assets[0].id for k in ("content", "dot"))
    before = len(s.assets.list())
    job = s.jobs.submit("style.transfer", {"content": content, "style": dot, "steps": 5, "size": 64}).run()
    assert job.status == "failed"
    assert "1x1 pixels" in job.error and "at least 16x16" in job.error and "\n" not in job.error
    assert len(s.assets.list()) == before and not job.result.get("outputs")


def test_params_need_exactly_one_style(studio1: Studio, files: dict[str, Path]) -> None:
    content = studio1.assets.add([files["content"]]).assets[0].id
    with pytest.raises(InvalidInput, match="style image or a trained style model"):
        studio1.jobs.submit("style.transfer", {"content": content})
    with pytest.raises(InvalidInput, match="network needs a model"):
        studio1.jobs.submit("style.transfer", {"content": content, "style": content, "method": "network"})


def test_transfer_a_video_end_to_end_in_parallel_chunks(sqlite_studio: Studio, files: dict[str, Path]) -> None:
    s = sqlite_studio  # worker_concurrency 2: the chunks go to a process pool (ctx.map)
    video, style = (s.assets.add([files[k]]).assets[0].id for k in ("video", "style"))
    job = s.jobs.submit("style.transfer", {"content": video, "style": style, "steps": 8, "size": 48,
                                           "chunk_frames": 4, "overlap": 1}).run()
    assert job.status == "succeeded", job.error
    r = job.result
    assert r["frames"] == 8 and r["chunks"] == 2 and (r["width"], r["height"]) == (48, 48)
    out = s.assets.get(r["video"])
    assert out.kind == "video" and out.created_by_job == job.id and out.meta["temporal"] is True
    assert out.meta["audio"] is False  # the pan has no sound
    assert sorted(s.lineage.graph(out.id).raw_assets()) == sorted([video, style])
    frames = list(iter_frames(s.assets.local_path(out)))
    assert len(frames) == 8 and frames[0].shape == (48, 48, 3)


def test_a_stylised_film_keeps_its_sound_in_sync(studio1: Studio, files: dict[str, Path], tmp_path: Path) -> None:
    from tests.media.test_source_audio import _clip, _sound

    s = studio1
    film = s.assets.add([_clip(tmp_path / "reel.mp4", seconds=1.25)]).assets[0].id
    style = s.assets.add([files["style"]]).assets[0].id
    job = s.jobs.submit("style.transfer", {"content": film, "style": style, "steps": 2, "size": 64,
                                           "chunk_frames": 16, "overlap": 1}).run()
    assert job.status == "succeeded", job.error
    out = s.assets.get(job.result["video"])
    assert out.meta["audio"] is True and job.result["frames"] == 30
    samples, first = _sound(s.assets.local_path(out))
    assert abs(first + int(np.argmax(np.abs(samples))) / 48000 - 1.0) < 0.01  # the click, on the flash
    assert abs(first + len(samples) / 48000 - 1.25) < 0.05  # as long as the picture


def test_train_a_network_then_use_it_on_an_image(studio1: Studio, files: dict[str, Path], tmp_path: Path) -> None:
    s = studio1
    for i, name in enumerate(("chelsea", "coffee", "rocket")):
        s.assets.add([_png(tmp_path / "content" / f"{name}.png", fit_size(getattr(data, name)(), 96))])
        del i
    ds = s.datasets.create("frames", kind="image").ref
    style = s.assets.add([files["style"]]).assets[0].id
    job = s.jobs.submit("style.train", {"style": style, "dataset": ds, "name": "hubble", "steps": 4, "size": 64,
                                        "batch_size": 2, "width": 8, "res_blocks": 1, "checkpoint_every": 2}).run()
    assert job.status == "succeeded", job.error
    model = s.models.get("hubble")
    assert model.kind == "style" and model.created_by_job == job.id and model.metrics["steps"] == 4
    assert {"loss", "style", "content"} <= set(model.metrics) and s.assets.get(job.result["preview"]).kind == "image"
    loaded = FastStyleModel.load(s.models.materialize(model))
    assert loaded.config.width == 8 and len(loaded.metadata["history"]) >= 1
    content = s.assets.add([files["content"]]).assets[0].id
    used = s.jobs.submit("style.transfer", {"content": content, "model": "hubble", "size": 64}).run()
    assert used.status == "succeeded", used.error
    assert used.result["method"] == "network"
    got = _pixels(s, used.result["image"])
    assert np.array_equal(got, loaded.stylize(_pixels(s, content)))
    assert model.id in {i["id"] for i in s.jobs.inputs(used.id)}


def rf(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_style_transfer(tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "studio"
    assert rf(capsys, "init", home)[0] == 0
    code, out, err = rf(capsys, "--studio", home, "style", "transfer", files["content"], files["style"],
                        "--steps", 5, "--size", 48, "--preserve-colour", "luminance")
    assert code == 0, err
    assert "image 48x48 (optimise)" in out
    assert len(list((home / "outputs").rglob("*.png"))) == 1
    before = len(Studio.open(home).assets.list())
    code, out, err = rf(capsys, "--studio", home, "style", "transfer", files["content"], files["dot"])
    assert code == 2 and "1x1 pixels" in err
    assert len(Studio.open(home).assets.list()) == before  # refused before the dot was ingested

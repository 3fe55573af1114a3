"""Screenplay tasks through the job system, on the project's own sample screenplays."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from reelforge.cli.main import main
from reelforge.script import sample_path
from reelforge.studio import Studio


def _doc(studio: Studio, asset_id: str) -> bytes:
    return studio.blobs.read_bytes(studio.assets.get(asset_id).sha256)


@pytest.fixture
def sample(sqlite_studio: Studio) -> str:
    return sqlite_studio.assets.add([sample_path()]).added[0].id


def test_breakdown_task_writes_json_csv_html(sqlite_studio: Studio, sample: str) -> None:
    job = sqlite_studio.jobs.submit("script.breakdown", {"screenplay": sample}).run()
    assert job.status == "succeeded", job.error
    bd = json.loads(_doc(sqlite_studio, job.result["breakdown"]))
    assert len(bd["scenes"]) == job.result["scenes"] >= 8
    assert all(s["eighths"] >= 1 for s in bd["scenes"])
    rows = list(csv.DictReader(io.StringIO(_doc(sqlite_studio, job.result["stripboard_csv"]).decode())))
    assert len(rows) == len(bd["scenes"])
    html = _doc(sqlite_studio, job.result["stripboard_html"]).decode()
    assert "<table" in html and "MARGOT" in html
    outs = sqlite_studio.assets.get_many(job.result["outputs"])
    assert {a.kind for a in outs} == {"document"} and all(a.created_by_job == job.id for a in outs)
    g = sqlite_studio.lineage.graph(job.result["stripboard_csv"])
    assert g.raw_assets() == [sample]


def test_analyze_task_finds_the_conflict_and_report(sqlite_studio: Studio, sample: str) -> None:
    job = sqlite_studio.jobs.submit("script.analyze", {"screenplay": sample}).run()
    assert job.status == "succeeded", job.error
    data = json.loads(_doc(sqlite_studio, job.result["analysis"]))
    pairs = [tuple(sorted(p)) for p in job.result["conflicts"]]
    assert ("DESMOND", "MARGOT") in pairs
    assert job.result["most_central"] == "MARGOT"
    assert data["turning_points"] and data["characters"]
    html = _doc(sqlite_studio, job.result["report"]).decode()
    assert "<svg" in html and "DESMOND" in html


def test_search_index_is_stored_and_reused(sqlite_studio: Studio, sample: str) -> None:
    zh = sqlite_studio.assets.add([sample_path("chinese_sample.txt")]).added[0].id
    job = sqlite_studio.jobs.submit("script.index", {"embedder": "lexical"}).run()
    assert job.status == "succeeded", job.error
    assert job.result["embedded_now"] == job.result["documents"] > 20
    again = sqlite_studio.jobs.submit("script.index", {"embedder": "lexical"}).run()
    assert again.result["embedded_now"] == 0, "unchanged screenplays are not embedded again"
    hits = sqlite_studio.search.query("projector booth film reel", k=5, reindex=False)
    assert hits and hits[0]["meta"]["asset"] in (sample, zh)
    assert sqlite_studio.models.get("script-search-index").version == 2


def test_dialogue_model_trains_and_generates(sqlite_studio: Studio, sample: str) -> None:
    params = {"screenplays": [sample], "steps": 30, "batch_size": 8, "block_size": 64, "n_layer": 1,
              "n_head": 2, "n_embd": 32, "checkpoint_every": 10}
    job = sqlite_studio.jobs.submit("script.train_lm", params, seed=1).run()
    assert job.status == "succeeded", job.error
    model = sqlite_studio.models.get(job.result["model"])
    assert model.kind == "dialogue-lm" and {f.name for f in model.files} == {"model.safetensors", "config.json"}
    assert "train_loss" in sqlite_studio.jobs.metrics(job.id)
    gen = sqlite_studio.jobs.submit("script.generate", {"model": "dialogue-lm", "character": "MARGOT",
                                                        "max_chars": 80}, seed=3).run()
    assert gen.status == "succeeded", gen.error
    assert gen.result["text"].startswith("MARGOT\n")
    frag = sqlite_studio.assets.get(gen.result["fragment"])
    assert frag.kind == "screenplay" and frag.format == "fountain"
    same = sqlite_studio.jobs.submit("script.generate", {"model": "dialogue-lm", "character": "MARGOT",
                                                         "max_chars": 80}, seed=3).run()
    assert same.result["text"] == gen.result["text"], "same seed, same lines"


def test_bad_inputs_fail_clearly(sqlite_studio: Studio, tmp_path: Path) -> None:
    from tests.conftest import make_image

    img = sqlite_studio.assets.add([make_image(tmp_path / "i.png")]).added[0].id
    job = sqlite_studio.jobs.submit("script.analyze", {"screenplay": img}).run()
    assert job.status == "failed" and "not a screenplay" in (job.error or "") and job.attempt == 1


def test_cli_convert_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = Path(sample_path())
    assert main(["script", "convert", str(src), str(tmp_path / "a.fdx")]) == 0
    assert main(["script", "convert", str(tmp_path / "a.fdx"), str(tmp_path / "b.fountain")]) == 0
    assert main(["script", "convert", str(tmp_path / "b.fountain"), str(tmp_path / "c.fdx")]) == 0
    assert (tmp_path / "a.fdx").read_text() == (tmp_path / "c.fdx").read_text()
    assert main(["script", "convert", str(src), str(tmp_path / "x.docx")]) == 2
    assert not (tmp_path / "x.docx").exists()

"""``video.shots`` through a studio's job system, and ``reelforge video shots`` as a user runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from reelforge.cli.main import main
from reelforge.studio import Studio
from reelforge.video.scoring import evaluate, quality_failures
from reelforge.video.synthetic import SyntheticTruth


def _json(studio: Studio, asset_id: str) -> dict:
    return json.loads(studio.blobs.read_bytes(studio.assets.get(asset_id).sha256))


def test_task_writes_shot_list_keyframes_and_contact_sheet(sqlite_studio: Studio, edited: SyntheticTruth) -> None:
    s = sqlite_studio
    video = s.assets.add([Path(edited.path)]).added[0].id
    job = s.jobs.submit("video.shots", {"video": video, "detector": "content"}).run()
    assert job.status == "succeeded", job.error
    r = job.result
    assert {k: r[k] for k in ("shots", "cuts", "dissolves", "fades", "flashes")} == {
        "shots": 8, "cuts": 3, "dissolves": 2, "fades": 4, "flashes": 3}
    assert r["fps"] == 24.0 and r["frames"] == 280 and r["vfr"] is False and r["detectors"] == ["content"]

    data = _json(s, r["shot_list"])
    assert data["source"] == video and s.assets.get(r["shot_list"]).name == "shots/edited.json"
    ev = evaluate(data["transitions"], edited.transitions, flashes=edited.flashes, fast_motion=edited.fast_motion)
    assert quality_failures(ev) == []

    keyframes = s.assets.get_many(r["keyframes"])
    assert len(keyframes) == 8 and all(a.kind == "image" and a.created_by_job == job.id for a in keyframes)
    middles = [(sh["start_frame"] + sh["end_frame"] - 1) // 2 for sh in data["shots"]]
    assert [a.meta["frame"] for a in keyframes] == middles  # no shot's middle is a flash here
    assert s.lineage.graph(r["keyframes"][3]).raw_assets() == [video]
    sheet = s.assets.get(r["contact_sheet"])
    assert sheet.kind == "image" and sheet.name == "shots/edited.contact_sheet.png"
    with Image.open(s.assets.local_path(sheet)) as im:
        assert im.width >= 3 * 200 and im.height >= 3 * 200
    assert s.lineage.graph(r["contact_sheet"]).raw_assets() == [video]
    log = " ".join(line["message"] for line in s.jobs.logs(job.id))
    assert "detectors: content" in log


def test_task_refuses_what_is_not_a_video(sqlite_studio: Studio, audio_only: Path) -> None:
    s = sqlite_studio
    audio = s.assets.add([audio_only]).added[0].id
    before = len(s.assets.list())
    job = s.jobs.submit("video.shots", {"video": audio, "detector": "content"}).run()
    assert job.status == "failed" and job.attempt == 1
    assert job.error is not None and "is audio, not a video" in job.error and "\n" not in job.error
    assert len(s.assets.list()) == before  # nothing stored


def test_task_on_a_variable_frame_rate_video(sqlite_studio: Studio, vfr: tuple) -> None:
    path, _, _ = vfr
    s = sqlite_studio
    video = s.assets.add([path]).added[0].id
    job = s.jobs.submit("video.shots", {"video": video, "detector": "content", "keyframes": False}).run()
    assert job.status == "succeeded", job.error
    assert job.result["vfr"] is True and job.result["shots"] == 2 and "keyframes" not in job.result
    assert _json(s, job.result["shot_list"])["vfr"] is True
    assert any(line["level"] == "warning" and "variable frame rate" in line["message"]
               for line in s.jobs.logs(job.id))


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_shots_table_exports_and_json(tmp_path: Path, edited: SyntheticTruth,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "studio"
    assert _cli(capsys, "init", home)[0] == 0
    code, out, err = _cli(capsys, "--studio", home, "video", "shots", edited.path, "--detector", "content",
                          "--no-keyframes")
    assert code == 0, err
    assert "00:00:01:06" in out and re.search(r"dissolve \(1[0-3] fr\)", out) and "fade_in (10 fr)" in out
    assert "8 shots in 280 frames (24.000 fps): 3 cuts, 2 dissolves, 4 fades" in out
    doc = home / "outputs" / "shots" / "edited.json"
    assert f"shot list:     {doc}" in out and json.loads(doc.read_text())["frames"] == 280
    assert (home / "outputs" / "shots" / "edited.contact_sheet.png").is_file()

    code, out, err = _cli(capsys, "--studio", home, "--json", "video", "shots", edited.path, "--detector",
                          "content", "--no-keyframes")
    assert code == 0, err
    data = json.loads(out)
    assert data["shots"] == 8 and data["shot_list_data"]["shots"][1]["start_tc"] == "00:00:01:06"
    assert Path(data["shot_list_file"]) == doc


def test_cli_bad_input_is_one_line_and_stores_nothing(tmp_path: Path, audio_only: Path, edited: SyntheticTruth,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "studio"
    assert _cli(capsys, "init", home)[0] == 0
    code, out, err = _cli(capsys, "--studio", home, "video", "shots", audio_only)
    assert code == 2 and err.strip() == "error: voice.mp4 is not a video (its content is m4a audio)"
    assert "Traceback" not in out + err
    assert json.loads(_cli(capsys, "--studio", home, "--json", "ls")[1]) == []
    code, _, err = _cli(capsys, "--studio", home, "video", "shots", tmp_path / "missing.mp4")
    assert code == 3 and len(err.strip().splitlines()) == 1
    code, _, err = _cli(capsys, "--studio", home, "video", "shots", edited.path, "--detector", "magic")
    assert code == 2 and err.strip() == "error: unknown detector 'magic': use auto, content, transnet, both"
    assert json.loads(_cli(capsys, "--studio", home, "--json", "ls")[1]) == []

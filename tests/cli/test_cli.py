"""The command line, driven as a user would: exit codes, one-line errors, real jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reelforge.cli.main import main
from tests.conftest import make_image
from tests.media.bad_corpus import make_bad_corpus


def rf(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    h = tmp_path / "studio"
    assert rf(capsys, "init", h)[0] == 0
    return h


def test_init_creates_a_studio_and_refuses_twice(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (home / "reelforge.toml").is_file() and (home / "catalog.db").is_file()
    assert (home / "blobs").is_dir() and (home / "cache").is_dir()
    code, _, err = rf(capsys, "init", home)
    assert code == 5 and err.strip().startswith("error: a studio already exists")


def test_no_studio_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REELFORGE_HOME", raising=False)
    code, _, err = rf(capsys, "ls")
    assert code == 3 and "no studio here" in err and len(err.strip().splitlines()) == 1


def test_add_ls_show_tag_export(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        make_image(tmp_path / "shots" / f"s{i}.png", seed=i)
    code, out, _ = rf(capsys, "--studio", home, "add", tmp_path / "shots", "--tag", "plate")
    assert code == 0 and "3 added" in out
    code, out, _ = rf(capsys, "--studio", home, "--json", "ls", "--kind", "image", "--tag", "plate")
    assets = json.loads(out)
    assert [a["name"] for a in assets] == ["s0.png", "s1.png", "s2.png"]
    code, out, _ = rf(capsys, "--studio", home, "--json", "show", assets[0]["id"])
    assert json.loads(out)["info"]["width"] == 64
    code, out, _ = rf(capsys, "--studio", home, "tag", assets[0]["id"], "--add", "hero")
    assert code == 0 and "hero" in out
    code, out, _ = rf(capsys, "--studio", home, "export", assets[0]["id"], tmp_path / "out")
    assert code == 0 and (tmp_path / "out" / "s0.png").read_bytes() == (tmp_path / "shots" / "s0.png").read_bytes()


def test_bad_input_gets_one_line_and_exit_code(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = make_bad_corpus(tmp_path / "bad")
    for path in corpus:
        code, _, err = rf(capsys, "--studio", home, "add", path)
        assert code == 2, (path, err)
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    code, _, err = rf(capsys, "--studio", home, "add", tmp_path / "missing.png")
    assert code == 3 and "no such file" in err
    code, _, err = rf(capsys, "--studio", home, "add", "--skip-invalid", *corpus)
    assert code == 2 and sum(line.startswith("rejected ") for line in err.splitlines()) == len(corpus)
    code, out, _ = rf(capsys, "--studio", home, "--json", "ls")
    assert json.loads(out) == []
    code, _, err = rf(capsys, "--studio", home, "run", "media.proxy", "--asset", "nothing.png")
    assert code == 3 and "no asset" in err
    code, _, err = rf(capsys, "--studio", home, "run", "media.proxy", "--asset", "x", "--max-side", "5")
    assert code in (2, 3)
    code, _, err = rf(capsys, "--studio", home, "jobs", "show", "job_nope")
    assert code == 3


def test_run_jobs_lineage_provenance_fsck(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for offset, label in ((0, "ship"), (100, "moon")):  # fixed seeds: hash() of a str is salted per run
        for i in range(3):
            make_image(tmp_path / "set" / label / f"{label}{i}.png", seed=offset + i)
    code, out, _ = rf(capsys, "--studio", home, "dataset", "create", "set", "--from-folder", tmp_path / "set")
    assert code == 0 and "set@1" in out and "'ship': 3" in out
    code, out, _ = rf(capsys, "--studio", home, "--json", "run", "media.contact_sheet", "--dataset", "set@1",
                      "--cell", "48", "--seed", "3")
    assert code == 0
    job = json.loads(out)
    assert job["status"] == "succeeded" and job["seed"] == 3
    sheet = job["result"]["contact_sheet"]
    code, out, _ = rf(capsys, "--studio", home, "lineage", sheet)
    assert code == 0 and "media.contact_sheet" in out and "set@1" in out and "ship0.png" in out
    code, out, _ = rf(capsys, "--studio", home, "export", sheet, tmp_path / "out")
    exported = Path(out.strip())
    code, out, _ = rf(capsys, "--studio", home, "provenance", exported)
    assert code == 0 and "verified" in out and job["id"] in out
    code, _, _ = rf(capsys, "--studio", home, "provenance", tmp_path / "set" / "ship" / "ship0.png")
    assert code == 1
    code, out, _ = rf(capsys, "--studio", home, "jobs", "ls")
    assert code == 0 and "succeeded" in out
    code, out, _ = rf(capsys, "--studio", home, "jobs", "logs", job["id"])
    assert "attempt 1/3 started" in out
    code, out, _ = rf(capsys, "--studio", home, "--json", "fsck")
    assert code == 0 and json.loads(out)["clean"]
    code, out, _ = rf(capsys, "--studio", home, "dataset", "export", "set", tmp_path / "ds")
    assert code == 0 and (tmp_path / "ds" / "manifest.csv").is_file()
    code, out, _ = rf(capsys, "--studio", home, "tasks")
    assert "media.fingerprint" in out


def test_detached_job_runs_on_a_worker(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_image(tmp_path / "a.png", (300, 300))
    rf(capsys, "--studio", home, "add", tmp_path / "a.png")
    code, out, _ = rf(capsys, "--studio", home, "run", "--detach", "media.proxy", "--asset", "a.png", "--max-side", "64")
    job_id = out.strip()
    assert code == 0 and job_id.startswith("job_")
    code, _, _ = rf(capsys, "--studio", home, "worker", "--drain")
    assert code == 0
    code, out, _ = rf(capsys, "--studio", home, "--json", "jobs", "show", job_id)
    assert json.loads(out)["status"] == "succeeded"


def test_console_script_and_demo(tmp_path: Path) -> None:
    """The installed `reelforge` command end to end: the demo on a fresh studio."""
    exe = Path(sys.executable).with_name("reelforge")
    # A short GAN run: the full demo's training length is measured in benchmarks, not in tests.
    env = {**os.environ, "COLUMNS": "200", "REELFORGE_DEMO_GAN_STEPS": "12"}
    proc = subprocess.run([str(exe), "demo", str(tmp_path / "demo")], capture_output=True, text=True, env=env,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "demo results" in proc.stdout
    outputs = tmp_path / "demo" / "outputs"
    assert (outputs / "contact_sheets" / "nebula-plates_v1.png").is_file()
    assert (outputs / "proxies" / "hubble_pan.mp4").is_file()
    assert (outputs / "analysis" / "the_last_reel.report.html").is_file()
    assert list((outputs / "walks" / "nebula-plates").glob("*.gif"))
    assert list((outputs / "style").glob("astronaut.*.png"))
    assert (outputs / "restored" / "hubble_reel.mp4").is_file()
    assert (outputs / "restored" / "moon_scan.mask.png").is_file()
    proc = subprocess.run([str(exe), "--studio", str(tmp_path / "demo"), "--json", "jobs", "ls"],
                          capture_output=True, text=True, env=env)
    jobs = json.loads(proc.stdout)
    assert jobs and all(j["status"] == "succeeded" for j in jobs)

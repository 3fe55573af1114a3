"""Ingest fanned out to worker processes: the same assets as in-process, all-or-nothing, derived jobs.

Real files, real decoding, real spawned processes. The pool is forced for small corpora by lowering
the serial-work threshold (a real ingest only starts one when the work is worth it).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.catalog import staging
from reelforge.catalog.staging import IngestProgress
from reelforge.errors import MediaError
from reelforge.media import write_video
from reelforge.studio import Studio
from tests.conftest import make_image


def _snapshot(studio: Studio) -> tuple[list[str], list[str], list[str], list[str]]:
    blobs = sorted(b.sha256 for b in studio.blobs.iter_blobs())
    assets = sorted(a.id for a in studio.assets.list())
    staging_files = sorted(p.name for p in studio.blobs.tmp.iterdir())  # type: ignore[attr-defined]
    root = studio.blobs.root  # type: ignore[attr-defined]
    folders = sorted(str(p.relative_to(root)) for p in root.glob("??") if p.is_dir())
    return blobs, assets, staging_files, folders


def _corpus(folder: Path, n: int = 24) -> Path:
    """PNG and JPEG stills of several sizes (some fit the thumbnail box), a small video, a wav
    and a screenplay, with one duplicate pair: every path of the ingest."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for i in range(n):
        size = (int(rng.integers(40, 700)), int(rng.integers(40, 500)))
        fmt, suffix = (("PNG", "png"), ("JPEG", "jpg"))[i % 2]
        make_image(folder / "stills" / f"s{i:02d}.{suffix}", size, seed=i, fmt=fmt)
    shutil.copy(folder / "stills" / "s00.png", folder / "stills" / "copy_of_s00.png")
    frames = (np.full((48, 64, 3), 20 * i, dtype=np.uint8) for i in range(12))
    write_video(frames, folder / "clip.mp4", fps=12)
    (folder / "scene.fountain").write_text("INT. HOUSE - DAY\n\nANNA\nHello.\n", encoding="utf-8")
    return folder


@pytest.fixture
def force_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staging, "_PARALLEL_FROM_SECONDS", 0.0)


def _described(studio: Studio) -> list[tuple[object, ...]]:
    out = []
    for a in studio.assets.list():
        thumb = studio.blobs.read_bytes(a.thumb_sha256) if a.thumb_sha256 else None
        out.append((a.name, a.kind, a.format, a.sha256, a.size, json.dumps(a.info, sort_keys=True),
                    a.thumb_sha256, thumb, a.tags))
    return sorted(out, key=lambda t: str(t[0]))


@pytest.mark.usefixtures("force_pool")
def test_parallel_staging_gives_the_same_assets_as_serial(tmp_path: Path) -> None:
    src = _corpus(tmp_path / "in")
    serial = Studio.init(tmp_path / "serial")
    pooled = Studio.init(tmp_path / "pooled")
    seen: list[IngestProgress] = []
    a = serial.assets.add([src], tags=["day1"], workers=1)
    b = pooled.assets.add([src], tags=["day1"], workers=2, on_progress=seen.append)
    assert [x.name for x in a.added] == [x.name for x in b.added]  # the order files were given
    assert len(a.added) == len(b.added) == 26 and len(a.duplicates) == len(b.duplicates) == 1
    # The second of two equal files is reported as the asset the first one became.
    assert b.duplicates[0].name == "stills/copy_of_s00.png" and b.duplicates[0].duplicate
    assert _described(serial) == _described(pooled)
    assert not list(pooled.blobs.tmp.iterdir())  # type: ignore[attr-defined]
    assert pooled.fsck().clean and not pooled.fsck().unreferenced
    # Progress counted every file and byte, and ended with the commit.
    assert seen[-1].files_done == seen[-1].files_total == 27 and seen[-1].message == "committing"
    assert seen[-1].bytes_done == sum(p.stat().st_size for p in src.rglob("*") if p.is_file())


def test_small_jpegs_are_their_own_thumbnails(tmp_path: Path) -> None:
    s = Studio.init(tmp_path / "studio")
    small = make_image(tmp_path / "small.jpg", (200, 120), fmt="JPEG")
    near = make_image(tmp_path / "near.jpg", (384, 200), fmt="JPEG")  # 1.5x the box: still its own
    over = make_image(tmp_path / "over.jpg", (385, 200), fmt="JPEG")
    big = make_image(tmp_path / "big.jpg", (900, 300), fmt="JPEG")
    report = s.assets.add([small, near, over, big])
    by_name = {a.name: a for a in report.added}
    assert by_name["small.jpg"].thumb_sha256 == by_name["small.jpg"].sha256
    assert by_name["near.jpg"].thumb_sha256 == by_name["near.jpg"].sha256
    assert Image.open(s.blobs.local_path(by_name["over.jpg"].thumb_sha256)).size == (256, 133)  # type: ignore[attr-defined]
    thumb = Image.open(s.blobs.local_path(by_name["big.jpg"].thumb_sha256))  # type: ignore[attr-defined]
    assert thumb.format == "JPEG" and thumb.size == (256, 85)
    assert by_name["big.jpg"].thumb_sha256 != by_name["big.jpg"].sha256
    assert s.fsck().clean and not s.fsck().unreferenced


@pytest.mark.usefixtures("force_pool")
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_one_bad_file_among_many_stores_nothing(tmp_path: Path, where: str) -> None:
    src = _corpus(tmp_path / "in")
    good = make_image(tmp_path / "x.png", (300, 200), seed=99).read_bytes()
    name = {"first": "stills/a_bad.png", "middle": "stills/s11_bad.png", "last": "stills/z_bad.png"}[where]
    (src / name).write_bytes(good[: len(good) // 2])  # truncated in its image data
    s = Studio.init(tmp_path / "studio")
    s.assets.add([make_image(tmp_path / "seed.png", seed=5)])
    before = _snapshot(s)
    with pytest.raises(MediaError, match=f"{Path(name).name}.*truncated"):
        s.assets.add([src], workers=2)
    assert _snapshot(s) == before  # no asset, no blob, no staging file, no new blob folder
    report = s.assets.add([src], workers=2, skip_invalid=True)
    assert len(report.added) == 26 and [Path(p).name for p, _ in report.rejected] == [Path(name).name]
    assert not list(s.blobs.tmp.iterdir())  # type: ignore[attr-defined]
    assert s.fsck().clean and not s.fsck().unreferenced


@pytest.mark.usefixtures("force_pool")
def test_workers_that_cannot_start_fall_back_to_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    import sys

    # As when run from `python -` with a thread alive: the fork server's workers re-import
    # __main__, and this one is gone.
    monkeypatch.setattr(staging, "_single_threaded", lambda: False)
    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__spec__", None, raising=False)
    monkeypatch.setattr(main, "__file__", str(tmp_path / "gone.py"), raising=False)
    src = _corpus(tmp_path / "in", n=8)
    s = Studio.init(tmp_path / "studio")
    report = s.assets.add([src], workers=2)
    assert len(report.added) == 10 and not list(s.blobs.tmp.iterdir())  # type: ignore[attr-defined]
    assert [r.message for r in caplog.records].count(
        next(r.message for r in caplog.records if "worker processes failed" in r.message)) == 1  # said once


def test_ingest_queues_proxies_for_the_videos_added(tmp_path: Path) -> None:
    src = _corpus(tmp_path / "in", n=2)
    s = Studio.init(tmp_path / "studio")
    report = s.ingest([src], tags=["day1"])
    video = next(a for a in report.added if a.kind == "video")
    assert len(report.jobs) == 1
    job = s.jobs.get(report.jobs[0])
    assert job.task == "media.proxies" and job.status == "queued" and job.params["assets"] == [video.id]
    assert [j.id for j in s.jobs.list()] == report.jobs
    # Adding the same files again adds no video: nothing more to do.
    assert s.ingest([src]).jobs == []
    # Images only: no job; and the setting turns it off.
    assert s.ingest([make_image(tmp_path / "new.png", seed=42)]).jobs == []
    quiet = Studio.init(tmp_path / "quiet", ingest_video_proxies=False)
    assert quiet.ingest([src]).jobs == [] and quiet.jobs.list() == []


def test_settings_for_ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reelforge.config import load_settings
    from reelforge.errors import InvalidInput

    assert load_settings(tmp_path).ingest_video_proxies is True
    monkeypatch.setenv("REELFORGE_INGEST_VIDEO_PROXIES", "off")
    monkeypatch.setenv("REELFORGE_INGEST_WORKERS", "3")
    settings = load_settings(tmp_path)
    assert settings.ingest_video_proxies is False and settings.ingest_workers == 3
    monkeypatch.setenv("REELFORGE_INGEST_VIDEO_PROXIES", "perhaps")
    with pytest.raises(InvalidInput, match="true or false"):
        load_settings(tmp_path)


def test_cli_add_summarises_and_queues_the_proxy_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reelforge.cli.main import main

    def rf(*args: object) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    home = tmp_path / "studio"
    assert rf("init", home)[0] == 0
    src = _corpus(tmp_path / "in", n=30)
    code, out, _ = rf("--studio", home, "add", src)
    lines = out.splitlines()
    assert code == 0 and sum(line.startswith("added ") for line in lines) == 20  # the rest summed up
    assert "… and 12 more (reelforge ls)" in out
    assert "32 added, 1 already present, 0 rejected in" in out and "files/s" in out and "MB/s" in out
    job_line = next(line for line in lines if line.startswith("queued "))
    job_id = job_line.split()[1]
    code, out, _ = rf("--studio", home, "--json", "jobs", "ls")
    jobs = json.loads(out)
    assert code == 0 and [(j["id"], j["task"], j["status"]) for j in jobs] == [(job_id, "media.proxies", "queued")]
    # A refusal among the files: exit 2, the refused file listed, and (without --skip-invalid) nothing added.
    (src / "stills" / "zz_cut.png").write_bytes((src / "stills" / "s02.png").read_bytes()[:300])
    code, out, err = rf("--studio", home, "add", src)
    assert code == 2 and "zz_cut.png" in err and len(err.strip().splitlines()) == 1
    code, out, err = rf("--studio", home, "add", src, "--skip-invalid")
    assert code == 2 and "0 added, 33 already present, 1 rejected" in out and "rejected" in err


@pytest.mark.usefixtures("force_pool")
def test_workers_are_forked_from_a_single_threaded_caller_else_from_a_fork_server(tmp_path: Path) -> None:
    import threading

    src = _corpus(tmp_path / "in", n=10)
    assert threading.active_count() == 1 and staging._pool_context().get_start_method() == "fork"
    forked = Studio.init(tmp_path / "forked")
    forked.assets.add([src], tags=["t"], workers=2)
    # A thread alive (a progress bar, a server): a fork could copy a lock it holds.
    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)
    other.start()
    try:
        assert staging._pool_context().get_start_method() == "forkserver"
        served = Studio.init(tmp_path / "served")
        served.assets.add([src], tags=["t"], workers=2)
    finally:
        release.set()
        other.join()
    serial = Studio.init(tmp_path / "serial")
    serial.assets.add([src], tags=["t"], workers=1)
    assert _described(forked) == _described(served) == _described(serial)
    for s in (forked, served):
        assert s.fsck().clean and not list(s.blobs.tmp.iterdir())  # type: ignore[attr-defined]


@pytest.mark.usefixtures("force_pool")
def test_cyclic_gc_is_paused_while_ingesting_and_restored_after(tmp_path: Path) -> None:
    import gc

    from reelforge.media.limits import MediaLimits

    src = _corpus(tmp_path / "in", n=6)
    s = Studio.init(tmp_path / "studio")
    seen: list[bool] = []
    s.assets.add([src], workers=2, on_progress=lambda p: seen.append(gc.isenabled()))
    assert seen and not any(seen) and gc.isenabled()
    gc.disable()  # a caller that runs without it keeps it off
    try:
        s.assets.add([make_image(tmp_path / "one.png", seed=7)])
        assert not gc.isenabled()
    finally:
        gc.enable()
    # With another thread alive (a server's), collection is left alone.
    import threading

    release = threading.Event()
    other = threading.Thread(target=release.wait, daemon=True)
    other.start()
    try:
        with staging.gc_paused():
            assert gc.isenabled()
    finally:
        release.set()
        other.join()
    # A worker forked while it is paused collects its own garbage.
    ctx = staging._pool_context()
    initargs = (str(tmp_path / "blobs"), MediaLimits().to_dict(), ctx.Event(), False, None, ctx.Array("b", 1))
    with staging.gc_paused():
        import concurrent.futures as cf

        with cf.ProcessPoolExecutor(1, mp_context=ctx, initializer=staging._init_worker, initargs=initargs) as pool:
            assert pool.submit(gc.isenabled).result() is True


def test_a_chunk_goes_to_the_first_process_that_claims_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import multiprocessing

    from reelforge.media.limits import MediaLimits
    from reelforge.storage import open_blob_store

    claims = multiprocessing.get_context("fork").Array("b", 2)
    monkeypatch.setattr(staging, "_WORKER", {
        "blobs": open_blob_store(f"file://{tmp_path / 'blobs'}"), "limits": MediaLimits(),
        "stop": multiprocessing.get_context("fork").Event(), "defer": False, "claims": claims})
    image = make_image(tmp_path / "a.png", seed=3)
    item = (0, image, "a.png", "a.png", False)
    assert staging._claim(claims, 1)  # the calling process took chunk 1
    assert staging._worker_chunk(1, [item], False) is None  # a worker given it skips it
    got = staging._worker_chunk(0, [item], False)
    assert got is not None and isinstance(got[0][1], staging.Staged)
    assert not staging._claim(claims, 0)  # and nobody takes chunk 0 again
    got[0][1].discard()


def _record_place(log: Path) -> object:
    from reelforge.storage.local import LocalBlobStore

    real = LocalBlobStore.place_staged

    def place_staged(self: LocalBlobStore, path: str, sha256: str, size: int) -> tuple[str, bool]:
        with open(log, "a", encoding="ascii") as fh:
            fh.write(f"{os.getpid()}\n")
        return real(self, path, sha256, size)

    return place_staged


@pytest.mark.usefixtures("force_pool")
def test_the_workers_rename_the_blobs_under_their_hashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reelforge.storage.local import LocalBlobStore

    src = _corpus(tmp_path / "in", n=30)
    s = Studio.init(tmp_path / "studio")
    log = tmp_path / "placed-by"
    monkeypatch.setattr(LocalBlobStore, "place_staged", _record_place(log))  # forked workers have it too
    report = s.assets.add([src], workers=2)
    assert len(report.added) == 32 and len(report.duplicates) == 1
    pids = log.read_text(encoding="ascii").split()
    # Every blob (and thumbnail) once, none by this process: it wrote the rows meanwhile.
    assert len(pids) == len({a.sha256 for a in s.assets.list()} | {a.thumb_sha256 for a in s.assets.list()}) + 1
    assert str(os.getpid()) not in pids
    assert not list(s.blobs.tmp.iterdir()) and s.fsck().clean and not s.fsck().unreferenced  # type: ignore[attr-defined]


def _place_one_then_fail(blobs: list[tuple[str, str, int]]) -> list[tuple[str, bool]]:
    staging._WORKER["blobs"].place_staged(*blobs[0])  # some placed already when it fails
    if os.environ.get("RF_TEST_PLACE_FAILURE") == "die":
        os._exit(1)  # the pool breaks
    raise OSError(5, "Input/output error")


@pytest.mark.usefixtures("force_pool")
@pytest.mark.parametrize("failure", ["raise", "die"])
def test_blobs_a_worker_failed_to_place_are_placed_by_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, failure: str,
) -> None:
    src = _corpus(tmp_path / "in", n=30)
    serial = Studio.init(tmp_path / "serial")
    serial.assets.add([src], workers=1)
    s = Studio.init(tmp_path / "studio")
    monkeypatch.setenv("RF_TEST_PLACE_FAILURE", failure)
    monkeypatch.setattr(staging, "_worker_place", _place_one_then_fail)
    report = s.assets.add([src], workers=2)
    assert len(report.added) == 32 and _described(s) == _described(serial)
    assert any("failed to place blobs" in r.message for r in caplog.records)
    assert not list(s.blobs.tmp.iterdir()) and s.fsck().clean and not s.fsck().unreferenced  # type: ignore[attr-defined]

"""Small files are read whole and checked in memory; the batch commit syncs while rows are written.

Real files, real decoders, a real SQLite catalog: the in-memory checks must accept and refuse
exactly what the checks of the staged file do, and no row may commit before its blob is durable.
"""

from __future__ import annotations

import concurrent.futures as cf
import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.catalog import staging
from reelforge.errors import ReelforgeError
from reelforge.media import probe_with_thumbnail
from reelforge.media.limits import MediaLimits
from reelforge.media.sniff import sniff, sniff_bytes
from reelforge.storage.local import LocalBlobStore
from reelforge.studio import Studio


def _jpeg(size: tuple[int, int], seed: int = 0, mode: str = "RGB", **save: object) -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    im = Image.fromarray(arr).convert(mode)
    out = io.BytesIO()
    im.save(out, format="JPEG", **save)
    return out.getvalue()


def _variants() -> dict[str, bytes]:
    exif = Image.Exif()
    exif[0x0112] = 6
    plain = _jpeg((200, 120), seed=1)
    big = _jpeg((900, 500), seed=6, quality=90)
    return {
        "small": plain,
        "progressive": _jpeg((240, 160), seed=2, progressive=True),
        "grey": _jpeg((180, 100), seed=3, mode="L"),
        "cmyk": _jpeg((120, 90), seed=4, mode="CMYK"),
        "rotated": _jpeg((200, 120), seed=5, exif=exif.tobytes()),
        "big": big,
        # Image data cut short but closed by an end marker, with enough bytes for the marker walk:
        # libjpeg fills the rest with grey, which the corner check catches (a 1/8 decode of the
        # small one, one pixel a block; a 1/2 decode of the big one, for its thumbnail).
        "cut and closed": plain[: len(plain) * 4 // 5] + b"\xff\xd9",
        "big, cut and closed": big[: len(big) * 4 // 5] + b"\xff\xd9",
        "cut in the scan": plain[: len(plain) // 2],
        "cut before the end marker": plain[:-2],
        "header only": plain[:300],
        "trailing bytes": plain + b"\x00" * 64,
        "png": make_png_bytes(),
        "empty": b"",
    }


def make_png_bytes() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((40, 30, 3), 90, dtype=np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _outcome(fn: object) -> tuple[str, object]:
    try:
        info, thumb = fn()  # type: ignore[operator]
    except ReelforgeError as exc:
        return type(exc).__name__, str(exc)
    return "ok", (info.to_dict(), thumb)


@pytest.mark.parametrize("name", list(_variants()))
def test_checking_the_bytes_in_memory_decides_as_checking_the_file(tmp_path: Path, name: str) -> None:
    data = _variants()[name]
    path = tmp_path / "staged.jpg"
    path.write_bytes(data)
    limits = MediaLimits()
    from_file = _outcome(lambda: probe_with_thumbnail(path, limits, 256))
    from_memory = _outcome(lambda: probe_with_thumbnail(path, limits, 256, content=data))
    assert from_memory == from_file
    expected_ok = name in ("small", "progressive", "grey", "cmyk", "rotated", "big", "trailing bytes", "png")
    assert (from_file[0] == "ok") == expected_ok, from_file
    if "closed" in name:  # refused by the corner check and FFmpeg's decode, not by the marker walk
        assert "the image data ends before the picture does" in str(from_file[1])


def test_a_small_jpeg_is_its_own_thumbnail_without_a_second_read(tmp_path: Path) -> None:
    data = _variants()["small"]
    path = tmp_path / "staged.jpg"
    path.write_bytes(data)
    _, thumb = probe_with_thumbnail(path, MediaLimits(), 256, content=data)
    assert thumb is data


def test_sniffing_bytes_says_what_sniffing_the_file_says(tmp_path: Path) -> None:
    limits = MediaLimits()
    for name, data in _variants().items():
        path = tmp_path / f"{name}.bin"
        path.write_bytes(data)
        try:
            want: object = sniff(path, limits)
        except ReelforgeError as exc:
            want = (type(exc), str(exc))
        try:
            got: object = sniff_bytes(data, path.name, limits)
        except ReelforgeError as exc:
            got = (type(exc), str(exc))
        assert got == want, name
    # Types the first bytes do not decide are left to the file's own sniff.
    assert sniff_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt ", "a.wav", limits) is None
    small = MediaLimits(max_bytes=10)
    with pytest.raises(ReelforgeError, match="over the limit of 10"):
        sniff_bytes(b"\xff\xd8\xff" + b"\x00" * 20, "x.jpg", small)


def test_staging_bytes_makes_a_read_only_file_that_commits_and_discards(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = _variants()["small"]
    staged = store.stage_bytes(data, ".jpg", sync=False)
    assert staged.path.read_bytes() == data and staged.path.suffix == ".jpg"
    assert staged.path.stat().st_mode & 0o777 == 0o444
    info = store.commit_many([staged])[0]
    assert store.read_bytes(info.sha256) == data and store.verify(info.sha256)
    gone = store.stage_bytes(b"other bytes", sync=True)
    gone.discard()
    assert not list(store.tmp.iterdir())


def test_a_file_that_grows_while_it_is_read_is_streamed_whole(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    src = tmp_path / "growing.jpg"
    src.write_bytes(b"\xff\xd8\xff" + b"a" * 100)
    real_fstat = os.fstat

    grown: list[bool] = []

    def fstat_then_grow(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        if not grown:  # another writer appends once, after the size was taken
            grown.append(True)
            with open(src, "ab") as fh:
                fh.write(b"b" * 50)
        return st

    import reelforge.catalog.staging as mod

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mod.os, "fstat", fstat_then_grow)
        blob, content = staging._stage_source(store, src, 1 << 20, False)
    assert content is None and blob.size == 153 and blob.path.read_bytes() == src.read_bytes()
    blob.discard()


def _folder_of_jpegs(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        (folder / f"f{i:03d}.jpg").write_bytes(_jpeg((64 + i, 48), seed=100 + i))
    return folder


def test_rows_commit_only_once_the_blobs_are_durable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _folder_of_jpegs(tmp_path / "in", 40)  # over the batch size that syncs once for all
    s = Studio.init(tmp_path / "studio")
    real = LocalBlobStore.sync_placed
    seen: list[int] = []

    def sync_placed(self: LocalBlobStore, placed: object, **kw: object) -> object:
        # Meanwhile the rows are being inserted; none may be visible before this returns.
        out = real(self, placed, **kw)  # type: ignore[arg-type]
        time.sleep(0.3)  # a slow disk: rows that did not wait would be committed by now
        seen.append(len(s.assets.list()))
        return out

    monkeypatch.setattr(LocalBlobStore, "sync_placed", sync_placed)
    report = s.assets.add([src])
    assert len(report.added) == 40 and seen == [0] and len(s.assets.list()) == 40
    assert s.fsck().clean


def test_a_failed_sync_commits_no_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _folder_of_jpegs(tmp_path / "in", 40)
    s = Studio.init(tmp_path / "studio")

    def broken(self: LocalBlobStore, placed: object, **kw: object) -> object:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(LocalBlobStore, "sync_placed", broken)
    with pytest.raises(OSError):
        s.assets.add([src])
    assert s.assets.list() == [] and not list(s.blobs.tmp.iterdir())  # type: ignore[attr-defined]
    monkeypatch.undo()
    # The blobs already renamed are not referenced; adding again finds them intact and keeps them.
    assert len(s.assets.add([src]).added) == 40 and s.fsck().clean and not s.fsck().unreferenced


def test_workers_get_the_callers_environment_not_the_fork_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staging, "_single_threaded", lambda: False)  # as with a thread alive
    ctx = staging._pool_context()
    with cf.ProcessPoolExecutor(1, mp_context=ctx) as pool:  # the fork server (if any) is up now
        assert pool.submit(os.getpid).result() > 0
    monkeypatch.setenv("WORKER_ENV_SET_BY_THE_TEST", "set after the server started")
    initargs = (str(tmp_path / "blobs"), MediaLimits().to_dict(), ctx.Event(), False, dict(os.environ))
    with cf.ProcessPoolExecutor(1, mp_context=ctx, initializer=staging._init_worker, initargs=initargs) as pool:
        assert pool.submit(os.getenv, "WORKER_ENV_SET_BY_THE_TEST").result() == "set after the server started"

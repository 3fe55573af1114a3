"""Shared fixtures: real studios on SQLite and on a real PostgreSQL.

PostgreSQL comes from ``REELFORGE_TEST_PG`` (default: the server on 127.0.0.1:5432, user postgres);
each test that uses it gets a fresh database, dropped afterwards. Where no PostgreSQL answers, those
tests skip with the reason, unless ``REELFORGE_REQUIRE_POSTGRES=1`` (set by .ci/run): then they fail.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.studio import Studio

PG_ADMIN = os.environ.get("REELFORGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_counter = itertools.count()
_pg_error: list[str] = []


def _pg_connect(dbname: str | None = None):  # type: ignore[no-untyped-def]
    import psycopg

    url = PG_ADMIN if dbname is None else PG_ADMIN.rsplit("/", 1)[0] + "/" + dbname
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def _pg_available() -> str | None:
    if _pg_error:
        return _pg_error[0] or None
    try:
        with _pg_connect() as conn:
            conn.execute("SELECT 1")
        _pg_error.append("")
        return None
    except Exception as exc:  # any failure means "not available here"
        _pg_error.append(f"PostgreSQL not reachable at {PG_ADMIN}: {type(exc).__name__}")
        return _pg_error[0]


@pytest.fixture
def pg_url() -> Iterator[str]:
    reason = _pg_available()
    if reason:
        if os.environ.get("REELFORGE_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (REELFORGE_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    name = f"reelforge_test_{os.getpid()}_{next(_counter)}"
    with _pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with _pg_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    if backend == "sqlite":
        return None
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def studio(tmp_path: Path, database_url: str | None) -> Iterator[Studio]:
    """A fresh studio on each catalog backend."""
    overrides = {"database_url": database_url} if database_url else {}
    s = Studio.init(tmp_path / "studio", **overrides)
    yield s
    s.close()


@pytest.fixture
def sqlite_studio(tmp_path: Path) -> Iterator[Studio]:
    s = Studio.init(tmp_path / "studio")
    yield s
    s.close()


def make_image(path: Path, size: tuple[int, int] = (64, 48), seed: int = 0, fmt: str | None = None) -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format=fmt)
    return path


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    return [make_image(tmp_path / "src" / f"img_{i}.png", seed=i) for i in range(5)]


@pytest.fixture
def media_files(tmp_path: Path) -> dict[str, Path]:
    """One real file of each kind: PNG, JPEG, H.264 MP4, WAV, Fountain and FDX."""
    import wave

    from reelforge.media import write_video

    d = tmp_path / "media"
    d.mkdir()
    out = {
        "png": make_image(d / "still.png", (80, 60), 1),
        "jpeg": make_image(d / "photo.jpg", (120, 90), 2),
    }
    frames = [np.full((64, 96, 3), i * 10, dtype=np.uint8) for i in range(12)]
    out["video"] = d / "clip.mp4"
    write_video(iter(frames), out["video"], fps=12)
    out["audio"] = d / "tone.wav"
    t = np.arange(16000) / 16000
    pcm = (np.sin(2 * np.pi * 440 * t) * 20000).astype("<i2")
    with wave.open(str(out["audio"]), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.tobytes())
    out["fountain"] = d / "scene.fountain"
    out["fountain"].write_text("Title: Test\n\nINT. HOUSE - DAY\n\nAnna waits.\n\nANNA\nHello?\n", encoding="utf-8")
    out["fdx"] = d / "scene.fdx"
    out["fdx"].write_text(
        '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n<FinalDraft DocumentType="Script" Version="5">'
        '<Content><Paragraph Type="Scene Heading"><Text>INT. HOUSE - DAY</Text></Paragraph>'
        '<Paragraph Type="Action"><Text>Anna waits.</Text></Paragraph></Content></FinalDraft>\n',
        encoding="utf-8",
    )
    return out

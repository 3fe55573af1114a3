"""Fixtures for blob store tests: a real S3 server (SeaweedFS) for the session, and stores of
every kind behind one ``any_store`` fixture, so the contract tests run on each."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage.s3_server import S3Server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("seaweedfs"))
    try:
        server.start()
    except FileNotFoundError as exc:
        if os.environ.get("REELFORGE_REQUIRE_S3") == "1":
            pytest.fail(f"{exc} (REELFORGE_REQUIRE_S3=1)")
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Server:
    """The environment an ``s3://`` store reads (endpoint, keys), staging under this test's tmp."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REELFORGE_S3_STAGING_DIR", str(tmp_path / "s3-staging"))
    return s3_server


@pytest.fixture
def s3_url(s3_env: S3Server) -> str:
    """A fresh bucket, as a blob store URL with a prefix."""
    return f"s3://{s3_env.new_bucket()}/studio-a"

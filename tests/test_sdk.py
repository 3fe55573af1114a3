"""The Python SDK: the same operations as the CLI, and schema upgrades on open."""

from __future__ import annotations

from pathlib import Path

import pytest

import reelforge
from reelforge.db.engine import current_revision, head_revision
from reelforge.errors import Conflict, NotFound
from tests.conftest import make_image


def test_sdk_round_trip(tmp_path: Path) -> None:
    studio = reelforge.init(tmp_path / "s")
    with pytest.raises(Conflict):
        reelforge.init(tmp_path / "s")
    added = studio.assets.add([make_image(tmp_path / f"{i}.png", seed=i) for i in range(3)], tags=["x"])
    ds = studio.datasets.create("three", assets=added.added, splits=(1, 0, 0))
    job = studio.jobs.submit("media.contact_sheet", {"dataset": ds.ref}).wait(timeout=120)
    assert job.status == "succeeded"
    studio.close()
    again = reelforge.open(tmp_path / "s")
    assert again.assets.get(job.result["contact_sheet"]).kind == "image"
    assert [j.id for j in again.jobs.list()] == [job.id]
    with pytest.raises(NotFound):
        reelforge.open(tmp_path / "nowhere")


def test_open_upgrades_an_older_catalog(tmp_path: Path) -> None:
    from alembic import command

    from reelforge.db.engine import _alembic_config

    studio = reelforge.init(tmp_path / "s")
    cfg = _alembic_config(studio.engine)
    with studio.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert current_revision(studio.engine) is None
    studio.close()
    reopened = reelforge.open(tmp_path / "s")
    assert reopened.migrated and current_revision(reopened.engine) == head_revision(reopened.engine)
    assert reopened.assets.list() == []

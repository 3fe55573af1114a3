"""A studio with two projects, five accounts and something of every kind, served by the app.

Accounts: ``vera`` viewer of alpha, ``ed`` editor of alpha, ``ada`` admin of alpha, ``otto`` admin of
beta (only), ``root`` studio admin. Each has a token with every scope; ``expired`` and ``revoked``
are two more tokens of ``ed``'s, one past its expiry, one revoked.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import save

from reelforge.studio import Studio

ALL_SCOPES = ["read", "write", "admin"]
_seed = itertools.count(1000)


def png_bytes(size: tuple[int, int] = (48, 32), seed: int | None = None) -> bytes:
    rng = np.random.default_rng(next(_seed) if seed is None else seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass
class World:
    studio: Studio
    client: Any
    tokens: dict[str, str | None] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def h(self, who: str) -> dict[str, str]:
        return auth(self.tokens[who])


def make_client(studio: Studio, **config: Any) -> Any:
    from fastapi.testclient import TestClient

    from reelforge.server.app import create_app
    from reelforge.server.config import ServerConfig

    app = create_app(studio, ServerConfig.load(studio.settings, **config))
    # https: the session cookie is Secure, and an http client would never send it back.
    return TestClient(app, base_url="https://testserver")


def build_world(studio: Studio, tmp: Path) -> World:
    access = studio.access
    studio.projects.create("alpha")
    studio.projects.create("beta")
    for name, admin in (("vera", False), ("ed", False), ("ada", False), ("otto", False), ("root", True),
                        ("extra", False)):
        access.create_user(name, f"{name}-password-1", admin=admin)
    access.grant("vera", "alpha", "viewer")
    access.grant("ed", "alpha", "editor")
    access.grant("ada", "alpha", "admin")
    access.grant("otto", "beta", "admin")
    w = World(studio, make_client(studio))
    w.tokens["anonymous"] = None
    for who in ("vera", "ed", "ada", "otto", "root"):
        w.tokens[who] = access.create_token(who, "matrix", scopes=ALL_SCOPES)[1]
    expired, w.tokens["expired"] = access.create_token("ed", "expired", scopes=ALL_SCOPES, expires_in=3600)
    _expire(studio, expired.id)
    revoked, w.tokens["revoked"] = access.create_token("ed", "revoked", scopes=ALL_SCOPES)
    access.revoke_token(revoked.id)

    src = tmp / "src"
    (src / "cats").mkdir(parents=True)
    (src / "dogs").mkdir()
    for i in range(3):
        (src / "cats" / f"c{i}.png").write_bytes(png_bytes(seed=i))
        (src / "dogs" / f"d{i}.png").write_bytes(png_bytes(seed=10 + i))
    (src / "scene.fountain").write_text("Title: Test\n\nINT. HOUSE - DAY\n\nAnna waits.\n\nANNA\nHello?\n",
                                        encoding="utf-8")
    report = studio.assets.add([src], project="alpha")
    images = [a for a in report.added if a.kind == "image"]
    w.ids["asset"] = images[0].id
    board = studio.boards.create("alpha", "selects", asset_ids=[a.id for a in images[:2]])
    w.ids["board"] = board.id
    w.ids["exhibition"] = studio.boards.publish(board.id, "Selects").exhibition.id
    dv = studio.datasets.create("pets", project="alpha", kind="image", label_from="folder")
    w.ids["dsv"], w.ids["dst"] = dv.id, dv.dataset_id
    weights = save({"w": np.arange(6, dtype=np.float32)})
    model = studio.models.register("tiny", {"weights.safetensors": weights}, kind="test", project="alpha")
    w.ids["model"] = model.id
    job = studio.jobs.submit("system.ping", {"steps": 2}, project="alpha").run()
    w.ids["job"] = job.id
    studio.search.query("anna", project="alpha")  # builds the search index once (a script.index job)
    other = studio.assets.add([_write(tmp / "b.png", png_bytes(seed=99))], project="beta").added[0]
    w.ids["beta_asset"] = other.id
    w.ids["beta_job"] = studio.jobs.submit("system.ping", {}, project="beta").run().id
    return w


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _expire(studio: Studio, token_id: str) -> None:
    from sqlalchemy import update

    from reelforge.db.engine import session_scope
    from reelforge.db.models import ApiTokenRow

    with session_scope(studio.Session) as s:
        s.execute(update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(expires_at=1.0))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("world")
    studio = Studio.init(tmp / "studio")
    try:
        yield build_world(studio, tmp)
    finally:
        studio.close()


@pytest.fixture
def served(sqlite_studio: Studio) -> Iterator[tuple[Studio, Any, str]]:
    """A fresh studio, its client and a studio admin's token (for tests that change settings)."""
    sqlite_studio.access.create_user("root", "root-password-1", admin=True)
    token = sqlite_studio.access.create_token("root", scopes=ALL_SCOPES)[1]
    sqlite_studio.projects.create("alpha")
    yield sqlite_studio, make_client(sqlite_studio), token

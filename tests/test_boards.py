"""Boards, exhibitions and the gallery query: the service on SQLite and PostgreSQL, and the API and
public share-link routes through the app (who may do what, what a visitor without an account sees)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from reelforge.catalog.boards import GONE
from reelforge.db.engine import session_scope
from reelforge.db.models import ExhibitionRow
from reelforge.errors import Conflict, InvalidInput, NotFound
from reelforge.studio import Studio
from tests.conftest import make_image


def _images(studio: Studio, tmp: Path, project: str, n: int, seed: int = 0, **kw: Any) -> list[str]:
    folder = tmp / f"{project}-{seed}"
    paths = [make_image(folder / f"im_{i}.png", seed=seed + i) for i in range(n)]
    return [a.id for a in studio.assets.add(paths, project=project, **kw).added]


@pytest.fixture
def two(studio: Studio, tmp_path: Path) -> tuple[Studio, list[str], list[str]]:
    studio.projects.create("alpha")
    studio.projects.create("beta")
    return studio, _images(studio, tmp_path, "alpha", 4), _images(studio, tmp_path, "beta", 1, seed=50)


def test_a_board_keeps_its_items_in_order(two: tuple[Studio, list[str], list[str]]) -> None:
    s, a, _ = two
    b = s.boards.create("alpha", "  Selects   week 3 ", asset_ids=[a[0], a[1], a[0]])
    assert b.name == "Selects week 3" and b.asset_ids == [a[0], a[1]] and b.n_items == 2
    b = s.boards.add_items(b.id, [a[2], a[1]], position=0)  # a[1] is on it already: it stays put
    assert b.asset_ids == [a[2], a[0], a[1]]
    assert [i.position for i in b.items] == [0, 1, 2]
    b = s.boards.reorder(b.id, [a[1], a[2], a[0]])
    assert s.boards.get(b.id).asset_ids == [a[1], a[2], a[0]]
    for bad in ([a[1], a[2]], [a[1], a[2], a[0], a[3]], [a[1], a[1], a[2]]):
        with pytest.raises(InvalidInput):
            s.boards.reorder(b.id, bad)
    assert s.boards.get(b.id).asset_ids == [a[1], a[2], a[0]]
    b = s.boards.remove_items(b.id, [a[2]])
    assert b.asset_ids == [a[1], a[0]] and [i.position for i in b.items] == [0, 1]
    assert s.boards.remove_items(b.id, [a[2]]).asset_ids == [a[1], a[0]]  # twice: harmless
    b = s.boards.rename(b.id, "Finals")
    assert [x.name for x in s.boards.list("alpha")] == ["Finals"] and s.boards.list("alpha")[0].cover == [a[1], a[0]]
    s.boards.create("alpha", "Other")
    with pytest.raises(Conflict):
        s.boards.rename(b.id, "Other")
    with pytest.raises(Conflict):
        s.boards.create("alpha", "Finals")
    s.boards.create("beta", "Finals")  # names are per project
    actions = [e.action for e in s.access.audit_events(target=b.id)]
    assert {"board.create", "board.items.add", "board.reorder", "board.items.remove", "board.update"} <= set(actions)
    s.boards.delete(b.id)
    with pytest.raises(NotFound):
        s.boards.get(b.id)
    assert "board.delete" in [e.action for e in s.access.audit_events(target=b.id)]


def test_items_come_only_from_the_boards_project(two: tuple[Studio, list[str], list[str]]) -> None:
    s, a, foreign = two
    with pytest.raises(NotFound, match="no asset"):
        s.boards.create("alpha", "Mixed", asset_ids=[a[0], foreign[0]])
    assert s.boards.list("alpha") == []  # nothing half-made
    b = s.boards.create("alpha", "Pure", asset_ids=[a[0]])
    for bad in (foreign[0], "ast_00000000000000000000000000", "not-an-id"):
        with pytest.raises(NotFound) as err:
            s.boards.add_items(b.id, [a[1], bad])
        assert str(err.value) == f"no asset {bad!r}"  # another project's asset reads as absent
    assert s.boards.get(b.id).asset_ids == [a[0]]
    with pytest.raises(NotFound):
        s.boards.get("brd_00000000000000000000000000")


def test_exhibition_links_are_stored_hashed_and_end_alike(two: tuple[Studio, list[str], list[str]]) -> None:
    s, a, _ = two
    b = s.boards.create("alpha", "Show", asset_ids=a[:2])
    share = s.boards.publish(b.id, "Spring show", expires_in_days=7)
    token = share.token
    assert len(token) == 43 and share.path == f"/x/{token}"
    with session_scope(s.Session) as db:
        row = db.scalar(select(ExhibitionRow).where(ExhibitionRow.id == share.exhibition.id))
        assert row is not None and row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert all(token not in str(getattr(row, c.name)) for c in ExhibitionRow.__table__.columns)
    ex, board = s.boards.open(token)
    assert ex.status == "live" and board.asset_ids == a[:2]
    assert s.boards.exhibited_asset(token, a[1]).id == a[1]
    with pytest.raises(NotFound, match=GONE):
        s.boards.exhibited_asset(token, a[2])  # the project's, but not on the board

    messages = set()
    for wrong in ("x" * 43, token[:-1], token + "A", "", "../etc"):
        with pytest.raises(NotFound) as err:
            s.boards.open(wrong)
        messages.add(str(err.value))

    # Expired: the same answer as a link that never existed.
    with session_scope(s.Session) as db:
        db.execute(update(ExhibitionRow).where(ExhibitionRow.id == ex.id).values(expires_at=1.0))
    assert s.boards.get_exhibition(ex.id).status == "expired"
    with pytest.raises(NotFound) as err:
        s.boards.open(token)
    messages.add(str(err.value))
    with pytest.raises(Conflict):
        s.boards.new_link(ex.id)

    # A new link replaces the old one; revoking ends it.
    live = s.boards.publish(b.id, "Second")
    fresh = s.boards.new_link(live.exhibition.id)
    with pytest.raises(NotFound):
        s.boards.open(live.token)
    assert s.boards.open(fresh.token)[0].id == live.exhibition.id
    assert s.boards.revoke(live.exhibition.id).status == "revoked"
    assert s.boards.revoke(live.exhibition.id).status == "revoked"  # twice: harmless
    with pytest.raises(NotFound) as err:
        s.boards.open(fresh.token)
    messages.add(str(err.value))
    assert messages == {GONE}
    statuses = {e.title: e.status for e in s.boards.exhibitions("alpha")}
    assert statuses == {"Spring show": "expired", "Second": "revoked"}
    actions = {e.action for e in s.access.audit_events(action="exhibition.*")}
    assert actions == {"exhibition.publish", "exhibition.relink", "exhibition.revoke"}
    with pytest.raises(InvalidInput):
        s.boards.publish(b.id, "Never", expires_in_days=0)

    # Deleting the board ends its exhibitions.
    third = s.boards.publish(b.id, "Third")
    s.boards.delete(b.id)
    with pytest.raises(NotFound, match=GONE):
        s.boards.open(third.token)
    assert s.boards.exhibitions("alpha") == []


def test_the_gallery_pages_generated_work_without_sheets(studio: Studio, tmp_path: Path) -> None:
    s = studio
    proj = s.projects.create("alpha")
    _images(s, tmp_path, "alpha", 2, seed=0)  # ingested, not generated
    job = s.jobs.submit("system.ping", {"steps": 1}, project="alpha", seed=41).run()
    made = _images(s, tmp_path, "alpha", 5, seed=10, created_by_job=job.id, tags=["generated"],
                   meta={"generation": {"latent_seed": 7, "class_name": "cats", "latent": [0.1] * 16}})
    sheet = _images(s, tmp_path, "alpha", 1, seed=30, created_by_job=job.id, tags=["contact-sheet"])
    grid = _images(s, tmp_path, "alpha", 1, seed=40, created_by_job=job.id, tags=["training-sample"])
    first = s.boards.generated(proj.id, limit=3)
    assert [x.id for x in first.items] == made[::-1][:3] and first.next_cursor
    rest = s.boards.generated(proj.id, limit=3, cursor=first.next_cursor)
    assert [x.id for x in rest.items] == made[::-1][3:] and rest.next_cursor is None
    every = s.boards.generated(proj.id, include_sheets=True, limit=50)
    assert set(sheet + grid) <= {x.id for x in every.items} and len(every.items) == 7
    assert s.boards.generated(proj.id, kind="video").items == []
    assert s.boards.count_generated(proj.id) == 5
    with pytest.raises(InvalidInput):
        s.boards.generated(proj.id, cursor="garbage")
    summary = s.boards.provenance(first.items)[made[-1]]
    assert summary["task"] == "system.ping" and summary["job_id"] == job.id and summary["job_seed"] == 41
    assert summary["seed"] == 7 and summary["class_name"] == "cats" and "latent" not in summary
    assert summary["params"]["steps"] == 1


def test_the_migration_matches_the_rows(studio: Studio) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from reelforge.db.models import Base

    mine = ("boards", "board_items", "exhibitions")

    def ours(diff: object) -> bool:
        text_ = repr(diff)
        return any(f"'{t}'" in text_ or f"table_name='{t}'" in text_ for t in mine)

    with studio.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if ours(d)] == []


# -- through the app -------------------------------------------------------------------------------
@pytest.fixture
def served(sqlite_studio: Studio, tmp_path: Path) -> dict[str, Any]:
    pytest.importorskip("fastapi")
    from tests.server.conftest import ALL_SCOPES, auth, make_client

    s = sqlite_studio
    s.projects.create("alpha")
    s.projects.create("beta")
    for who, project, role in (("ed", "alpha", "editor"), ("vera", "alpha", "viewer"), ("otto", "beta", "admin")):
        s.access.create_user(who, f"{who}-password-1")
        s.access.grant(who, project, role)
    a = _images(s, tmp_path, "alpha", 3)
    h = {who: auth(s.access.create_token(who, "t", scopes=ALL_SCOPES)[1]) for who in ("ed", "vera", "otto")}
    return {"studio": s, "client": make_client(s), "h": h, "assets": a}


def test_the_api_keeps_boards_to_their_project(served: dict[str, Any]) -> None:
    c, h, a = served["client"], served["h"], served["assets"]
    r = c.post("/api/v1/projects/alpha/boards", headers=h["ed"], json={"name": "Selects", "asset_ids": a[:2]})
    assert r.status_code == 201, r.text
    board = r.json()
    assert board["created_by"] == "ed" and [i["asset_id"] for i in board["items"]] == a[:2]
    bid = board["id"]
    # Another project's admin: the board does not exist for them, word for word.
    fake = "brd_00000000000000000000000000"
    hidden, missing = c.get(f"/api/v1/boards/{bid}", headers=h["otto"]), c.get(f"/api/v1/boards/{fake}", headers=h["otto"])
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["message"] == missing.json()["error"]["message"].replace(fake, bid)
    assert c.post(f"/api/v1/boards/{bid}/exhibitions", headers=h["otto"], json={"title": "x"}).status_code == 404
    # A viewer reads but neither changes nor publishes.
    assert c.get(f"/api/v1/boards/{bid}", headers=h["vera"]).status_code == 200
    r = c.post(f"/api/v1/boards/{bid}/exhibitions", headers=h["vera"], json={"title": "Mine"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    assert c.patch(f"/api/v1/boards/{bid}", headers=h["vera"], json={"order": a[:2][::-1]}).status_code == 403
    # Reorder, bad order, a foreign asset.
    r = c.patch(f"/api/v1/boards/{bid}", headers=h["ed"], json={"order": a[:2][::-1], "name": "Finals"})
    assert r.status_code == 200 and r.json()["name"] == "Finals"
    assert [i["asset_id"] for i in r.json()["items"]] == a[:2][::-1]
    r = c.patch(f"/api/v1/boards/{bid}", headers=h["ed"], json={"order": [a[0]]})
    assert r.status_code == 400 and "exactly once" in r.json()["error"]["message"]
    beta_asset = _images(served["studio"], Path(served["studio"].home), "beta", 1, seed=77)[0]
    r = c.post(f"/api/v1/boards/{bid}/items", headers=h["ed"], json={"asset_ids": [beta_asset]})
    assert r.status_code == 404 and r.json()["error"]["message"] == f"no asset {beta_asset!r}"
    r = c.post(f"/api/v1/boards/{bid}/items", headers=h["ed"], json={"asset_ids": [a[2]], "position": 0})
    assert [i["asset_id"] for i in r.json()["items"]] == [a[2], a[1], a[0]]
    assert c.delete(f"/api/v1/boards/{bid}/items/{a[2]}", headers=h["ed"]).json()["n_items"] == 2
    listed = c.get("/api/v1/projects/alpha/boards", headers=h["vera"]).json()["items"]
    assert [b["name"] for b in listed] == ["Finals"] and "items" not in listed[0]
    assert c.get("/api/v1/projects/beta/boards", headers=h["otto"]).json()["items"] == []


def test_a_share_link_shows_the_board_and_nothing_else(served: dict[str, Any]) -> None:
    c, h, a, s = served["client"], served["h"], served["assets"], served["studio"]
    bid = c.post("/api/v1/projects/alpha/boards", headers=h["ed"], json={"name": "Wall", "asset_ids": a[:2]}).json()["id"]
    r = c.post(f"/api/v1/boards/{bid}/exhibitions", headers=h["ed"], json={"title": "Open studio", "expires_in_days": 2})
    assert r.status_code == 201
    share = r.json()
    token = share["token"]
    assert share["url"] == f"https://testserver/x/{token}" and share["status"] == "live"
    listed = c.get("/api/v1/projects/alpha/exhibitions", headers=h["vera"]).json()["items"]
    assert [e["title"] for e in listed] == ["Open studio"] and "token" not in listed[0]
    assert token not in c.get("/api/v1/projects/alpha/exhibitions", headers=h["ed"]).text

    visitor = type(c)(c.app, base_url="https://testserver")  # a fresh client: no cookie, no token
    page = visitor.get(f"/x/{token}")
    assert page.status_code == 200 and "Open studio" in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and "script-src 'self'" in page.headers["content-security-policy"]
    assert "alpha" not in page.text and a[2] not in page.text and a[0] in page.text
    assert "set-cookie" not in page.headers
    item = visitor.get(f"/x/{token}/items/{a[0]}", headers={"Range": "bytes=0-9"})
    assert item.status_code == 206 and len(item.content) == 10 and item.headers["content-type"] == "image/png"
    assert "content-disposition" not in item.headers
    full = visitor.get(f"/x/{token}/items/{a[1]}")
    assert full.status_code == 200 and full.content == Path(s.assets.local_path(s.assets.get(a[1]))).read_bytes()
    assert visitor.get(f"/x/{token}/items/{a[0]}/thumbnail").headers["content-type"] == "image/jpeg"

    gone = visitor.get(f"/x/{'A' * 43}")
    assert gone.status_code == 404
    answers = {visitor.get(f"/x/{token}/items/{a[2]}").text,  # the project's, not the board's
               visitor.get(f"/x/{token}/items/ast_00000000000000000000000000").text,
               visitor.get(f"/x/{'B' * 43}/items/{a[0]}").text}
    # Revoked: the page and the media answer exactly as for a link that never existed.
    assert c.delete(f"/api/v1/exhibitions/{share['id']}", headers=h["vera"]).status_code == 403
    assert c.delete(f"/api/v1/exhibitions/{share['id']}", headers=h["ed"]).json()["status"] == "revoked"
    revoked = visitor.get(f"/x/{token}")
    assert revoked.status_code == 404 and revoked.text == gone.text
    answers.add(visitor.get(f"/x/{token}/items/{a[0]}").text)
    assert len(answers) == 1
    assert visitor.get(f"/x/{token}/items/{a[0]}").status_code == 404
    r = c.post(f"/api/v1/exhibitions/{share['id']}/link", headers=h["ed"])
    assert r.status_code == 409


def test_guessing_links_is_slowed_down(served: dict[str, Any]) -> None:
    from reelforge.web.pages.exhibitions import MISSES_ALLOWED

    visitor = served["client"]
    codes = [visitor.get(f"/x/{'C' * 42}{i % 10}").status_code for i in range(MISSES_ALLOWED + 2)]
    assert codes[:MISSES_ALLOWED] == [404] * MISSES_ALLOWED and codes[-1] == 429

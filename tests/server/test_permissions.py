"""The permission matrix: every route × {anonymous, viewer, editor, project admin, another project's
admin, studio admin, expired token, revoked token}, each getting exactly what its role allows.

What a caller may not see does not exist for them: another project's things answer 404 with the
message a missing one gets, and no listing shows them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from reelforge.access.policy import ADMIN, READ, WRITE
from tests.server.conftest import World, auth, png_bytes

pytest.importorskip("fastapi")  # the server extra: pip install -e ".[server]"

PUBLIC, AUTH, STUDIO = "public", "auth", "studio-admin"
WHO = ("anonymous", "vera", "ed", "ada", "otto", "root", "expired", "revoked")
LEVEL = {"vera": READ, "ed": WRITE, "ada": ADMIN, "otto": 0, "root": ADMIN}
_n = itertools.count()


@dataclass
class Case:
    method: str
    route: str
    need: Any
    url: Callable[[World, str], str] | None = None
    kw: Callable[[World, str], dict[str, Any]] = field(default=lambda w, who: {})


def _fill(w: World, route: str) -> str:
    return (route.replace("{project}", "alpha").replace("{asset_id}", w.ids["asset"])
            .replace("{ref}", w.ids["dsv"] if "datasets" in route else w.ids["job"])
            .replace("{dataset_id}", w.ids["dst"]).replace("{model_id}", w.ids["model"])
            .replace("{name}", "weights.safetensors" if "models" in route else "system.ping")
            .replace("{job_id}", w.ids["job"]).replace("{user}", "extra")
            .replace("{board_id}", w.ids["board"]).replace("{exhibition_id}", w.ids["exhibition"]))


def _owner(who: str) -> str:
    return "ed" if who in ("anonymous", "expired", "revoked") else who


def _own_token(w: World, who: str) -> str:
    return f"/api/v1/auth/tokens/{w.studio.access.create_token(_owner(who), 'victim')[0].id}"


def _queued_job(w: World, who: str) -> str:
    return f"/api/v1/jobs/{w.studio.jobs.submit('system.ping', {}, project='alpha').id}/cancel"


def _queued_job_itself(w: World, who: str) -> str:
    return f"/api/v1/jobs/{w.studio.jobs.submit('system.ping', {}, project='alpha').id}"


def _cancelled_job(w: World, who: str) -> str:
    job = w.studio.jobs.submit("system.ping", {}, project="alpha")
    w.studio.jobs.cancel(job.id)
    return f"/api/v1/jobs/{job.id}/retry"


def _member_to_remove(w: World, who: str) -> str:
    w.studio.access.grant("extra", "alpha", "viewer")
    return "/api/v1/projects/alpha/members/extra"


def _fresh_board(w: World, who: str) -> str:
    return f"/api/v1/boards/{w.studio.boards.create('alpha', f'fresh-{next(_n)}').id}"


def _fresh_exhibition(suffix: str) -> Callable[[World, str], str]:
    def url(w: World, who: str) -> str:
        board = w.studio.boards.create("alpha", f"shown-{next(_n)}")
        return f"/api/v1/exhibitions/{w.studio.boards.publish(board.id, 'Show').exhibition.id}{suffix}"
    return url


def _upload(w: World, who: str) -> dict[str, Any]:
    return {"files": {"file": (f"up/{next(_n)}.png", png_bytes(), "image/png")}}


CASES = [
    Case("GET", "/healthz", PUBLIC),
    Case("GET", "/readyz", PUBLIC),
    Case("GET", "/metrics", PUBLIC),
    Case("GET", "/api/v1/openapi.json", PUBLIC),
    Case("POST", "/api/v1/auth/logout", AUTH),
    Case("GET", "/api/v1/auth/me", AUTH),
    Case("GET", "/api/v1/auth/tokens", AUTH),
    Case("POST", "/api/v1/auth/tokens", AUTH, kw=lambda w, who: {"json": {"name": "made"}}),
    Case("DELETE", "/api/v1/auth/tokens/{token_id}", AUTH, url=_own_token),
    Case("GET", "/api/v1/projects", AUTH),
    Case("POST", "/api/v1/projects", STUDIO, kw=lambda w, who: {"json": {"name": f"made-{next(_n)}"}}),
    Case("GET", "/api/v1/projects/{project}", READ),
    Case("GET", "/api/v1/projects/{project}/members", READ),
    Case("PUT", "/api/v1/projects/{project}/members/{user}", ADMIN, kw=lambda w, who: {"json": {"role": "viewer"}}),
    Case("DELETE", "/api/v1/projects/{project}/members/{user}", ADMIN, url=_member_to_remove),
    Case("GET", "/api/v1/projects/{project}/audit", ADMIN),
    Case("GET", "/api/v1/projects/{project}/assets", READ),
    Case("POST", "/api/v1/projects/{project}/assets", WRITE, kw=_upload),
    Case("GET", "/api/v1/assets/{asset_id}", READ),
    Case("PATCH", "/api/v1/assets/{asset_id}", WRITE, kw=lambda w, who: {"json": {"add_tags": ["seen"]}}),
    Case("POST", "/api/v1/projects/{project}/assets/tags", WRITE,
         kw=lambda w, who: {"json": {"asset_ids": [w.ids["asset"]], "add": ["seen"]}}),
    Case("GET", "/api/v1/assets/{asset_id}/content", READ),
    Case("HEAD", "/api/v1/assets/{asset_id}/content", READ),
    Case("GET", "/api/v1/assets/{asset_id}/thumbnail", READ),
    Case("GET", "/api/v1/projects/{project}/datasets", READ),
    Case("POST", "/api/v1/projects/{project}/datasets", WRITE,
         kw=lambda w, who: {"json": {"name": "made", "kind": "image", "label_from": "folder"}}),
    Case("GET", "/api/v1/datasets/{ref}", READ),
    Case("GET", "/api/v1/datasets/{dataset_id}/versions", READ),
    Case("GET", "/api/v1/datasets/{ref}/diff", READ, kw=lambda w, who: {"params": {"against": w.ids["dsv"]}}),
    Case("GET", "/api/v1/projects/{project}/models", READ),
    Case("GET", "/api/v1/models/{model_id}", READ),
    Case("GET", "/api/v1/models/{model_id}/files/{name}", READ),
    Case("HEAD", "/api/v1/models/{model_id}/files/{name}", READ),
    Case("POST", "/api/v1/projects/{project}/jobs", WRITE, kw=lambda w, who: {"json": {"task": "system.ping"}}),
    Case("GET", "/api/v1/projects/{project}/jobs", READ),
    Case("GET", "/api/v1/jobs/{job_id}", READ),
    Case("POST", "/api/v1/jobs/{job_id}/cancel", WRITE, url=_queued_job),
    Case("POST", "/api/v1/jobs/{job_id}/retry", WRITE, url=_cancelled_job),
    Case("GET", "/api/v1/jobs/{job_id}/logs", READ),
    Case("GET", "/api/v1/jobs/{job_id}/metrics", READ),
    Case("GET", "/api/v1/jobs/{job_id}/events", READ),
    Case("PATCH", "/api/v1/jobs/{job_id}", WRITE, url=_queued_job_itself, kw=lambda w, who: {"json": {"priority": 3}}),
    Case("GET", "/api/v1/queue", AUTH),
    Case("POST", "/api/v1/queue/pause", STUDIO),
    Case("POST", "/api/v1/queue/resume", STUDIO),
    Case("GET", "/api/v1/workers", AUTH),
    Case("GET", "/api/v1/tasks", AUTH),
    Case("GET", "/api/v1/tasks/{name}", AUTH),
    Case("GET", "/api/v1/lineage/{ref}", READ),
    Case("POST", "/api/v1/projects/{project}/provenance", READ, kw=_upload),
    Case("GET", "/api/v1/projects/{project}/search", READ, kw=lambda w, who: {"params": {"q": "anna"}}),
    Case("GET", "/api/v1/projects/{project}/boards", READ),
    Case("POST", "/api/v1/projects/{project}/boards", WRITE, kw=lambda w, who: {"json": {"name": f"board-{next(_n)}"}}),
    Case("GET", "/api/v1/boards/{board_id}", READ),
    Case("PATCH", "/api/v1/boards/{board_id}", WRITE, kw=lambda w, who: {"json": {"description": "seen"}}),
    Case("DELETE", "/api/v1/boards/{board_id}", WRITE, url=_fresh_board),
    Case("POST", "/api/v1/boards/{board_id}/items", WRITE, kw=lambda w, who: {"json": {"asset_ids": [w.ids["asset"]]}}),
    Case("DELETE", "/api/v1/boards/{board_id}/items/{asset_id}", WRITE),
    Case("POST", "/api/v1/boards/{board_id}/exhibitions", WRITE, kw=lambda w, who: {"json": {"title": "Show"}}),
    Case("GET", "/api/v1/projects/{project}/exhibitions", READ),
    Case("DELETE", "/api/v1/exhibitions/{exhibition_id}", WRITE, url=_fresh_exhibition("")),
    Case("POST", "/api/v1/exhibitions/{exhibition_id}/link", WRITE, url=_fresh_exhibition("/link")),
    Case("GET", "/api/v1/users", STUDIO),
    Case("POST", "/api/v1/users", STUDIO, kw=lambda w, who: {"json": {"username": f"made{next(_n)}"}}),
    Case("GET", "/api/v1/users/{user}", STUDIO),
    Case("PATCH", "/api/v1/users/{user}", STUDIO, kw=lambda w, who: {"json": {"disabled": False}}),
    Case("GET", "/api/v1/audit", STUDIO),
]
# Routes with their own tests instead of a row here.
EXEMPT = {("POST", "/api/v1/auth/login"): "tests/access/test_sessions.py (anyone may try; rate limited)"}


def expected(need: Any, who: str) -> int | str:
    if need == PUBLIC:
        return "ok"
    if who in ("anonymous", "expired", "revoked"):
        return 401
    if need == AUTH:
        return "ok"
    if need == STUDIO:
        return "ok" if who == "root" else 403
    level = LEVEL[who]
    return 404 if level == 0 else 403 if level < need else "ok"


def test_every_route_is_in_the_matrix(world: World) -> None:
    from fastapi.routing import APIRoute

    from reelforge.server.app import ROUTERS

    routes = {(m, r.path) for router in ROUTERS for r in router.routes if isinstance(r, APIRoute) for m in r.methods}
    routes.add(("GET", "/api/v1/openapi.json"))
    listed = {(c.method, c.route) for c in CASES} | set(EXEMPT)
    assert routes == listed, (sorted(routes - listed), sorted(listed - routes))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.method} {c.route}" for c in CASES])
def test_matrix(world: World, case: Case) -> None:
    failures = []
    for who in WHO:
        url = case.url(world, who) if case.url else _fill(world, case.route)
        r = world.client.request(case.method, url, headers=auth(world.tokens[who]), **case.kw(world, who))
        want = expected(case.need, who)
        ok = r.status_code in (200, 201, 204, 206) if want == "ok" else r.status_code == want
        if ok and want != "ok" and case.method != "HEAD":
            code = {401: "unauthenticated", 403: "permission_denied", 404: "not_found"}[int(want)]
            ok = r.json()["error"]["code"] == code
        if not ok:
            failures.append(f"{who}: got {r.status_code} want {want}: {r.text[:200]}")
    assert not failures, failures


def test_another_projects_things_are_answered_as_missing(world: World) -> None:
    """otto (admin of beta) asking for alpha's things gets the very answer a missing id gets."""
    h = world.h("otto")
    c = world.client
    for route, real, fake in (
        ("/api/v1/assets/{}", world.ids["asset"], "ast_00000000000000000000000000"),
        ("/api/v1/jobs/{}", world.ids["job"], "job_00000000000000000000000000"),
        ("/api/v1/models/{}", world.ids["model"], "mdl_00000000000000000000000000"),
        ("/api/v1/datasets/{}", world.ids["dsv"], "dsv_00000000000000000000000000"),
        ("/api/v1/projects/{}", "alpha", "gamma"),
        ("/api/v1/projects/{}/assets", "alpha", "gamma"),
    ):
        hidden, missing = c.get(route.format(real), headers=h), c.get(route.format(fake), headers=h)
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error"]["message"] == missing.json()["error"]["message"].replace(fake, real)
    # Nor may it be changed, downloaded or used as a job's input.
    assert c.patch(f"/api/v1/assets/{world.ids['asset']}", headers=h, json={"add_tags": ["x"]}).status_code == 404
    assert c.get(f"/api/v1/assets/{world.ids['asset']}/content", headers=h).status_code == 404
    assert "x" not in world.studio.assets.get(world.ids["asset"]).tags


def test_listings_show_only_the_callers_projects(world: World) -> None:
    c = world.client
    names = {p["name"] for p in c.get("/api/v1/projects", headers=world.h("otto")).json()["items"]}
    assert names == {"beta"}
    names = {p["name"] for p in c.get("/api/v1/projects", headers=world.h("vera")).json()["items"]}
    assert names == {"alpha"}
    assert {"alpha", "beta", "default"} <= {p["name"] for p in c.get("/api/v1/projects", headers=world.h("root")).json()["items"]}
    items = c.get("/api/v1/projects/alpha/assets", headers=world.h("vera"), params={"limit": 500}).json()["items"]
    assert items and world.ids["beta_asset"] not in {a["id"] for a in items}
    me = c.get("/api/v1/auth/me", headers=world.h("otto")).json()
    assert set(me["roles"]) == {world.studio.projects.get("beta").id}


def test_a_job_input_from_another_project_is_refused_as_missing(world: World) -> None:
    c, h = world.client, world.h("ed")
    foreign = world.ids["beta_asset"]
    r = c.post("/api/v1/projects/alpha/jobs", headers=h, json={"task": "media.proxy", "params": {"asset": foreign}})
    assert r.status_code == 404 and r.json()["error"]["message"] == f"no asset {foreign!r}"
    fake = "ast_00000000000000000000000000"
    r = c.post("/api/v1/projects/alpha/jobs", headers=h, json={"task": "media.proxy", "params": {"asset": fake}})
    assert r.status_code == 404 and r.json()["error"]["message"] == f"no asset {fake!r}"
    r = c.post("/api/v1/projects/alpha/jobs", headers=h,
               json={"task": "media.proxy", "params": {"asset": world.ids["asset"]}})
    assert r.status_code == 201 and r.json()["submitted_by"] == "ed"
    # A dataset of explicit assets cannot take another project's either.
    r = c.post("/api/v1/projects/alpha/datasets", headers=h, json={"name": "mixed", "assets": [foreign]})
    assert r.status_code == 404 and r.json()["error"]["message"] == f"no asset {foreign!r}"


def test_lineage_leaves_out_what_the_caller_cannot_read(world: World) -> None:
    # A job in beta that read an alpha asset (submitted locally, where no roles apply).
    job = world.studio.jobs.submit("media.proxy", {"asset": world.ids["asset"]}, project="beta")
    graph = world.client.get(f"/api/v1/lineage/{job.id}", headers=world.h("otto")).json()
    assert set(graph["nodes"]) == {job.id} and graph["nodes"][job.id]["parents"] == []
    full = world.client.get(f"/api/v1/lineage/{job.id}", headers=world.h("root")).json()
    assert world.ids["asset"] in full["nodes"]
    assert world.client.get(f"/api/v1/lineage/{job.id}", headers=world.h("ed")).status_code == 404


def test_read_scope_tokens_only_read(world: World) -> None:
    _, token = world.studio.access.create_token("ada", "ro", scopes=["read"])
    h = auth(token)
    c = world.client
    assert c.get("/api/v1/projects/alpha/assets", headers=h).status_code == 200
    r = c.patch(f"/api/v1/assets/{world.ids['asset']}", headers=h, json={"add_tags": ["ro"]})
    assert r.status_code == 403 and "scope" in r.json()["error"]["message"]
    assert c.post("/api/v1/auth/tokens", headers=h, json={"scopes": ["read"]}).status_code == 403
    _, write_token = world.studio.access.create_token("ada", "rw", scopes=["read", "write"])
    r = c.post("/api/v1/auth/tokens", headers=auth(write_token), json={"scopes": ["admin"]})
    assert r.status_code == 403  # a token cannot mint a stronger one
    root_ro = world.studio.access.create_token("root", "ro", scopes=["read"])[1]
    assert c.get("/api/v1/users", headers=auth(root_ro)).status_code == 403

"""Jobs over the API: submit with params checked against the task's schema, list with cursors,
cancel, retry, logs, metrics, and the live event stream of a real job run by a real worker."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from pydantic import Field

from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, task
from reelforge.studio import Studio
from tests.server.conftest import auth, png_bytes

pytest.importorskip("fastapi")  # the server extra: pip install -e ".[server]"


class SlowParams(Params):
    steps: int = Field(8, ge=1, le=100)
    pause: float = Field(0.15, ge=0, le=2)


@task("testing.server_slow", params=SlowParams, description="Counts slowly, reporting as it goes (tests)")
def _slow(ctx: TaskContext, p: SlowParams) -> None:
    for i in range(p.steps):
        time.sleep(p.pause)
        ctx.progress(i + 1, p.steps, f"step {i + 1}")
        ctx.log(f"step {i + 1} of {p.steps}")
        ctx.metric("loss", 1.0 / (i + 1), i)
        ctx.flush()  # the buffered reports go out now, so the stream has something to show
    ctx.result["steps"] = p.steps


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.split("\n\n"):
        kind = data = None
        for line in block.splitlines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if kind:
            out.append((kind, data))
    return out


def test_live_events_of_a_real_job(served: tuple[Studio, Any, str]) -> None:
    from reelforge.compute.worker import Worker

    studio, client, token = served
    h = auth(token)
    job = client.post("/api/v1/projects/alpha/jobs", headers=h,
                      json={"task": "testing.server_slow", "params": {"steps": 8}}).json()
    assert job["status"] == "queued" and job["submitted_by"] == "root"
    stop = threading.Event()
    worker = Worker(studio)
    thread = threading.Thread(target=worker.run, kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        with client.stream("GET", f"/api/v1/jobs/{job['id']}/events", headers=h) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            text = r.read().decode()
    finally:
        stop.set()
        worker.interrupt()
        thread.join(30)
    events = _events(text)
    kinds = [k for k, _ in events]
    assert kinds[-1] == "end" and events[-1][1]["status"] == "succeeded"
    progress = [d for k, d in events if k == "progress"]
    # Seen while it ran, not only at the end: progress climbing step by step.
    running = [d for d in progress if d["status"] == "running"]
    assert len(running) >= 2 and running[0]["done"] < running[-1]["done"] <= 8
    assert [d["message"] for d in [d for k, d in events if k == "log"]].count("step 8 of 8") == 1
    assert sorted(d["step"] for k, d in events if k == "metric") == list(range(8))
    # Logs and metrics stay readable afterwards, and a reconnect resumes after the last log id seen.
    logs = client.get(f"/api/v1/jobs/{job['id']}/logs", headers=h).json()["items"]
    assert any(line["message"] == "step 3 of 8" for line in logs)
    series = client.get(f"/api/v1/jobs/{job['id']}/metrics", headers=h).json()["series"]
    assert [p["step"] for p in series["loss"]] == list(range(8))
    with client.stream("GET", f"/api/v1/jobs/{job['id']}/events",
                       headers={**h, "Last-Event-ID": str(logs[-2]["id"])}) as r:
        again = _events(r.read().decode())
    assert [d["id"] for k, d in again if k == "log"] == [logs[-1]["id"]]


def test_submit_checks_params_against_the_tasks_schema(served: tuple[Studio, Any, str]) -> None:
    _, client, token = served
    h = auth(token)
    url = "/api/v1/projects/alpha/jobs"
    r = client.post(url, headers=h, json={"task": "system.ping", "params": {"steps": -1}})
    assert r.status_code == 400 and "steps" in r.json()["error"]["message"]
    r = client.post(url, headers=h, json={"task": "system.ping", "params": {"stpes": 1}})
    assert r.status_code == 400 and "stpes" in r.json()["error"]["message"]
    r = client.post(url, headers=h, json={"task": "system.pong"})
    assert r.status_code == 404 and "system.ping" in r.json()["error"]["message"]  # the closest names
    r = client.post(url, headers=h, json={"params": {}})
    assert r.status_code == 400 and r.json()["error"] == {"code": "invalid_input", "message": "task: Field required"}
    r = client.post(url, headers=h, json={"task": "system.ping", "priority": 5000})
    assert r.status_code == 400
    schema = client.get("/api/v1/tasks/system.ping", headers=h).json()
    assert schema["params"]["properties"]["steps"]["maximum"] == 100_000
    assert any(t["name"] == "system.ping" for t in client.get("/api/v1/tasks", headers=h).json()["items"])


def test_cancel_retry_and_paged_listing(served: tuple[Studio, Any, str]) -> None:
    _, client, token = served
    h = auth(token)
    ids = [client.post("/api/v1/projects/alpha/jobs", headers=h, json={"task": "system.ping", "priority": i % 2})
           .json()["id"] for i in range(5)]
    r = client.post(f"/api/v1/jobs/{ids[0]}/cancel", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/jobs/{ids[0]}/cancel", headers=h).status_code == 409
    assert client.post(f"/api/v1/jobs/{ids[0]}/retry", headers=h).json()["status"] == "queued"
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/projects/alpha/jobs", headers=h, params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    by_priority = client.get("/api/v1/projects/alpha/jobs", headers=h, params={"sort": "priority", "order": "desc"}).json()
    assert [j["priority"] for j in by_priority["items"]] == [1, 1, 0, 0, 0]
    r = client.get("/api/v1/projects/alpha/jobs", headers=h, params={"sort": "id", "cursor": "nonsense!"})
    assert r.status_code == 400
    assert client.get("/api/v1/projects/alpha/jobs", headers=h, params={"status": "bogus"}).status_code == 400


def test_asset_listing_filters_sorts_and_pages(served: tuple[Studio, Any, str]) -> None:
    _, client, token = served
    h = auth(token)
    for i, name in enumerate(["b/2.png", "a/1.png", "c/3.png", "a/4.png"]):
        client.post("/api/v1/projects/alpha/assets", headers=h, files={"file": (name, png_bytes((20 + i, 20)), "image/png")},
                    data={"tags": "even" if i % 2 == 0 else "odd"}).raise_for_status()
    url = "/api/v1/projects/alpha/assets"
    names = [a["name"] for a in client.get(url, headers=h, params={"sort": "name", "order": "desc"}).json()["items"]]
    assert names == ["c/3.png", "b/2.png", "a/4.png", "a/1.png"]
    pages, cursor = [], None
    while True:
        page = client.get(url, headers=h, params={"sort": "name", "limit": 1, **({"cursor": cursor} if cursor else {})}).json()
        pages += [a["name"] for a in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert pages == sorted(names)
    assert [a["name"] for a in client.get(url, headers=h, params={"name": "a/*", "sort": "name"}).json()["items"]] \
        == ["a/1.png", "a/4.png"]
    globbed = client.get(url, headers=h, params={"name": "?/?.png", "limit": 1}).json()
    assert len(globbed["items"]) == 1 and globbed["next_cursor"]
    assert {a["name"] for a in client.get(url, headers=h, params={"tag": "odd"}).json()["items"]} == {"a/1.png", "a/4.png"}
    assert client.get(url, headers=h, params={"kind": "video"}).json()["items"] == []
    assert client.get(url, headers=h, params={"kind": "hologram"}).status_code == 400
    first = client.get(url, headers=h, params={"sort": "size"}).json()["items"][0]
    patched = client.patch(f"/api/v1/assets/{first['id']}", headers=h,
                           json={"add_tags": ["hero"], "remove_tags": ["even", "odd"], "meta": {"take": 3}}).json()
    assert patched["tags"] == ["hero"] and patched["meta"]["take"] == 3

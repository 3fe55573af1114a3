"""Operations: health and readiness probes, Prometheus metrics, JSON access logs, forwarded headers
from trusted proxies only, the OpenAPI document and the one error shape."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from reelforge.studio import Studio
from tests.server.conftest import auth, png_bytes

pytest.importorskip("fastapi")  # the server extra: pip install -e ".[server]"


def test_health_and_readiness(served: tuple[Studio, Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    studio, client, _ = served
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "blobs": "ok"}

    def down() -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(studio.access, "ping", down)
    monkeypatch.setattr(studio.blobs, "catalogs", down)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"] == {"database": "error: OSError", "blobs": "error: OSError"}
    assert client.get("/healthz").status_code == 200


def test_prometheus_metrics(served: tuple[Studio, Any, str]) -> None:
    studio, client, token = served
    client.get("/api/v1/projects/alpha/assets", headers=auth(token))
    client.get("/api/v1/projects/alpha/assets")
    studio.jobs.submit("system.ping", {}, project="alpha")
    text = client.get("/metrics").text
    assert 'reelforge_http_requests_total{method="GET",route="/api/v1/projects/{project}/assets",status="200"} 1.0' in text
    assert 'route="/api/v1/projects/{project}/assets",status="401"} 1.0' in text
    assert 'reelforge_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/projects/{project}/assets"}' in text
    assert 'reelforge_jobs{status="queued"} 1.0' in text and 'reelforge_jobs{status="running"} 0.0' in text
    assert "reelforge_workers_alive 0.0" in text and "reelforge_embedded_workers 0.0" in text


def test_json_access_log_and_forwarded_headers(served: tuple[Studio, Any, str], caplog: pytest.LogCaptureFixture) -> None:
    from fastapi.testclient import TestClient

    from reelforge.server.app import create_app
    from reelforge.server.config import ServerConfig

    studio, _, token = served
    app = create_app(studio, ServerConfig.load(studio.settings, trusted_proxies=("10.0.0.0/8",)))
    behind = TestClient(app, base_url="https://testserver", client=("10.1.2.3", 5000))
    direct = TestClient(app, base_url="https://testserver", client=("192.0.2.7", 5000))
    spoof = {"X-Forwarded-For": "203.0.113.9, 10.9.9.9", "X-Request-ID": "req-1"}
    with caplog.at_level(logging.INFO, logger="reelforge.server.access"):
        behind.get("/api/v1/projects", headers={**auth(token), **spoof})
        direct.get("/api/v1/projects", headers={**auth(token), **spoof})
        direct.get("/x/a-secret-share-token/items/ast_x")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "reelforge.server.access"]
    # A share link is a secret: the log never holds one.
    assert lines[2]["path"] == "/x/<token>/items/ast_x" and "a-secret-share-token" not in json.dumps(lines)
    lines = lines[:2]
    assert [line["client"] for line in lines] == ["203.0.113.9", "192.0.2.7"]  # only the proxy is believed
    first = lines[0]
    assert (first["method"], first["route"], first["status"], first["actor"], first["request_id"]) == \
        ("GET", "/api/v1/projects", 200, "user:root", "req-1")
    assert first["ms"] >= 0 and first["token"].startswith("tok_")


def test_every_mutating_call_is_audited_with_its_actor(served: tuple[Studio, Any, str]) -> None:
    studio, client, token = served
    client.post("/api/v1/projects/alpha/assets", headers=auth(token), files={"file": ("a.png", png_bytes(), "image/png")})
    client.post("/api/v1/projects/alpha/jobs", json={"task": "system.ping"})  # anonymous: refused, still audited
    calls = studio.access.audit_events(action="api.call")
    assert [(e.actor, e.detail["status"], e.detail["route"]) for e in calls] == [
        ("anonymous", 401, "/api/v1/projects/{project}/jobs"),
        ("user:root", 201, "/api/v1/projects/{project}/assets"),
    ]


def test_openapi_and_error_shapes(served: tuple[Studio, Any, str]) -> None:
    _, client, token = served
    doc = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/projects/{project}/assets" in doc["paths"] and "/api/v1/jobs/{job_id}/events" in doc["paths"]
    upload = doc["paths"]["/api/v1/projects/{project}/assets"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert client.get("/api/v1/nowhere", headers=auth(token)).json() == \
        {"error": {"code": "not_found", "message": "Not Found"}}
    r = client.put("/api/v1/projects", headers=auth(token))
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = client.get("/api/v1/projects", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/api/v1/projects", headers=auth("rf_guess")).json()["error"]["code"] == "unauthenticated"

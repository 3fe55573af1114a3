"""Uploads (streamed, limited, validated like `reelforge add`; refused ones leave nothing) and
downloads (Range, ETag, conditional requests, safe headers)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from reelforge.media.limits import MediaLimits
from reelforge.studio import Studio
from tests.server.conftest import auth, make_client, png_bytes

pytest.importorskip("fastapi")  # the server extra: pip install -e ".[server]"


def _nothing_stored(studio: Studio, assets_before: int, blobs_before: int) -> None:
    assert len(studio.assets.list()) == assets_before
    assert len(list(studio.blobs.iter_blobs())) == blobs_before
    report = studio.fsck()
    assert report.clean and not report.unreferenced
    assert not list(studio.blobs.stale_staging(older_than=0))
    uploads = studio.settings.cache_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def _counts(studio: Studio) -> tuple[int, int]:
    return len(studio.assets.list()), len(list(studio.blobs.iter_blobs()))


def test_upload_is_ingested_with_tags_and_meta_and_deduplicated(served: tuple[Studio, Any, str]) -> None:
    studio, client, token = served
    data = png_bytes((64, 40))
    r = client.post("/api/v1/projects/alpha/assets", headers=auth(token),
                    files={"file": ("plates/a.png", data, "image/png")},
                    data={"tags": "plate, hero", "meta": '{"shot": 12}'})
    assert r.status_code == 201, r.text
    a = r.json()
    assert (a["name"], a["kind"], a["size"], sorted(a["tags"]), a["meta"]) == \
        ("plates/a.png", "image", len(data), ["hero", "plate"], {"shot": 12})
    assert a["source"] == "upload"  # not the server's temporary path
    again = client.post("/api/v1/projects/alpha/assets", headers=auth(token),
                        files={"file": ("other-name.png", data, "image/png")})
    assert again.status_code == 200 and again.json()["id"] == a["id"] and again.json()["duplicate"]
    assert studio.fsck().clean
    event = studio.access.audit_events(action="asset.add", limit=1)[0]
    assert event.actor == "user:root"


@pytest.mark.parametrize("case", ["too big", "too many pixels", "not multipart", "declared image, text inside",
                                  "text named .png", "cut off", "two files", "no file", "bad meta", "escaping name"])
def test_refused_uploads_leave_nothing(served: tuple[Studio, Any, str], case: str) -> None:
    studio, client, token = served
    before = _counts(studio)
    h = auth(token)
    url = "/api/v1/projects/alpha/assets"
    text = b"INT. HOUSE - DAY\n\nAnna waits.\n"
    if case == "too big":
        client = make_client(studio, max_upload_bytes=2000)
        r = client.post(url, headers=h, files={"file": ("big.png", png_bytes((64, 64)), "image/png")})
        want = (413, "limit_exceeded")
    elif case == "too many pixels":
        studio.settings.limits = MediaLimits(max_pixels=1000)
        r = client.post(url, headers=h, files={"file": ("wide.png", png_bytes((64, 64)), "image/png")})
        want = (413, "limit_exceeded")
    elif case == "not multipart":
        r = client.post(url, headers={**h, "Content-Type": "image/png"}, content=png_bytes())
        want = (415, "unsupported_media_type")
    elif case == "declared image, text inside":
        r = client.post(url, headers=h, files={"file": ("scene.fountain", text, "image/png")})
        want = (415, "unsupported_media_type")
    elif case == "text named .png":
        r = client.post(url, headers=h, files={"file": ("fake.png", text, "application/octet-stream")})
        want = (422, "media_error")
    elif case == "cut off":
        body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
                b"Content-Type: image/png\r\n\r\n" + png_bytes()[:300])
        r = client.post(url, headers={**h, "Content-Type": "multipart/form-data; boundary=XyZ"}, content=body)
        want = (400, "invalid_input")
        assert "cut off" in r.json()["error"]["message"]
    elif case == "two files":
        r = client.post(url, headers=h, files=[("file", ("a.png", png_bytes(), "image/png")),
                                               ("file", ("b.png", png_bytes(), "image/png"))])
        want = (400, "invalid_input")
    elif case == "no file":
        r = client.post(url, headers=h, data={"name": "x.png"}, files={"other": ("a.png", png_bytes(), "image/png")})
        want = (400, "invalid_input")
    elif case == "bad meta":
        r = client.post(url, headers=h, files={"file": ("a.png", png_bytes(), "image/png")}, data={"meta": "[1]"})
        want = (400, "invalid_input")
    else:
        r = client.post(url, headers=h, files={"file": ("../../etc/x.png", png_bytes(), "image/png")})
        want = (400, "invalid_input")
    assert (r.status_code, r.json()["error"]["code"]) == want, r.text
    _nothing_stored(studio, *before)


def test_a_client_that_goes_away_mid_upload_leaves_nothing(served: tuple[Studio, Any, str]) -> None:
    """Over a real socket: the body stops half way and the connection closes."""
    import uvicorn

    studio, client, token = served
    before = _counts(studio)
    server = uvicorn.Server(uvicorn.Config(client.app, host="127.0.0.1", port=0, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        head = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
                b"Content-Type: image/png\r\n\r\n" + png_bytes((200, 200))[:4000])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /api/v1/projects/alpha/assets HTTP/1.1\r\nHost: x\r\n"
                         b"Authorization: Bearer " + token.encode() + b"\r\n"
                         b"Content-Type: multipart/form-data; boundary=XyZ\r\n"
                         b"Content-Length: 100000\r\n\r\n" + head)
            time.sleep(0.5)  # the server is now streaming the part to disk
        deadline = time.monotonic() + 20
        uploads = studio.settings.cache_dir / "uploads"
        while uploads.exists() and any(uploads.iterdir()):
            assert time.monotonic() < deadline, "the upload's temporary file was left behind"
            time.sleep(0.05)
    finally:
        server.should_exit = True
        thread.join(20)
    _nothing_stored(studio, *before)


def test_download_range_etag_and_conditional(served: tuple[Studio, Any, str]) -> None:
    studio, client, token = served
    h = auth(token)
    data = png_bytes((120, 90))
    asset = client.post("/api/v1/projects/alpha/assets", headers=h,
                        files={"file": ("still ü.png", data, "image/png")}).json()
    url = f"/api/v1/assets/{asset['id']}/content"
    full = client.get(url, headers=h)
    etag = f'"{asset["sha256"]}"'
    assert full.status_code == 200 and full.content == data
    assert full.headers["etag"] == etag and full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-type"] == "image/png" and full.headers["x-content-type-options"] == "nosniff"
    assert full.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''still%20%C3%BC.png" in full.headers["content-disposition"]
    assert client.get(url, headers={**h, "If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={**h, "If-None-Match": '"other"'}).status_code == 200
    part = client.get(url, headers={**h, "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}" and part.headers["content-length"] == "10"
    tail = client.get(url, headers={**h, "Range": "bytes=-7"})
    assert tail.status_code == 206 and tail.content == data[-7:]
    rest = client.get(url, headers={**h, "Range": f"bytes={len(data) - 5}-"})
    assert rest.content == data[-5:]
    bad = client.get(url, headers={**h, "Range": f"bytes={len(data)}-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{len(data)}"
    # A changed file (another ETag) or several ranges: the whole file, as HTTP allows.
    assert client.get(url, headers={**h, "Range": "bytes=0-3", "If-Range": '"old"'}).content == data
    assert client.get(url, headers={**h, "Range": "bytes=0-3, 8-9"}).status_code == 200
    head = client.head(url, headers=h)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data)) and not head.content
    thumb = client.get(f"/api/v1/assets/{asset['id']}/thumbnail", headers=h)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg" and thumb.content[:2] == b"\xff\xd8"
    # Downloads from the start are audited; a seek into the file is not another download.
    downloads = studio.access.audit_events(action="asset.download", target=asset["id"])
    assert len(downloads) == 4 and {e.actor for e in downloads} == {"user:root"}


def test_served_types_never_run_script() -> None:
    from reelforge.server.downloads import content_disposition, parse_range, safe_media_type

    assert safe_media_type("text/html") == safe_media_type("image/svg+xml") == "application/octet-stream"
    assert safe_media_type("video/mp4") == "video/mp4" and safe_media_type("image/png") == "image/png"
    assert '"' not in content_disposition('evil".png').split("filename=")[1].split(";")[0].strip('"')
    assert parse_range("bytes=5-1", 10) is None and parse_range("bytes=-0", 10) is False
    assert parse_range("items=0-1", 10) is None and parse_range("bytes=0-100", 10) == (0, 9)


def test_a_disconnect_while_receiving_is_refused(tmp_path: Path) -> None:
    import anyio
    from starlette.requests import Request

    from reelforge.errors import InvalidInput
    from reelforge.server.uploads import receive

    messages = [{"type": "http.request", "body": b"--B\r\nContent-Disposition: form-data; name=\"file\"; "
                 b"filename=\"a.png\"\r\n\r\n12345", "more_body": True}, {"type": "http.disconnect"}]

    async def recv() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [
        (b"content-type", b"multipart/form-data; boundary=B")]}

    async def go() -> None:
        await receive(Request(scope, recv), tmp_path, 10_000)

    with pytest.raises(InvalidInput, match="cut off"):
        anyio.run(go)

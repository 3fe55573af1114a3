"""``/static``: the UI's CSS, scripts and vendored libraries, with long caching (their URLs carry
a version) and nosniff."""

from __future__ import annotations

from typing import Any

from starlette.staticfiles import StaticFiles as _StaticFiles

from reelforge.web.render import STATIC


class StaticFiles(_StaticFiles):
    def __init__(self) -> None:
        super().__init__(directory=STATIC, check_dir=True)

    def file_response(self, *args: Any, **kwargs: Any) -> Any:
        response = super().file_response(*args, **kwargs)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

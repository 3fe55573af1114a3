"""A real server for tests: the studio's app on uvicorn, on 127.0.0.1 and a free port, in a thread,
with job workers in threads of this process (so a job submitted over HTTP runs)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from reelforge.studio import Studio


@dataclass
class Live:
    url: str
    token: str  # a studio admin's token with every scope
    studio: Studio


@contextlib.contextmanager
def live_server(studio: Studio, *, workers: int = 1, worker_tasks: Sequence[str] | None = None,
                user: str = "admin", **config: Any) -> Iterator[Live]:
    import uvicorn

    from reelforge.compute.worker import Worker
    from reelforge.server.app import create_app
    from reelforge.server.config import ServerConfig

    if user not in {u.username for u in studio.access.list_users()}:
        studio.access.create_user(user, f"{user}-password-1", admin=True)
    token = studio.access.create_token(user, "live-server", scopes=["read", "write", "admin"])[1]
    app = create_app(studio, ServerConfig.load(studio.settings, access_log=False, **config))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True, name="live-server")
    thread.start()
    stop = threading.Event()
    pool = []
    for i in range(workers):
        w = Worker(studio, worker_id=f"live-worker-{i}", tasks=worker_tasks)
        t = threading.Thread(target=w.run, kwargs={"stop": stop}, daemon=True, name=f"live-worker-{i}")
        t.start()
        pool.append((w, t))
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield Live(f"http://127.0.0.1:{port}", token, studio)
    finally:
        stop.set()
        for w, _ in pool:
            w.interrupt()
        server.should_exit = True
        thread.join(10)
        for _, t in pool:
            t.join(30)

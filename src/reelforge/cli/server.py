"""``reelforge serve``: the studio server (FastAPI on uvicorn), optionally with embedded workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from reelforge.cli.common import err_console, studio

if TYPE_CHECKING:
    from reelforge.server.config import ServerConfig
    from reelforge.studio import Studio

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str | None = typer.Option(None, help="address to bind (default 127.0.0.1: this machine only)"),
        port: int | None = typer.Option(None, min=0, max=65535, help="default 8750"),
        workers: int | None = typer.Option(None, "--workers", "-w", min=0, max=64,
                                           help="job workers to run with the server (default 0)"),
        worker_mode: str | None = typer.Option(None, "--worker-mode", help="process (default) or thread"),
        trusted_proxy: list[str] = typer.Option([], "--trusted-proxy",
                                                help="a reverse proxy (address or network) whose X-Forwarded-* "
                                                     "headers are believed (repeat)"),
        insecure_cookies: bool = typer.Option(False, "--insecure-cookies",
                                              help="session cookies without Secure (plain HTTP off localhost)"),
        log_level: str = typer.Option("info", help="uvicorn's log level"),
    ) -> None:
        """Serve this studio over HTTP: the REST API under /api/v1 (OpenAPI: /api/v1/openapi.json),
        /healthz, /readyz and /metrics. Settings come from the [server] table of reelforge.toml and
        REELFORGE_SERVER_* variables; these flags override them."""
        from reelforge.server.config import ServerConfig

        s = studio()
        config = ServerConfig.load(
            s.settings, host=host, port=port, workers=workers, worker_mode=worker_mode,
            trusted_proxies=tuple(trusted_proxy) or None, cookie_secure=False if insecure_cookies else None,
        )
        if not s.access.list_users():
            err_console.print("note: no accounts yet; create one with `reelforge user add NAME --admin`",
                              markup=False, highlight=False)
        run_server(s, config, log_level=log_level)


def run_server(s: Studio, config: ServerConfig, *, log_level: str = "info",
               on_started: Callable[[str], None] | None = None) -> None:
    """Serve ``s`` with uvicorn until interrupted, with the configured embedded workers.
    ``on_started(url)`` runs once the socket listens (``demo --serve`` opens the browser then)."""
    import logging
    import sys
    import threading

    from reelforge.errors import InvalidInput

    try:
        import uvicorn
    except ImportError:
        raise InvalidInput("the server needs its extra: pip install 'reelforge[server]'") from None
    from reelforge.server.app import create_app
    from reelforge.server.workers import EmbeddedWorkers

    if config.host not in _LOOPBACK:
        err_console.print(f"warning: listening on {config.host}: reachable from other machines; put TLS in "
                          "front (a reverse proxy) before passwords travel", markup=False, highlight=False)
    # One JSON object per request on stderr (ObservabilityMiddleware writes them).
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log = logging.getLogger("reelforge.server.access")
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
    pool = EmbeddedWorkers(s, config.workers, config.worker_mode)
    app = create_app(s, config, embedded_workers=pool.alive)
    pool.start()
    # Forwarded headers are handled by the app (trusted proxies only), never by uvicorn.
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, proxy_headers=False,
                                           access_log=False, server_header=False, log_level=log_level))
    if on_started is not None:
        host = "localhost" if config.host in _LOOPBACK else config.host

        def _wait() -> None:
            while not server.started and not server.should_exit:
                threading.Event().wait(0.1)
            if server.started:
                on_started(f"http://{host}:{config.port}/")

        threading.Thread(target=_wait, daemon=True).start()
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it shut down on (as uvicorn.run does, a clean exit)
    finally:
        pool.stop()
    if not server.started:
        from reelforge.errors import Unavailable

        raise Unavailable(f"the server could not start on {config.host}:{config.port} (port in use?)")

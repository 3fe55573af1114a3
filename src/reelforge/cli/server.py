"""``reelforge serve``: the studio server (FastAPI on uvicorn), optionally with embedded workers."""

from __future__ import annotations

import typer

from reelforge.cli.common import err_console, studio

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
        import logging
        import sys

        from reelforge.errors import InvalidInput

        try:
            import uvicorn
        except ImportError:
            raise InvalidInput("the server needs its extra: pip install 'reelforge[server]'") from None
        from reelforge.server.app import create_app
        from reelforge.server.config import ServerConfig
        from reelforge.server.workers import EmbeddedWorkers

        s = studio()
        config = ServerConfig.load(
            s.settings, host=host, port=port, workers=workers, worker_mode=worker_mode,
            trusted_proxies=tuple(trusted_proxy) or None, cookie_secure=False if insecure_cookies else None,
        )
        if not s.access.list_users():
            err_console.print("note: no accounts yet; create one with `reelforge user add NAME --admin`",
                              markup=False, highlight=False)
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
        try:
            # Forwarded headers are handled by the app (trusted proxies only), never by uvicorn.
            uvicorn.run(app, host=config.host, port=config.port, proxy_headers=False, access_log=False,
                        server_header=False, log_level=log_level)
        finally:
            pool.stop()

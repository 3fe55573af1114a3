"""``reelforge demo``: build an embedded studio from packaged sample data and run real jobs."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from reelforge.cli import common
from reelforge.cli.common import cell, console, safe


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        path: Path = typer.Argument(Path("reelforge-demo"), help="folder for the demo studio"),
        fresh: bool = typer.Option(False, help="delete an existing demo studio first"),
        serve: bool = typer.Option(False, "--serve", help="then serve it: the web studio opens in the browser, "
                                                          "with a demo account printed here"),
        port: int = typer.Option(8750, min=1, max=65535, help="port for --serve"),
        open_browser: bool = typer.Option(True, "--open/--no-open", help="open the browser with --serve"),
    ) -> None:
        """Create a demo studio from sample data, run tasks through the queue, print where results are.
        With --serve, then serve it on localhost (an existing demo studio is served as it is)."""
        import shutil

        from reelforge import demo as demo_mod
        from reelforge.config import CONFIG_NAME
        from reelforge.studio import Studio

        if fresh and (path / CONFIG_NAME).exists():
            shutil.rmtree(path)
        if (path / CONFIG_NAME).exists():
            if serve:
                _serve_demo(Studio.open(path), port, open_browser)
                return
            from reelforge.errors import Conflict

            raise Conflict(f"{safe(path)} already holds a studio (use --fresh to rebuild it, --serve to serve it)")
        t0 = time.monotonic()
        studio = Studio.init(path)
        common.state._studio = studio
        console.print("[bold]reelforge demo[/] building a studio at ", cell(studio.home), sep="")

        def follow(handle):  # type: ignore[no-untyped-def]
            job = common.follow(handle.id, inline=True)
            common.job_summary(job)
            if job.status != "succeeded":
                raise typer.Exit(6)
            return job

        # Sources stay in the studio so lineage points at files that exist.
        res = demo_mod.build(studio, follow, studio.home / "demo-data")
        console.print("[bold]demo results[/]")
        width = max(len(what) for what, _ in res.highlights)
        for what, where in res.highlights:
            console.print(f"  {what:<{width}}  {where}", highlight=False)
        res.assets = len(studio.assets.list())
        console.print(
            f"{res.assets} assets, datasets {', '.join(res.datasets)}, {len(res.jobs)} jobs in "
            f"{time.monotonic() - t0:.0f}s. Explore: reelforge --studio {path} ls | jobs ls | lineage ID"
        )
        if serve:
            _serve_demo(studio, port, open_browser)


def _serve_demo(studio: object, port: int, open_browser: bool) -> None:
    """Serve the demo studio on localhost with one embedded worker, and a demo account (a studio
    admin with a fresh random password each time) printed on the terminal."""
    import secrets
    import webbrowser

    from reelforge.cli.server import run_server
    from reelforge.errors import NotFound
    from reelforge.server.config import ServerConfig
    from reelforge.studio import Studio

    assert isinstance(studio, Studio)
    password = secrets.token_urlsafe(12)
    try:
        studio.access.set_password("demo", password)
    except NotFound:
        studio.access.create_user("demo", password, admin=True)
    config = ServerConfig.load(studio.settings, host="127.0.0.1", port=port, workers=1)

    def started(url: str) -> None:
        console.print(f"[bold]web studio[/] {url}   user [bold]demo[/]   password [bold]{password}[/]", highlight=False)
        console.print("(Ctrl-C stops the server)", style="dim")
        if open_browser:
            webbrowser.open(url)

    run_server(studio, config, log_level="warning", on_started=started)


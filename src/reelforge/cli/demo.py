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
    ) -> None:
        """Create a demo studio from sample data, run tasks through the queue, print where results are."""
        import shutil

        from reelforge import demo as demo_mod
        from reelforge.config import CONFIG_NAME
        from reelforge.studio import Studio

        if fresh and (path / CONFIG_NAME).exists():
            shutil.rmtree(path)
        if (path / CONFIG_NAME).exists():
            from reelforge.errors import Conflict

            raise Conflict(f"{safe(path)} already holds a studio (use --fresh to rebuild it)")
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

"""The pages of the web UI, one module per area; each has a ``router``."""

from __future__ import annotations

from reelforge.web.pages import (
    assets,
    auth,
    datasets,
    exhibitions,
    gallery,
    home,
    jobs,
    models,
    run,
    screenplays,
)

ROUTERS = tuple(m.router for m in (auth, home, assets, datasets, run, jobs, gallery, models, screenplays, exhibitions))

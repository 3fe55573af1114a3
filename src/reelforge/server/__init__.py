"""The studio server: a FastAPI app (``/api/v1``, OpenAPI at ``/api/v1/openapi.json``) over one
studio's services, with accounts and per-project roles from ``reelforge.access``.

``reelforge serve`` runs it on uvicorn. Nothing here imports ``reelforge.db``: routes call services,
the guard and the job system (``tests/server/test_layering.py`` checks it). FastAPI is imported
only by ``app.py`` and the routers, so importing this package costs nothing.
"""

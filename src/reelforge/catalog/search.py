"""Semantic search over the studio's screenplays, as a service doors call (CLI, server, SDK).

The index is a versioned model (``script-search-index``) built by the ``script.index`` task, so a
query never re-embeds the corpus; when screenplays were added since the index was built, the
service submits that task first and waits for it (it runs inline when no worker is up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from reelforge.catalog.assets import AssetService
    from reelforge.catalog.models import ModelService
    from reelforge.compute.queue import JobService

SEARCH_INDEX_MODEL = "script-search-index"


def make_embedder(kind: str) -> Any:
    """``minilm`` (all-MiniLM-L6-v2 from a local package), ``lexical`` (hashing) or ``auto``."""
    from reelforge.training import sentence_embedder

    return sentence_embedder(kind)


def default_embedder() -> str:
    from reelforge.training import MiniLMEmbedder

    return "minilm" if MiniLMEmbedder.available() else "lexical"


class ScriptSearchService:
    def __init__(self, assets: AssetService, models: ModelService, jobs: JobService) -> None:
        self.assets, self.models, self.jobs = assets, models, jobs

    def query(
        self, query: str, *, k: int = 10, kind: str | None = None, project: str | None = None,
        reindex: bool = True,
    ) -> list[dict[str, Any]]:
        """Best matches first (re-indexing first when screenplays were added since the index)."""
        from reelforge.script.search import SearchIndex

        if not query.strip():
            raise InvalidInput("empty search query")
        if kind not in (None, "scene", "line"):
            raise InvalidInput(f"unknown kind {kind!r} (scene or line)")
        current = sorted(a.id for a in self.assets.list(project=project, kind="screenplay"))
        if not current:
            raise InvalidInput("the studio has no screenplays to search")
        try:
            model = self.models.get(SEARCH_INDEX_MODEL, project)
        except NotFound:
            model = None
        if reindex and (model is None or model.config.get("screenplays") != current):
            job = self.jobs.submit("script.index", {}, project=project).wait()
            if not job.status == "succeeded":
                raise InvalidInput(f"indexing failed: {job.error}")
            model = self.models.get(job.result["index"])
        if model is None:
            raise NotFound("no search index yet (run: reelforge run script.index)")
        emb = make_embedder("minilm" if "MiniLM" in model.config["embedder"] else "lexical")
        index = SearchIndex.load(self.models.materialize(model), embedder=emb)
        hits = index.search(query, emb, k=k, filter=(lambda d: d.meta.get("kind") == kind) if kind else None)
        return [h.to_dict() for h in hits]

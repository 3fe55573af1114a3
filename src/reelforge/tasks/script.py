"""Screenplay tasks: breakdowns, analysis reports, semantic search, the dialogue model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from reelforge.catalog.search import SEARCH_INDEX_MODEL, default_embedder, make_embedder
from reelforge.compute.context import TaskContext
from reelforge.compute.registry import Params, Resources, task
from reelforge.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from reelforge.script.model import Screenplay


def load_screenplay(path: Path, name: str, *, strip_emphasis: bool = False) -> Screenplay:
    """Read a (cached) screenplay asset; ``name`` gives the suffix the format registry goes by."""
    from reelforge.script.formats import read_file

    return read_file(path, filename=name, strip_emphasis=strip_emphasis)


def convert_file(src: Path, dst: Path) -> Path:
    """Old home of ``reelforge.script.formats.convert_file`` (atomic, by the output's suffix)."""
    from reelforge.script.formats import convert_file as convert

    return convert(src, dst)


def _stem(name: str) -> str:
    return Path(name).with_suffix("").as_posix()


def _screenplay_input(ctx: TaskContext, ref: str) -> tuple[Any, Screenplay]:
    a = ctx.asset(ref)
    if a.kind != "screenplay":
        raise InvalidInput(f"asset {a.id} ({a.name}) is {a.kind}, not a screenplay")
    return a, load_screenplay(a.path, a.name)


# -- breakdown -------------------------------------------------------------------------------------
class BreakdownParams(Params):
    screenplay: str = Field(description="screenplay asset (Fountain, FDX or Chinese text)")
    sort_by: list[str] = Field(default_factory=lambda: ["location", "time_of_day"],
                               description="stripboard order: scene fields to group strips by")


@task(
    "script.breakdown",
    params=BreakdownParams,
    inputs={"screenplay": "asset"},
    outputs=("asset:json", "asset:csv", "asset:html"),
    description="Per-scene breakdown (cast, page eighths) and a stripboard as CSV and HTML",
)
def breakdown_task(ctx: TaskContext, p: BreakdownParams) -> None:
    from reelforge.script.breakdown import breakdown, to_stripboard_csv, to_stripboard_html

    a, sp = _screenplay_input(ctx, p.screenplay)
    ctx.progress(0, 3, "breaking down")
    bd = breakdown(sp)
    stem = _stem(a.name)
    j = ctx.save_asset(json.dumps(bd.to_dict(), indent=2, ensure_ascii=False).encode(),
                       f"breakdowns/{stem}.breakdown.json", tags=["breakdown"], meta={"screenplay": a.id})
    ctx.progress(1, 3, "stripboard")
    c = ctx.save_asset(to_stripboard_csv(bd, sort_by=tuple(p.sort_by)).encode(), f"breakdowns/{stem}.stripboard.csv",
                       tags=["stripboard"], meta={"screenplay": a.id})
    h = ctx.save_asset(to_stripboard_html(bd, sort_by=tuple(p.sort_by)).encode(),
                       f"breakdowns/{stem}.stripboard.html", tags=["stripboard"], meta={"screenplay": a.id})
    ctx.progress(3, 3, "done")
    ctx.result.update({"breakdown": j.id, "stripboard_csv": c.id, "stripboard_html": h.id,
                       "scenes": len(bd.scenes), "pages": bd.to_dict()["total_pages"]})


# -- analysis --------------------------------------------------------------------------------------
class AnalyzeParams(Params):
    screenplay: str = Field(description="screenplay asset")
    embeddings: bool = Field(False, description="add scene-to-scene topic shift from MiniLM embeddings")
    conflict_threshold: float = Field(-0.3, ge=-1, le=0, description="a pair conflicts when its exchanges' mean "
                                      "sentiment is below this")
    min_exchanges: int = Field(3, ge=1, le=100, description="exchanges a pair needs before it can be in conflict")
    max_turning_points: int = Field(3, ge=1, le=20, description="report at most this many turning points")


@task(
    "script.analyze",
    params=AnalyzeParams,
    inputs={"screenplay": "asset"},
    outputs=("asset:json", "asset:html"),
    description="Characters, interaction network, sentiment arcs, conflicts and turning points",
)
def analyze_task(ctx: TaskContext, p: AnalyzeParams) -> None:
    from reelforge.script import analyze, render_html_report

    a, sp = _screenplay_input(ctx, p.screenplay)
    embedder = None
    if p.embeddings:
        from reelforge.script.search import MiniLMEmbedder

        embedder = MiniLMEmbedder().embed
    analysis = analyze(
        sp, embedder=embedder, conflict_threshold=p.conflict_threshold, min_exchanges=p.min_exchanges,
        max_turning_points=p.max_turning_points,
        progress=lambda d, t, m: ctx.progress(d, t, m or "scoring lines"), should_stop=ctx.should_stop,
    )
    ctx.check_cancelled()
    stem = _stem(a.name)
    data = analysis.to_dict()
    j = ctx.save_asset(json.dumps(data, indent=2, ensure_ascii=False).encode(), f"analysis/{stem}.analysis.json",
                       tags=["analysis"], meta={"screenplay": a.id})
    h = ctx.save_asset(render_html_report(analysis, sp).encode(), f"analysis/{stem}.report.html",
                       tags=["report"], meta={"screenplay": a.id})
    ctx.result.update({
        "analysis": j.id, "report": h.id,
        "most_central": analysis.most_central(),
        "conflicts": [[c["a"], c["b"]] if "a" in c else c for c in data["conflicts"]][:5],
        "turning_points": [t.get("scene_number", t.get("scene")) for t in data["turning_points"]],
    })


# -- search ----------------------------------------------------------------------------------------
def screenplay_units(asset_id: str, name: str, sp: Screenplay) -> list[Any]:
    from reelforge.script.search import units_for_search

    by_scene: dict[int, list[tuple[str | None, str, int]]] = {}
    for d in sp.dialogue_lines():
        by_scene.setdefault(d.scene_index, []).append((d.character, d.text, d.line))
    scenes = []
    for sc in sp.scenes():
        rows = [(None, " ".join(el.plain_text.split()), el.line) for el in sc.elements if el.type == "action"]
        rows += by_scene.get(sc.index, [])
        rows.sort(key=lambda r: r[2])
        scenes.append((f"s{sc.index}", f"{sc.number}. {sc.heading_text}" if sc.number else sc.heading_text, rows))
    return units_for_search(asset_id, scenes, extra_meta={"asset": asset_id, "name": name, "title": sp.title})


class IndexParams(Params):
    screenplays: list[str] = Field(default_factory=list, description="screenplay assets (default: all)")
    embedder: str | None = Field(None, description="minilm (default when installed) or lexical")


@task(
    "script.index",
    params=IndexParams,
    inputs={"screenplays": "assets"},
    outputs=("model:search-index",),
    description="Embed scenes and lines of the studio's screenplays into a stored search index",
)
def index_task(ctx: TaskContext, p: IndexParams) -> None:
    from reelforge.script.search import SearchIndex

    emb = make_embedder(p.embedder or default_embedder())
    refs = p.screenplays or [a.id for a in ctx.find_assets(kind="screenplay")]
    if not refs:
        raise InvalidInput("no screenplays to index")
    index = SearchIndex()
    prev = None
    try:
        prev = ctx.model(SEARCH_INDEX_MODEL)
    except NotFound:
        pass
    if prev is not None and prev.model.config.get("embedder") == emb.name:
        index = SearchIndex.load(prev.dir, embedder=emb)  # only new or changed docs get embedded
    docs = []
    keep: set[str] = set()
    for i, ref in enumerate(refs):
        a, sp = _screenplay_input(ctx, ref)
        units = screenplay_units(a.id, a.name, sp)
        docs.extend(units)
        keep.update(d.id for d in units)
        ctx.progress(i + 1, len(refs) * 2, f"parsed {a.name}")
    # Drop what no longer exists (removed screenplays, scenes that were cut); unchanged docs stay
    # and are not embedded again.
    for d in index.docs:
        if d.id not in keep:
            index.remove(d.id)
    embedded = index.add(docs, emb, progress=lambda d, t, m: ctx.progress(len(refs) + d * len(refs) / max(t, 1),
                                                                            len(refs) * 2, "embedding"),
                         should_stop=ctx.should_stop)
    out = ctx.workdir / "index"
    index.save(out)
    files = {f.name: f for f in out.iterdir()}
    model = ctx.save_model(SEARCH_INDEX_MODEL, files, kind="search-index",
                           config={"embedder": emb.name, "dim": emb.dim, "screenplays": sorted(refs)},
                           metrics={"documents": len(index), "embedded_now": embedded})
    ctx.result.update({"index": model.id, "documents": len(index), "embedded_now": embedded})


# -- dialogue model --------------------------------------------------------------------------------
class TrainLMParams(Params):
    screenplays: list[str] = Field(default_factory=list, description="screenplay assets (default: all)")
    dataset: str | None = Field(None, description="or: a dataset of screenplays")
    name: str = Field("dialogue-lm", description="registry name of the trained model")
    steps: int = Field(2000, ge=1, le=10_000_000, description="training steps (one batch each)")
    batch_size: int = Field(32, ge=1, le=4096, description="sequences per training step")
    block_size: int = Field(256, ge=16, le=4096, description="context length in characters")
    n_layer: int = Field(4, ge=1, le=48, description="transformer layers")
    n_head: int = Field(4, ge=1, le=64, description="attention heads per layer")
    n_embd: int = Field(128, ge=16, le=4096, description="embedding width")
    dropout: float = Field(0.1, ge=0, lt=1, description="dropout probability during training")
    lr: float = Field(3e-4, gt=0, le=1, description="learning rate")
    checkpoint_every: int = Field(200, ge=1, description="save a resumable checkpoint every this many steps")

    @model_validator(mode="after")
    def _heads(self) -> TrainLMParams:
        if self.n_embd % self.n_head:
            raise ValueError("n_embd must be a multiple of n_head")
        return self


@task(
    "script.train_lm",
    params=TrainLMParams,
    inputs={"screenplays": "assets", "dataset": "dataset"},
    outputs=("model:dialogue-lm",),
    resources=Resources(cpus=2, gpus=1),
    resumable=True,
    description="Train a character-level Transformer on the studio's screenplay dialogue",
)
def train_lm_task(ctx: TaskContext, p: TrainLMParams) -> None:

    from reelforge.script.dialogue import CharVocab, DialogueLMConfig, build_corpus, train_dialogue_lm

    if p.dataset:
        refs = [it.asset.id for it in ctx.dataset(p.dataset).items if it.asset.kind == "screenplay"]
    else:
        refs = p.screenplays or [a.id for a in ctx.find_assets(kind="screenplay")]
    if not refs:
        raise InvalidInput("no screenplays to train on")
    turns: list[tuple[str, str]] = []
    for ref in refs:
        _, sp = _screenplay_input(ctx, ref)
        turns.extend((d.character, d.text) for d in sp.dialogue_lines())
    corpus = build_corpus(turns)
    if len(corpus) < p.block_size + 2:
        raise InvalidInput(f"only {len(corpus)} characters of dialogue; need more than block_size={p.block_size}")
    ctx.set_threads()
    config = DialogueLMConfig(vocab_size=CharVocab.build(corpus).size, block_size=p.block_size, n_layer=p.n_layer, n_head=p.n_head,
                              n_embd=p.n_embd, dropout=p.dropout)
    lm = train_dialogue_lm(
        corpus, config, p.steps, batch_size=p.batch_size, lr=p.lr, seed=ctx.seed, device=ctx.device,
        progress=lambda d, t, m: ctx.progress(d, t, m), on_metric=ctx.metric, should_stop=ctx.should_stop,
        state=ctx.restore(), checkpoint=ctx.checkpoint, checkpoint_every=p.checkpoint_every,
    )
    ctx.check_cancelled()
    out = ctx.workdir / "lm"
    lm.save(out)
    model = ctx.save_model(p.name, {f.name: f for f in out.iterdir()}, kind="dialogue-lm",
                           config={**lm.config.to_dict(), "screenplays": refs, "characters": len(corpus)},
                           metrics={"val_loss": lm.val_loss, "train_loss": lm.train_loss, "steps": lm.step})
    ctx.result.update({"model": model.id, "val_loss": lm.val_loss})


class GenerateParams(Params):
    model: str = Field(description="dialogue model (NAME, NAME@N or id)")
    character: str = Field(min_length=1, max_length=100, description="the character who speaks the new lines")
    context: str = Field("", max_length=20_000, description="preceding Fountain text")
    max_chars: int = Field(300, ge=1, le=20_000, description="longest generated dialogue in characters")
    temperature: float = Field(0.8, gt=0, le=5, description="sampling temperature (higher: more surprising)")
    top_k: int = Field(20, ge=1, le=1000, description="sample from the k most likely next characters")
    samples: int = Field(1, ge=1, le=50, description="number of alternative lines to generate")


@task(
    "script.generate",
    params=GenerateParams,
    inputs={"model": "model"},
    outputs=("asset:screenplay",),
    description="New lines for a named character after a context, as a Fountain fragment",
)
def generate_task(ctx: TaskContext, p: GenerateParams) -> None:
    from reelforge.script.dialogue import TrainedLM, generate

    m = ctx.model(p.model)
    if m.model.kind != "dialogue-lm":
        raise InvalidInput(f"model {m.model.ref} is a {m.model.kind}, not a dialogue-lm")
    lm = TrainedLM.load(m.dir, device=ctx.device)
    fragments = []
    for i in range(p.samples):
        ctx.check_cancelled()
        fragments.append(generate(lm, p.character, p.context, max_new_chars=p.max_chars,
                                  temperature=p.temperature, top_k=p.top_k, seed=ctx.seed + i))
        ctx.progress(i + 1, p.samples, "sampling")
    text = "\n".join(fragments)
    out = ctx.save_asset(text.encode(), f"generated/{p.character.lower().replace(' ', '_')}_{ctx.job_id}.fountain",
                         tags=["generated", "dialogue"], meta={"model": m.id, "character": p.character})
    ctx.result.update({"fragment": out.id, "text": text})

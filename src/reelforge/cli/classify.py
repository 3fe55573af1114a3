"""``reelforge classify``: classification and tagging: train, evaluate, propose tags, find similar assets."""

from __future__ import annotations

import json
from typing import Any

import typer

from reelforge.cli.common import cell, console, emit_json, new_table, safe, state, studio
from reelforge.cli.common import export_output as _export
from reelforge.cli.common import run_task as _run

classify_app = typer.Typer(help="Classification and tagging: train, evaluate, propose tags, find similar assets.", no_args_is_help=True)


def _say(text: str) -> None:
    console.print(safe(text), markup=False, highlight=False)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@classify_app.command("train")
def train(
    dataset: str = typer.Option(..., "--dataset", "-d", help="labelled image dataset (NAME, NAME@N or id)"),
    name: str = typer.Option("classifier", help="registry name of the model"),
    epochs: int = typer.Option(30, min=1, help="passes over the train split"),
    resolution: int = typer.Option(32, min=8, max=256, help="side in pixels the images are resized to"),
    width: int = typer.Option(16, min=4, max=256, help="channels of the first convolution stage"),
    hflip: bool = typer.Option(True, help="augment with horizontal flips"),
    min_accuracy: float | None = typer.Option(None, min=0.0, max=1.0, help="quality gate on test accuracy"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Train a classifier on a dataset's train split (best epoch on val) and report on its test split:
    accuracy, per-class precision and recall, and a confusion-matrix image."""
    params: dict[str, Any] = {"dataset": dataset, "name": name, "epochs": epochs, "resolution": resolution,
                              "width": width, "hflip": hflip}
    if min_accuracy is not None:
        params["min_accuracy"] = min_accuracy
    result = _run("classify.train", params, project)
    if state.json_output:
        emit_json(result)
        return
    held = result["evaluated_on"]
    report = result[held]
    table = new_table("class", "precision", "recall", "images")
    for label, c in report["per_class"].items():
        table.add_row(cell(label), _pct(c["precision"]), _pct(c["recall"]), str(c["support"]))
    console.print(table)
    _say(f"{held} accuracy {_pct(report['accuracy'])} on {report['n']} images (val {_pct(result['val_accuracy'])})")
    quality = result.get("quality")
    if quality:
        _say(f"quality gate {quality['min_accuracy']}: {'passed' if quality['passed'] else 'FAILED'}")
    _say(f"model:            {result['model']}")
    _say(f"confusion matrix: {_export(result['confusion_image'])}")
    _say(f"report:           {_export(result['report'])}")


@classify_app.command("apply")
def apply(
    assets: list[str] = typer.Argument(None, help="asset ids or names (default: the images the filter selects)"),
    model: str = typer.Option(..., "--model", "-m", help="classifier model (NAME, NAME@N or id)"),
    kind: str = typer.Option("image", help="kind of assets the filter selects (images only)"),
    tag: list[str] = typer.Option([], "--tag", "-t", help="filter: assets with this tag (repeat: all of them)"),
    name: str | None = typer.Option(None, help="filter: asset names matching this glob"),
    top_k: int = typer.Option(1, "--top-k", min=1, help="labels proposed per asset"),
    min_confidence: float = typer.Option(0.0, "--min-confidence", min=0.0, max=1.0,
                                         help="leave out proposals less probable than this"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Propose tags for images (top labels with confidences). Nothing is tagged until you run
    `reelforge classify accept` on the proposals."""
    params: dict[str, Any] = {"model": model, "assets": list(assets or []), "kind": kind, "tags": tag,
                              "top_k": top_k, "min_confidence": min_confidence}
    if name:
        params["name"] = name
    result = _run("classify.apply", params, project)
    path = _export(result["proposals"])
    doc = json.loads(path.read_text(encoding="utf-8"))
    if state.json_output:
        emit_json({**result, "proposals_file": str(path), "proposals_data": doc})
        return
    table = new_table("id", "name", "proposals")
    for e in doc["assets"]:
        props = ", ".join(f"{p['tag']} {p['confidence']:.3f}" for p in e["proposals"]) or "(none)"
        table.add_row(e["asset"], cell(e["name"]), cell(props))
    console.print(table)
    _say(f"{result['assets']} assets; proposals: {path}")
    _say(f"accept with: reelforge classify accept {result['proposals']} --min-confidence 0.9")


def _proposals_asset(ref: str, project: str | None) -> str:
    """A proposals asset id/name, or the classify.apply job that wrote one."""
    from reelforge.errors import InvalidInput

    s = studio()
    if ref.startswith("job_"):
        job = s.jobs.get(ref)
        if job.task != "classify.apply" or "proposals" not in job.result:
            raise InvalidInput(f"job {ref} is {job.task} ({job.status}), not a finished classify.apply")
        return str(job.result["proposals"])
    return s.assets.get(ref, project).id


@classify_app.command("accept")
def accept(
    proposals: str = typer.Argument(..., help="proposals asset (id or name) or the classify.apply job id"),
    min_confidence: float = typer.Option(0.9, "--min-confidence", min=0.0, max=1.0,
                                         help="apply only proposals at least this confident"),
    only: list[str] = typer.Option([], "--only", help="apply only this label (repeat for several)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show what would be tagged, tag nothing"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Apply proposed tags at or above a confidence, and print what was tagged."""
    from reelforge.vision.classify.tags import read_proposals, select_proposals

    s = studio()
    asset_id = _proposals_asset(proposals, project)
    doc = json.loads(_export(asset_id).read_text(encoding="utf-8"))
    total = sum(len(e["proposals"]) for e in read_proposals(doc))
    chosen = select_proposals(doc, min_confidence=min_confidence, only=only)
    current: dict[str, set[str]] = {}
    if chosen:  # all still there, or nothing is tagged
        current = {a.id: set(a.tags) for a in s.assets.get_many(list(dict.fromkeys(a.asset for a in chosen)))}
    had = [a for a in chosen if a.tag in current[a.asset]]
    by_tag: dict[str, list[str]] = {}
    for a in chosen:
        if a.tag not in current[a.asset]:
            by_tag.setdefault(a.tag, []).append(a.asset)
    if not dry_run:
        for tag, ids in by_tag.items():
            s.assets.tag(list(dict.fromkeys(ids)), add=[tag])
    if state.json_output:
        emit_json({"proposals": asset_id, "dry_run": dry_run, "min_confidence": min_confidence,
                   "tagged": [a.__dict__ for a in chosen if a not in had],
                   "already_tagged": [a.__dict__ for a in had], "left_out": total - len(chosen)})
        return
    verb = "would tag" if dry_run else "tagged"
    new = [a for a in chosen if a not in had]
    for a in new:
        _say(f"{verb} {a.asset} {a.name}: {a.tag} ({a.confidence:.3f})")
    for a in had:
        _say(f"already tagged {a.asset} {a.name}: {a.tag}")
    _say(f"{verb} {len({a.asset for a in new})} assets with {len(new)} tags; "
         f"{total - len(chosen)} proposals below {min_confidence}" + (f" or not {', '.join(only)}" if only else "")
         + " left out" + (f"; {len(had)} already there" if had else ""))


@classify_app.command("similar")
def similar(
    asset: str = typer.Argument(..., help="the image asset (id or name) to find look-alikes of"),
    model: str = typer.Option(..., "--model", "-m", help="classifier model (NAME, NAME@N or id)"),
    k: int = typer.Option(10, "-k", "--k", min=1, help="how many matches to list"),
    tag: list[str] = typer.Option([], "--tag", "-t", help="search only images with this tag (repeat: all)"),
    name: str | None = typer.Option(None, help="search only images whose names match this glob"),
    project: str | None = typer.Option(None, "--project", "-P"),
) -> None:
    """Images of the project ranked by similarity to ASSET in the classifier's embedding space."""
    params: dict[str, Any] = {"model": model, "query": asset, "k": k, "tags": tag}
    if name:
        params["name"] = name
    result = _run("classify.similar", params, project)
    if state.json_output:
        emit_json(result)
        return
    table = new_table("rank", "id", "name", "score")
    for i, r in enumerate(result["results"], 1):
        table.add_row(str(i), r["asset"], cell(r["name"]), f"{r['score']:.4f}")
    console.print(table)
    _say(f"{len(result['results'])} of {result['searched']} images")
    if result.get("sheet"):
        _say(f"contact strip: {_export(result['sheet'])}")

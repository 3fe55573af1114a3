"""Dataset and model-registry commands."""

from __future__ import annotations

from pathlib import Path

import typer

from reelforge.cli.common import (
    cell,
    console,
    emit_json,
    export_folder,
    human_bytes,
    new_table,
    safe,
    state,
    studio,
    when,
)

dataset_app = typer.Typer(help="Immutable, versioned datasets.", no_args_is_help=True)
model_app = typer.Typer(help="The model registry.", no_args_is_help=True)


@dataset_app.command("create")
def dataset_create(
    name: str,
    from_folder: Path | None = typer.Option(None, help="ingest this folder first; labels from class sub-folders"),
    kind: str | None = typer.Option(None),
    tag: list[str] = typer.Option([], "--tag", "-t"),
    glob: str | None = typer.Option(None, "--name", help="asset name glob"),
    asset: list[str] = typer.Option([], "--asset", "-a", help="explicit asset ids"),
    label_from: str | None = typer.Option(None, help="folder, meta:KEY or tag:PREFIX (a tag class:cat labels cat)"),
    splits: str = typer.Option("0.8,0.1,0.1", help="train,val,test ratios"),
    seed: int = typer.Option(0, min=0, max=2**63 - 1, help="seed of the split shuffle"),
    project: str | None = typer.Option(None, "--project", "-P"),
    description: str = typer.Option(""),
) -> None:
    """Create a new version of a dataset from a filter, explicit assets or a class-folder layout."""
    s = studio()
    assets = list(asset) or None
    if from_folder is not None:
        report = s.assets.add([from_folder], project=project, tags=tag)
        assets = [a.id for a in report.assets]
        label_from = label_from or "folder"
    v = s.datasets.create(name, project=project, assets=assets, kind=kind, tags=() if from_folder else tag,
                          name_glob=glob, label_from=label_from, splits=splits, seed=seed, description=description)
    if state.json_output:
        emit_json({k: v for k, v in v.to_dict().items() if k != "items"})
        return
    console.print(safe(f"created {v.ref} ({v.id}): {v.n_items} items, splits {v.counts['splits']}"
                       + (f", labels {v.counts['labels']}" if v.counts.get("labels") else "")),
                  markup=False)


@dataset_app.command("ls")
def dataset_ls(project: str | None = typer.Option(None, "--project", "-P")) -> None:
    """List dataset versions."""
    versions = studio().datasets.list(project)
    if state.json_output:
        emit_json([v.to_dict() for v in versions])
        return
    table = new_table("id", "dataset", "items", "splits", "labels", "created")
    for v in versions:
        table.add_row(v.id, cell(v.ref), str(v.n_items), str(v.counts.get("splits", {})),
                      str(len(v.counts.get("labels", {}))), when(v.created_at))
    console.print(table)


@dataset_app.command("show")
def dataset_show(ref: str, items: bool = typer.Option(False, help="list every item")) -> None:
    """Show a dataset version (NAME, NAME@N or id)."""
    v = studio().datasets.get(ref)
    data = v.to_dict()
    if not items:
        data["items"] = f"{len(v.items)} items (use --items)"
    emit_json(data)


@dataset_app.command("export")
def dataset_export(ref: str, dest: Path, overwrite: bool = typer.Option(False)) -> None:
    """Write split/label/file folders plus manifest.csv."""
    out = studio().datasets.export(ref, export_folder(dest), overwrite=overwrite)
    console.print(safe(f"exported {ref} to {out}"), markup=False, highlight=False)


@model_app.command("ls")
def model_ls(project: str | None = typer.Option(None, "--project", "-P")) -> None:
    """List registered models."""
    models = studio().models.list(project)
    if state.json_output:
        emit_json([m.to_dict() for m in models])
        return
    table = new_table("id", "model", "kind", "size", "metrics", "job", "created", ids=("id", "job"))
    for m in models:
        metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(m.metrics.items())[:4])
        table.add_row(m.id, cell(m.ref), cell(m.kind), human_bytes(sum(f.size for f in m.files)), cell(metrics),
                      m.created_by_job or "-", when(m.created_at))
    console.print(table)


@model_app.command("show")
def model_show(ref: str) -> None:
    """Show a model (NAME, NAME@N or id)."""
    emit_json(studio().models.get(ref).to_dict())


@model_app.command("export")
def model_export(ref: str, dest: Path, overwrite: bool = typer.Option(False)) -> None:
    """Copy a model's safetensors and config files to a folder."""
    out = studio().models.export(ref, export_folder(dest), overwrite=overwrite)
    console.print(safe(f"exported {ref} to {out}"), markup=False, highlight=False)

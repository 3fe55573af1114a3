"""Asset commands: add, ls, show, export, tag."""

from __future__ import annotations

from pathlib import Path

import typer

from reelforge.cli.common import (
    cell,
    console,
    emit_json,
    err_console,
    export_folder,
    human_bytes,
    new_table,
    parse_meta_value,
    safe,
    state,
    studio,
)


def _info_line(info: dict) -> str:
    k = info.get("kind")
    if k == "image":
        return f"{info.get('width')}x{info.get('height')} {info.get('mode', '')}"
    if k == "video":
        return f"{info.get('width')}x{info.get('height')} {info.get('fps') or 0:.2f}fps {info.get('duration') or 0:.1f}s {info.get('codec', '')}"
    if k == "audio":
        return f"{info.get('sample_rate')}Hz {info.get('channels')}ch {info.get('duration') or 0:.1f}s"
    return f"{info.get('line_count', '')} lines"


def _pairs(items: list[str]) -> dict[str, object]:
    from reelforge.errors import InvalidInput

    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"metadata must be key=value, got {safe(item)!r}")
        out[key.strip()] = parse_meta_value(value, key.strip())
    return out


def register(app: typer.Typer) -> None:
    @app.command()
    def add(
        paths: list[Path] = typer.Argument(..., help="files and folders (recursive)"),
        project: str | None = typer.Option(None, "--project", "-P"),
        tag: list[str] = typer.Option([], "--tag", "-t", help="tag to put on every added asset"),
        name: str | None = typer.Option(None, help="catalog name for a single file"),
        meta: list[str] = typer.Option([], "--meta", "-m", help="key=value metadata (e.g. caption=...)"),
        skip_invalid: bool = typer.Option(False, help="add the valid files and report the others"),
        follow_symlinks: bool = typer.Option(
            False, help="read through symlinks that lead out of the folders given (refused by default)"),
    ) -> None:
        """Ingest images, video, audio and screenplays (type from content; validated; deduplicated).

        Big folders are checked by one process per CPU; proxies of the videos added are queued as a
        job (setting ingest_video_proxies), shown by `reelforge jobs ls`."""
        import time

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from reelforge.catalog.staging import IngestProgress

        metadata = _pairs(meta)  # bad metadata fails before anything is read
        s = studio()
        started = time.monotonic()
        seen = {"bytes": 0, "drawn": 0.0}

        def show(p: IngestProgress) -> None:
            seen["bytes"] = p.bytes_done
            now = time.monotonic()
            elapsed = max(now - started, 1e-6)
            rate = f"{p.files_done / elapsed:,.0f} files/s {p.bytes_done / 1e6 / elapsed:,.0f} MB/s"
            bar.update(t, completed=p.files_done, total=p.files_total, rate=rate, description=safe(p.message[-50:]))
            if now - seen["drawn"] >= 0.1:  # ten redraws a second, from this thread
                seen["drawn"] = now
                bar.refresh()

        # Redrawn from the progress calls rather than by rich's refresh thread: a process with one
        # thread forks its ingest workers, which start far sooner than a fork server's (staging).
        with Progress(TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                      TextColumn("{task.description}"), console=err_console.get(), transient=True,
                      disable=not err_console.is_terminal, auto_refresh=False) as bar:
            t = bar.add_task("", total=None, rate="")
            report = s.ingest(
                paths, project=project, tags=tag, name=name, skip_invalid=skip_invalid, meta=metadata,
                follow_symlinks=follow_symlinks, on_progress=show,
            )
        elapsed = max(time.monotonic() - started, 1e-6)
        if state.json_output:
            emit_json({"added": [a.to_dict() for a in report.added], "duplicates": [a.id for a in report.duplicates],
                       "rejected": report.rejected, "jobs": report.jobs})
            return
        shown = 20  # per kind of outcome: a folder of thousands is summed up, not listed
        for a in report.added[:shown]:
            console.print(f"added {a.id} {a.kind:10} ", cell(a.name), sep="")
        for a in report.duplicates[:shown]:
            console.print(f"[dim]exists {a.id} {a.kind:10}[/] ", cell(a.name), sep="")
        more = max(0, len(report.added) - shown) + max(0, len(report.duplicates) - shown)
        if more:
            console.print(f"[dim]… and {more} more (reelforge ls)[/]")
        for path, msg in report.rejected:  # every refusal is listed: each needs the user's attention
            err_console.print("[red]rejected[/] ", cell(f"{path}: {msg}"), sep="", soft_wrap=True)
        files = len(report.added) + len(report.duplicates) + len(report.rejected)
        console.print(f"{len(report.added)} added, {len(report.duplicates)} already present, "
                      f"{len(report.rejected)} rejected in {elapsed:.1f} s "
                      f"({files / elapsed:,.0f} files/s, {seen['bytes'] / 1e6 / elapsed:,.0f} MB/s)")
        what = {"media.proxies": " for the videos added", "media.thumbnails": " for the big PNGs added"}
        for job_id in report.jobs:
            task = s.jobs.get(job_id).task
            console.print(f"queued {job_id} {task}{what.get(task, '')} (reelforge jobs ls)")
        if report.rejected:
            raise typer.Exit(2)

    @app.command("ls")
    def ls(
        kind: str | None = typer.Option(None, help="image, video, audio, screenplay or document"),
        tag: list[str] = typer.Option([], "--tag", "-t"),
        name: str | None = typer.Option(None, help="name glob, e.g. 'plates/*.png'"),
        project: str | None = typer.Option(None, "--project", "-P"),
        job: str | None = typer.Option(None, help="only outputs of this job"),
        limit: int = typer.Option(200),
    ) -> None:
        """List assets."""
        assets = studio().assets.list(project=project, kind=kind, tags=tag, name=name, created_by_job=job, limit=limit)
        if state.json_output:
            emit_json([a.to_dict() for a in assets])
            return
        table = new_table("id", "kind", "name", "size", "info", "tags")
        for a in assets:
            table.add_row(a.id, a.kind, cell(a.name), human_bytes(a.size), cell(_info_line(a.info)),
                          cell(",".join(a.tags)))
        console.print(table)

    @app.command()
    def show(ref: str = typer.Argument(..., help="asset, dataset, model or job id (or a name)")) -> None:
        """Show one asset, dataset version, model or job."""
        from reelforge.ids import id_kind

        s = studio()
        kind = id_kind(ref)
        if kind in ("dsv", "dst"):
            obj = s.datasets.get(ref)
        elif kind == "mdl":
            obj = s.models.get(ref)
        elif kind == "job":
            obj = s.jobs.get(ref)
        else:
            obj = s.assets.get(ref)
        data = obj.to_dict()
        if "items" in data and not state.json_output:
            data["items"] = f"{len(data['items'])} items"
        emit_json(data)

    @app.command()
    def export(
        refs: list[str] = typer.Argument(..., help="asset ids, then the destination folder"),
        overwrite: bool = typer.Option(False),
    ) -> None:
        """Copy assets out of the studio: reelforge export ID… DIR."""
        if len(refs) < 2:
            raise typer.BadParameter("give at least one asset id and a destination folder")
        *ids, dest = refs
        for p in studio().assets.export(ids, export_folder(Path(dest)), overwrite=overwrite):
            console.print(safe(p), markup=False, highlight=False)

    @app.command("meta")
    def set_meta(
        asset_id: str = typer.Argument(..., help="asset id"),
        pairs: list[str] = typer.Argument(..., help="key=value pairs (e.g. caption='a red nebula')"),
    ) -> None:
        """Set free-form metadata on an asset (captions for text-conditioned training, notes, ...)."""
        values = _pairs(pairs)
        a = studio().assets.set_meta(asset_id, **values)
        emit_json(a.meta)

    @app.command()
    def tag(
        ids: list[str] = typer.Argument(..., help="asset ids"),
        add: list[str] = typer.Option([], "--add", "-a"),
        remove: list[str] = typer.Option([], "--remove", "-r"),
    ) -> None:
        """Add or remove tags."""
        if not add and not remove:
            raise typer.BadParameter("nothing to do: give --add or --remove")
        for a in studio().assets.tag(ids, add, remove):
            console.print(f"{a.id} ", cell(f"{a.name}: {', '.join(a.tags) or '(no tags)'}"), sep="")


"""Studio-level commands: init, fsck, gc, lineage, provenance, backup, backups, restore-backup."""

from __future__ import annotations

from pathlib import Path

import typer

from reelforge.cli.common import cell, console, emit_json, err_console, safe, state, studio


def _input_ids(inputs: object) -> list[str]:
    """Input ids of a provenance record (read from a file, so its shape is not trusted)."""
    if not isinstance(inputs, list):
        return []
    return [str(i.get("id")) if isinstance(i, dict) else str(i) for i in inputs]


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        path: Path = typer.Argument(Path("."), help="studio folder"),
        database_url: str | None = typer.Option(None, help="default: SQLite in the studio folder"),
        blob_url: str | None = typer.Option(None, help="default: blobs/ in the studio folder"),
    ) -> None:
        """Create a studio: reelforge.toml, the catalog database, blobs/ and cache/."""
        from reelforge.studio import Studio

        overrides = {k: v for k, v in {"database_url": database_url, "blob_url": blob_url}.items() if v}
        s = Studio.init(path, **overrides)
        console.print(f"studio ready at {safe(s.home)}", markup=False, highlight=False)
        others = s.shared_with()
        if others:
            err_console.print(f"warning: the blob store {safe(s.blobs.url)} is shared with {len(others)} other "
                              f"studio(s) ({safe(', '.join(others[:3]))}); gc in any of them keeps what all "
                              "of them reference", markup=False, highlight=False)

    @app.command()
    def fsck(quick: bool = typer.Option(False, help="skip re-hashing blob contents")) -> None:
        """Check that every blob the catalog references exists and still matches its hash."""
        s = studio()
        report = s.fsck(verify=not quick)
        if state.json_output:
            emit_json(report.to_dict())
        else:
            console.print(f"checked {report.checked} blobs")
            for sha in report.missing:
                console.print(f"[red]missing[/] {sha}")
            for sha in report.corrupt:
                console.print(f"[red]corrupt[/] {sha}")
            if report.unreferenced:
                console.print(f"{len(report.unreferenced)} unreferenced blob(s) (`reelforge gc` removes them)")
            if report.stale_staging:
                console.print(f"{len(report.stale_staging)} stale staging file(s) (`reelforge gc` removes them)")
            console.print("[green]clean[/]" if report.clean else "[red]problems found[/]")
        if not report.clean:
            raise typer.Exit(1)

    @app.command()
    def gc(
        grace: float = typer.Option(3600.0, min=0, help="keep unreferenced blobs younger than this many seconds"),
        dry_run: bool = typer.Option(False),
        forget: Path | None = typer.Option(
            None, help="unregister a studio that shared this blob store and no longer exists, then collect"),
    ) -> None:
        """Remove blobs no studio sharing the store references, and leftovers of interrupted writes."""
        s = studio()
        if forget is not None:
            if not s.forget_catalog(forget):
                from reelforge.errors import NotFound

                raise NotFound(f"no other studio at {forget} is registered with this blob store")
            console.print(f"forgot {safe(forget)}", markup=False, highlight=False)
        removed = s.gc(grace_seconds=grace, dry_run=dry_run)
        if state.json_output:
            emit_json({"blobs": list(removed), "staging": removed.staging, "dry_run": dry_run})
            return
        verb = "would remove" if dry_run else "removed"
        console.print(f"{verb} {len(removed)} blob(s) and {len(removed.staging)} staging leftover(s)")
        for path in removed.staging:
            console.print(f"  staging {safe(path)}", markup=False, highlight=False)

    @app.command()
    def lineage(ref: str = typer.Argument(..., help="asset, dataset, model or job id (or a name)")) -> None:
        """Print the graph from raw assets to this output."""
        from rich.markup import escape
        from rich.tree import Tree

        g = studio().lineage.graph(ref)
        if state.json_output:
            emit_json(g.to_dict())
            return

        def label(node_id: str) -> str:
            n = g.nodes[node_id]
            name = escape(safe(n.label))
            if n.kind == "job":
                return f"[cyan]job[/] {n.id} {name} seed={n.detail['seed']} params={escape(safe(n.detail['params']))}"
            if n.kind == "asset":
                source = escape(safe(n.detail.get("source")))
                origin = "" if n.detail.get("created_by_job") else f" [dim](ingested from {source})[/]"
                return f"[green]asset[/] {n.id} {name}{origin}"
            if n.kind == "dataset":
                more = n.detail["items"] - n.detail["shown_members"]
                return f"[magenta]dataset[/] {n.id} {name} ({n.detail['items']} items" + (
                    f", {more} not shown)" if more > 0 else ")")
            return f"[yellow]model[/] {n.id} {name}"

        def add(tree: Tree, node_id: str, seen: set[str]) -> None:
            for parent in g.nodes[node_id].parents:
                if parent not in g.nodes:
                    continue
                branch = tree.add(label(parent) + (" [dim](see above)[/]" if parent in seen else ""))
                if parent not in seen:
                    seen.add(parent)
                    add(branch, parent, seen)

        root = Tree(label(g.root))
        add(root, g.root, {g.root})
        console.print(root)

    @app.command()
    def provenance(path: Path) -> None:
        """Verify a file offline: its C2PA signature, its watermark and the catalog (exit 1 when one fails)."""
        from reelforge.catalog.provenance import verify

        v = verify(studio(), path)
        if state.json_output:
            emit_json(v.to_dict())
        else:
            rec = v.record or {}
            # The record and the manifest are read from the file: everything in them is untrusted text.
            lines = [f"file       {v.path}", f"sha256     {v.sha256}"]
            sig = v.signature or {}
            status = sig.get("status", "absent")
            shown = {"valid": "valid", "invalid": "INVALID (tampered or broken)", "untrusted": "not this studio's",
                     "absent": "absent", "unavailable": "not checked (c2pa-python not installed)"}.get(status, status)
            lines.append(f"signature  {shown}" + (f": {sig.get('detail')}" if status in ("valid", "untrusted") else ""))
            wm = v.watermark
            if wm is None:
                lines.append("watermark  not looked for (the file does not decode as an image)")
            elif wm.get("found"):
                lines.append(f"watermark  found {wm.get('payload')} (confidence {wm.get('confidence')}, "
                             f"scale {wm.get('scale')})")
            else:
                lines.append(f"watermark  not found (best sync score {wm.get('score')})")
            cat = v.to_dict().get("catalog")
            if cat:
                lines.append(f"catalog    {cat.get('asset_id')} ({cat.get('name')}) by {v.matched_by}")
                if cat.get("job_id"):
                    lines.append(f"job        {cat.get('job_id')} ({cat.get('task')}, seed {cat.get('seed')})")
                    lines.append(f"inputs     {', '.join(_input_ids(cat.get('inputs'))) or '-'}")
                    lines.append(f"code       {cat.get('code_version')}")
            else:
                lines.append("catalog    no match")
            if rec:
                lines += [f"record     asset {rec.get('asset_id')}, job {rec.get('job_id')} ({rec.get('task')}, "
                          f"seed {rec.get('seed')})",
                          f"source     {rec.get('digital_source_type') or '-'}",
                          f"rec inputs {', '.join(_input_ids(rec.get('inputs'))) or '-'}"]
            lines += [f"note       {n}" for n in v.notes]
            for line in lines:
                console.print(safe(line), markup=False, highlight=False)
            for p in v.problems:
                err_console.print("[red]problem[/]  ", cell(p), sep="")
            console.print("[green]verified[/]" if v.verified else "[red]not verified[/]")
        if not v.verified:
            raise typer.Exit(1)

    # -- backup and restore (catalog/backup.py) ----------------------------------------------------
    from collections.abc import Callable, Iterator
    from contextlib import contextmanager
    from typing import Any

    @contextmanager
    def _bar(label: str) -> Iterator[Callable[[int, int, str], None]]:
        """A rich progress bar on stderr fed by a ``progress(done, total, message)`` callable; shown
        from the first report on, so a refusal before any work prints only its one-line error."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("{task.description}", markup=False), console=err_console.get(),
                       disable=state.json_output, transient=False)
        task: list[Any] = []
        last = [0]

        def progress(done: int, total: int, message: str) -> None:
            if not task:
                bar.start()
                task.append(bar.add_task("", total=None))
            last[0] = total
            bar.update(task[0], completed=done, total=total or None, description=safe(message))

        try:
            yield progress
            if task and last[0]:
                bar.update(task[0], completed=last[0])  # callers report before each step, not after the last
        finally:
            if task:
                bar.stop()

    def _local_only(what: str) -> None:
        from reelforge.cli.common import is_remote
        from reelforge.errors import InvalidInput

        if is_remote():
            raise InvalidInput(f"{what} runs on the studio's machine (it reads the database and the blob "
                               "store directly); drop --server")

    @app.command()
    def backup(
        dest: Path = typer.Argument(..., help="backup folder (new, empty, or an earlier backup: only new blobs are copied)"),
        blob_url: str | None = typer.Option(
            None, help="keep the backup's blobs in this store (e.g. s3://bucket/prefix) instead of DEST/blobs"),
        with_keys: bool = typer.Option(
            False, "--with-keys", help="also copy keys/ (the C2PA signing key and watermark key: secrets)"),
    ) -> None:
        """Back up the studio: a consistent catalog snapshot, then every blob it references."""
        from reelforge.catalog.backup import backup as run_backup
        from reelforge.cli.common import human_bytes

        _local_only("backup")
        s = studio()
        with _bar("backup") as progress:
            report = run_backup(s, dest, blob_url=blob_url, include_keys=with_keys, progress=progress)
        if state.json_output:
            emit_json(report.to_dict())
            return
        b = report.blobs
        console.print(f"snapshot {report.snapshot} in {safe(report.dest.parent.parent)}", markup=False,
                      highlight=False)
        console.print(f"  {b.blobs} blobs ({human_bytes(b.bytes)}): copied {b.copied} ({human_bytes(b.copied_bytes)}), "
                      f"already in the backup {b.skipped} ({human_bytes(b.skipped_bytes)})")
        if report.manifest.get("encryption"):
            console.print(f"  encrypted: ciphertext only; keep studio key {report.manifest['encryption']['key_id']} "
                          "safe elsewhere: it is not in the backup")

    @app.command("backups")
    def backups(src: Path = typer.Argument(..., help="backup folder")) -> None:
        """List the snapshots in a backup folder, oldest first."""
        from reelforge.catalog.backup import list_snapshots
        from reelforge.cli.common import human_bytes, new_table

        snaps = list_snapshots(src)
        if state.json_output:
            emit_json(snaps)
            return
        table = new_table("id", "created", "code", "schema", "blobs", "size", "encrypted")
        for m in snaps:
            table.add_row(cell(m.get("id")), cell(m.get("created_at")), cell(m.get("code_version")),
                          cell(m.get("schema_revision")), str(m["blobs"]["count"]),
                          human_bytes(m["blobs"]["bytes"]), "yes" if m.get("encryption") else "no")
        console.print(table)

    @app.command("restore-backup")
    def restore_backup(
        src: Path = typer.Argument(..., help="backup folder"),
        home: Path = typer.Argument(..., help="the new studio's folder (must be new or empty)"),
        snapshot: str | None = typer.Option(None, help="snapshot id (or a unique prefix); default: the newest"),
        database_url: str | None = typer.Option(
            None, help="an empty PostgreSQL database to restore into (default: SQLite in HOME)"),
        blob_url: str | None = typer.Option(None, help="blob store for the new studio (default: HOME/blobs)"),
        key_file: Path | None = typer.Option(
            None, help="the studio key an encrypted backup needs (else REELFORGE_STUDIO_KEY)"),
        fsck: bool = typer.Option(True, "--fsck/--no-fsck", help="re-hash every blob of the new studio afterwards"),
    ) -> None:
        """Restore a backup into a new studio (SQLite or PostgreSQL; local or S3 blobs)."""
        from reelforge.catalog.backup import restore
        from reelforge.cli.common import human_bytes

        with _bar("restore") as progress:
            report = restore(src, home, snapshot=snapshot, database_url=database_url, blob_url=blob_url,
                             key_file=key_file, progress=progress)
        check = None
        if fsck:
            from reelforge.studio import Studio

            with Studio.open(report.home) as s, _bar("fsck") as progress:
                check = s.fsck(progress=progress)
        if state.json_output:
            emit_json({**report.to_dict(), "fsck": check.to_dict() if check else None})
        else:
            b = report.blobs
            console.print(f"restored snapshot {report.snapshot} into {safe(report.home)}", markup=False,
                          highlight=False)
            console.print(f"  catalog {safe(report.database_url)}: {sum(report.rows.values())} rows",
                          markup=False, highlight=False)
            console.print(f"  blobs {safe(report.blob_url)}: {b.blobs} ({human_bytes(b.bytes)}), "
                          f"{b.copied} copied, {b.skipped} already there", markup=False, highlight=False)
            if check is not None:
                console.print("[green]fsck clean[/]" if check.clean else "[red]fsck found problems[/]")
        if check is not None and not check.clean:
            raise typer.Exit(1)

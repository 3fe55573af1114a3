"""Studio-level commands: init, fsck, gc, lineage, provenance."""

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
        """Read a file's embedded provenance and verify it against the catalog."""
        from reelforge.catalog.provenance import verify

        v = verify(studio(), path)
        if state.json_output:
            emit_json(v.to_dict())
        else:
            rec = v.record or {}
            # The record is read from the file: everything in it is untrusted text.
            lines = [f"file     {v.path}", f"sha256   {v.sha256}"]
            if rec:
                lines += [f"asset    {rec.get('asset_id')}",
                          f"job      {rec.get('job_id')} ({rec.get('task')}, seed {rec.get('seed')})",
                          f"source   {rec.get('digital_source_type') or '-'}",
                          f"inputs   {', '.join(_input_ids(rec.get('inputs'))) or '-'}",
                          f"code     {rec.get('code_version')}"]
            lines += [f"note     {n}" for n in v.notes]
            for line in lines:
                console.print(safe(line), markup=False, highlight=False)
            for p in v.problems:
                err_console.print("[red]problem[/]  ", cell(p), sep="")
            console.print("[green]verified[/]" if v.verified else "[red]not verified[/]")
        if not v.verified:
            raise typer.Exit(1)

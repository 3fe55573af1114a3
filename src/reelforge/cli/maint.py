"""Studio-level commands: init, fsck, gc, lineage, provenance."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.tree import Tree

from reelforge.cli.common import console, emit_json, err_console, state, studio


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
        console.print(f"studio ready at {s.home}")

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
        grace: float = typer.Option(3600.0, help="keep unreferenced blobs younger than this many seconds"),
        dry_run: bool = typer.Option(False),
    ) -> None:
        """Remove blobs nothing references, and leftovers of interrupted writes."""
        removed = studio().gc(grace_seconds=grace, dry_run=dry_run)
        console.print(f"{'would remove' if dry_run else 'removed'} {len(removed)} blob(s)")

    @app.command()
    def lineage(ref: str = typer.Argument(..., help="asset, dataset, model or job id (or a name)")) -> None:
        """Print the graph from raw assets to this output."""
        g = studio().lineage.graph(ref)
        if state.json_output:
            emit_json(g.to_dict())
            return

        def label(node_id: str) -> str:
            n = g.nodes[node_id]
            if n.kind == "job":
                return f"[cyan]job[/] {n.id} {n.label} seed={n.detail['seed']} params={n.detail['params']}"
            if n.kind == "asset":
                origin = "" if n.detail.get("created_by_job") else f" [dim](ingested from {n.detail.get('source')})[/]"
                return f"[green]asset[/] {n.id} {n.label}{origin}"
            if n.kind == "dataset":
                more = n.detail["items"] - n.detail["shown_members"]
                return f"[magenta]dataset[/] {n.id} {n.label} ({n.detail['items']} items" + (
                    f", {more} not shown)" if more > 0 else ")")
            return f"[yellow]model[/] {n.id} {n.label}"

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
            console.print(f"file     {v.path}\nsha256   {v.sha256}")
            if rec:
                console.print(f"asset    {rec.get('asset_id')}\njob      {rec.get('job_id')} ({rec.get('task')}, "
                              f"seed {rec.get('seed')})\nsource   {rec.get('digital_source_type') or '-'}\n"
                              f"inputs   {', '.join(i['id'] for i in rec.get('inputs', [])) or '-'}\n"
                              f"code     {rec.get('code_version')}")
            for n in v.notes:
                console.print(f"note     {n}")
            for p in v.problems:
                err_console.print(f"[red]problem[/]  {p}")
            console.print("[green]verified[/]" if v.verified else "[red]not verified[/]")
        if not v.verified:
            raise typer.Exit(1)

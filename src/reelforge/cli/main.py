"""Entry point: ``reelforge``. Errors become one line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import typer

from reelforge import __version__
from reelforge.cli import assets, demo, jobs, maint
from reelforge.cli.common import err_console, state
from reelforge.cli.datasets import dataset_app, model_app
from reelforge.cli.script import script_app
from reelforge.errors import ReelforgeError

app = typer.Typer(
    name="reelforge",
    help="reelforge: a self-hosted AI production platform for film and digital-art studios.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"reelforge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    studio: Path | None = typer.Option(None, "--studio", "-S", help="studio folder (default: REELFORGE_HOME or "
                                       "the nearest folder with reelforge.toml)"),
    json_output: bool = typer.Option(False, "--json", help="machine-readable output"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    state.studio_path = str(studio) if studio else None
    state.json_output = json_output


assets.register(app)
jobs.register(app)
maint.register(app)
demo.register(app)
app.add_typer(dataset_app, name="dataset")
app.add_typer(model_app, name="model")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(script_app, name="script")


def main(argv: list[str] | None = None) -> int:
    try:
        # Without standalone mode click returns an Exit's code instead of raising it.
        rv = app(args=argv, standalone_mode=False, prog_name="reelforge")
        if isinstance(rv, int) and not isinstance(rv, bool):
            return rv
    except ReelforgeError as exc:
        sys.stderr.write(f"error: {exc}\n")  # plain write: never wrapped, always one line
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        return 130
    except Exception as exc:  # last resort: one line, traceback only on request
        if os.environ.get("REELFORGE_DEBUG"):
            raise
        one = " ".join(f"{type(exc).__name__}: {exc}".split())
        sys.stderr.write(f"internal error: {one} (set REELFORGE_DEBUG=1 for a traceback)\n")
        return 70
    finally:
        if state._studio is not None:
            state._studio.close()
            state._studio = None
    return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()

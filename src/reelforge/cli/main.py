"""Entry point: ``reelforge``. Errors become one line on stderr and an exit code, never a traceback.

Exit codes: 0 ok; 1 a check found problems (fsck, provenance); 2 bad input or usage (unknown
command/option/parameter, a value of the wrong type or out of range, invalid media, input nested too
deeply); 3 not found; 4 permission denied; 5 conflict; 6 the job failed; 7 the job was cancelled;
69 a studio server could not be reached (``--server``); 70 an internal error (a bug:
``REELFORGE_DEBUG=1`` shows its traceback); 74 an I/O error from the
operating system (disk full, quota, file-size limit, a path the OS refused); 130 interrupted;
141 the reader of our output went away (broken pipe).

Start-up: this module imports the command modules, which import only ``typer`` and the standard
library at module level; rich, SQLAlchemy, the studio and the capability libraries load inside the
commands that use them (``tests/cli/test_startup.py`` checks it).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from pathlib import Path

import typer

from reelforge import __version__
from reelforge.cli import access, assets, demo, jobs, maint, remote, server
from reelforge.cli.audio import audio_app
from reelforge.cli.classify import classify_app
from reelforge.cli.common import state
from reelforge.cli.datasets import dataset_app, model_app
from reelforge.cli.edit import edit_app
from reelforge.cli.restore import restore_app
from reelforge.cli.script import script_app
from reelforge.cli.style import style_app
from reelforge.cli.subtitles import subtitles_app
from reelforge.cli.video import video_app
from reelforge.errors import ReelforgeError

EXIT_INTERNAL = 70  # EX_SOFTWARE
EXIT_IOERR = 74  # EX_IOERR
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # what a shell reports for a process killed by SIGPIPE

app = typer.Typer(
    name="reelforge",
    help="reelforge: a self-hosted AI production platform for film and digital-art studios.",
    epilog="Exit codes: 2 bad input or usage, 3 not found, 4 permission denied, 5 conflict, "
    "6 job failed, 7 job cancelled, 69 server unreachable, 74 I/O error (disk full, file too large), "
    "70 internal error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rendering it with rich would load rich on every --help
)


def _version(value: bool) -> None:
    if value:
        print(f"reelforge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    studio: Path | None = typer.Option(None, "--studio", "-S", help="studio folder (default: REELFORGE_HOME or "
                                       "the nearest folder with reelforge.toml)"),
    server: str | None = typer.Option(None, "--server", envvar="REELFORGE_SERVER", metavar="URL",
                                      help="work on a studio server instead (token: REELFORGE_TOKEN or "
                                           "`reelforge login URL`)"),
    json_output: bool = typer.Option(False, "--json", help="machine-readable output"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    if studio and server:
        raise typer.BadParameter("give --studio or --server, not both")
    state.studio_path = str(studio) if studio else None
    state.server_url = server or None
    state.json_output = json_output
    remote.refuse_local_only(ctx.invoked_subcommand)


assets.register(app)
jobs.register(app)
maint.register(app)
demo.register(app)
server.register(app)
access.register(app)
remote.register(app)
app.add_typer(dataset_app, name="dataset")
app.add_typer(model_app, name="model")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(script_app, name="script")
app.add_typer(video_app, name="video")
app.add_typer(edit_app, name="edit")
app.add_typer(subtitles_app, name="subtitles")
app.add_typer(audio_app, name="audio")
app.add_typer(style_app, name="style")
app.add_typer(restore_app, name="restore")
app.add_typer(classify_app, name="classify")


def _click_class(name: str) -> type[BaseException]:
    """A click exception class by name, from whichever click typer uses (recent typer vendors its own,
    so ``import click`` would name different classes — and cost start-up time)."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == name:
            return cls
    raise LookupError(name)  # pragma: no cover - every click has both


_UsageError = _click_class("UsageError")
_ClickException = _click_class("ClickException")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_line(exc: BaseException) -> str:
    """click's usage errors as one line, with where to look for help."""
    msg = _one_line(exc.format_message())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None and getattr(ctx, "command_path", "") else "reelforge"
    return f"error: {msg[:1].lower() + msg[1:]} (see {where} --help)"


_OS_MESSAGES = {
    errno.ENOSPC: "no space left on device",
    errno.EFBIG: "file too large (over the file-size limit)",
    getattr(errno, "EDQUOT", -1): "disk quota exceeded",
}


def _os_error_line(exc: OSError) -> str:
    what = _OS_MESSAGES.get(exc.errno or -1) or (exc.strerror or type(exc).__name__).lower()
    where = exc.filename if exc.filename is not None else None
    from reelforge.cli.common import safe

    return f"error: {what}" + (f": {safe(where)}" if where is not None else "")


def _is_sqlite_io_error(exc: BaseException) -> bool:
    """SQLite reports a full disk or an I/O failure as an OperationalError, not an OSError."""
    text = str(exc)
    return "database or disk is full" in text or "disk I/O error" in text


def _flush_or_quiet_stdout() -> None:
    """Keep stdout's buffered output when it can still be written; otherwise drop it quietly."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        _quiet_stdout()


def _quiet_stdout() -> None:
    """After stdout failed (closed pipe, full disk), send what is still buffered nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (tests capture stdout): nothing to silence


def _ignore_sigxfsz() -> None:
    # Over the file-size limit (ulimit -f) the kernel sends SIGXFSZ, which kills the process without a
    # word; ignored, the write fails with EFBIG instead and the user gets a one-line error.
    if hasattr(signal, "SIGXFSZ") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    _ignore_sigxfsz()
    try:
        # Without standalone mode click returns an Exit's code instead of raising it.
        rv = app(args=argv, standalone_mode=False, prog_name="reelforge")
        if isinstance(rv, int) and not isinstance(rv, bool):
            return rv
    except ReelforgeError as exc:
        sys.stderr.write(f"error: {exc}\n")  # plain write: never wrapped, always one line
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except _UsageError as exc:  # missing argument, unknown option or command, a value click rejected
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group (`reelforge jobs`): its help, as click does
            sys.stderr.write(exc.format_message().rstrip("\n") + "\n")  # type: ignore[attr-defined]
        else:
            sys.stderr.write(_usage_line(exc) + "\n")
        return 2
    except _ClickException as exc:
        sys.stderr.write(f"error: {_one_line(exc.format_message())}\n")  # type: ignore[attr-defined]
        return exc.exit_code  # type: ignore[attr-defined]
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("aborted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            _quiet_stdout()
            return EXIT_BROKEN_PIPE
        _flush_or_quiet_stdout()  # stdout itself may be what is full
        sys.stderr.write(_os_error_line(exc) + "\n")
        return EXIT_IOERR
    except RecursionError:
        # Recursion here is driven by input depth (nested JSON or a deep file), not by our code.
        sys.stderr.write("error: input nested too deeply\n")
        return 2
    except Exception as exc:  # last resort: one line, traceback only on request
        if _is_sqlite_io_error(exc):
            sys.stderr.write(f"error: {_one_line(str(exc).splitlines()[0])}\n")
            return EXIT_IOERR
        if os.environ.get("REELFORGE_DEBUG"):
            raise
        one = _one_line(f"{type(exc).__name__}: {exc}")
        sys.stderr.write(f"internal error: {one} (set REELFORGE_DEBUG=1 for a traceback)\n")
        return EXIT_INTERNAL
    finally:
        if state._studio is not None:
            state._studio.close()
            state._studio = None
    return 0


def entry() -> None:
    code = main()
    try:
        sys.stdout.flush()  # a failure here (full disk, closed pipe) would otherwise surface at exit
    except BrokenPipeError:
        _quiet_stdout()
        code = code or EXIT_BROKEN_PIPE
    except OSError as exc:
        _quiet_stdout()
        sys.stderr.write(_os_error_line(exc) + "\n")
        code = code or EXIT_IOERR
    sys.exit(code)


if __name__ == "__main__":
    entry()

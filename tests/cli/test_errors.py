"""Ordinary mistakes and environmental failures get one line on stderr and their own exit code.

Exit 70 ("internal error") is kept for real bugs; see the exit-code table in reelforge.cli.main.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelforge.cli.main import main
from tests.conftest import make_image

EXE = str(Path(sys.executable).with_name("reelforge"))


def rf(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    h = tmp_path / "studio"
    assert rf(capsys, "init", h)[0] == 0
    return h


@pytest.fixture
def asset(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    make_image(tmp_path / "plate.png", (300, 300))
    code, out, _ = rf(capsys, "--studio", home, "--json", "add", tmp_path / "plate.png")
    assert code == 0
    return json.loads(out)["added"][0]["id"]


@pytest.mark.parametrize("args", [
    ["bogus"],                                  # unknown command
    ["ls", "--bogus"],                          # unknown option
    ["show"],                                   # missing argument
    ["ls", "--limit", "abc"],                   # a value of the wrong type
    ["run", "--priority", "99999999999999999999", "media.proxy"],  # out of range, before TASK
    ["run", "media.proxy", "--asset", "x", "--priority", "5000"],  # out of range, after TASK
    ["run", "media.proxy", "--asset", "x", "--max-attempts", "0"],
    ["run", "media.proxy", "--asset", "x", "--seed", "-1"],
    ["dataset", "create", "d", "--seed", "99999999999999999999"],
    ["run", "gan.train", "--dataset", "x", "--bogus", "1"],
    ["run", "gan.train", "--dataset", "x", "--steps", "abc"],
])
def test_usage_errors_exit_2_with_one_line(home: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, _, err = rf(capsys, "--studio", home, *args)
    assert code == 2, err
    assert one_line(err).startswith("error: "), err


def test_a_bare_group_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = rf(capsys, "jobs")
    assert code == 2 and err.startswith("Usage: reelforge jobs") and "retry" in err


def test_usage_messages_say_what_and_where(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert one_line(rf(capsys, "bogus")[2]) == "error: no such command 'bogus'. (see reelforge --help)"
    assert one_line(rf(capsys, "--studio", home, "ls", "--limit", "abc")[2]).startswith(
        "error: invalid value for '--limit'")
    line = one_line(rf(capsys, "--studio", home, "run", "gan.train", "--dataset", "x", "--bogus", "1")[2])
    assert line.startswith("error: unknown parameter --bogus for gan.train (")
    line = one_line(rf(capsys, "--studio", home, "run", "gan.train", "--dataset", "x", "--stepz", "1")[2])
    assert line == "error: unknown parameter --stepz for gan.train (did you mean --steps?)"
    line = one_line(rf(capsys, "--studio", home, "run", "gan.train", "--dataset", "x", "--steps", "abc")[2])
    assert line == "error: invalid value for --steps: 'abc' is not an integer"
    line = one_line(rf(capsys, "--studio", home, "run", "gan.train")[2])
    assert line == "error: gan.train needs --dataset (see reelforge run gan.train --help)"


def test_unknown_parameter_is_reported_before_the_studio_is_opened(tmp_path: Path, monkeypatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # no studio here: opening one would be exit 3
    monkeypatch.delenv("REELFORGE_HOME", raising=False)
    code, _, err = rf(capsys, "run", "gan.train", "--dataset", "x", "--bogus", "1")
    assert code == 2 and "unknown parameter --bogus" in one_line(err)


def test_deeply_nested_json_is_bad_input(home: Path, asset: str, capsys: pytest.CaptureFixture[str]) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    code, _, err = rf(capsys, "--studio", home, "meta", asset, f"notes={deep}")
    assert code == 2 and "nested deeper than" in one_line(err)
    code, _, err = rf(capsys, "--studio", home, "run", "media.contact_sheet", "--assets", deep)
    assert code == 2 and "nested deeper than" in one_line(err)
    code, out, _ = rf(capsys, "--studio", home, "meta", asset, 'notes={"a": [1, {"b": 2}]}', "take=3")
    assert code == 0 and json.loads(out) == {"notes": {"a": [1, {"b": 2}]}, "take": 3}


def test_recursion_from_input_is_bad_input(home: Path, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    from reelforge.catalog.assets import AssetService

    def deep(*a: object, **k: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(AssetService, "list", deep)
    code, _, err = rf(capsys, "--studio", home, "ls")
    assert code == 2 and one_line(err) == "error: input nested too deeply"


def test_export_to_a_file_is_bad_input(home: Path, asset: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    code, _, err = rf(capsys, "--studio", home, "export", asset, target)
    assert code == 2 and one_line(err) == f"error: {target} is a file, not a folder"
    code, _, err = rf(capsys, "--studio", home, "export", asset, target / "below")
    assert code == 2 and "is a file, not a folder" in one_line(err)
    code, _, err = rf(capsys, "--studio", home, "dataset", "export", "nope", target)
    assert code in (2, 3) and one_line(err).startswith("error: ")


@pytest.mark.parametrize("err_no, text", [
    (errno.ENOSPC, "no space left on device"),
    (errno.EDQUOT, "disk quota exceeded"),
    (errno.EFBIG, "file too large"),
    (errno.EACCES, "permission denied"),
])
def test_os_errors_exit_74(home: Path, asset: str, tmp_path: Path, monkeypatch, capsys, err_no: int,
                           text: str) -> None:
    from reelforge.catalog.assets import AssetService

    def fail(*args: object, **kwargs: object) -> Path:
        raise OSError(err_no, os.strerror(err_no), str(tmp_path / "out" / "plate.png"))

    monkeypatch.setattr(AssetService, "copy_blob", fail)
    code, _, err = rf(capsys, "--studio", home, "export", asset, tmp_path / "out")
    assert code == 74
    assert one_line(err).startswith(f"error: {text}") and "plate.png" in err


def test_sqlite_disk_full_exits_74(home: Path, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    from reelforge.catalog.assets import AssetService

    class OperationalError(Exception):
        pass

    def full(*a: object, **k: object) -> None:
        raise OperationalError("(sqlite3.OperationalError) database or disk is full\n[SQL: INSERT ...]")

    monkeypatch.setattr(AssetService, "list", full)
    code, _, err = rf(capsys, "--studio", home, "ls")
    assert code == 74 and "database or disk is full" in one_line(err)


def test_real_bugs_stay_internal_errors(home: Path, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    from reelforge.catalog.assets import AssetService

    monkeypatch.delenv("REELFORGE_DEBUG", raising=False)
    monkeypatch.setattr(AssetService, "list", lambda *a, **k: 1 / 0)
    code, _, err = rf(capsys, "--studio", home, "ls")
    assert code == 70 and one_line(err).startswith("internal error: ZeroDivisionError")


def test_full_stdout_exits_74(home: Path, asset: str) -> None:
    """``reelforge ls > /dev/full``: the write fails with ENOSPC; one line, no traceback at exit."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    for args in (["--json", "ls"], ["ls"], ["--json", "show", asset]):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([EXE, "--studio", str(home), *args], stdout=full, stderr=subprocess.PIPE,
                                  text=True, timeout=120)
        assert proc.returncode == 74, (args, proc.stderr)
        assert one_line(proc.stderr) == "error: no space left on device", proc.stderr


def test_file_size_limit_exits_74(home: Path, asset: str, tmp_path: Path) -> None:
    """Over ``ulimit -f`` the kernel would kill us with SIGXFSZ; the CLI ignores it and reports EFBIG."""
    def limit() -> None:  # the exported PNG is ~270 KB
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))

    proc = subprocess.run([EXE, "--studio", str(home), "export", asset, str(tmp_path / "out")],
                          capture_output=True, text=True, preexec_fn=limit, timeout=120)
    assert proc.returncode == 74, (proc.returncode, proc.stderr)
    assert one_line(proc.stderr).startswith("error: file too large")


def test_gc_racing_an_ingest(home: Path, monkeypatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Entries that vanish between gc's listing and its stat/unlink (an ingest committing or
    discarding them meanwhile) are skipped, not an internal error."""
    tmp_dir = home / "blobs" / "tmp"
    ghost_staged = tmp_dir / "ghost.part"
    shard = home / "blobs" / "ab" / "cd"
    shard.mkdir(parents=True)
    ghost_blob = shard / ("abcd" + "0" * 60)
    real_iterdir = Path.iterdir

    def iterdir(self: Path):  # type: ignore[no-untyped-def]
        yield from real_iterdir(self)
        if self == tmp_dir:
            yield ghost_staged
        elif self == shard:
            yield ghost_blob

    monkeypatch.setattr(Path, "iterdir", iterdir)
    code, out, err = rf(capsys, "--studio", home, "gc", "--grace", "0")
    assert code == 0, err
    assert "removed 0 blob(s)" in out


EVIL_NAME = "evil\u202egnp.exe\u2066x\u2069\x7f\x9b31m.png"


@pytest.fixture
def wide_console(monkeypatch) -> Iterator[None]:
    """Tables as wide as a big terminal, so a cell's text is not folded over lines."""
    from reelforge.cli import common

    monkeypatch.setenv("COLUMNS", "250")
    common.console._console = None  # made again on first use, with the new width
    yield
    common.console._console = None


@pytest.mark.usefixtures("wide_console")
def test_control_and_bidi_characters_are_shown_escaped(home: Path, tmp_path: Path, capsys) -> None:
    make_image(tmp_path / "a.png")
    code, out, err = rf(capsys, "--studio", home, "add", tmp_path / "a.png", "--name", EVIL_NAME,
                        "--tag", "t\u202ex", "--meta", "caption=red\x1b[31m\u202e")
    assert code == 0, err
    assert "\\u202e" in out
    outputs = [out]
    asset_id = out.split()[1]
    for args in (["ls"], ["--json", "ls"], ["show", asset_id]):
        code, out, err = rf(capsys, "--studio", home, *args)
        assert code == 0, err
        outputs.append(out)
    for out in outputs:
        assert not any(ch in out for ch in "\u202e\u2066\u2069\x7f\x9b\x1b"), repr(out)
    assert "evil\\u202egnp.exe\\u2066x\\u2069\\x7f\\x9b31m.png" in outputs[1] and "t\\u202ex" in outputs[1]
    data = json.loads(outputs[2])  # escaped, and still the same JSON value
    assert data[0]["name"] == EVIL_NAME and data[0]["tags"] == ["t\u202ex"]
    assert json.loads(outputs[3])["meta"]["caption"] == "red\x1b[31m\u202e"


@pytest.mark.usefixtures("wide_console")
def test_user_text_is_not_read_as_markup(home: Path, tmp_path: Path, capsys) -> None:
    make_image(tmp_path / "b.png")
    code, _, err = rf(capsys, "--studio", home, "add", tmp_path / "b.png", "--name", "[bold red]b[/].png")
    assert code == 0, err
    code, out, _ = rf(capsys, "--studio", home, "ls")
    assert "[bold red]b[/].png" in out

"""Every registered task is usable from the CLI and describable by a server, from its schema alone.

So a new task cannot ship without described parameters: its help, its JSON Schema and its error
messages come from the params model, and these tests hold every task (built-ins and plugins) to it.
Tasks defined by the test suite itself (``tests.*``) are fixtures, not product, and are left out.
"""

from __future__ import annotations

import json

import pytest

from reelforge.cli.main import main
from reelforge.cli.params import RUN_OPTIONS, default_text
from reelforge.compute.registry import TaskSpec, all_tasks

TASKS = [t for t in all_tasks() if not t.fn.__module__.startswith("tests.")]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(params=TASKS, ids=[t.name for t in TASKS])
def spec(request: pytest.FixtureRequest) -> TaskSpec:
    return request.param


def test_there_are_tasks() -> None:
    assert len(TASKS) >= 10


def test_every_parameter_is_described(spec: TaskSpec) -> None:
    missing = [f.name for f in spec.param_fields() if not f.description]
    assert not missing, f"{spec.name}: add Field(description=...) to {', '.join(missing)}"
    assert spec.description, f"{spec.name}: the task needs a description (docstring)"


def test_no_parameter_shadows_a_run_option(spec: TaskSpec) -> None:
    run_flags = {flag for o in RUN_OPTIONS for flag in o.flags} | {"-p", "--param"}
    flags = [f.flag for f in spec.param_fields()]
    assert not run_flags & set(flags), spec.name
    negated = {"--no-" + f.flag[2:] for f in spec.param_fields()}
    assert not negated & set(flags), spec.name


def test_run_help_lists_every_field_with_its_default(spec: TaskSpec, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    code, out, err = run_cli(capsys, "run", spec.name, "--help")
    assert code == 0, err
    text = " ".join(out.split())
    params = text[text.index("Parameters:"):text.index("Run options:")]
    fields = spec.param_fields()
    starts = [params.index(f" {f.flag} ") for f in fields]
    assert starts == sorted(starts), "fields are listed in declaration order"
    for f, start, end in zip(fields, starts, [*starts[1:], len(params)], strict=True):
        entry = params[start:end]
        assert f.description in entry, (f.name, entry)
        expected = "required" if f.required else f"default: {default_text(f)}"
        assert expected in entry, (f.name, entry)
        if f.range_text():
            assert f"range: {f.range_text()}" in entry, (f.name, entry)
        for choice in f.choices:
            assert str(choice) in entry, (f.name, entry)
    for option in ("--detach", "--priority", "--seed", "--max-attempts", "--project"):
        assert option in text


def test_json_schema_has_every_property(spec: TaskSpec, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "tasks", spec.name, "--json")
    assert code == 0, err
    data = json.loads(out)
    schema = data["params"]
    assert json.loads(json.dumps(schema)) == spec.json_schema()
    assert schema.get("type") == "object"
    assert set(schema["properties"]) == {f.name for f in spec.param_fields()}
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name
    assert [f["name"] for f in data["fields"]] == list(schema["properties"])
    assert data["inputs"] == spec.inputs and data["resumable"] == spec.resumable


def test_tasks_card_shows_inputs_outputs_resources(spec: TaskSpec, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "tasks", spec.name)
    assert code == 0, err
    for word in ("inputs", "outputs", "resources", "resumable", "Parameters:"):
        assert word in out
    for f in spec.param_fields():
        assert f.flag in out


def test_unknown_parameter_is_one_line_exit_2(spec: TaskSpec, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", spec.name, "--surely-not-a-parameter", "1")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: unknown parameter --surely-not-a-parameter for {spec.name} ("), err

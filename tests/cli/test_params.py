"""Task parameters are read by their declared types (reelforge.cli.params), never guessed."""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

import pytest
from pydantic import Field

from reelforge.cli.params import parse_run_args, task_help
from reelforge.compute.registry import Params, TaskSpec
from reelforge.errors import InvalidInput


class Mode(Enum):
    FAST = "fast"
    GOOD = "good"


class DemoParams(Params):
    name: str = Field("x", description="a text")
    steps: int = Field(10, ge=1, le=100, description="how many")
    rate: float = Field(0.5, gt=0, lt=1, description="a fraction")
    size: Literal[32, 64] = Field(64, description="a choice of numbers")
    mode: Mode = Field(Mode.FAST, description="an enum")
    flip: bool = Field(True, description="a flag")
    assets: list[str] = Field(default_factory=list, description="a list of names")
    seeds: list[int] = Field(default_factory=list, description="a list of numbers")
    crop: int | None = Field(None, ge=8, description="optional number")
    title: str | None = Field(None, description="optional text")
    extra: dict[str, Any] = Field(default_factory=dict, description="free-form JSON")


SPEC = TaskSpec(name="testing.cli", fn=lambda ctx, p: None, params=DemoParams, inputs={"assets": "assets"})


def parse(*args: str) -> dict[str, Any]:
    return parse_run_args(SPEC, list(args)).params


def error(*args: str) -> str:
    with pytest.raises(InvalidInput) as exc:
        parse_run_args(SPEC, list(args))
    assert exc.value.exit_code == 2
    assert "\n" not in str(exc.value)
    return str(exc.value)


def test_strings_stay_strings_and_numbers_must_parse() -> None:
    assert parse("--name", "2024") == {"name": "2024"}
    assert parse("--name=true") == {"name": "true"}
    assert parse("--steps", "7", "--rate", "0.25") == {"steps": 7, "rate": 0.25}
    assert error("--steps", "abc") == "invalid value for --steps: 'abc' is not an integer"
    assert error("--steps", "2.5") == "invalid value for --steps: '2.5' is not an integer"
    assert error("--rate", "nan") == "invalid value for --rate: 'nan' is not a finite number"
    assert "not in the range 1<=x<=100" in error("--steps", "0")
    assert "not in the range 0<x<1" in error("--rate", "1")


def test_negative_numbers_and_dashes_are_values() -> None:
    with pytest.raises(InvalidInput, match="not in the range"):
        parse_run_args(SPEC, ["--steps", "-3"])
    assert parse("--name", "-weird-") == {"name": "-weird-"}


def test_choices_and_enums() -> None:
    assert parse("--size", "32") == {"size": 32}
    assert parse("--mode", "good") == {"mode": "good"}
    assert error("--size", "48") == "invalid value for --size: '48' is not one of 32, 64"
    assert "is not one of fast, good" in error("--mode", "slow")


def test_boolean_flags() -> None:
    assert parse("--flip") == {"flip": True}
    assert parse("--no-flip") == {"flip": False}
    assert parse("--flip=no") == {"flip": False}
    assert "is not a boolean" in error("--flip=maybe")
    assert "unexpected argument 'false'" in error("--flip", "false")


def test_lists_repeat_or_split_on_commas() -> None:
    assert parse("--assets", "a", "--assets", "b,c") == {"assets": ["a", "b", "c"]}
    assert parse("--assets", '["x,y", "z"]') == {"assets": ["x,y", "z"]}
    assert parse("--assets", "") == {"assets": []}
    assert parse("--seeds", "1,2", "--seeds", "3") == {"seeds": [1, 2, 3]}
    assert error("--seeds", "1,x") == "invalid value for --seeds: 'x' is not an integer"


def test_optional_fields_unset_with_none_or_no_flag() -> None:
    assert parse("--crop", "none") == {"crop": None}
    assert parse("--no-crop") == {"crop": None}
    assert parse("--title", "none") == {"title": "none"}  # a valid string stays a string
    assert parse("--no-title") == {"title": None}
    assert "unknown parameter --no-steps" in error("--no-steps")


def test_json_fields_and_depth_limit() -> None:
    assert parse("--extra", '{"a": [1, 2]}') == {"extra": {"a": [1, 2]}}
    assert "not valid JSON" in error("--extra", "{oops")
    deep = "[" * 5000 + "]" * 5000
    assert "nested deeper than" in error("--extra", deep)
    assert "nested deeper than" in error("--assets", deep)


def test_param_flag_and_run_options_after_task() -> None:
    parsed = parse_run_args(SPEC, ["-p", "steps=5", "--param=name=abc", "--detach", "--priority", "3",
                                   "-P", "proj", "--seed=9"])
    assert parsed.params == {"steps": 5, "name": "abc"}
    assert parsed.options == {"detach": True, "priority": 3, "project": "proj", "seed": 9}
    assert error("--priority", "5000") == "invalid value for --priority: 5000 is not in the range -1000<=x<=1000"
    assert error("-p", "steps") == "-p needs key=value, got 'steps'"
    assert error("--steps") == "--steps needs a value"
    assert parse_run_args(SPEC, ["--help"]).help


def test_unknown_parameters_name_the_closest() -> None:
    assert error("--step", "3") == "unknown parameter --step for testing.cli (did you mean --steps?)"
    msg = error("--bogus", "1")
    assert msg.startswith("unknown parameter --bogus for testing.cli (its parameters: --name, --steps")
    assert error("-p", "stepz=1").startswith("unknown parameter stepz for testing.cli (did you mean --steps")
    assert "unknown parameter -x" in error("-x")


def test_help_lists_every_field_with_type_default_and_range() -> None:
    text = " ".join(task_help(SPEC).split())
    assert "--steps INTEGER how many [default: 10; range: 1<=x<=100]" in text
    assert "--size [32|64]" in text and "--mode [fast|good]" in text
    assert "--flip / --no-flip a flag [default: true]" in text
    assert "--assets TEXT,... a list of names [default: (empty); input: assets]" in text
    assert "--crop INTEGER optional number [default: none; range: 8<=x; unset: --no-crop or none]" in text
    assert "--detach" in text and "--priority N" in text and "-p, --param NAME=VALUE" in text

"""Params validation: pydantic models and JSON Schema, errors named ``VARIABLE.field``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bytenite_runtime import ComponentError, SettingsError
from bytenite_runtime._params import (
    ignored_keys,
    load_schema,
    schema_problems,
    validate_params,
)


class Inner(BaseModel):
    width: int = Field(gt=0)


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["fast", "slow"] = "fast"
    size: Inner = Inner(width=1)
    tags: list[str] = []


SCHEMA = {
    "type": "object",
    "properties": {
        "mode": {"enum": ["fast", "slow"]},
        "size": {
            "type": "object",
            "properties": {"width": {"type": "integer", "minimum": 1}},
            "required": ["width"],
        },
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["mode"],
}


def _where(problems: list[object]) -> list[str]:
    return [str(p).split(":", 1)[0] for p in problems]


def test_model_returns_an_instance() -> None:
    """Valid params against a model give a model instance and no problems."""
    value, problems = validate_params("APP_PARAMS", {"mode": "slow"}, Params)
    assert problems == []
    assert value == Params(mode="slow")


def test_no_model_returns_the_dict() -> None:
    """Without a model or schema the params come back as a plain dict."""
    value, problems = validate_params("APP_PARAMS", {"anything": [1]}, None)
    assert (value, problems) == ({"anything": [1]}, [])


def test_model_errors_are_named_variable_dot_field() -> None:
    """Each model error is located at APP_PARAMS.<field path> with the value shown."""
    params = {"mode": "medium", "size": {"width": 0}, "typo": 1}
    value, problems = validate_params("APP_PARAMS", params, Params)
    assert value is None
    assert sorted(_where(problems)) == [
        "APP_PARAMS.mode",
        "APP_PARAMS.size.width",
        "APP_PARAMS.typo",
    ]
    by_field = {p.field: p.reason for p in problems}
    assert "'medium'" in by_field["mode"]
    assert "greater than 0" in by_field["size.width"]
    assert "Extra inputs are not permitted" in by_field["typo"]


def test_unknown_key_suggests_the_nearest_field() -> None:
    """A mistyped top-level key is rejected with the nearest field of the model suggested;
    a key like no field gets no suggestion."""
    _, problems = validate_params("APP_PARAMS", {"mod": "fast", "zzzz": 1}, Params)
    assert [str(p) for p in problems] == [
        "APP_PARAMS.mod: Extra inputs are not permitted, did you mean 'mode'? (got 'fast')",
        "APP_PARAMS.zzzz: Extra inputs are not permitted (got 1)",
    ]


def test_model_missing_field_says_field_required() -> None:
    """A required params field that is absent reads 'field required', not 'is not set'."""

    class Needs(BaseModel):
        count: int

    _, problems = validate_params("PARTITIONER_PARAMS", {}, Needs)
    assert [str(p) for p in problems] == ["PARTITIONER_PARAMS.count: field required"]


def test_list_index_appears_in_the_field_path() -> None:
    """An error inside a list names the item's index in the path."""
    _, problems = validate_params("APP_PARAMS", {"tags": ["ok", 5]}, Params)
    assert _where(problems) == ["APP_PARAMS.tags.1"]


def test_schema_errors_have_nested_field_paths() -> None:
    """JSON Schema violations are named by variable and nested path, and name the schema."""
    params = {"mode": "medium", "size": {"width": 0}, "tags": ["a", 3]}
    value, problems = validate_params("APP_PARAMS", params, None, SCHEMA, "schema.json")
    assert value is None
    assert _where(problems) == ["APP_PARAMS.mode", "APP_PARAMS.size.width", "APP_PARAMS.tags.1"]
    assert all(p.reason.endswith("(schema.json)") for p in problems)


def test_schema_top_level_error_names_only_the_variable() -> None:
    """A missing required property is reported at the variable itself."""
    _, problems = validate_params("APP_PARAMS", {}, None, SCHEMA, "schema.json")
    assert [(p.variable, p.field) for p in problems] == [("APP_PARAMS", "")]
    assert "'mode' is a required property" in problems[0].reason


def test_schema_valid_params_pass() -> None:
    """Params that satisfy the schema come back unchanged."""
    params = {"mode": "fast", "size": {"width": 3}}
    assert validate_params("APP_PARAMS", params, None, SCHEMA) == (params, [])


def test_schema_and_model_problems_are_reported_together() -> None:
    """With both a schema and a model, violations of each appear in the same list."""
    schema = {"type": "object", "properties": {"tags": {"maxItems": 1}}}
    _, problems = validate_params("APP_PARAMS", {"tags": ["a", "b"], "typo": 1}, Params, schema)
    assert sorted(_where(problems)) == ["APP_PARAMS.tags", "APP_PARAMS.typo"]


def test_schema_problems_alone_reject_a_model_valid_value() -> None:
    """A value the model accepts but the schema rejects is still rejected."""
    schema = {"properties": {"mode": {"const": "slow"}}}
    value, problems = validate_params("APP_PARAMS", {"mode": "fast"}, Params, schema)
    assert value is None
    assert _where(problems) == ["APP_PARAMS.mode"]


def test_invalid_schema_is_reported_by_its_name() -> None:
    """A schema that is not a valid JSON Schema is one problem naming the schema file."""
    problems = schema_problems("APP_PARAMS", {}, {"type": 5}, "schema.json")
    assert [(p.variable, p.field) for p in problems] == [("schema.json", "")]
    assert problems[0].reason.startswith("is not a valid JSON Schema")


def test_load_schema_reads_a_file(tmp_path: Path) -> None:
    """A JSON object in a schema file is loaded as a dict."""
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    assert load_schema(path) == SCHEMA


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        (None, "cannot be read"),
    ],
)
def test_load_schema_reports_a_broken_file(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    """An unreadable, non-JSON or non-object schema file is a SettingsError naming the file."""
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SettingsError) as exc:
        load_schema(path)
    (problem,) = exc.value.problems
    assert problem.variable == "schema.json"
    assert problem.reason.startswith(reason)


class Depth(BaseModel):
    depth: int = 1


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inner: Depth = Depth()
    maybe: Depth | None = None


def test_a_key_a_nested_model_ignores_is_warned_about() -> None:
    """A mistyped key inside a nested model that drops unknown keys is warned about by its
    full path, also under a forbidding outer model and through an Optional field."""
    params = {"inner": {"dept": 3}, "maybe": {"depht": 2}}
    assert validate_params("APP_PARAMS", params, Outer)[1] == []
    hint = "model_config = ConfigDict(extra='forbid') makes such a key an error"
    assert ignored_keys("APP_PARAMS", params, Outer) == [
        f"APP_PARAMS.inner.dept: not a field of Depth, ignored (did you mean 'depth'?); {hint}",
        f"APP_PARAMS.maybe.depht: not a field of Depth, ignored (did you mean 'depth'?); {hint}",
    ]


def test_a_validator_raising_another_error_is_the_components_failure() -> None:
    """A validator that raises something pydantic does not turn into a field error (not a
    ValueError) is a ComponentError naming the variable and model, not a library crash."""

    class Picky(BaseModel):
        n: int = 1

        @field_validator("n")
        @classmethod
        def lookup(cls, value: int) -> int:
            return {1: 1}[value]

    with pytest.raises(ComponentError) as exc:
        validate_params("APP_PARAMS", {"n": 7}, Picky)
    assert str(exc.value) == "APP_PARAMS: validating Picky raised KeyError: 7"
    assert exc.value.exit_code == 4

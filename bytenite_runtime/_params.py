"""Validate a component's params against its pydantic model and/or a JSON Schema."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from .errors import Problem, SettingsError
from .settings import problems_from_validation

__all__ = ["load_schema", "schema_problems", "validate_params"]

M = TypeVar("M", bound=BaseModel)


def load_schema(path: Path) -> dict[str, Any]:
    """Read and check a JSON Schema file; a broken schema is the app's own config error."""
    try:
        schema = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise SettingsError([Problem(path.name, "", f"cannot be read ({exc.strerror})")]) from None
    except orjson.JSONDecodeError as exc:
        raise SettingsError([Problem(path.name, "", f"is not valid JSON ({exc})")]) from None
    if not isinstance(schema, dict):
        raise SettingsError([Problem(path.name, "", "must hold a JSON object")])
    return schema


def schema_problems(
    variable: str, params: Mapping[str, Any], schema: Mapping[str, Any], schema_name: str
) -> list[Problem]:
    """Every violation of ``schema`` by ``params``, in a stable order."""
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - depends on the installed extras
        reason = (
            "validating params against a JSON Schema needs: pip install 'bytenite-runtime[schema]'"
        )
        return [Problem(schema_name, "", reason)]
    validator_cls = jsonschema.validators.validator_for(schema)
    try:
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return [Problem(schema_name, "", f"is not a valid JSON Schema ({exc.message})")]
    validator = validator_cls(schema)
    found = sorted(validator.iter_errors(dict(params)), key=lambda e: list(map(str, e.path)))
    return [
        Problem(
            variable, ".".join(str(p) for p in err.absolute_path), f"{err.message} ({schema_name})"
        )
        for err in found
    ]


def validate_params(
    variable: str,
    params: Mapping[str, Any],
    model: type[M] | None,
    schema: Mapping[str, Any] | None = None,
    schema_name: str = "schema.json",
) -> tuple[M | dict[str, Any] | None, list[Problem]]:
    """Validate ``params`` with the schema (when given) and then the model (when given).

    Returns the model instance (or the plain dict when there is no model) and the
    problems found; the value is None when there were problems.
    """
    problems = schema_problems(variable, params, schema, schema_name) if schema else []
    if model is None:
        return (None if problems else dict(params)), problems
    try:
        instance = model.model_validate(dict(params))
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, variable, model=model))
        return None, problems
    return (None if problems else instance), problems

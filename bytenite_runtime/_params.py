"""Validate a component's params against its pydantic model and/or a JSON Schema."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import orjson
from pydantic import BaseModel, ValidationError

from .errors import ComponentError, Problem, SettingsError, nearest
from .settings import problems_from_validation

__all__ = ["find_schema", "ignored_keys", "load_schema", "schema_problems", "validate_params"]

M = TypeVar("M", bound=BaseModel)


def find_schema(fn: Callable[..., Any]) -> Path | None:
    """The ``schema.json`` beside the module of ``fn``, or in the folder above it."""
    try:
        here = Path(inspect.getfile(fn)).resolve().parent
    except (TypeError, OSError):
        return None
    for folder in (here, here.parent):
        candidate = folder / "schema.json"
        if candidate.is_file():
            return candidate
    return None


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
    redact: Callable[[str], str] | None = None,
) -> tuple[M | dict[str, Any] | None, list[Problem]]:
    """Validate ``params`` with the schema (when given) and then the model (when given).

    Returns the model instance (or the plain dict when there is no model) and the
    problems found; the value is None when there were problems. ``redact``
    masks secrets in a quoted input before it is shortened.
    """
    problems = schema_problems(variable, params, schema, schema_name) if schema else []
    if model is None:
        return (None if problems else dict(params)), problems
    try:
        instance = model.model_validate(dict(params))
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, variable, model=model, redact=redact))
        return None, problems
    except Exception as exc:
        # pydantic turns only a validator's ValueError or AssertionError into a field
        # error; anything else is the model's own code failing, not a library bug (exit 1).
        raise ComponentError(
            f"{variable}: validating {model.__name__} raised {type(exc).__name__}: {exc}"
        ) from exc
    return (None if problems else instance), problems


def ignored_keys(
    variable: str, params: Mapping[str, Any], model: type[BaseModel], prefix: str = ""
) -> list[str]:
    """A warning for each key of ``params`` that ``model`` drops without a word (pydantic's
    default for unknown keys), with the field it may have meant: a typo in a param would
    otherwise leave its default in force unnoticed. Nested models are looked into too,
    since each has its own ``extra`` setting."""
    fields: dict[str, type[BaseModel] | None] = {}
    for name, info in model.model_fields.items():
        nested = _model_in(info.annotation)
        for key in (name, info.alias, info.validation_alias):
            if isinstance(key, str):
                fields[key] = nested
    drops = model.model_config.get("extra", "ignore") == "ignore"
    warnings = []
    for key, value in params.items():
        if key in fields:
            nested = fields[key]
            if nested is not None and isinstance(value, Mapping):
                warnings += ignored_keys(variable, value, nested, f"{prefix}{key}.")
        elif drops:
            near = nearest(key, fields)
            hint = f" (did you mean {near!r}?)" if near else ""
            warnings.append(
                f"{variable}.{prefix}{key}: not a field of {model.__name__}, ignored{hint}; "
                "model_config = ConfigDict(extra='forbid') makes such a key an error"
            )
    return warnings


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, directly or as ``Model | None``; None for anything else."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(models) == 1:
        return _model_in(models[0])
    return None

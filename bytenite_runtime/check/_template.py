"""Checks of a job template: fields, tags the platform can resolve, params, config, data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .. import registry
from .._engines import is_generated_main
from .._params import load_schema, validate_params
from ..errors import ByteniteError
from ..settings import problems_from_validation
from ..simulate._request import Config, DataSource
from ..simulate._resolve import TAG, Component, Role, looks_like_path, resolve
from ..simulate._sources import INPUT_ONLY, OUTPUT_ONLY
from ._findings import NAME, Finding, describe, load_object, unknown_keys

__all__ = ["check_template"]

_ROLES: tuple[Role, ...] = ("partitioner", "app", "assembler")
_TOP = frozenset(
    {
        "id", "description", "app", "partitioner", "assembler", "dataSource", "dataDestination",
        "params", "config",
    }
)  # fmt: skip
_CONFIG = frozenset({"taskTimeout", "jobTimeout", "maxTaskRetries", "isTestJob"})


def _pydantic(shown: str, field: str, model: type[BaseModel], value: object) -> list[Finding]:
    try:
        model.model_validate(value)
    except ValidationError as exc:
        return [
            Finding(shown, f"{field}.{p.field}" if p.field else field, p.reason)
            for p in problems_from_validation(exc, field, model=model)
        ]
    return []


def _tag(shown: str, role: Role, tag: object) -> list[Finding]:
    if not isinstance(tag, str) or not tag:
        return [Finding(shown, role, f"must be a tag such as name@1 (got {describe(tag)})")]
    if looks_like_path(tag):
        reason = (
            f"{tag!r} is a folder path, which only the simulator understands; "
            "the platform needs a tag (name, name@1 or name@1.2)"
        )
        return [Finding(shown, role, reason)]
    if not TAG.fullmatch(tag):
        reason = f"{tag!r} is not a tag (expected name, name@major or name@major.minor)"
        return [Finding(shown, role, reason)]
    return []


def _params_of(
    shown: str, role: Role, component: Component, params: dict[str, Any]
) -> list[Finding]:
    variable = f"params.{role}"
    model = None
    schema: dict[str, Any] | None = None
    schema_name = "schema.json"
    if component.builtin:
        match = TAG.fullmatch(component.tag)
        if match and role != "app":
            model = registry.get(role, match.group("name"))
    else:
        folder = component.folder
        assert folder is not None
        name = str(component.manifest.get("name", ""))
        entry = folder / "app" / str(component.manifest.get("entrypoint", "main.py"))
        if role != "app" and name in registry.names(role) and is_generated_main(entry, role, name):
            # Our own engine: its schema.json is generated from this very model, which
            # also knows the rules a schema cannot say; one source, one line per problem.
            model = registry.get(role, name)
        for candidate in (folder / "app" / "schema.json", folder / "schema.json"):
            if model is None and candidate.is_file():
                schema_name = f"{folder.name}/{candidate.relative_to(folder).as_posix()}"
                try:
                    schema = load_schema(candidate)
                except ByteniteError as exc:
                    return [Finding(shown, variable, f"{schema_name}: {exc}")]
                break
    if model is None and schema is None:
        return []
    _, problems = validate_params(variable, params, model, schema, schema_name)
    return [Finding(shown, p.where, p.reason) for p in problems]


def _data(shown: str, doc: dict[str, Any]) -> list[Finding]:
    found = []
    for key, wrong, what in (
        ("dataSource", OUTPUT_ONLY, "a destination only"),
        ("dataDestination", INPUT_ONLY, "a source only"),
    ):
        if key not in doc:
            continue
        problems = _pydantic(shown, key, DataSource, doc[key])
        found += problems
        descriptor = doc[key].get("dataSourceDescriptor") if isinstance(doc[key], dict) else None
        if not problems and descriptor in wrong:
            reason = f"{descriptor!r} is {what}"
            found.append(Finding(shown, f"{key}.dataSourceDescriptor", reason))
    return found


def _whole_seconds(shown: str, config: dict[str, Any]) -> list[Finding]:
    # The simulator takes 0.5 s for a quick local test; the API's timeouts are int64.
    return [
        Finding(shown, f"config.{key}", f"must be a whole number of seconds (got {value!r})")
        for key in ("taskTimeout", "jobTimeout")
        if isinstance(value := config.get(key), float) and not value.is_integer()
    ]


def check_template(path: Path, shown: str, search: Sequence[Path]) -> list[Finding]:
    """Every problem of the template at ``path``; tags are resolved against ``search``."""
    doc, found = load_object(path, shown)
    if doc is None:
        return found
    request = [key for key in ("templateId", "template") if key in doc]
    if request and "app" not in doc:
        # A job request (a job.json) checked as a template would only list every template
        # field as missing and its params as unknown to the default passthrough.
        reason = (
            f"a job request (it has {request[0]!r}), not a template: check the template it "
            "names, or run it with python -m bytenite_runtime.simulate"
        )
        return [*found, Finding(shown, "", reason)]
    found += unknown_keys(shown, "", doc, _TOP)
    template_id = doc.get("id")
    if template_id is None:
        found.append(Finding(shown, "id", "is missing"))
    elif not isinstance(template_id, str) or not NAME.fullmatch(template_id):
        reason = f"must be 1 to 64 letters, digits, '-' or '_' (got {describe(template_id)})"
        found.append(Finding(shown, "id", reason))
    if "description" in doc and not isinstance(doc["description"], str):
        found.append(Finding(shown, "description", "must be a string"))
    if "app" not in doc:
        found.append(Finding(shown, "app", "is missing"))
    params = doc.get("params", {})
    if not isinstance(params, dict):
        found.append(Finding(shown, "params", f"must be an object (got {describe(params)})"))
        params = {}
    found += unknown_keys(shown, "params.", params, frozenset(_ROLES))
    for role in _ROLES:
        if role == "app" and "app" not in doc:
            continue
        tag = doc.get(role, "passthrough")
        tag_problems = _tag(shown, role, tag)
        found += tag_problems
        role_params = params.get(role, {})
        if not isinstance(role_params, dict):
            reason = f"must be an object (got {describe(role_params)})"
            found.append(Finding(shown, f"params.{role}", reason))
            continue
        if tag_problems:
            continue
        try:
            component = resolve(role, tag, search, path.parent)
        except ByteniteError as exc:
            found.append(Finding(shown, role, str(exc)))
            continue
        found += _params_of(shown, role, component, role_params)
    config = doc.get("config", {})
    config_problems = _pydantic(shown, "config", Config, config)
    found += config_problems
    if isinstance(config, dict):
        found += unknown_keys(shown, "config.", config, _CONFIG)
        if not config_problems:
            found += _whole_seconds(shown, config)
    found += _data(shown, doc)
    return found

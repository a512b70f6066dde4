"""Job requests and templates in the Customer API's own shape, and how they combine."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import TemplateError, nearest
from ..settings import problems_from_validation

__all__ = [
    "Config",
    "DataSource",
    "JobRequest",
    "Params",
    "Template",
    "load_json",
    "merge_request",
    "parse",
    "unknown_fields",
]

Descriptor = Literal["file", "url", "bucket", "bypass", "aws", "s3", "gcp", "storj"]


class _Model(BaseModel):
    # The platform's objects carry fields this simulator has no use for (ids, owners,
    # timestamps); they are accepted and ignored, while known fields are type-checked.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class DataSource(_Model):
    descriptor: Descriptor = Field(alias="dataSourceDescriptor")
    params: dict[str, Any] = Field(default_factory=dict)


class Params(_Model):
    partitioner: dict[str, Any] = Field(default_factory=dict)
    app: dict[str, Any] = Field(default_factory=dict)
    assembler: dict[str, Any] = Field(default_factory=dict)


class Config(_Model):
    # Strict: "isTestJob": "yes" or "taskTimeout": "30" is a mistake to name, not to coerce.
    task_timeout: float | None = Field(None, alias="taskTimeout", gt=0, strict=True)
    job_timeout: float | None = Field(None, alias="jobTimeout", gt=0, strict=True)
    max_task_retries: int = Field(0, alias="maxTaskRetries", ge=0, le=100, strict=True)
    is_test_job: bool = Field(True, alias="isTestJob", strict=True)


class Template(_Model):
    id: str = ""
    description: str = ""
    app: str = Field(min_length=1)
    partitioner: str = "passthrough"
    assembler: str = "passthrough"
    data_source: DataSource | None = Field(None, alias="dataSource")
    data_destination: DataSource | None = Field(None, alias="dataDestination")
    params: Params = Field(default_factory=Params)
    config: Config = Field(default_factory=Config)


class JobRequest(_Model):
    name: str = "simulated-job"
    description: str = ""
    template_id: str | None = Field(None, alias="templateId")
    template: Template | None = None
    data_source: DataSource | None = Field(None, alias="dataSource")
    data_destination: DataSource | None = Field(None, alias="dataDestination")
    params: Params | None = None
    config: Config | None = None


def load_json(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON object from ``path``; errors name the file and what it was meant to be."""
    try:
        value = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise TemplateError(f"{what} {str(path)!r}: cannot be read ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise TemplateError(f"{what} {str(path)!r}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise TemplateError(f"{what} {str(path)!r}: must hold a JSON object")
    return value


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], value: dict[str, Any], what: str) -> M:
    """Validate ``value`` as ``model``; errors name ``what`` and the field."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        detail = "; ".join(str(p) for p in problems_from_validation(exc, what))
        raise TemplateError(detail) from None


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (``Model`` or ``Model | None``), else None."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def unknown_fields(model: type[BaseModel], value: Any, what: str) -> list[str]:
    """One warning per key of ``value`` (nested objects too) that ``model`` does not know,
    with the nearest known name: such keys are ignored, as the platform's extra fields
    are, but a typo (``taskTimout``) must not pass unseen."""
    if not isinstance(value, dict):
        return []
    warnings: list[str] = []
    names = {(info.alias or name): name for name, info in model.model_fields.items()}
    known = {*names, *names.values()}
    for key, item in value.items():
        where = f"{what}.{key}"
        if key not in known:
            near = nearest(str(key), names)
            hint = f"; did you mean {near!r}?" if near is not None else ""
            warnings.append(f"{where}: unknown field, ignored{hint}")
            continue
        field = model.model_fields[names[key] if key in names else str(key)]
        nested = _nested_model(field.annotation)
        if nested is not None:
            warnings += unknown_fields(nested, item, where)
    return warnings


def merge_request(request: JobRequest, template: Template) -> Template:
    """The template with the request's source, destination, params and config laid on top."""
    params = template.params
    if request.params is not None:
        params = Params(
            partitioner={**params.partitioner, **request.params.partitioner},
            app={**params.app, **request.params.app},
            assembler={**params.assembler, **request.params.assembler},
        )
    return template.model_copy(
        update={
            "data_source": request.data_source or template.data_source,
            "data_destination": request.data_destination or template.data_destination,
            "params": params,
            "config": template.config
            if request.config is None
            else template.config.model_copy(
                update={k: getattr(request.config, k) for k in request.config.model_fields_set}
            ),
        }
    )

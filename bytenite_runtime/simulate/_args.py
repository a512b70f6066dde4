"""The command line's flags: the parser, and what the text of each flag becomes."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import orjson
from pydantic import ValidationError

from .._argparse import OneLineParser
from ..errors import ConfigError
from ..settings import parse_json_object, problems_from_validation, secret_value
from ._request import Config, DataSource, Params, load_json

__all__ = [
    "apply_sets",
    "build_parser",
    "load_secrets_file",
    "override_config",
    "params_flag",
    "source_from_flag",
]


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="bytenite-simulate",
        description="Run a ByteNite job on this machine the way the platform runs it.",
    )
    p.add_argument("request", nargs="?", type=Path, help="job request JSON (Customer API shape)")
    p.add_argument("--template", help="template id or template.json path (instead of a request)")
    src = p.add_argument_group("data")
    src.add_argument("--source", help="input: a local file or folder, an http(s) URL, or 'bypass'")
    src.add_argument(
        "--output", type=Path, help="output folder (default: bytenite-output/<job id>)"
    )
    src.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run's output folder (never one it did not deliver)",
    )
    par = p.add_argument_group("params")
    par.add_argument(
        "--params", help="JSON object {partitioner, app, assembler} merged over the request's"
    )
    par.add_argument(
        "--set", action="append", default=[], metavar="COMPONENT.KEY=VALUE",
        help="set one param, e.g. app.case=upper (VALUE is JSON, or else a string)",
    )  # fmt: skip
    run = p.add_argument_group("execution")
    run.add_argument(
        "--parallelism",
        "-j",
        type=int,
        default=os.cpu_count() or 1,
        help="tasks at once (default: cores)",
    )
    run.add_argument("--task-timeout", type=float, help="override config.taskTimeout (seconds)")
    run.add_argument("--job-timeout", type=float, help="override config.jobTimeout (seconds)")
    run.add_argument("--max-retries", type=int, help="override config.maxTaskRetries")
    run.add_argument(
        "--no-chunk-number", action="store_true", help="do not set CHUNK_NUMBER for tasks"
    )
    run.add_argument(
        "--prefix-results", action="store_true", help="prefix result names as a platform might"
    )
    run.add_argument(
        "--on-collision",
        choices=("rename", "fail"),
        default="rename",
        help="two tasks' results share a name",
    )
    comp = p.add_argument_group("components")
    for role in ("app", "partitioner", "assembler"):
        comp.add_argument(f"--{role}", help=f"{role} tag or folder, overriding the template")
    comp.add_argument(
        "--search",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="also search DIR for apps, engines and templates",
    )
    env = p.add_argument_group("environment")
    env.add_argument(
        "--secrets",
        type=Path,
        help='JSON file: {"ID": "value"} or {"ID": {"access_key": …, "secret_key": …}}',
    )
    env.add_argument(
        "--pass-env",
        action="append",
        default=[],
        metavar="NAME",
        help="pass this variable of yours to components",
    )
    env.add_argument(
        "--user-cache", type=Path, help="USER_CACHE_DIR (default: ~/.cache/bytenite-simulate/user)"
    )
    env.add_argument(
        "--shared-cache",
        type=Path,
        help="SHARED_CACHE_DIR (default: ~/.cache/bytenite-simulate/shared)",
    )
    out = p.add_argument_group("records")
    out.add_argument(
        "--workdir",
        type=Path,
        default=Path("bytenite-jobs"),
        help="where job folders, logs and reports go",
    )
    out.add_argument(
        "--keep", action="store_true", help="keep chunks, task folders and results after the job"
    )
    out.add_argument("--report", type=Path, help="also write the job report here")
    out.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    return p


def params_flag(text: str) -> Params:
    try:
        # The check a params variable gets: from text, only a dict comes back.
        value = cast("dict[str, Any]", parse_json_object(text))
    except ValueError as exc:
        raise ConfigError(f"--params: {exc}") from None
    unknown = sorted(set(value) - set(Params.model_fields))
    if unknown:
        raise ConfigError(f"--params.{unknown[0]}: expected only partitioner, app, assembler")
    try:
        return Params.model_validate(value)
    except ValidationError as exc:
        detail = "; ".join(str(p) for p in problems_from_validation(exc, "--params"))
        raise ConfigError(detail) from None


_CONFIG_FLAGS = {
    "taskTimeout": ("--task-timeout", "task_timeout"),
    "jobTimeout": ("--job-timeout", "job_timeout"),
    "maxTaskRetries": ("--max-retries", "max_retries"),
}


def override_config(config: Config, args: argparse.Namespace) -> Config:
    given = {
        alias: getattr(args, attr)
        for alias, (_, attr) in _CONFIG_FLAGS.items()
        if getattr(args, attr) is not None
    }
    try:
        # Validated again, so a flag meets the same limits as the template's config.
        return Config.model_validate({**config.model_dump(by_alias=True), **given})
    except ValidationError as exc:
        problems = problems_from_validation(exc, "config")
        raise ConfigError(
            "; ".join(
                f"{_CONFIG_FLAGS[p.field][0]}: {p.reason}" if p.field in given else str(p)
                for p in problems
            )
        ) from None


def apply_sets(params: Params, sets: Sequence[str]) -> Params:
    parts = params.model_dump()
    for item in sets:
        key, eq, raw = item.partition("=")
        component, dot, field = key.partition(".")
        if not eq or not dot or not field or component not in parts:
            raise ConfigError(f"--set {item!r}: expected partitioner|app|assembler.KEY=VALUE")
        try:
            value: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = raw
        parts[component][field] = value
    return Params(**parts)


def source_from_flag(text: str) -> DataSource:
    if text == "bypass":
        return DataSource.model_validate({"dataSourceDescriptor": "bypass"})
    if text.startswith(("http://", "https://")):
        return DataSource.model_validate({"dataSourceDescriptor": "url", "params": {"url": text}})
    if "://" in text:
        raise ConfigError(f"--source {text!r}: only http(s) URLs are simulated")
    path = str(Path(text).resolve())
    return DataSource.model_validate({"dataSourceDescriptor": "file", "params": {"path": path}})


def load_secrets_file(path: Path | None) -> dict[str, str | tuple[str, str]]:
    if path is None:
        return {}
    doc = load_json(path, "secrets file")
    secrets: dict[str, str | tuple[str, str]] = {}
    for key, value in doc.items():
        stored = secret_value(value)
        if stored is None:
            raise ConfigError(
                f"secrets file {str(path)!r}: {key}: expected a string or "
                "{access_key, secret_key}"
            )
        secrets[key] = stored
        if any("\0" in part for part in (stored if isinstance(stored, tuple) else (stored,))):
            # No environment variable can hold a NUL: the task could not even be started.
            raise ConfigError(
                f"secrets file {str(path)!r}: {key}: holds a NUL character, which an "
                "environment variable cannot (value hidden)"
            )
    return secrets

"""Checks of an app or engine folder: ``manifest.json``, its entrypoint, ``schema.json``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, TypeGuard

from .._inputs import not_a_file
from ..settings import SECRET_ID
from ..simulate._resolve import misplaced_entry
from ._findings import NAME, Finding, describe, load_object, unknown_keys

__all__ = ["check_manifest", "check_schema_file"]

# ASCII digits: \d would take any script's ("١.٠"), which no platform version is.
_VERSION = re.compile(r"[0-9]+\.[0-9]+")
_TYPES = ("app", "assembler", "partitioner")
_TOP = frozenset(
    {
        "name", "version", "type", "description", "entrypoint", "platform", "platform_config",
        "device_requirements",
    }
)  # fmt: skip
_CONFIG = frozenset({"container", "private_image", "username", "token", "secrets"})
_DEVICE = frozenset({"min_cpu", "min_memory", "gpu"})


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _non_empty_string(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_image(value: object) -> bool:
    return _non_empty_string(value) and not any(ch.isspace() for ch in str(value))


def _matches(pattern: re.Pattern[str]) -> Callable[[object], bool]:
    return lambda value: isinstance(value, str) and pattern.fullmatch(value) is not None


# Required fields: what a valid value passes, and what the message says it must be.
_REQUIRED: dict[str, tuple[Callable[[object], bool], str]] = {
    "name": (_matches(NAME), "must be 1 to 64 letters, digits, '-' or '_'"),
    "version": (_matches(_VERSION), 'must be a string "major.minor" such as "1.0"'),
    "description": (lambda value: isinstance(value, str), "must be a string"),
    "platform_config.container": (_is_image, "must name a container image"),
    "device_requirements.min_cpu": (
        lambda cpu: isinstance(cpu, int) and not isinstance(cpu, bool) and cpu >= 1,
        "must be a whole number of cores, at least 1",
    ),
    "device_requirements.min_memory": (
        lambda memory: _is_number(memory) and memory > 0,
        "must be a number of GiB greater than 0",
    ),
}


def _required(shown: str, field: str, value: object) -> list[Finding]:
    """``is missing`` when ``value`` is None, else the rule's reason when it is not valid."""
    if value is None:
        return [Finding(shown, field, "is missing")]
    is_valid, reason = _REQUIRED[field]
    if not is_valid(value):
        return [Finding(shown, field, f"{reason} (got {describe(value)})")]
    return []


def _identity(shown: str, manifest: dict[str, Any]) -> list[Finding]:
    found = _required(shown, "name", manifest.get("name"))
    found += _required(shown, "version", manifest.get("version"))
    kind = manifest.get("type")
    if kind is not None and kind not in _TYPES:
        found.append(
            Finding(shown, "type", f"must be one of {', '.join(_TYPES)} (got {describe(kind)})")
        )
    found += _required(shown, "description", manifest.get("description"))
    if manifest.get("platform") != "docker":
        got = describe(manifest["platform"]) if "platform" in manifest else "nothing"
        found.append(Finding(shown, "platform", f'must be "docker" (got {got})'))
    return found


def _entrypoint(folder: Path, shown: str, manifest: dict[str, Any]) -> list[Finding]:
    entry = manifest.get("entrypoint")
    if entry is None:
        return [Finding(shown, "entrypoint", "is missing")]
    relative = PurePosixPath(entry) if isinstance(entry, str) else None
    if relative is None or not entry or relative.is_absolute() or ".." in relative.parts:
        return [Finding(shown, "entrypoint", f"must be a file in app/ (got {describe(entry)})")]
    reason = not_a_file(folder / "app" / relative)
    if reason is not None:
        hint = misplaced_entry(folder, entry) if reason == "does not exist" else ""
        return [Finding(shown, "entrypoint", f"app/{entry} {reason}{hint}")]
    return []


def _platform_config(shown: str, config: object) -> list[Finding]:
    if config is None:
        return [Finding(shown, "platform_config", "is missing (it names the container image)")]
    if not isinstance(config, dict):
        return [Finding(shown, "platform_config", f"must be an object (got {describe(config)})")]
    found = unknown_keys(shown, "platform_config.", config, _CONFIG)
    found += _required(shown, "platform_config.container", config.get("container"))
    private = config.get("private_image", False)
    if not isinstance(private, bool):
        reason = f"must be true or false (got {describe(private)})"
        found.append(Finding(shown, "platform_config.private_image", reason))
    elif private:
        for key in ("username", "token"):
            problem = _registry_login_problem(key, config.get(key))
            if problem is not None:
                found.append(Finding(shown, f"platform_config.{key}", problem))
    found += _secrets(shown, config.get("secrets", []))
    return found


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _registry_login_problem(key: str, value: object) -> str | None:
    """What is wrong with a private image's ``username`` or ``token``; the token's value is
    a credential, so its reasons name only its JSON type."""
    if value is None:
        return "is required when private_image is true"
    if not _non_empty_string(value):
        got = describe(value) if key == "username" else _json_kind(value)
        return f"must be a non-empty string when private_image is true (got {got})"
    if key == "token" and str(value) != str(value).strip():
        return "has leading or trailing whitespace (value hidden)"
    return None


def _secrets(shown: str, secrets: object) -> list[Finding]:
    field = "platform_config.secrets"
    if not isinstance(secrets, list):
        return [Finding(shown, field, f"must be a list of secret ids (got {describe(secrets)})")]
    found = []
    seen: set[str] = set()
    for i, secret in enumerate(secrets):
        if not isinstance(secret, str) or not SECRET_ID.fullmatch(secret):
            reason = (
                "is not a valid secret id (a letter or '_', then letters, digits or '_'; "
                f"it names variables such as ID_ACCESS_KEY) (got {describe(secret)})"
            )
            found.append(Finding(shown, f"{field}[{i}]", reason))
        elif secret in seen:
            found.append(Finding(shown, f"{field}[{i}]", f"{secret!r} is listed twice"))
        else:
            seen.add(secret)
    return found


def _device(shown: str, device: object) -> list[Finding]:
    field = "device_requirements"
    if device is None:
        return [Finding(shown, field, "is missing (min_cpu, min_memory)")]
    if not isinstance(device, dict):
        return [Finding(shown, field, f"must be an object (got {describe(device)})")]
    found = unknown_keys(shown, f"{field}.", device, _DEVICE)
    found += _required(shown, f"{field}.min_cpu", device.get("min_cpu"))
    found += _required(shown, f"{field}.min_memory", device.get("min_memory"))
    gpu = device.get("gpu", [])
    if not isinstance(gpu, list) or not all(_non_empty_string(g) for g in gpu):
        example = '"NVIDIA A100-SXM4-40GB"'
        reason = f"must be a list of GPU model names such as {example} (got {describe(gpu)})"
        found.append(Finding(shown, f"{field}.gpu", reason))
    return found


def check_manifest(folder: Path, shown: str) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Every problem of ``folder/manifest.json`` (shown as ``shown``) and the manifest itself."""
    manifest, found = load_object(folder / "manifest.json", shown)
    if manifest is None:
        return None, found
    found += unknown_keys(shown, "", manifest, _TOP)
    found += _identity(shown, manifest)
    found += _entrypoint(folder, shown, manifest)
    found += _platform_config(shown, manifest.get("platform_config"))
    found += _device(shown, manifest.get("device_requirements"))
    return manifest, found


def check_schema_file(path: Path, shown: str) -> list[Finding]:
    """``schema.json`` must be a JSON object that is itself a valid JSON Schema."""
    schema, found = load_object(path, shown)
    if schema is None:
        return found
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - depends on the installed extras
        return [
            Finding(shown, "", "checking a schema needs: pip install 'bytenite-runtime[schema]'")
        ]
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = ".".join(str(p) for p in exc.absolute_path)
        return [Finding(shown, where, f"is not a valid JSON Schema ({exc.message})")]
    return []

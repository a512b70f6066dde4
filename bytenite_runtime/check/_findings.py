"""One problem found by ``check``: the file, the field in it, and what is wrong."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..errors import nearest

__all__ = ["NAME", "Finding", "describe", "load_object", "unknown_keys"]

# The platform's rule for app, engine and template names (CONTRACT.md).
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class Finding:
    """``path: field: problem`` on one line (``path: problem`` for the file as a whole)."""

    path: str
    field: str
    problem: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}" if self.field else self.path
        return f"{where}: {self.problem}"


def describe(value: object) -> str:
    """A short JSON rendering of a bad value for a message."""
    text = orjson.dumps(value).decode() if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_object(path: Path, shown: str) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Read a JSON object; a finding instead when the file is unreadable or not an object."""
    try:
        value = orjson.loads(path.read_bytes())
    except OSError as exc:
        return None, [Finding(shown, "", f"cannot be read ({exc.strerror})")]
    except orjson.JSONDecodeError as exc:
        return None, [Finding(shown, "", f"is not valid JSON ({exc})")]
    if not isinstance(value, dict):
        return None, [Finding(shown, "", "must hold a JSON object")]
    return value, []


def unknown_keys(
    shown: str, prefix: str, value: Mapping[str, Any], known: frozenset[str]
) -> list[Finding]:
    """A finding per key not in ``known``, so a misspelt field is not silently ignored; the
    nearest known name is suggested, as simulate suggests it."""
    found = []
    for key in sorted(set(value) - known):
        near = nearest(str(key), known)
        hint = f"; did you mean {near!r}?" if near is not None else ""
        expected = f"expected one of {', '.join(sorted(known))}"
        found.append(Finding(shown, f"{prefix}{key}", f"unknown field{hint} ({expected})"))
    return found

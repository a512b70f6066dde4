"""File names the runtime writes: the one rule every name (params, results, output) meets.

A name is written as one top-level file on Linux, so it must be a plain name (no ``/``,
and no ``\\`` either, which would become a folder on Windows tools unpacking the
output), not ``.`` or ``..``, without control characters (a NUL cannot reach the
kernel; a newline or tab breaks every listing it appears in) and at most ``NAME_MAX``
bytes in UTF-8, the limit of ext4, XFS, tmpfs and overlayfs.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

__all__ = [
    "NAME_MAX",
    "FileName",
    "file_name_problem",
    "is_utf8",
    "name_bytes",
    "shown_name",
]

NAME_MAX = 255


def name_bytes(name: str) -> int:
    """The length of ``name`` in bytes as the file system stores it (UTF-8)."""
    return len(name.encode("utf-8", "surrogateescape"))


def is_utf8(name: str) -> bool:
    """Whether ``name``, as the file system gave it (bytes that are not UTF-8 become lone
    surrogates), is valid UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(name: str, limit: int = 48) -> str:
    """``repr(name)``, its middle elided when long, so an error line stays readable."""
    if len(name) <= limit:
        return repr(name)
    return repr(f"{name[: limit - 16]}…{name[-12:]}")


def file_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be one plain file name, or None when it can."""
    if name in {"", ".", ".."} or "/" in name or "\\" in name:
        return "must be a plain file name, without folders (not empty, '.' or '..')"
    control = next((c for c in name if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        return f"must be a plain file name, without control characters (found {control!r})"
    try:
        size = name_bytes(name)
    except UnicodeEncodeError:
        return "must be a plain file name, in valid Unicode (it holds a lone surrogate)"
    if size > NAME_MAX:
        return f"is {size} bytes in UTF-8, over the {NAME_MAX}-byte file-name limit"
    return None


def _check_file_name(value: str) -> str:
    problem = file_name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# The lengths also go into the JSON Schema (engines' schema.json); bytes are checked after.
FileName = Annotated[
    str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(_check_file_name)
]
"""A params field that names one file the component writes (``archive_name``, …)."""

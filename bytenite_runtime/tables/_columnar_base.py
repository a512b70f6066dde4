"""The parts of :mod:`.columnar` that need no pyarrow at import: what its Parquet and
Arrow IPC halves share (the planned piece, the chunk metadata put into an Arrow schema,
pyarrow's error messages cut to their first line), and what the converter and the
columnar join take from it besides (the chunk metadata taken out of a schema, a column
named twice, which the ``row`` partitioner also checks a CSV header for).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..chunks import META_KEY, ChunkMeta
from ..errors import DataError, one_line
from .spans import Cut, Span

__all__ = [
    "ColumnarPiece",
    "duplicate_name",
    "no_rows",
    "short_reason",
    "with_meta",
    "without_meta",
]


def with_meta(schema: Any, meta: ChunkMeta | None) -> Any:
    """``schema`` with the chunk metadata added to its key-value metadata (None: unchanged,
    for ``chunk_metadata: off``)."""
    if meta is None:
        return schema
    return schema.with_metadata({**(schema.metadata or {}), META_KEY: meta.to_json()})


def without_meta(schema: Any) -> Any:
    """``schema`` without the chunk metadata key (and without metadata when none is left)."""
    metadata = {k: v for k, v in (schema.metadata or {}).items() if k != META_KEY.encode()}
    return schema.with_metadata(metadata) if metadata else schema.remove_metadata()


def short_reason(exc: BaseException) -> str:
    """The first line of a pyarrow error, which says what went wrong."""
    # pyarrow messages can run on with C++ file/line context on the lines after.
    text = str(exc).strip().splitlines()
    return one_line(text[0]) if text else type(exc).__name__


def no_rows(name: str, cuts: list[Cut]) -> list[Cut]:
    if not cuts:
        raise DataError(f"{name}: no rows")
    return cuts


@dataclass(frozen=True)
class ColumnarPiece:
    """Rows ``rows`` of one source file, held by ``spans`` of its row groups or batches."""

    path: Path
    name: str
    rows: tuple[int, int]
    spans: tuple[Span, ...]
    embeds: bool = True


def duplicate_name(names: list[str]) -> str | None:
    """The first column name that appears twice in ``names``, or None."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None

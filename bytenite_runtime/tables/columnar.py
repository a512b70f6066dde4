"""Parquet and Arrow IPC / Feather v2: cut along row groups and record batches.

Planning reads only the Parquet footer (row counts, compressed sizes) or the Arrow
file's record batches through a memory map (zero-copy when uncompressed), so it costs
no decoding. Writing copies whole Parquet row groups page for page (``parquet_copy``)
and re-encodes only slices of row groups (or files the copy's checks refuse); memory
stays bounded by one row group (or one batch of a huge row group), never the whole
file. Every chunk is a plain Parquet / Arrow IPC file whose key-value
metadata carries the chunk metadata under ``chunks.META_KEY``.

The Parquet half is in :mod:`._parquet`, the Arrow IPC half in :mod:`._arrow_ipc`, and
what both share in :mod:`._columnar_base`; the names listed in ``__all__`` are imported
from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ._arrow_ipc import ArrowPiece, Dictionaries, new_ipc_file, plan_arrow
from ._columnar_base import duplicate_name, short_reason, with_meta, without_meta
from ._parquet import ParquetPiece, plan_parquet, storage_options
from .source import Sizing

__all__ = [
    "ArrowPiece",
    "Dictionaries",
    "ParquetPiece",
    "duplicate_name",
    "new_ipc_file",
    "plan",
    "short_reason",
    "storage_options",
    "with_meta",
    "without_meta",
]


def plan(
    path: Path, name: str, fmt: Literal["parquet", "arrow"], sizing: Sizing
) -> list[ParquetPiece] | list[ArrowPiece]:
    """The chunks of one Parquet or Arrow file, planned from its metadata alone."""
    if fmt == "parquet":
        return plan_parquet(path, name, sizing)
    return plan_arrow(path, name, sizing)

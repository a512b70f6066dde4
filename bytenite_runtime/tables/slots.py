"""Chunk metadata inside Parquet and Arrow key-value metadata.

``chunks.read_slot`` calls these for any chunk that starts with the format's magic
bytes, so they must be cheap (footer or schema only) and must not judge the payload:
a chunk that only looks like Parquet or Arrow, or that is damaged, has no metadata
here (the app that reads it will meet the damage). Only a value under ``META_KEY``
that is present but not valid metadata is an error, since the chunk claims an index
it cannot give.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from ..chunks import META_KEY, ChunkMeta
from ..errors import DataError

__all__ = ["open_ipc", "read_arrow_meta", "read_parquet_meta"]

_KEY = META_KEY.encode()
_ARROW_MAGIC = b"ARROW1"


def _decode(path: Path, metadata: Mapping[bytes, bytes] | None) -> ChunkMeta | None:
    raw = (metadata or {}).get(_KEY)
    if raw is None:
        return None
    try:
        return ChunkMeta.from_json(raw)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path.name}: metadata under {META_KEY!r} is not valid ({exc})") from None


def read_parquet_meta(path: Path) -> ChunkMeta | None:
    """The chunk metadata in a Parquet file's footer, or None when it carries none."""
    try:
        metadata = pq.read_metadata(path).metadata
    except (pa.ArrowException, OSError):
        return None
    return _decode(path, metadata)


def open_ipc(source: Any) -> Any:
    """A reader for the Arrow IPC file, or else stream, at the start of ``source``."""
    # Here rather than in ``columnar``, which would add its imports to every slot read.
    is_file = source.read(len(_ARROW_MAGIC)) == _ARROW_MAGIC
    source.seek(0)
    return pa.ipc.open_file(source) if is_file else pa.ipc.open_stream(source)


def read_arrow_meta(path: Path) -> ChunkMeta | None:
    """The chunk metadata in an Arrow IPC file's (or stream's) schema, or None."""
    try:
        with pa.memory_map(str(path)) as mapped:
            metadata = open_ipc(mapped).schema.metadata
    except (pa.ArrowException, OSError):
        return None
    return _decode(path, metadata)

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

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from ..chunks import META_KEY, ChunkMeta
from ..errors import DataError

__all__ = ["read_arrow_meta", "read_parquet_meta"]

_KEY = META_KEY.encode()


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


def read_arrow_meta(path: Path) -> ChunkMeta | None:
    """The chunk metadata in an Arrow IPC file's (or stream's) schema, or None."""
    try:
        with pa.memory_map(str(path)) as mapped:
            is_file = mapped.read(6) == b"ARROW1"
            mapped.seek(0)
            reader = pa.ipc.open_file(mapped) if is_file else pa.ipc.open_stream(mapped)
            metadata = reader.schema.metadata
    except (pa.ArrowException, OSError):
        return None
    return _decode(path, metadata)

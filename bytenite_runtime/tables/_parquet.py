"""Parquet pieces: planned from the footer alone, written by copying whole row groups
page for page (``parquet_copy``), or by decoding and re-encoding a span of a row group
at a time when the copy cannot serve.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from ..chunks import META_KEY, ChunkMeta
from ..errors import DataError
from ._columnar_base import ColumnarPiece, no_rows, short_reason, with_meta
from .parquet_copy import copy_row_groups
from .source import Sizing
from .spans import Span, Unit, plan_cuts

__all__ = ["ParquetPiece", "plan_parquet", "storage_options"]

# A row group whose decoded size exceeds this is read in batches (each becoming a row
# group of its own in the chunk) so that one huge row group cannot blow the memory bound.
_WHOLE_GROUP_BYTES = 32 << 20
_CODECS = {"UNCOMPRESSED": "none", "LZ4_RAW": "lz4", "LZ4": "lz4"}
_ARROW_SCHEMA = b"ARROW:schema"
_DICTIONARY_ENCODINGS = {"RLE_DICTIONARY", "PLAIN_DICTIONARY"}


class ParquetPiece(ColumnarPiece):
    """Rows of one Parquet file, read row group by row group and written as Parquet."""

    def write(self, out: BinaryIO, meta: ChunkMeta | None) -> None:
        # Whole row groups are copied page for page (no decoding); anything else, or a
        # file that does not pass the copy's checks, is decoded and re-encoded, which
        # also reports damage by row group.
        spans = [(span.unit, span.start, span.stop) for span in self.spans]
        if copy_row_groups(self.path, spans, out, partial(_chunk_key_values, meta), self.name):
            return
        with _open_parquet(self.path, self.name) as probe:
            dictionary = _dictionary_columns(probe)
            schema = probe.schema_arrow
            footer = probe.metadata
        options = _writer_options(footer, dictionary)
        # String columns dictionary-encoded in the source are read as dictionary arrays:
        # no expanding every value only for the writer to hash it back, and a fraction of
        # the memory. The chunk's Arrow schema is still the source's (stored by hand,
        # since the writer would otherwise record the dictionary types).
        columns = [field.name for field in schema if field.name in dictionary]
        with _open_parquet(self.path, self.name, columns, footer) as source:
            schema = with_meta(schema, meta)
            metadata = {**(schema.metadata or {}), _ARROW_SCHEMA: _serialized(schema)}
            pool = pa.default_memory_pool()
            read = source.schema_arrow
            with pq.ParquetWriter(out, read, store_schema=False, **options) as writer:
                writer.add_key_value_metadata(metadata)
                for span in self.spans:
                    for table in _read_span(source, span, self.name):
                        # One source row group stays one row group in the chunk.
                        writer.write_table(table, row_group_size=max(1, table.num_rows))
                        del table
                        # The pool would keep the freed row group's pages for reuse.
                        pool.release_unused()


def _chunk_key_values(
    meta: ChunkMeta | None, source: dict[bytes, bytes | None]
) -> dict[bytes, bytes | None]:
    """A copied chunk's key-value metadata: the source's plus the chunk metadata, which
    also goes into the stored Arrow schema (pyarrow reads a file's schema metadata from
    there), as the decoding path writes it."""
    if meta is None:
        return source
    edited = {**source, META_KEY.encode(): meta.to_json()}
    stored = source.get(_ARROW_SCHEMA)
    if stored:
        try:
            schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(stored)))
        except (pa.ArrowException, ValueError):
            return edited  # readers ignore an Arrow schema they cannot read; so do we
        edited[_ARROW_SCHEMA] = _serialized(with_meta(schema, meta)).encode("ascii")
    return edited


def _serialized(schema: Any) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def _dictionary_columns(source: Any) -> set[str]:
    """Top-level string / binary columns that every row group stores dictionary-encoded."""
    metadata = source.metadata
    kinds = (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary)
    names = {f.name for f in source.schema_arrow if any(kind(f.type) for kind in kinds)}
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        for j in range(group.num_columns):
            column = group.column(j)
            if not _DICTIONARY_ENCODINGS & set(column.encodings):
                names.discard(column.path_in_schema)
    return names


def _open_parquet(
    path: Path, name: str, dictionary: list[str] | None = None, footer: Any = None
) -> Any:
    # ``footer``: the metadata an earlier open parsed, so the footer is not read again.
    try:
        source = pq.ParquetFile(
            path, memory_map=True, pre_buffer=False, read_dictionary=dictionary, metadata=footer
        )
        source.schema_arrow  # noqa: B018 - a schema pyarrow cannot map fails here, not mid-write
        return source
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{name}: truncated or not a Parquet file ({short_reason(exc)})") from None


def _writer_options(metadata: Any, dictionary: set[str]) -> dict[str, Any]:
    # Dictionary encoding as in the source: hashing the values of a column the source
    # stores plain costs time for nothing.
    return {"use_dictionary": sorted(dictionary), **storage_options(metadata)}


def storage_options(metadata: Any) -> dict[str, Any]:
    """``ParquetWriter`` options that keep a file's codecs (per column) and format version."""
    codecs: dict[str, str] = {}
    if metadata.num_row_groups:
        group = metadata.row_group(0)
        for i in range(group.num_columns):
            column = group.column(i)
            codec = _CODECS.get(column.compression, column.compression.lower())
            codecs[column.path_in_schema] = codec
    options: dict[str, Any] = {}
    if codecs and all(c == "none" or _available(c) for c in codecs.values()):
        distinct = set(codecs.values())
        options["compression"] = distinct.pop() if len(distinct) == 1 else codecs
    if metadata.format_version in ("1.0", "2.4", "2.6"):
        options["version"] = metadata.format_version
    return options


def _available(codec: str) -> bool:
    # is_available raises on a name it does not know ("none" among them).
    try:
        return bool(pa.Codec.is_available(codec))
    except (pa.ArrowException, ValueError):
        return False


def _read_span(source: Any, span: Span, name: str) -> Iterator[Any]:
    group = source.metadata.row_group(span.unit)
    where = f"{name} row group {span.unit}"
    try:
        if group.total_byte_size <= _WHOLE_GROUP_BYTES:
            table = source.read_row_group(span.unit)
            if (span.start, span.stop) != (0, group.num_rows):
                table = table.slice(span.start, span.stop - span.start)
            yield table
            return
        step = max(1, group.num_rows * _WHOLE_GROUP_BYTES // group.total_byte_size)
        first = 0
        for batch in source.iter_batches(batch_size=step, row_groups=[span.unit]):
            last = first + batch.num_rows
            low, high = max(first, span.start), min(last, span.stop)
            if low < high:
                yield pa.Table.from_batches([batch.slice(low - first, high - low)])
            if last >= span.stop:
                return
            first = last
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{where}: cannot be decoded ({short_reason(exc)})") from None


def plan_parquet(path: Path, name: str, sizing: Sizing) -> list[ParquetPiece]:
    with _open_parquet(path, name) as source:
        metadata = source.metadata
    check_row_counts(metadata, name)
    units = []
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        packed = sum(group.column(j).total_compressed_size for j in range(group.num_columns))
        units.append(Unit(i, group.num_rows, packed))
    cuts = no_rows(name, plan_cuts(units, sizing))
    return [ParquetPiece(path, name, cut.rows, cut.spans) for cut in cuts]


def check_row_counts(metadata: Any, name: str) -> None:
    """A footer whose row counts disagree with each other is damage: cut by its word, the
    chunks would hold rows the file lacks. Each flat column (no repetition) holds one
    value per row, nulls included; the file's count is its row groups' sum."""
    flat = [
        j for j in range(metadata.num_columns) if not metadata.schema.column(j).max_repetition_level
    ]
    total = 0
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        for j in flat:
            column = group.column(j)
            if column.num_values != group.num_rows:
                raise DataError(
                    f"{name} row group {i}: its footer says {group.num_rows} rows, but column "
                    f"{column.path_in_schema!r} holds {column.num_values} values (a damaged footer)"
                )
        total += group.num_rows
    if total != metadata.num_rows:
        raise DataError(
            f"{name}: its footer says {metadata.num_rows} rows, but its row groups hold "
            f"{total} (a damaged footer)"
        )

"""Parquet and Arrow IPC / Feather v2: cut along row groups and record batches.

Planning reads only the Parquet footer (row counts, compressed sizes) or the Arrow
file's record batches through a memory map (zero-copy when uncompressed), so it costs
no decoding. Writing copies whole Parquet row groups page for page (``parquet_copy``)
and re-encodes only slices of row groups (or files the copy's checks refuse); memory
stays bounded by one row group (or one batch of a huge row group), never the whole
file. Every chunk is a plain Parquet / Arrow IPC file whose key-value
metadata carries the chunk metadata under ``chunks.META_KEY``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Literal

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from ..chunks import META_KEY, ChunkMeta
from ..errors import DataError, one_line
from .parquet_copy import copy_row_groups
from .source import Sizing
from .spans import Cut, Span, Unit, plan_cuts

__all__ = [
    "ArrowPiece",
    "Dictionaries",
    "ParquetPiece",
    "check_not_feather_v1",
    "duplicate_name",
    "new_ipc_file",
    "plan",
    "short_reason",
    "storage_options",
    "with_meta",
    "without_meta",
]

# A row group whose decoded size exceeds this is read in batches (each becoming a row
# group of its own in the chunk) so that one huge row group cannot blow the memory bound.
_WHOLE_GROUP_BYTES = 32 << 20
_CODECS = {"UNCOMPRESSED": "none", "LZ4_RAW": "lz4", "LZ4": "lz4"}
_ARROW_MAGIC = b"ARROW1"
_ARROW_SCHEMA = b"ARROW:schema"
_DICTIONARY_ENCODINGS = {"RLE_DICTIONARY", "PLAIN_DICTIONARY"}
_FEATHER_V1_MAGIC = b"FEA1"


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


def _no_rows(name: str, cuts: list[Cut]) -> list[Cut]:
    if not cuts:
        raise DataError(f"{name}: no rows")
    return cuts


@dataclass(frozen=True)
class _ColumnarPiece:
    """Rows ``rows`` of one source file, held by ``spans`` of its row groups or batches."""

    path: Path
    name: str
    rows: tuple[int, int]
    spans: tuple[Span, ...]
    embeds: bool = True


class ParquetPiece(_ColumnarPiece):
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


def _plan_parquet(path: Path, name: str, sizing: Sizing) -> list[ParquetPiece]:
    with _open_parquet(path, name) as source:
        metadata = source.metadata
    units = []
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        packed = sum(group.column(j).total_compressed_size for j in range(group.num_columns))
        units.append(Unit(i, group.num_rows, packed))
    cuts = _no_rows(name, plan_cuts(units, sizing))
    return [ParquetPiece(path, name, cut.rows, cut.spans) for cut in cuts]


class ArrowPiece(_ColumnarPiece):
    """Rows of one Arrow IPC file or stream, written as an Arrow IPC file."""

    def write(self, out: BinaryIO, meta: ChunkMeta | None) -> None:
        wanted = {span.unit: span for span in self.spans}
        last = self.spans[-1].unit
        with pa.memory_map(str(self.path)) as mapped:
            schema, batches = _open_arrow(mapped, self.name, self.spans[0].unit, last)
            # A stream may replace a dictionary between batches; a file cannot.
            dictionaries = Dictionaries(schema, self.name)
            with new_ipc_file(out, with_meta(schema, meta)) as writer:
                for index, batch in batches:
                    span = wanted.get(index)
                    if span is not None:
                        part = batch.slice(span.start, span.stop - span.start)
                        writer.write_batch(dictionaries.conform(part))


def new_ipc_file(sink: Any, schema: Any) -> Any:
    """An Arrow IPC file writer whose file holds one dictionary per column: a whole table's
    batches are unified (``write_table``: a Parquet source's row groups each have their
    own), and later batches extend it by deltas (``write_batch``, see :class:`Dictionaries`)."""
    options = pa.ipc.IpcWriteOptions(unify_dictionaries=True, emit_dictionary_deltas=True)
    return pa.ipc.new_file(sink, schema, options=options)


def duplicate_name(names: list[str]) -> str | None:
    """The first column name that appears twice in ``names``, or None."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


class Dictionaries:
    """Top-level dictionary columns brought onto one growing dictionary per column.

    An Arrow IPC file holds one dictionary per field, which later batches may only
    extend (a delta), never replace; yet batches from several tasks each come with their
    own dictionary, and a stream may replace one between batches. Each batch is remapped
    onto the union of the values seen so far, in first-seen order, so every dictionary
    written extends the last one.
    """

    def __init__(self, schema: Any, where: str) -> None:
        self.where = where
        self.fields = [i for i, f in enumerate(schema) if pa.types.is_dictionary(f.type)]
        self.seen: dict[int, Any] = {}

    def conform(self, batch: Any) -> Any:
        """``batch`` (a record batch) with its dictionary columns on the shared dictionaries."""
        if not self.fields:
            return batch
        columns = list(batch.columns)
        for i in self.fields:
            columns[i] = self._onto(i, columns[i], batch.schema.field(i).name)
        return pa.RecordBatch.from_arrays(columns, schema=batch.schema)

    def _onto(self, i: int, array: Any, name: str) -> Any:
        import pyarrow.compute as pc  # type: ignore[import-untyped]

        values, known = array.dictionary, self.seen.get(i)
        if known is None:
            self.seen[i] = values
            return array
        if len(values) <= len(known) and values.equals(known.slice(0, len(values))):
            indices = array.indices
        else:
            fresh = values.filter(pc.invert(pc.is_in(values, value_set=known)))
            if len(fresh):
                known = self.seen[i] = pa.concat_arrays([known, fresh])
            indices = pc.take(pc.index_in(values, value_set=known), array.indices)
        index_type = array.type.index_type
        bits = index_type.bit_width - pa.types.is_signed_integer(index_type)
        if len(known) > 1 << bits:
            raise DataError(
                f"{self.where}: column {name!r}: the dictionaries hold {len(known)} distinct "
                f"values together, more than its {index_type} indices can address"
            )
        return pa.DictionaryArray.from_arrays(
            indices.cast(index_type), known, ordered=array.type.ordered
        )


def check_not_feather_v1(head: bytes, name: str) -> None:
    """Raise ``DataError`` when ``head`` (a file's first bytes) opens a Feather v1 file,
    which pyarrow's IPC readers misread as a stream with an absurd message length."""
    if head.startswith(_FEATHER_V1_MAGIC):
        raise DataError(
            f"{name}: Feather v1 is not supported; rewrite it as Feather v2 / Arrow IPC"
        )


def _open_arrow(
    mapped: Any, name: str, first: int = 0, last: int | None = None
) -> tuple[Any, Iterator[tuple[int, Any]]]:
    """``(schema, iterator of (index, batch))`` for batches ``first``..``last``."""
    head = mapped.read(len(_ARROW_MAGIC))
    mapped.seek(0)
    check_not_feather_v1(head, name)
    kind = "file" if head == _ARROW_MAGIC else "stream"
    batches: Iterator[tuple[int, Any]]
    try:
        if kind == "file":
            reader = pa.ipc.open_file(mapped)
            stop = reader.num_record_batches if last is None else last + 1
            batches = ((i, reader.get_batch(i)) for i in range(first, stop))
        else:
            # A stream has no index of its batches: skip to ``first`` (zero-copy through
            # the memory map, so skipping costs only the message headers).
            reader = pa.ipc.open_stream(mapped)
            batches = ((i, b) for i, b in enumerate(reader) if i >= first)
            if last is not None:
                batches = _until(batches, last)
        return reader.schema, _guarded(batches, name)
    except (pa.ArrowException, OSError) as exc:
        what = "truncated or not an Arrow IPC file" if kind == "file" else "not Arrow IPC"
        raise DataError(f"{name}: {what} ({short_reason(exc)})") from None


def _until(batches: Iterator[tuple[int, Any]], last: int) -> Iterator[tuple[int, Any]]:
    for index, batch in batches:
        yield index, batch
        if index >= last:
            return


def _guarded(batches: Iterator[tuple[int, Any]], name: str) -> Iterator[tuple[int, Any]]:
    index = -1
    try:
        for index, batch in batches:
            yield index, batch
    except (pa.ArrowException, OSError) as exc:
        where = f"{name} record batch {index + 1}"
        raise DataError(f"{where}: cannot be read ({short_reason(exc)})") from None


def _plan_arrow(path: Path, name: str, sizing: Sizing) -> list[ArrowPiece]:
    with pa.memory_map(str(path)) as mapped:
        _, batches = _open_arrow(mapped, name)
        units = [Unit(i, batch.num_rows, batch.nbytes) for i, batch in batches]
    cuts = _no_rows(name, plan_cuts(units, sizing))
    return [ArrowPiece(path, name, cut.rows, cut.spans) for cut in cuts]


def plan(
    path: Path, name: str, fmt: Literal["parquet", "arrow"], sizing: Sizing
) -> list[ParquetPiece] | list[ArrowPiece]:
    """The chunks of one Parquet or Arrow file, planned from its metadata alone."""
    if fmt == "parquet":
        return _plan_parquet(path, name, sizing)
    return _plan_arrow(path, name, sizing)

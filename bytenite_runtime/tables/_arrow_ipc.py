"""Arrow IPC (file or stream, Feather v2) pieces: planned from the record batches read
through a memory map, written as an Arrow IPC file; and the one-dictionary-per-column
rule every Arrow IPC file written here follows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa  # type: ignore[import-untyped]

from ..chunks import ChunkMeta
from ..errors import DataError
from ._columnar_base import ColumnarPiece, no_rows, short_reason, with_meta
from .source import Sizing, check_not_feather_v1
from .spans import Unit, plan_cuts

__all__ = ["ArrowPiece", "Dictionaries", "new_ipc_file", "plan_arrow"]

_ARROW_MAGIC = b"ARROW1"


class ArrowPiece(ColumnarPiece):
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


def plan_arrow(path: Path, name: str, sizing: Sizing) -> list[ArrowPiece]:
    with pa.memory_map(str(path)) as mapped:
        _, batches = _open_arrow(mapped, name)
        units = [Unit(i, batch.num_rows, batch.nbytes) for i, batch in batches]
    cuts = no_rows(name, plan_cuts(units, sizing))
    return [ArrowPiece(path, name, cut.rows, cut.spans) for cut in cuts]

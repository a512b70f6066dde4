"""Parquet and Arrow IPC results joined one row group / record batch at a time.

Schemas are read from footers first: they must match field for field (column order may
differ; the first result's order wins), or, with ``unify``, are merged with pyarrow's
permissive promotion, a column missing from a result becoming nulls. Our chunk metadata
key is dropped from the output's schema metadata: the output is the user's file, not a
chunk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from .._inputs import Result
from ..errors import DataError
from .columnar import (
    Dictionaries,
    duplicate_name,
    new_ipc_file,
    storage_options,
    without_meta,
)
from .join import label
from .slots import open_ipc

__all__ = ["ColumnarJoin"]

_ARROW_ERRORS = (pa.ArrowException, OSError, ValueError)
_KIND = {"parquet": "Parquet", "arrow": "Arrow IPC"}


def _batches(reader: Any) -> Iterator[Any]:
    if isinstance(reader, pa.ipc.RecordBatchFileReader):
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)
    else:
        yield from reader


def _difference(expected: Any, got: Any, first: str) -> str | None:
    """The first field that differs between two schemas, in words (None when they match)."""
    for field in got:
        if field.name not in expected.names:
            return f"field {field.name!r} is not in {first}'s schema"
        other = expected.field(field.name)
        if not field.type.equals(other.type):
            return f"field {field.name!r} is {field.type} here but {other.type} in {first}"
    for name in expected.names:
        if name not in got.names:
            return f"field {name!r} of {first}'s schema is missing"
    return None


def _conflict(schema: Any, got: Any) -> str:
    for field in got:
        if field.name in schema.names:
            try:
                pa.unify_schemas(
                    [pa.schema([schema.field(field.name)]), pa.schema([field])],
                    promote_options="permissive",
                )
            except _ARROW_ERRORS:
                return (
                    f"field {field.name!r} is {field.type} here but "
                    f"{schema.field(field.name).type} in earlier chunks"
                )
    return "the schemas cannot be merged"


class ColumnarJoin:
    """A planned Parquet or Arrow IPC join: target schema and per-result row counts."""

    def __init__(
        self, fmt: Literal["parquet", "arrow"], results: Sequence[Result], *, unify: bool
    ) -> None:
        self.fmt = fmt
        self.results = list(results)
        schemas: list[Any] = []
        self.rows: list[int | None] = []
        for result in results:
            try:
                schema, rows = self._inspect(result.path)
            except _ARROW_ERRORS as exc:
                raise DataError(
                    f"{label(result)}: not a readable {_KIND[fmt]} file ({exc})"
                ) from None
            twice = duplicate_name(schema.names)
            if twice is not None:
                raise DataError(
                    f"{label(result)}: column {twice!r} appears twice; results are joined "
                    "by column name"
                )
            schemas.append(without_meta(schema))
            self.rows.append(rows)
        self.target = self._target(schemas, unify)

    def _inspect(self, path: Path) -> tuple[Any, int]:
        if self.fmt == "parquet":
            # schema_arrow, not the Parquet schema: it restores the Arrow types the
            # writer stored (time zones, dictionaries, large strings).
            with pq.ParquetFile(path) as parquet:
                return parquet.schema_arrow, parquet.metadata.num_rows
        # Batches come from a memory map without copying their buffers, so counting
        # rows reads only message headers.
        with pa.memory_map(str(path)) as source:
            reader = open_ipc(source)
            return reader.schema, sum(batch.num_rows for batch in _batches(reader))

    def _target(self, schemas: list[Any], unify: bool) -> Any:
        first = label(self.results[0])
        target = schemas[0]
        for result, schema in zip(self.results[1:], schemas[1:], strict=True):
            if not unify:
                problem = _difference(schemas[0], schema, first)
                if problem:
                    raise DataError(
                        f"{label(result)}: schema differs from {first}'s: {problem} "
                        "(set unify_schemas=true to merge compatible schemas)"
                    )
            try:
                target = pa.unify_schemas([target, schema], promote_options="permissive")
            except _ARROW_ERRORS:
                problem = _conflict(target, schema)
                raise DataError(f"{label(result)}: cannot unify schemas: {problem}") from None
        # A column some result lacks is filled with nulls there, so it must allow them.
        everywhere = set.intersection(*(set(s.names) for s in schemas))
        fields = [f if f.name in everywhere else f.with_nullable(True) for f in target]
        return pa.schema(fields, metadata=schemas[0].metadata)

    def _pieces(self, path: Path) -> Iterator[Any]:
        if self.fmt == "parquet":
            with pq.ParquetFile(path) as parquet:
                for i in range(parquet.num_row_groups):
                    yield parquet.read_row_group(i)
            return
        with pa.memory_map(str(path)) as source:
            yield from _batches(open_ipc(source))

    def _conform(self, data: Any) -> Any:
        if data.schema.equals(self.target, check_metadata=False):
            return data
        columns = [
            data.column(f.name).cast(f.type)
            if f.name in data.schema.names
            else pa.nulls(data.num_rows, f.type)
            for f in self.target
        ]
        return type(data).from_arrays(columns, schema=self.target)

    def write(self, out: Path) -> None:
        if self.fmt == "parquet":
            # Keep the results' compression: the user chose it, or their app did.
            options = storage_options(pq.read_metadata(self.results[0].path))
            with pq.ParquetWriter(out, self.target, **options) as writer:
                self._copy(writer.write)
            return
        # Each task encoded its own dictionaries: one growing dictionary per column.
        dictionaries = Dictionaries(self.target, out.name)
        with pa.OSFile(str(out), "wb") as sink, new_ipc_file(sink, self.target) as writer:
            self._copy(lambda batch: writer.write(dictionaries.conform(batch)))

    def _copy(self, write: Any) -> None:
        for result in self.results:
            try:
                for piece in self._pieces(result.path):
                    write(self._conform(piece))
            except _ARROW_ERRORS as exc:
                raise DataError(f"{label(result)}: cannot be joined ({exc})") from None

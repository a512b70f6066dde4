"""The ``row`` partitioner: tables cut into chunks of whole records.

CSV/TSV/JSONL bytes are copied, never parsed into rows, each chunk as soon as the scan
has settled its cut; Parquet is cut along row groups; ``.npy`` arrays are sliced through
a memory map. When a chunk carries the chunk count in its own slot (Parquet, Arrow),
every source file is planned before the first chunk is written. Converting chunks to
another format (``output_format``) is in :mod:`._row_convert`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from .._chunk_writer import NewChunk
from ..chunks import ChunkMeta
from ..components import Partitioner
from ..errors import DataError
from ..task import PartitionerContext
from ._row_convert import Converting, convert_piece

if TYPE_CHECKING:
    from ..tables.source import Format

__all__ = ["Piece", "Row"]

_DEFAULT_BYTES = 64 << 20


class Piece(Protocol):
    """One planned chunk of one source file."""

    # Read-only properties, so that frozen dataclasses satisfy the protocol.
    @property
    def rows(self) -> tuple[int, int]:
        """Half-open range of data rows (header excluded), counted from 0 in the source file."""

    @property
    def embeds(self) -> bool:
        """True when ``write`` puts the metadata in the format's own slot."""

    def write(self, out: Any, meta: ChunkMeta | None) -> None: ...


class Row(Partitioner):
    """Tables cut into chunks of whole records; chunks are valid files of the source format."""

    name: ClassVar[str] = "row"
    summary: ClassVar[str] = (
        "Tables (CSV, TSV, JSONL, Parquet, Arrow, .npy) in whole-record chunks."
    )

    format: Literal["auto", "csv", "tsv", "jsonl", "parquet", "arrow", "npy"] = Field(
        "auto", description="Source format; 'auto' goes by extension, then magic bytes."
    )
    rows_per_chunk: int | None = Field(None, gt=0, description="Records per chunk.")
    num_chunks: int | None = Field(
        None, gt=0, description="How many chunks in all (shared out across files by size)."
    )
    bytes_per_chunk: int | None = Field(
        None,
        gt=0,
        description="Target chunk size in bytes (default 64 MiB when no sizing is given); "
        "a larger record still goes whole into one chunk.",
    )
    header: bool = Field(
        True, description="CSV/TSV: the first record is a header, repeated in every chunk."
    )
    quoting: bool = Field(
        True,
        description="CSV/TSV: fields may be quoted (RFC 4180); false makes every newline a "
        "record end, for files with bare quotes in unquoted fields.",
    )
    delimiter: str | None = Field(
        None,
        min_length=1,
        max_length=1,
        description="CSV/TSV: the field separator, one character (default ',' for CSV, tab "
        "for TSV), e.g. ';'; used by strict and by output_format.",
    )
    strict: bool = Field(
        False,
        description="Reject bad records: CSV/TSV rows whose field count differs from the "
        "first row's; JSON Lines lines that are not one JSON value.",
    )
    output_format: Literal["same", "csv", "tsv", "jsonl", "parquet", "arrow"] = Field(
        "same", description="Convert chunks to another table format ('same': keep the source's)."
    )
    infer_types: bool = Field(
        False,
        description="CSV/TSV converted by output_format: false reads every field as text, "
        "exactly as written (the same schema in every chunk); true lets pyarrow guess each "
        "chunk's column types (numbers, dates, nulls), which may differ between chunks and "
        "lose leading zeros or a literal 'NA'.",
    )

    @field_validator("delimiter")
    @classmethod
    def _plain_delimiter(cls, value: str | None) -> str | None:
        if value is not None and value in '"\r\n':
            raise ValueError(f"{value!r} cannot separate fields (it is a quote or a newline)")
        return value

    @model_validator(mode="after")
    def _one_sizing(self) -> Row:
        given = [
            name
            for name in ("rows_per_chunk", "num_chunks", "bytes_per_chunk")
            if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise ValueError(
                "give at most one of rows_per_chunk, num_chunks, bytes_per_chunk "
                f"(got {', '.join(given)})"
            )
        return self

    @model_validator(mode="after")
    def _convertible_delimiter(self) -> Row:
        # pyarrow's CSV reader takes a one-byte delimiter; splitting alone takes any.
        if self.output_format != "same" and self.delimiter and not self.delimiter.isascii():
            problem = PydanticCustomError(
                "value_error",
                "{shown} is not an ASCII character, which output_format needs to "
                "read the fields (splitting without output_format takes any character)",
                {"shown": repr(self.delimiter)},
            )
            details = InitErrorDetails(type=problem, loc=("delimiter",), input=self.delimiter)
            raise ValidationError.from_exception_data(type(self).__name__, [details])
        return self

    def partition(self, ctx: PartitionerContext[Any]) -> Iterator[NewChunk]:
        from ..tables import source as table_source
        from ..tables._compression import decompressed

        declared = None if self.format == "auto" else self.format
        bytes_per_chunk = self.bytes_per_chunk
        if self.rows_per_chunk is None and self.num_chunks is None and bytes_per_chunk is None:
            bytes_per_chunk = _DEFAULT_BYTES
        with contextlib.ExitStack() as stack:
            plains = [stack.enter_context(decompressed(p)) for p in ctx.sources]
            sizes = [p.stat().st_size for p in plains]
            sizings = table_source.plan_sizing(
                sizes, self.rows_per_chunk, self.num_chunks, bytes_per_chunk
            )
            files = []
            for original, plain, sizing in zip(ctx.sources, plains, sizings, strict=True):
                head = table_source.read_head(plain)
                fmt = table_source.detect_format(original, head, declared)
                name = original.relative_to(ctx.source_dir).as_posix()
                table_source.check_not_binary(plain, head, name, fmt)
                table_source.check_magic(head, name, fmt)
                table_source.check_no_delimiter_hint(head, name, fmt)
                if self.output_format not in ("same", fmt) and self.header:
                    self._check_distinct_columns(plain, name, fmt)
                files.append((name, fmt, plain, sizing))
            pieces: Iterable[tuple[str, Format, Path, Piece]] = (
                (name, fmt, plain, piece)
                for name, fmt, plain, sizing in files
                for piece in self._plan(plain, name, fmt, sizing)
            )
            count: int | None = None
            if self._needs_count({fmt for _, fmt, _, _ in files}):
                pieces = list(pieces)
                count = len(pieces)
            # Otherwise nothing embeds the count, so each chunk is written as soon as its
            # cut is settled, while the scan goes on (see tables.delimited.plan).
            index = -1
            converted = Converting()
            for index, (name, fmt, plain, piece) in enumerate(pieces):
                out_fmt = fmt if self.output_format == "same" else self.output_format
                fields = {"rows": list(piece.rows), "format": out_fmt, "source_format": fmt}
                meta = ChunkMeta(index, count, name, fields)
                if out_fmt == fmt:
                    yield self._chunk(piece, meta)
                else:
                    yield convert_piece(self, piece, meta, fmt, out_fmt, converted, plain, ctx.log)
            ctx.log.info("cut %d chunk(s) from %d file(s)", index + 1, len(files))

    def _check_distinct_columns(self, path: Path, name: str, fmt: Format) -> None:
        """A CSV/TSV header naming a column twice is an error before any chunk: a converted
        chunk's columns are looked up by name (Parquet written with two ``a`` columns
        cannot be read back)."""
        from ..tables._columnar_base import duplicate_name
        from ..tables.delimited import header_names

        if fmt not in ("csv", "tsv"):
            return
        names = header_names(path, name, fmt, delimiter=self.delimiter, quoting=self.quoting)
        column = duplicate_name(names)
        if column is not None:
            raise DataError(
                f"{name}: column {column!r} appears twice in the header; columns need "
                f"distinct names to convert to {self.output_format}"
            )

    def _needs_count(self, formats: set[Format]) -> bool:
        """Whether some chunk carries the chunk count in its own slot, so every file must be
        planned before the first chunk is written. (This must not import the converter:
        pyarrow alone would add ~30 ms to every CSV split.)"""
        from ..tables.source import has_slot

        if self.chunk_metadata == "off":
            return False
        if self.output_format != "same":
            return has_slot(self.output_format)
        return any(has_slot(fmt) for fmt in formats)

    def _plan(self, path: Path, name: str, fmt: Format, sizing: Any) -> Iterable[Piece]:
        if fmt in ("csv", "tsv", "jsonl"):
            from ..tables import delimited

            return delimited.plan(
                path,
                name,
                fmt,
                sizing,
                header=self.header,
                strict=self.strict,
                quoting=self.quoting,
                delimiter=self.delimiter,
            )
        if fmt in ("parquet", "arrow"):
            from ..tables import columnar

            return columnar.plan(path, name, fmt, sizing)
        from ..tables import npy

        return npy.plan(path, name, sizing)

    def _chunk(self, piece: Piece, meta: ChunkMeta) -> NewChunk:
        embed = self.chunk_metadata != "off"
        slot_meta = meta if embed else None
        return NewChunk(
            write=lambda out: piece.write(out, slot_meta),
            source=meta.source,
            fields=meta.fields,
            embedded=piece.embeds and embed,
        )

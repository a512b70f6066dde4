"""The ``output_format`` option: a chunk written in its source format, then converted.

The piece is written to a temporary file outside ``CHUNKS_DIR`` (so a half-done
conversion never becomes a task), read back into one Arrow table and written in the
target format. A chunk is bounded in size, so holding one in memory is acceptable.
A CSV/TSV source's fields stay text, exactly as written, so every chunk has the same
schema and no value is reinterpreted ("01234", "NA"); ``infer_types`` asks pyarrow to
guess types per chunk instead. JSON Lines carry their own types: every chunk of a file is
read with the schema the whole file implies (:mod:`.jsonl_schema`), so a key null in
every row of one chunk, or absent from it, still has the file's type there.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import pyarrow as pa  # type: ignore[import-untyped]

from ..chunks import ChunkMeta
from ..errors import DataError
from ._jsonl_integers import INT64, as_float
from ._jsonl_out import write_jsonl
from .columnar import new_ipc_file, short_reason, with_meta, without_meta
from .source import DELIMITERS

__all__ = ["Converted", "read_piece"]

# An integer of 16 digits or more, the only ones past 2**53, as a CSV field holds it.
_INTEGER = r"^\s*[+-]?[0-9]{16,}\s*$"


class _Piece(Protocol):
    @property
    def rows(self) -> tuple[int, int]: ...

    def write(self, out: BinaryIO, meta: ChunkMeta | None) -> None: ...


def read_piece(
    piece: _Piece,
    meta: ChunkMeta,
    src_fmt: str,
    dst_fmt: str,
    *,
    header: bool,
    delimiter: str | None = None,
    quoting: bool = True,
    infer_types: bool = False,
    like: Any = None,
    schema: Any = None,
) -> Any:
    """``piece`` read into one Arrow table, without the staged piece's own slot metadata.

    ``header`` says whether a CSV/TSV source has a header row; without one, columns are
    named ``f0``, ``f1``…. ``delimiter`` separates a CSV/TSV source's fields (default:
    its format's). ``quoting=False`` reads its quotes as plain characters. Its fields are
    read as text, exactly as written, unless ``infer_types`` lets pyarrow guess each
    chunk's column types. A JSON Lines source is read with ``schema`` when given (its
    whole file's, from :func:`.jsonl_schema.file_schema`), else with the types pyarrow
    guesses from the piece.

    The row count is what a converted chunk holds, which may be fewer than
    ``piece.rows`` says: pyarrow skips the blank lines of CSV, TSV and JSON Lines that
    the scan counts as rows (as Python's ``csv`` reads them). A piece of blank lines
    alone is then no rows, with the columns of ``schema``, else of ``like`` (an earlier
    chunk's schema, of the same file); without either, the piece's columns are unknown
    (no header, or JSON Lines), which is an error.
    """
    with (
        _converting(meta, piece.rows, src_fmt, dst_fmt),
        tempfile.TemporaryDirectory(prefix="bytenite-convert-") as scratch,
    ):
        staged = Path(scratch) / f"piece.{src_fmt}"
        with staged.open("wb") as stream:
            piece.write(stream, meta)
            if src_fmt in DELIMITERS:
                # pyarrow reads a last record of one empty quoted field ('""') without a
                # newline as an empty file; after a newline, this is a blank line it skips.
                stream.write(b"\n")
        try:
            table = _read(
                staged, src_fmt, header=header, delimiter=delimiter, quoting=quoting,
                infer_types=infer_types, schema=schema,
            )  # fmt: skip
        except pa.ArrowInvalid:
            if not _blank(staged, src_fmt):
                raise
            table = None
        if table is not None and not table.num_columns and not _blank(staged, src_fmt):
            # JSON Lines of '{}' alone, or an (n, 0) array: Parquet and CSV hold no rows
            # without a column, and pyarrow drops the count anyway, so the rows would vanish.
            raise ValueError("its rows have no columns, and a table without columns holds no rows")
        if table is None or (table.num_rows == 0 and src_fmt in (*DELIMITERS, "jsonl")):
            # Blank lines only: pyarrow has no columns for them (no header, JSON Lines) or
            # guesses null-typed ones (a header, with ``infer_types``).
            if schema is not None or like is not None:
                return (like if schema is None else schema).empty_table()
            if table is None or table.num_columns == 0:
                raise DataError(
                    f"{meta.source or 'chunk'} rows {piece.rows[0]}-{piece.rows[1]}: blank "
                    "lines only, and no earlier chunk of the file to take its columns from; "
                    "remove the blank lines or make the chunks larger"
                )
        # The staged piece's own slot is not the converted chunk's metadata.
        return table.replace_schema_metadata(without_meta(table.schema).metadata)


def _blank(path: Path, fmt: str) -> bool:
    """Whether the staged piece at ``path`` holds blank lines alone (and no header)."""
    if fmt not in (*DELIMITERS, "jsonl"):
        return False
    with path.open("rb") as stream:
        return all(not block.strip(b"\r\n") for block in iter(lambda: stream.read(1 << 20), b""))


class Converted:
    """A piece read by :func:`read_piece`, written in the target format by ``write``, with
    ``meta`` in its slot unless ``embed`` is false (``chunk_metadata: off``); a CSV/TSV
    target gets its format's own delimiter, and no header when the source had none.

    ``write`` lets go of the table: the runtime keeps every ``NewChunk`` (and so this)
    until the last chunk is written, and a run must not hold every chunk's table."""

    def __init__(
        self,
        table: Any,
        source_rows: tuple[int, int],
        meta: ChunkMeta,
        src_fmt: str,
        dst_fmt: str,
        *,
        header: bool,
        embed: bool = True,
    ) -> None:
        self._table: Any = table
        self._source_rows = source_rows
        self.meta = meta
        self._formats = (src_fmt, dst_fmt)
        self._header = header if src_fmt in DELIMITERS else True
        self._embed = embed

    def write(self, out: BinaryIO) -> None:
        table, self._table = self._table, None
        if table is None:
            raise RuntimeError("a converted chunk is written once")
        with _converting(self.meta, self._source_rows, *self._formats):
            meta = self.meta if self._embed else None
            _write(table, out, self._formats[1], meta, header=self._header)


@contextlib.contextmanager
def _converting(
    meta: ChunkMeta, rows: tuple[int, int], src_fmt: str, dst_fmt: str
) -> Iterator[None]:
    """Errors of pyarrow and of the writers as one DataError naming the source rows."""
    try:
        yield
    except (pa.ArrowException, OSError, TypeError, ValueError) as exc:
        where = f"{meta.source or 'chunk'} rows {rows[0]}-{rows[1]}"
        raise DataError(
            f"{where}: cannot convert {src_fmt} to {dst_fmt} ({short_reason(exc)})"
        ) from None


def _read(
    path: Path,
    fmt: str,
    *,
    header: bool,
    delimiter: str | None = None,
    quoting: bool = True,
    infer_types: bool = False,
    schema: Any = None,
) -> Any:
    if fmt in DELIMITERS:
        from pyarrow import csv

        read = csv.ReadOptions(autogenerate_column_names=not header)
        parse = csv.ParseOptions(
            delimiter=delimiter or DELIMITERS[fmt],
            quote_char='"' if quoting else False,
            newlines_in_values=quoting,
        )
        if infer_types:
            table = csv.read_csv(path, read_options=read, parse_options=parse)
            _check_rounded(path, table, read, parse)
            return table
        # Each chunk guessing its own types gives chunks that cannot be joined (a zip
        # code column int64 in one, string in the next) and loses data ("01234" read
        # as 1234, "NA" as null): every column is text unless asked otherwise.
        with csv.open_csv(path, read_options=read, parse_options=parse) as reader:
            names = reader.schema.names
        convert = csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
        return csv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    if fmt == "jsonl":
        from pyarrow import json

        parse = None if schema is None else json.ParseOptions(explicit_schema=schema)
        return json.read_json(path, parse_options=parse)
    if fmt == "parquet":
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        return pq.read_table(path)
    if fmt == "arrow":
        # Read into memory rather than through a map: the table outlives this function.
        with pa.OSFile(str(path)) as stream:
            return pa.ipc.open_file(stream).read_all()
    if fmt == "npy":
        from .npy import read_table

        return read_table(path)
    raise ValueError(f"unknown source format {fmt!r}")


def _check_rounded(path: Path, table: Any, read: Any, parse: Any) -> None:
    """A ValueError for an integer that ``infer_types`` read as a float that does not hold
    it exactly (one past 2**53 in a column with fractions, or past 64 bits, which pyarrow
    reads as a float): a guessed type must not change a number. Only a float column
    reaching 2**53 is read again, as text, to tell its integers from its fractions."""
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    from pyarrow import csv

    from ._jsonl_integers import large_paths

    floats = {field.name for field in table.schema if pa.types.is_floating(field.type)}
    suspects = sorted({path[0] for path in large_paths(table)} & floats)
    if not suspects:
        return
    as_text = csv.ConvertOptions(
        include_columns=suspects, column_types=dict.fromkeys(suspects, pa.string())
    )
    texts = csv.read_csv(path, read_options=read, parse_options=parse, convert_options=as_text)
    for name in suspects:
        column = texts.column(name)
        for text in pc.filter(column, pc.match_substring_regex(column, _INTEGER)).to_pylist():
            value = int(text)
            if value not in INT64 or float(value) != value:
                raise ValueError(
                    f"column {name!r} holds the integer {value}, which infer_types reads as "
                    f"the float {as_float(value)}; leave infer_types off to keep every field "
                    "as written"
                )


def _write(table: Any, out: BinaryIO, fmt: str, meta: ChunkMeta | None, *, header: bool) -> None:
    if fmt in DELIMITERS:
        from pyarrow import csv

        for field in table.schema:
            if pa.types.is_nested(field.type):
                raise ValueError(
                    f"column {field.name!r} is {field.type}, which a {fmt.upper()} field cannot "
                    "hold; convert to jsonl, parquet or arrow instead"
                )
        options = csv.WriteOptions(include_header=header, delimiter=DELIMITERS[fmt])
        csv.write_csv(table, out, write_options=options)
    elif fmt == "jsonl":
        write_jsonl(table, out)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table.replace_schema_metadata(with_meta(table.schema, meta).metadata), out)
    elif fmt == "arrow":
        with new_ipc_file(out, with_meta(table.schema, meta)) as writer:
            writer.write_table(table)
    else:
        raise ValueError(f"unknown target format {fmt!r}")

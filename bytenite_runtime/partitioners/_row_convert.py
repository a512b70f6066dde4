"""The ``row`` partitioner's conversion of pieces to another table format
(``output_format``): reading a piece into a table, numbering its rows on from its file's
previous chunk, and what one file's pieces carry from one to the next.

Nothing here imports pyarrow until a piece is converted: a CSV split into CSV chunks
never loads it.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._chunk_writer import NewChunk
from ..chunks import ChunkMeta

if TYPE_CHECKING:
    from .rows import Piece, Row

__all__ = ["Converting", "convert_piece"]


def convert_piece(
    row: Row,
    piece: Piece,
    meta: ChunkMeta,
    fmt: str,
    out_fmt: str,
    files: Converting,
    plain: Path,
    log: logging.Logger,
) -> NewChunk:
    """``piece`` (of the file at ``plain``) converted to ``out_fmt``. pyarrow skips
    blank lines the scan counts as rows, so the chunk's range counts the rows it holds,
    numbered on from the end of its file's previous chunk (``files.rows``, updated):
    what concat checks it against, with no gap between chunks. A piece of blank lines
    alone takes the columns of its file's first chunk with rows (``files.schemas``).
    Every piece of a JSON Lines file is read with the schema of the whole file, found
    before its first piece (``files.json_schemas``). NaN and infinities written to JSON
    Lines become null, with one warning per column of each file."""
    from ..tables import convert  # pyarrow: only when converting
    from ..tables._jsonl_out import nonfinite_columns
    from ..tables.source import has_slot

    name = meta.source or ""
    if fmt == "jsonl" and name not in files.json_schemas:
        from ..tables.jsonl_schema import file_schema

        files.json_schemas[name] = file_schema(plain, name, out_fmt)
    table = convert.read_piece(
        piece,
        meta,
        fmt,
        out_fmt,
        header=row.header,
        delimiter=row.delimiter,
        quoting=row.quoting,
        infer_types=row.infer_types,
        like=files.schemas.get(name),
        schema=files.json_schemas.get(name),
    )
    if out_fmt == "jsonl":
        for column in nonfinite_columns(table):
            if (name, column) not in files.nonfinite:
                files.nonfinite.add((name, column))
                log.warning(
                    "%s: column %r holds NaN or an infinity, which JSON has no way to write: "
                    "null in the JSON Lines chunks",
                    name,
                    column,
                )
    if table.num_rows:
        files.schemas.setdefault(name, table.schema)
    start = files.rows.get(name, 0)
    files.rows[name] = stop = start + table.num_rows
    meta = dataclasses.replace(meta, fields={**meta.fields, "rows": [start, stop]})
    embed = row.chunk_metadata != "off"
    converted = convert.Converted(
        table, piece.rows, meta, fmt, out_fmt, header=row.header, embed=embed
    )
    return NewChunk(
        write=converted.write,
        source=meta.source,
        fields=meta.fields,
        embedded=has_slot(out_fmt) and embed,
    )


@dataclasses.dataclass
class Converting:
    """What converting a file's pieces carries from one to the next, by file name."""

    rows: dict[str, int] = dataclasses.field(default_factory=dict)
    """Rows converted so far."""
    schemas: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The first converted chunk with rows' schema."""
    json_schemas: dict[str, Any] = dataclasses.field(default_factory=dict)
    """A JSON Lines file's whole schema (None where pyarrow cannot read the file whole)."""
    nonfinite: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    """(file, column) pairs already warned about for NaN or infinities written as null."""

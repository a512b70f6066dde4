"""Tables the table tests generate: CSV/TSV and JSON Lines as bytes, Arrow tables, and
their Parquet, Arrow IPC and ``.npy`` encodings."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import strategies as st

FIELD_TEXT = st.text(st.sampled_from([",", "\t", '"', "\n", "\r", " ", "a", "Z", "é", "東", "😀"]))
"""Field text full of what a CSV/TSV must quote: delimiters, quotes, CR and LF, unicode."""

TEXT_SIZINGS = st.one_of(
    st.fixed_dictionaries({"rows_per_chunk": st.integers(1, 6)}),
    st.fixed_dictionaries({"num_chunks": st.integers(1, 9)}),
    st.fixed_dictionaries({"bytes_per_chunk": st.integers(1, 120)}),
)
"""A ``row`` sizing that cuts generated CSV/TSV/JSON Lines into a few chunks."""

TABLE_SIZINGS = st.one_of(
    st.builds(lambda n: {"rows_per_chunk": n}, st.integers(1, 45)),
    st.builds(lambda n: {"num_chunks": n}, st.integers(1, 45)),
    st.builds(lambda n: {"bytes_per_chunk": n}, st.integers(1, 4000)),
)
"""A ``row`` sizing for generated tables of up to 40 rows."""


def quoted_field(text: str, delimiter: str, force: bool) -> str:
    """``text`` as one CSV/TSV field: quoted (quotes doubled) when forced or when it must be."""
    if force or any(c in text for c in (delimiter, '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text


@st.composite
def delimited_tables(draw: st.DrawFn, delimiter: str) -> tuple[bytes, int]:
    """A CSV/TSV file as bytes (maybe a BOM, LF or CRLF record ends, maybe no final
    newline), and the length of its header in bytes (0 without one)."""
    columns = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(FIELD_TEXT, min_size=columns, max_size=columns), min_size=1))
    has_header = draw(st.booleans())
    if has_header:
        rows.insert(0, [f"c{i}" for i in range(columns)])
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = []
    for row in rows:
        # A lone empty field is quoted, as the csv module does, or the row would vanish.
        force = [(columns == 1 and not text) or draw(st.booleans()) for text in row]
        lines.append(delimiter.join(map(quoted_field, row, [delimiter] * columns, force)) + newline)
    bom = "\ufeff" if draw(st.booleans()) else ""
    text = bom + "".join(lines)
    if draw(st.booleans()):
        text = text[: -len(newline)]
    header = len((bom + lines[0]).encode()) if has_header else 0
    return text.encode(), header


def parse_delimited(data: bytes, delimiter: str) -> list[list[str]]:
    """The records of a CSV/TSV file (BOM dropped) as Python's csv module reads them."""
    text = io.StringIO(data.decode("utf-8-sig"), newline="")
    return list(csv.reader(text, delimiter=delimiter, strict=True))


@st.composite
def json_lines(draw: st.DrawFn) -> bytes:
    """JSON Lines of objects whose values are text, integers, nulls or lists of text,
    maybe without a final newline."""
    values = st.one_of(FIELD_TEXT, st.integers(), st.none(), st.lists(FIELD_TEXT, max_size=3))
    docs = draw(st.lists(st.dictionaries(FIELD_TEXT, values, max_size=3), min_size=1))
    text = "".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs)
    return (text[:-1] if draw(st.booleans()) else text).encode()


_COLUMN_TEXT = st.one_of(
    st.none(), st.text(max_size=6), st.sampled_from(["", "ü", "名前", "a,b", '"q"'])
)


@st.composite
def arrow_tables(draw: st.DrawFn, *, more_types: bool = False, infinities: bool = True) -> pa.Table:
    """1 to 40 rows of nullable int64, float64 (infinities unless told not) and unicode
    string columns; with ``more_types`` also nullable bool, list of string, UTC timestamp
    and dictionary columns."""
    n = draw(st.integers(1, 40))

    def column(values: st.SearchStrategy[Any], kind: pa.DataType) -> pa.Array:
        return pa.array(draw(st.lists(values, min_size=n, max_size=n)), kind)

    ints = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
    floats = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=infinities))
    columns = {
        "i": column(ints, pa.int64()),
        "f": column(floats, pa.float64()),
        "s": column(_COLUMN_TEXT, pa.string()),
    }
    if more_types:
        instants = st.one_of(st.none(), st.integers(-(2**50), 2**50))
        columns["b"] = column(st.one_of(st.none(), st.booleans()), pa.bool_())
        columns["l"] = column(st.none() | st.lists(_COLUMN_TEXT, max_size=3), pa.list_(pa.string()))
        columns["t"] = column(instants, pa.timestamp("us", tz="UTC"))
        columns["d"] = column(_COLUMN_TEXT, pa.string()).dictionary_encode()
    return pa.table(columns)


def parquet_bytes(table: pa.Table, row_group_size: int, compression: str = "zstd") -> bytes:
    """``table`` as a Parquet file of row groups of ``row_group_size`` rows."""
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=row_group_size, compression=compression)
    return sink.getvalue()


def arrow_bytes(table: pa.Table, batch_rows: int, *, stream: bool = False) -> bytes:
    """``table`` as an Arrow IPC file (or stream) of batches of ``batch_rows`` rows."""
    sink = io.BytesIO()
    opener = pa.ipc.new_stream if stream else pa.ipc.new_file
    with opener(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    return sink.getvalue()


def npy_bytes(array: np.ndarray[Any, Any]) -> bytes:
    """``array`` saved by ``np.save``."""
    sink = io.BytesIO()
    np.save(sink, array)
    return sink.getvalue()


def read_chunk(data: bytes) -> pa.Table:
    """A Parquet file's or an Arrow IPC file's table."""
    if data.startswith(b"PAR1"):
        return pq.read_table(io.BytesIO(data))
    return pa.ipc.open_file(io.BytesIO(data)).read_all()

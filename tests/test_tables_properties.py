"""Properties of ``row`` → identity app → ``concat`` on tables, run as the platform runs a
job (:mod:`_pipeline`): for generated CSV/TSV (quoted delimiters, doubled quotes, CR/LF
inside fields, unicode, empty fields, BOM, header or not) and JSON Lines the output is
the input byte for byte; for Parquet and Arrow IPC row for row, schema included; for
``.npy`` the source array; through an ``output_format`` conversion, the source's rows.
Every run also checks that chunk indices run from 0, no chunk is empty, the row ranges in
the chunks' metadata tile the rows, and results reach ``concat`` in order with or without
``CHUNK_NUMBER`` and behind a platform prefix.

The partitioner's record scan and concat's head and quote-parity reads run again with
blocks of a few bytes, so that quotes, CRLF pairs, BOMs, headers and UTF-8 sequences
straddle block edges: the bytes still come back whole, and a result cut inside a quoted
field is still an error naming its chunk.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from _failing import failing_assembly
from _pipeline import Pipeline, run_pipeline
from _tables import (
    FIELD_TEXT,
    TABLE_SIZINGS,
    TEXT_SIZINGS,
    arrow_bytes,
    arrow_tables,
    delimited_tables,
    json_lines,
    npy_bytes,
    parquet_bytes,
    parse_delimited,
    read_chunk,
)
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bytenite_runtime.chunks import META_KEY, ChunkMeta, parse_result_name
from bytenite_runtime.tables import _records, join
from bytenite_runtime.testing import run_partitioner

PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# How the chunk's index reaches the app: metadata mode and whether CHUNK_NUMBER is sent.
# CSV, TSV, JSON Lines and .npy have no metadata slot, so without a footer the index
# comes from CHUNK_NUMBER alone; Parquet and Arrow chunks carry it in their own slot.
TEXT_DELIVERY = st.sampled_from(
    [("footer", False), ("footer", True), ("auto", True), ("off", True)]
)
SLOT_DELIVERY = st.sampled_from([("auto", False), ("auto", True), ("footer", False), ("off", True)])
# Whatever the platform may put in front of a result's name.
PREFIX = st.sampled_from(["", "task-7f3a_", "0001-"])

DELIMITERS = {"csv": ",", "tsv": "\t"}
DELIMITED = st.sampled_from(sorted(DELIMITERS)).flatmap(
    lambda fmt: st.tuples(st.just(fmt), delimited_tables(DELIMITERS[fmt]))
)


def _run(
    files: dict[str, bytes],
    params: dict[str, Any],
    delivery: tuple[str, bool],
    prefix: str,
    result_name: str,
    **assembler_params: Any,
) -> Pipeline:
    mode, send_chunk_number = delivery
    return run_pipeline(
        "row",
        files,
        {**params, "chunk_metadata": mode},
        "concat",
        send_chunk_number,
        result_name=result_name,
        assembler_params=assembler_params,
        result_prefix=prefix,
    )


def _check_chunks(run: Pipeline, result_name: str, rows: int) -> None:
    """Indices run 0..n-1, no chunk is empty, results reach concat in chunk order under
    one name, and where chunks carry metadata their row ranges tile rows 0..``rows``."""
    count = len(run.chunk_indices)
    assert run.chunk_indices == list(range(count))
    assert all(run.payloads)
    parsed = [parse_result_name(name) for name in run.result_names]
    assert [p.index for p in parsed] == list(range(count))
    assert {p.original for p in parsed} == {result_name}
    metas = [m for m in run.metas if m is not None]
    if metas:
        assert len(metas) == count
        _check_row_ranges(metas, rows)


def _check_row_ranges(metas: list[ChunkMeta], rows: int) -> None:
    ranges = [tuple(m.fields["rows"]) for m in metas]
    assert all(start < stop for start, stop in ranges)
    assert [start for start, _ in ranges] == [0] + [stop for _, stop in ranges[:-1]]
    assert ranges[-1][1] == rows


def _check_delimited_round_trip(
    table: tuple[str, tuple[bytes, int]],
    sizing: dict[str, int],
    delivery: tuple[str, bool],
    prefix: str,
) -> None:
    """``row`` then concat on a generated CSV/TSV: whole chunks, and the input byte for byte."""
    fmt, (data, header) = table
    name = f"part.{fmt}"
    params = {**sizing, "header": bool(header)}
    run = _run({f"t.{fmt}": data}, params, delivery, prefix, name, header=bool(header))
    records = len(parse_delimited(data, DELIMITERS[fmt])) - (1 if header else 0)
    _check_chunks(run, name, records)
    assert run.output == {name: data}


def _check_json_lines_round_trip(
    data: bytes, sizing: dict[str, int], delivery: tuple[str, bool], prefix: str
) -> None:
    """``row`` then concat on generated JSON Lines: whole chunks, the input byte for byte."""
    run = _run({"t.jsonl": data}, sizing, delivery, prefix, "part.jsonl")
    _check_chunks(run, "part.jsonl", len(data.splitlines()))
    assert run.output == {"part.jsonl": data}


def _without_dictionaries(table: pa.Table) -> pa.Table:
    """``table`` with dictionary columns decoded: chunks may each carry their own
    dictionary, which Table.equals would compare rather than the values."""
    columns = [
        pc.cast(column, column.type.value_type) if pa.types.is_dictionary(column.type) else column
        for column in table.columns
    ]
    return pa.table(columns, names=table.column_names)


# -- byte for byte ---------------------------------------------------------------------


@PROPERTY
@given(table=DELIMITED, sizing=TEXT_SIZINGS, delivery=TEXT_DELIVERY, prefix=PREFIX)
def test_csv_tsv_come_back_byte_for_byte(
    table: tuple[str, tuple[bytes, int]],
    sizing: dict[str, int],
    delivery: tuple[str, bool],
    prefix: str,
) -> None:
    """Generated CSV/TSV, header or not, cut by any sizing and joined by concat (header
    written once), is the input byte for byte."""
    _check_delimited_round_trip(table, sizing, delivery, prefix)


@PROPERTY
@given(data=json_lines(), sizing=TEXT_SIZINGS, delivery=TEXT_DELIVERY, prefix=PREFIX)
def test_json_lines_come_back_byte_for_byte(
    data: bytes, sizing: dict[str, int], delivery: tuple[str, bool], prefix: str
) -> None:
    """Generated JSON Lines, cut by any sizing and joined by concat, is the input byte
    for byte."""
    _check_json_lines_round_trip(data, sizing, delivery, prefix)


# -- row for row -----------------------------------------------------------------------


@PROPERTY
@given(
    table=arrow_tables(more_types=True),
    unit_rows=st.integers(1, 15),
    layout=st.sampled_from(["parquet", "arrow-file", "arrow-stream"]),
    sizing=TABLE_SIZINGS,
    delivery=SLOT_DELIVERY,
    prefix=PREFIX,
)
def test_parquet_and_arrow_come_back_row_for_row(
    table: pa.Table,
    unit_rows: int,
    layout: str,
    sizing: dict[str, int],
    delivery: tuple[str, bool],
    prefix: str,
) -> None:
    """A Parquet file of several row groups, or an Arrow IPC file or stream of several
    record batches, with nullable and unicode columns, joins back to the source table:
    the same schema, the same rows, no chunk metadata left in the output."""
    fmt = layout.split("-")[0]
    if fmt == "parquet":
        data = parquet_bytes(table, unit_rows)
    else:
        data = arrow_bytes(table, unit_rows, stream=layout == "arrow-stream")
    name = f"part.{fmt}"
    run = _run({f"t.{fmt}": data}, sizing, delivery, prefix, name)
    _check_chunks(run, name, table.num_rows)
    assert all(read_chunk(p).num_rows for p in run.payloads)
    joined = read_chunk(run.output[name])
    assert META_KEY.encode() not in (joined.schema.metadata or {})
    assert joined.schema.equals(table.schema, check_metadata=False)
    assert _without_dictionaries(joined).equals(_without_dictionaries(table))


_NPY_DTYPES = st.sampled_from(
    [
        np.dtype("bool"),
        np.dtype("int8"),
        np.dtype(">i4"),
        np.dtype("<u8"),
        np.dtype("float16"),
        np.dtype(">f8"),
        np.dtype("complex64"),
        np.dtype("<U3"),
        np.dtype("S5"),
        np.dtype("datetime64[ms]"),
        np.dtype([("id", "<i4"), ("score", ">f8"), ("tag", "U2")]),
        np.dtype([("xy", "<f4", (2,)), ("flag", "?")]),
    ]
)


@st.composite
def _npy_arrays(draw: st.DrawFn) -> np.ndarray[Any, Any]:
    """A 1-D to 3-D array of any listed dtype, at least one row, maybe Fortran-ordered."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5))
    shape = (draw(st.integers(1, 30)), *shape[1:])
    array = draw(hnp.arrays(draw(_NPY_DTYPES), shape))
    return np.asfortranarray(array) if draw(st.booleans()) else array


@PROPERTY
@given(array=_npy_arrays(), sizing=TABLE_SIZINGS, delivery=TEXT_DELIVERY, prefix=PREFIX)
def test_npy_comes_back_as_the_source_array(
    array: np.ndarray[Any, Any], sizing: dict[str, int], delivery: tuple[str, bool], prefix: str
) -> None:
    """A .npy array of any dtype (structured, strings, big-endian, datetime) and 1 to 3
    dimensions, C- or Fortran-ordered, joins back to the source: its bytes, for a C-ordered
    source, else its dtype, shape and every element's bytes."""
    data = npy_bytes(array)
    run = _run({"x.npy": data}, sizing, delivery, prefix, "part.npy")
    _check_chunks(run, "part.npy", len(array))
    joined = np.load(io.BytesIO(run.output["part.npy"]))
    assert joined.dtype == array.dtype and joined.shape == array.shape
    assert np.ascontiguousarray(joined).tobytes() == np.ascontiguousarray(array).tobytes()
    if array.flags.c_contiguous:
        assert run.output["part.npy"] == data


# -- through a conversion --------------------------------------------------------------


@PROPERTY
@given(
    table=DELIMITED,
    output_format=st.sampled_from(["parquet", "arrow"]),
    sizing=TEXT_SIZINGS,
    delivery=SLOT_DELIVERY,
)
# A last chunk of one empty quoted field and no newline, which pyarrow read as no file.
@example(
    table=("csv", (b'x\n""', 0)),
    output_format="parquet",
    sizing={"rows_per_chunk": 1},
    delivery=("auto", False),
)
def test_csv_tsv_converted_come_back_row_for_row(
    table: tuple[str, tuple[bytes, int]],
    output_format: str,
    sizing: dict[str, int],
    delivery: tuple[str, bool],
) -> None:
    """Generated CSV/TSV converted to Parquet or Arrow joins back to the source's records
    as text, field for field, under the header's names (f0, f1… without one)."""
    fmt, (data, header) = table
    records = parse_delimited(data, DELIMITERS[fmt])
    names = records.pop(0) if header else [f"f{i}" for i in range(len(records[0]))]
    params = {**sizing, "header": bool(header), "output_format": output_format}
    name = f"part.{output_format}"
    run = _run({f"t.{fmt}": data}, params, delivery, "", name)
    _check_chunks(run, name, len(records))
    joined = read_chunk(run.output[name])
    assert joined.column_names == names
    assert joined.to_pylist() == [dict(zip(names, record, strict=True)) for record in records]


_JSON_KINDS: dict[str, st.SearchStrategy[Any]] = {
    "text": FIELD_TEXT,
    "int": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "bool": st.booleans(),
    "list": st.lists(FIELD_TEXT, max_size=3),
}


@st.composite
def _typed_json_lines(draw: st.DrawFn) -> tuple[bytes, list[dict[str, Any]]]:
    """JSON Lines whose keys each hold one kind of value or null, some keys missing from
    some lines; and the rows a table of them holds, keys in order of first appearance."""
    kinds = draw(
        st.dictionaries(FIELD_TEXT, st.sampled_from(sorted(_JSON_KINDS)), min_size=1, max_size=4)
    )
    values = {key: st.none() | _JSON_KINDS[kind] for key, kind in kinds.items()}
    docs = draw(st.lists(st.fixed_dictionaries({}, optional=values), min_size=1, max_size=25))
    # Objects without a key in the whole file make a table of no columns, which cannot
    # hold rows: an error (test_rows_without_columns_are_an_error_not_empty_chunks).
    assume(any(docs))
    text = "".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in docs)
    keys = list(dict.fromkeys(key for doc in docs for key in doc))
    rows = [{key: doc.get(key) for key in keys} for doc in docs]
    return (text[:-1] if draw(st.booleans()) else text).encode(), rows


@PROPERTY
@given(
    source=_typed_json_lines(),
    output_format=st.sampled_from(["parquet", "arrow"]),
    sizing=TEXT_SIZINGS,
    delivery=SLOT_DELIVERY,
)
def test_json_lines_converted_come_back_row_for_row(
    source: tuple[bytes, list[dict[str, Any]]],
    output_format: str,
    sizing: dict[str, int],
    delivery: tuple[str, bool],
) -> None:
    """Generated JSON Lines converted to Parquet or Arrow join back, with concat's
    defaults, to every line's values, a key missing from a line read as null."""
    data, rows = source
    params = {**sizing, "output_format": output_format}
    name = f"part.{output_format}"
    run = _run({"t.jsonl": data}, params, delivery, "", name)
    _check_chunks(run, name, len(rows))
    assert read_chunk(run.output[name]).to_pylist() == rows


@PROPERTY
@given(
    # JSON has no infinity: the conversion writes null for one (orjson's choice).
    table=arrow_tables(infinities=False),
    unit_rows=st.integers(1, 15),
    sizing=TABLE_SIZINGS,
    delivery=TEXT_DELIVERY,
)
def test_parquet_converted_to_json_lines_comes_back_row_for_row(
    table: pa.Table, unit_rows: int, sizing: dict[str, int], delivery: tuple[str, bool]
) -> None:
    """A Parquet table converted to JSON Lines joins back to one object per source row."""
    params = {**sizing, "output_format": "jsonl"}
    run = _run({"t.parquet": parquet_bytes(table, unit_rows)}, params, delivery, "", "part.jsonl")
    _check_chunks(run, "part.jsonl", table.num_rows)
    lines = run.output["part.jsonl"].splitlines()
    assert [orjson.loads(line) for line in lines] == table.to_pylist()


# -- under tiny blocks -----------------------------------------------------------------

# A block of a few bytes puts an edge in every field; a few hundred, one every few records.
_TINY = st.one_of(st.integers(1, 16), st.integers(17, 300))


@contextlib.contextmanager
def _tiny_blocks(scan: int, parity: int, record: int) -> Iterator[None]:
    """concat reads heads ``scan`` bytes at a time and counts quotes ``parity`` bytes at
    a time; ``row`` scans records ``record`` bytes at a time."""
    with (
        mock.patch.object(join, "_SCAN", scan),
        mock.patch.object(join, "_PARITY_BLOCK", parity),
        mock.patch.object(_records, "BLOCK", record),
    ):
        yield


@PROPERTY
@given(
    table=DELIMITED,
    sizing=TEXT_SIZINGS,
    delivery=TEXT_DELIVERY,
    scan=_TINY,
    parity=_TINY,
    record=_TINY,
)
def test_csv_tsv_come_back_byte_for_byte_under_tiny_blocks(
    table: tuple[str, tuple[bytes, int]],
    sizing: dict[str, int],
    delivery: tuple[str, bool],
    scan: int,
    parity: int,
    record: int,
) -> None:
    """Generated CSV/TSV, split by ``row`` and joined by concat, each reading in blocks
    of a few bytes, is the input byte for byte."""
    with _tiny_blocks(scan, parity, record):
        _check_delimited_round_trip(table, sizing, delivery, "")


@PROPERTY
@given(data=json_lines(), sizing=TEXT_SIZINGS, scan=_TINY, record=_TINY)
def test_json_lines_come_back_byte_for_byte_under_tiny_blocks(
    data: bytes, sizing: dict[str, int], scan: int, record: int
) -> None:
    """Generated JSON Lines, split by ``row`` and joined by concat, each reading in
    blocks of a few bytes, is the input byte for byte."""
    with _tiny_blocks(scan, 1, record):
        _check_json_lines_round_trip(data, sizing, ("footer", False), "")


def _open_quotes(data: bytes, start: int) -> list[int]:
    """The lengths ``n > start`` at which ``data[:n]`` ends inside a quoted field (an
    odd number of quotes in ``data[start:n]``), counted one byte at a time."""
    inside, lengths = False, []
    for n in range(start + 1, len(data) + 1):
        inside ^= data[n - 1] == ord('"')
        if inside:
            lengths.append(n)
    return lengths


@PROPERTY
@given(table=DELIMITED, sizing=TEXT_SIZINGS, record=_TINY, blocks=st.data())
def test_results_ending_inside_quotes_name_the_first_such_chunk_under_tiny_blocks(
    table: tuple[str, tuple[bytes, int]], sizing: dict[str, int], record: int, blocks: st.DataObject
) -> None:
    """Chunks of a generated CSV/TSV, some cut short inside a quoted field, make concat
    fail naming the first cut chunk, its size and its last quote, and write nothing,
    whatever the sizes of its head and parity blocks."""
    fmt, (data, header) = table
    with _tiny_blocks(1, 1, record):
        chunks = run_partitioner("row", {f"t.{fmt}": data}, {**sizing, "header": bool(header)})
    cuts = {i: lengths for i, c in enumerate(chunks) if (lengths := _open_quotes(c.data, header))}
    assume(cuts)
    cut = blocks.draw(st.sets(st.sampled_from(sorted(cuts)), min_size=1), label="cut chunks")
    parts = [c.data for c in chunks]
    for i in cut:
        parts[i] = parts[i][: blocks.draw(st.sampled_from(cuts[i]), label=f"chunk {i} length")]
    first = min(cut)
    opened = parts[first].rindex(b'"')
    results = {f"chunk-{i:06d}.part.{fmt}": part for i, part in enumerate(parts)}
    scan, parity = blocks.draw(_TINY, label="scan"), blocks.draw(_TINY, label="parity")
    with _tiny_blocks(scan, parity, record), tempfile.TemporaryDirectory() as tmp:
        message = failing_assembly(Path(tmp), "concat", results, header=bool(header))
    assert message == (
        f"chunk {first} byte {len(parts[first])}: unterminated quoted field (opened at byte "
        f"{opened}); if its quotes are plain characters, set quoting=false"
    )

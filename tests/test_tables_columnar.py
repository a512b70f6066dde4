"""The ``row`` partitioner on Parquet, Arrow IPC and ``.npy``; chunk metadata in format
slots; ``output_format`` conversions; bad columnar input."""

from __future__ import annotations

import io
import tempfile
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from _failing import failing_partition
from _tables import TABLE_SIZINGS, arrow_bytes, arrow_tables, npy_bytes, parquet_bytes, read_chunk
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bytenite_runtime import task
from bytenite_runtime.chunks import META_KEY, ChunkMeta, chunk_file_name, read_footer, read_slot
from bytenite_runtime.errors import DataError
from bytenite_runtime.settings import partitioner_environment
from bytenite_runtime.tables import _parquet, convert, npy, slots, thrift
from bytenite_runtime.tables.source import Sizing, has_slot
from bytenite_runtime.tables.spans import Unit, plan_cuts
from bytenite_runtime.task import entrypoint_for
from bytenite_runtime.testing import PartitionedChunk, run_app, run_partitioner

# -- helpers ---------------------------------------------------------------------------


def numbered(rows: int) -> pa.Table:
    return pa.table(
        {"id": pa.array(range(rows), pa.int64()), "name": [f"row {i}" for i in range(rows)]}
    )


def slot_meta(data: bytes) -> ChunkMeta | None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "data.bin"
        path.write_bytes(data)
        return read_slot(path)


def group_rows(data: bytes) -> list[int]:
    meta = pq.read_metadata(io.BytesIO(data))
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def row(files: Mapping[str, bytes], params: Mapping[str, Any]) -> list[PartitionedChunk]:
    return run_partitioner("row", files, params)


def fail(
    tmp_path: Path, files: Mapping[str, bytes], params: Mapping[str, Any]
) -> tuple[str, list[str]]:
    """Run ``row`` expecting a DataError; return its message and what CHUNKS_DIR holds."""
    source, chunks = tmp_path / "source", tmp_path / "chunks"
    source.mkdir()
    chunks.mkdir()
    for name, data in files.items():
        (source / name).write_bytes(data)
    env = partitioner_environment(source, chunks, params, None)
    with pytest.raises(DataError) as caught:
        entrypoint_for("partitioner", "row").invoke(env)
    return str(caught.value), sorted(p.name for p in chunks.iterdir())


def assert_contiguous(chunks: list[PartitionedChunk], metas: list[ChunkMeta]) -> None:
    assert [m.index for m in metas] == list(range(len(chunks)))
    assert all(m.count == len(chunks) for m in metas)
    starts: dict[str | None, int] = {}
    for chunk, meta in zip(chunks, metas, strict=True):
        first, last = meta.fields["rows"]
        assert first == starts.get(meta.source, 0) and last > first
        assert read_chunk(chunk.data).num_rows == last - first
        starts[meta.source] = last


# -- Parquet ---------------------------------------------------------------------------


def test_parquet_rows_per_chunk_packs_whole_row_groups() -> None:
    """rows_per_chunk at least a row group packs whole row groups, re-splitting none, and
    keeps the source's compression."""
    table = numbered(1000)
    chunks = row({"t.parquet": parquet_bytes(table, 100)}, {"rows_per_chunk": 250})
    assert [group_rows(c.data) for c in chunks] == [[100, 100]] * 5
    assert pq.read_metadata(io.BytesIO(chunks[0].data)).row_group(0).column(0).compression == "ZSTD"
    assert pa.concat_tables(read_chunk(c.data) for c in chunks).equals(table)


def test_parquet_splits_inside_a_row_group_only_when_asked() -> None:
    """rows_per_chunk below the row-group size slices each row group, never spanning two."""
    table = numbered(200)
    chunks = row({"t.parquet": parquet_bytes(table, 100)}, {"rows_per_chunk": 30})
    assert [group_rows(c.data) for c in chunks] == [[30], [30], [30], [10]] * 2
    assert pa.concat_tables(read_chunk(c.data) for c in chunks).equals(table)


def test_huge_row_groups_are_read_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row group above the in-memory limit is streamed in batches, sub-slices included."""
    monkeypatch.setattr(_parquet, "_WHOLE_GROUP_BYTES", 256)
    table = numbered(300)
    chunks = row({"t.parquet": parquet_bytes(table, 300)}, {"rows_per_chunk": 70})
    assert [read_chunk(c.data).num_rows for c in chunks] == [70, 70, 70, 70, 20]
    assert all(len(group_rows(c.data)) > 1 for c in chunks[:4])
    assert pa.concat_tables(read_chunk(c.data) for c in chunks).equals(table)


def test_parquet_num_chunks_groups_row_groups_when_there_are_enough() -> None:
    """num_chunks up to the row-group count gives exactly that many chunks of whole groups."""
    chunks = row({"t.parquet": parquet_bytes(numbered(1000), 100)}, {"num_chunks": 4})
    assert len(chunks) == 4
    assert all(set(group_rows(c.data)) == {100} for c in chunks)
    assert sum(read_chunk(c.data).num_rows for c in chunks) == 1000


def test_parquet_num_chunks_beyond_row_groups_is_met_exactly() -> None:
    """num_chunks above the row-group count meets the count exactly, slicing each row group
    into near-equal parts (2.5 parts per group on average: 3 parts for half, 2 for the rest)."""
    chunks = row({"t.parquet": parquet_bytes(numbered(1000), 100)}, {"num_chunks": 25})
    assert len(chunks) == 25
    assert all(len(group_rows(c.data)) == 1 for c in chunks)
    assert sorted({read_chunk(c.data).num_rows for c in chunks}) == [33, 34, 50]


def test_parquet_num_chunks_beyond_rows_gives_one_row_each() -> None:
    """Asking for more chunks than rows gives one chunk per row, never an empty one."""
    chunks = row({"t.parquet": parquet_bytes(numbered(5), 2)}, {"num_chunks": 9})
    assert [read_chunk(c.data).num_rows for c in chunks] == [1] * 5


def test_parquet_bytes_per_chunk_goes_by_compressed_size() -> None:
    """bytes_per_chunk packs row groups by their compressed size in the footer."""
    data = parquet_bytes(numbered(1000), 100)
    meta = pq.read_metadata(io.BytesIO(data))
    group = meta.row_group(0)
    packed = sum(group.column(j).total_compressed_size for j in range(group.num_columns))
    chunks = row({"t.parquet": data}, {"bytes_per_chunk": 3 * packed + packed // 2})
    assert [len(group_rows(c.data)) for c in chunks] == [3, 3, 3, 1]


def test_several_files_are_chunked_in_order_with_their_own_row_ranges() -> None:
    """Chunks run across files in path order; indices are global, row ranges per file."""
    files = {
        "b.parquet": parquet_bytes(numbered(30), 10),
        "a/x.arrow": arrow_bytes(numbered(20), 10),
    }
    chunks = row(files, {"rows_per_chunk": 10})
    metas = [slot_meta(c.data) for c in chunks]
    assert all(m is not None for m in metas)
    assert [(m.source, tuple(m.fields["rows"])) for m in metas if m] == [
        ("a/x.arrow", (0, 10)),
        ("a/x.arrow", (10, 20)),
        ("b.parquet", (0, 10)),
        ("b.parquet", (10, 20)),
        ("b.parquet", (20, 30)),
    ]
    assert_contiguous(chunks, [m for m in metas if m])


# -- Arrow -----------------------------------------------------------------------------


def test_arrow_file_is_split_along_record_batches() -> None:
    """An Arrow IPC file splits along whole record batches into Arrow IPC files."""
    table = numbered(500)
    chunks = row({"t.arrow": arrow_bytes(table, 50)}, {"rows_per_chunk": 120})
    batches = [pa.ipc.open_file(io.BytesIO(c.data)).num_record_batches for c in chunks]
    assert batches == [2, 2, 2, 2, 2]
    assert pa.concat_tables(read_chunk(c.data) for c in chunks).equals(table)


def test_arrow_batch_is_sliced_when_chunks_must_be_smaller() -> None:
    """A record batch larger than rows_per_chunk is sliced."""
    table = numbered(100)
    chunks = row({"t.feather": arrow_bytes(table, 100)}, {"rows_per_chunk": 40})
    assert [read_chunk(c.data).num_rows for c in chunks] == [40, 40, 20]
    assert pa.concat_tables(read_chunk(c.data) for c in chunks).equals(table)


def test_arrow_stream_source_gives_arrow_file_chunks() -> None:
    """An Arrow IPC stream is accepted; its chunks are IPC files carrying their metadata."""
    table = numbered(90)
    chunks = row({"t.arrow": arrow_bytes(table, 20, stream=True)}, {"num_chunks": 3})
    assert all(c.data.startswith(b"ARROW1") for c in chunks)
    assert pa.concat_tables(read_chunk(c.data) for c in chunks).equals(table)
    assert [m.index for c in chunks if (m := slot_meta(c.data))] == [0, 1, 2]


# -- .npy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "params", "shapes"),
    [
        (np.arange(10, dtype=np.int16), {"rows_per_chunk": 4}, [(4,), (4,), (2,)]),
        (np.arange(60.0).reshape(10, 6), {"num_chunks": 3}, [(4, 6), (3, 6), (3, 6)]),
        (np.arange(48, dtype=np.int32).reshape(6, 4, 2), {"bytes_per_chunk": 64}, [(2, 4, 2)] * 3),
        (np.asfortranarray(np.arange(60.0).reshape(10, 6)), {"num_chunks": 2}, [(5, 6)] * 2),
        (
            np.array([(1, 2.5), (3, 4.5)], dtype=[("a", "i4"), ("b", "f8")]),
            {"num_chunks": 2},
            [(1,)] * 2,
        ),
    ],
    ids=["1d-rows", "2d-chunks", "3d-bytes", "fortran", "structured"],
)
def test_npy_is_split_along_the_first_axis(
    array: np.ndarray[Any, Any], params: dict[str, int], shapes: list[tuple[int, ...]]
) -> None:
    """.npy chunks are C-ordered arrays of the same dtype whose concatenation is the source."""
    chunks = row({"x.npy": npy_bytes(array)}, params)
    parts = [np.load(io.BytesIO(c.data)) for c in chunks]
    assert [p.shape for p in parts] == shapes
    assert all(p.dtype == array.dtype and p.flags.c_contiguous for p in parts)
    assert np.array_equal(np.concatenate(parts), array)


def test_npy_is_split_through_a_memory_map(tmp_path: Path) -> None:
    """A 32 MiB array is planned and written with next to no heap memory (never loaded)."""
    path = tmp_path / "big.npy"
    mapped = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(4096, 1024))
    for start in range(0, 4096, 512):
        mapped[start : start + 512] = start
    mapped.flush()
    del mapped
    tracemalloc.start()
    try:
        pieces = npy.plan(path, "big.npy", Sizing(chunks=4))
        for i, piece in enumerate(pieces):
            with (tmp_path / f"part{i}.npy").open("wb") as out:
                piece.write(out, ChunkMeta(i))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20
    assert np.load(tmp_path / "part3.npy", mmap_mode="r")[0, 0] == 3072


def test_npy_chunk_with_footer_still_loads_with_plain_numpy(tmp_path: Path) -> None:
    """np.load ignores the metadata footer after a .npy chunk, so plain apps can read it."""
    source, chunks = tmp_path / "source", tmp_path / "chunks"
    source.mkdir()
    chunks.mkdir()
    (source / "x.npy").write_bytes(npy_bytes(np.arange(12).reshape(6, 2)))
    env = partitioner_environment(
        source, chunks, {"num_chunks": 2, "chunk_metadata": "footer"}, None
    )
    entrypoint_for("partitioner", "row").invoke(env)
    raw = chunks / chunk_file_name(1)
    meta, _ = read_footer(raw)
    assert meta is not None and meta.fields["rows"] == [3, 6]
    assert np.array_equal(np.load(raw), np.arange(6, 12).reshape(3, 2))


# -- metadata slots --------------------------------------------------------------------


def test_slots_give_back_chunk_metadata_for_parquet_and_arrow() -> None:
    """Parquet and Arrow chunks carry index, count, source and row range in their slot."""
    for name, data in [
        ("t.parquet", parquet_bytes(numbered(40), 10)),
        ("t.arrow", arrow_bytes(numbered(40), 10)),
    ]:
        chunks = row({name: data}, {"num_chunks": 2})
        # No footer: the slot carries it, and the testing helper reads it from there.
        assert [c.meta for c in chunks] == [slot_meta(c.data) for c in chunks]
        assert slot_meta(chunks[1].data) == ChunkMeta(
            1, 2, name, {"rows": [20, 40], "format": name[2:], "source_format": name[2:]}
        )


def test_slots_are_none_without_metadata_or_for_lookalikes(tmp_path: Path) -> None:
    """A plain Parquet/Arrow file, or one that only starts with the magic, has no metadata."""
    cases = {
        "plain.parquet": parquet_bytes(numbered(3), 3),
        "plain.arrow": arrow_bytes(numbered(3), 3),
        "fake.parquet": b"PAR1 but nothing else",
        "fake.arrow": b"ARROW1 but nothing else",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        reader = slots.read_parquet_meta if name.endswith("parquet") else slots.read_arrow_meta
        assert reader(tmp_path / name) is None, name


def test_slot_with_a_corrupt_value_is_a_data_error(tmp_path: Path) -> None:
    """A META_KEY value that is not chunk metadata is a DataError naming the file."""
    table = numbered(3).replace_schema_metadata({META_KEY: b"{not json"})
    path = tmp_path / "bad.parquet"
    pq.write_table(table, path)
    with pytest.raises(DataError, match=r"^bad\.parquet: metadata under 'bytenite\.chunk'"):
        slots.read_parquet_meta(path)


@task.app
def report(ctx: task.AppContext[Any]) -> None:
    rows = pq.read_table(ctx.chunk.path).num_rows
    ctx.results.write_json(
        "seen.json", {"index": ctx.chunk.index, "rows": ctx.chunk.fields["rows"], "n": rows}
    )


def test_app_takes_its_index_from_the_parquet_slot_without_chunk_number() -> None:
    """An app given a Parquet chunk and no CHUNK_NUMBER gets index and rows from the slot."""
    chunks = row({"t.parquet": parquet_bytes(numbered(90), 30)}, {"num_chunks": 3})
    run = run_app(report, chunks[2].data, chunk_number=None)
    assert run.raw_names == ("chunk-000002.seen.json",)
    assert orjson.loads(run.results["seen.json"]) == {"index": 2, "rows": [60, 90], "n": 30}


# -- properties ------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrow_tables(), st.integers(1, 15), st.sampled_from(["parquet", "arrow"]), TABLE_SIZINGS)
def test_partitioned_tables_concatenate_back_row_for_row(
    table: pa.Table, unit_rows: int, fmt: str, params: dict[str, int]
) -> None:
    """Any table, any layout, any sizing: the chunks concatenate back to the table, indices run
    from 0, no chunk is empty and row ranges are contiguous."""
    data = parquet_bytes(table, unit_rows) if fmt == "parquet" else arrow_bytes(table, unit_rows)
    chunks = row({f"t.{fmt}": data}, params)
    assert pa.concat_tables(read_chunk(c.data) for c in chunks).equals(table)
    metas = [slot_meta(c.data) for c in chunks]
    assert_contiguous(chunks, [m for m in metas if m is not None])
    if "num_chunks" in params:
        assert len(chunks) == min(params["num_chunks"], table.num_rows)


@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=12),
    st.sampled_from(["rows", "target_bytes", "chunks"]),
    st.integers(1, 80),
)
def test_cuts_cover_every_row_once_and_keep_units_whole_when_they_can(
    unit_rows: list[int], kind: str, amount: int
) -> None:
    """Planned cuts tile the rows, respect the sizing, and slice a unit only when needed."""
    units = [Unit(i, n, 10 * n) for i, n in enumerate(unit_rows)]
    cuts = plan_cuts(units, Sizing(**{kind: amount}))
    total = sum(unit_rows)
    bounds = [0] + [c.rows[1] for c in cuts]
    assert [c.rows[0] for c in cuts] == bounds[:-1]
    assert bounds[-1] == total
    assert all(c.rows[1] > c.rows[0] for c in cuts)
    sliced = any(s.stop - s.start < units[s.unit].rows for c in cuts for s in c.spans)
    biggest = max(unit_rows)
    if kind == "rows":
        assert all(c.rows[1] - c.rows[0] <= amount for c in cuts)
        assert sliced == (biggest > amount)
    if kind == "target_bytes":  # 10 bytes a row; a single row may exceed the target
        assert all(10 * (c.rows[1] - c.rows[0]) <= max(amount, 10) for c in cuts)
        assert sliced == any(10 * n > amount and n > 1 for n in unit_rows)
    if kind == "chunks":
        assert len(cuts) == min(amount, total)
        assert sliced == (min(amount, total) > sum(1 for n in unit_rows if n))


# -- conversions -----------------------------------------------------------------------


class TextPiece:
    """A stand-in for a delimited piece: writes fixed bytes."""

    embeds = False

    def __init__(self, data: bytes, rows: tuple[int, int]) -> None:
        self.data = data
        self.rows = rows

    def write(self, out: Any, meta: ChunkMeta) -> None:
        out.write(self.data)


def convert_piece(piece: Any, src: str, dst: str, *, header: bool = True) -> bytes:
    sink = io.BytesIO()
    meta = ChunkMeta(4, 9, "t." + src, {"rows": list(piece.rows)})
    table = convert.read_piece(piece, meta, src, dst, header=header)
    convert.Converted(table, piece.rows, meta, src, dst, header=header).write(sink)
    return sink.getvalue()


def test_csv_converts_to_parquet_with_metadata_in_the_slot() -> None:
    """CSV (quoted newline, header) becomes Parquet with text columns and the chunk's metadata."""
    data = convert_piece(TextPiece(b'id,text\n1,"a\nb"\n2,\xc3\xbc\n', (0, 2)), "csv", "parquet")
    assert pq.read_table(io.BytesIO(data)).to_pylist() == [
        {"id": "1", "text": "a\nb"},
        {"id": "2", "text": "ü"},
    ]
    assert slot_meta(data) == ChunkMeta(4, 9, "t.csv", {"rows": [0, 2]})
    assert has_slot("parquet") and has_slot("arrow") and not has_slot("csv")


def test_headerless_tsv_gets_generated_names_and_stays_headerless() -> None:
    """A TSV without header gets columns f0, f1… and converts to CSV without a header."""
    piece = TextPiece(b"1\tx\n2\ty\n", (0, 2))
    assert pq.read_table(
        io.BytesIO(convert_piece(piece, "tsv", "parquet", header=False))
    ).column_names == ["f0", "f1"]
    assert convert_piece(piece, "tsv", "csv", header=False) == b'"1","x"\n"2","y"\n'


def test_parquet_converts_to_csv_and_jsonl() -> None:
    """Parquet chunks convert to CSV (header, quoting) and to one JSON object per line."""
    table = pa.table({"n": [1, None], "s": ["a,b", "名"]})
    files = {"t.parquet": parquet_bytes(table, 1)}
    csv_chunks = row(files, {"rows_per_chunk": 2, "output_format": "csv"})
    assert pacsv.read_csv(io.BytesIO(csv_chunks[0].data)).to_pylist() == table.to_pylist()
    jsonl = row(files, {"num_chunks": 1, "output_format": "jsonl", "chunk_metadata": "footer"})
    assert [orjson.loads(line) for line in jsonl[0].data.splitlines()] == table.to_pylist()
    assert jsonl[0].meta is not None and jsonl[0].meta.fields["format"] == "jsonl"


@pytest.mark.parametrize("output_format", ["csv", "tsv"])
def test_nested_column_converted_to_csv_is_an_error_naming_the_column(
    tmp_path: Path, output_format: str
) -> None:
    """A Parquet column of structs or lists converted to CSV/TSV fails naming the column
    and its type, and the formats that hold it, not pyarrow's bare 'Unsupported Type'."""
    table = pa.table({"id": [1, 2], "s": [{"x": 1}, {"x": 2}]})
    message, left = fail(
        tmp_path, {"t.parquet": parquet_bytes(table, 1)},
        {"rows_per_chunk": 1, "output_format": output_format},
    )  # fmt: skip
    assert left == []
    assert message == (
        f"t.parquet rows 0-1: cannot convert parquet to {output_format} (column 's' is "
        f"struct<x: int64>, which a {output_format.upper()} field cannot hold; convert to "
        "jsonl, parquet or arrow instead)"
    )


def test_npy_converts_to_parquet_columns() -> None:
    """1-D arrays become a 'value' column, 2-D arrays columns c0..cN."""
    one = row({"x.npy": npy_bytes(np.arange(4))}, {"num_chunks": 2, "output_format": "parquet"})
    assert read_chunk(one[1].data).to_pydict() == {"value": [2, 3]}
    two = row(
        {"x.npy": npy_bytes(np.arange(6.0).reshape(3, 2))},
        {"num_chunks": 1, "output_format": "arrow"},
    )
    assert read_chunk(two[0].data).to_pydict() == {"c0": [0.0, 2.0, 4.0], "c1": [1.0, 3.0, 5.0]}
    assert slot_meta(two[0].data) is not None


def test_csv_source_converts_end_to_end() -> None:
    """A CSV source partitioned with output_format=parquet gives Parquet chunks of text
    columns, or of the types pyarrow guesses with infer_types."""
    data = b"a,b\n1,x\n2,y\n3,z\n"
    chunks = row({"t.csv": data}, {"num_chunks": 2, "output_format": "parquet"})
    assert pa.concat_tables(read_chunk(c.data) for c in chunks).to_pydict() == {
        "a": ["1", "2", "3"],
        "b": ["x", "y", "z"],
    }
    guessed = row(
        {"t.csv": data}, {"num_chunks": 2, "output_format": "parquet", "infer_types": True}
    )
    assert pa.concat_tables(read_chunk(c.data) for c in guessed).to_pydict()["a"] == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "value", "rounded"),
    [
        (b"a,b\n1,x\n9223372036854775808,y\n", 9223372036854775808, "9.223372036854776e+18"),
        (b"a,b\n9007199254740993,x\n1.5,y\n", 9007199254740993, "9007199254740992.0"),
        (b"a,b\n1.5,x\n" + b"9" * 400 + b",y\n", int("9" * 400), "inf"),
    ],
    ids=["past-64-bits", "past-2-53-among-fractions", "past-any-float"],
)
def test_infer_types_never_rounds_an_integer_to_a_float(
    tmp_path: Path, data: bytes, value: int, rounded: str
) -> None:
    """An integer that infer_types would read as a float that rounds it (one past 64 bits,
    or past 2**53 in a column with fractions) is an error naming the file, the rows and
    the column, while one a column of integers holds exactly converts as written."""
    exact = row(
        {"t.csv": b"a\n9007199254740993\n1\n"},
        {"num_chunks": 1, "output_format": "parquet", "infer_types": True},
    )
    assert read_chunk(exact[0].data).column("a").to_pylist() == [9007199254740993, 1]
    params = {"num_chunks": 1, "output_format": "parquet", "infer_types": True}
    message, left = fail(tmp_path, {"t.csv": data}, params)
    assert message == (
        f"t.csv rows 0-2: cannot convert csv to parquet (column 'a' holds the integer {value}, "
        f"which infer_types reads as the float {rounded}; leave infer_types off to keep every "
        "field as written)"
    )
    assert left == []


def test_a_last_chunk_of_one_empty_quoted_field_without_newline_converts() -> None:
    """A headerless chunk holding only '""' and no final newline (one record of one empty
    field) converts to that one record, not to pyarrow's "empty CSV file" error."""
    chunks = row(
        {"t.csv": b'x\n""'}, {"header": False, "rows_per_chunk": 1, "output_format": "parquet"}
    )
    assert [read_chunk(c.data).to_pylist() for c in chunks] == [[{"f0": "x"}], [{"f0": ""}]]


@pytest.mark.parametrize(
    ("name", "data"),
    [("t.jsonl", b"{}\n{}\n{}\n"), ("x.npy", npy_bytes(np.zeros((3, 0))))],
    ids=["jsonl-no-keys", "npy-no-columns"],
)
@pytest.mark.parametrize("output_format", ["parquet", "arrow", "csv"])
def test_rows_without_columns_are_an_error_not_empty_chunks(
    tmp_path: Path, name: str, data: bytes, output_format: str
) -> None:
    """JSON Lines whose objects have no keys, or an (n, 0) array, cannot become a table:
    a one-line error naming the rows, never chunks that silently hold no rows."""
    message, left = fail(tmp_path, {name: data}, {"num_chunks": 1, "output_format": output_format})
    fmt = name.rsplit(".", 1)[1]
    assert message == (
        f"{name} rows 0-3: cannot convert {fmt} to {output_format} (its rows have no "
        "columns, and a table without columns holds no rows)"
    )
    assert left == []


def test_converted_csv_chunks_keep_every_field_as_written_and_join() -> None:
    """Zip codes with leading zeros, 'NA' (Namibia) and empty fields survive conversion as
    written, and every chunk has the same schema, so the Parquet chunks join back."""
    data = b"zip,country,note\n01234,NA,\nSW1A 1AA,DE,x\n+4915,NA,\n"
    chunks = row({"t.csv": data}, {"rows_per_chunk": 1, "output_format": "parquet"})
    tables = [read_chunk(c.data) for c in chunks]
    assert all(t.schema.equals(tables[0].schema, check_metadata=False) for t in tables)
    assert pa.concat_tables(t.replace_schema_metadata() for t in tables).to_pylist() == [
        {"zip": "01234", "country": "NA", "note": ""},
        {"zip": "SW1A 1AA", "country": "DE", "note": "x"},
        {"zip": "+4915", "country": "NA", "note": ""},
    ]


def test_unconvertible_chunk_is_a_data_error_naming_rows(tmp_path: Path) -> None:
    """A 3-D array cannot become a table: one line naming the file, rows and formats."""
    message, left = fail(
        tmp_path,
        {"x.npy": npy_bytes(np.zeros((4, 2, 2)))},
        {"num_chunks": 2, "output_format": "csv"},
    )
    assert message.startswith("x.npy rows 0-2: cannot convert npy to csv (only 1-D and 2-D arrays")
    assert left == []


# -- bad input -------------------------------------------------------------------------

_PARQUET = parquet_bytes(numbered(400), 100)
_ARROW = arrow_bytes(numbered(400), 100)
_NPY = npy_bytes(np.arange(100.0))


def _corrupt_row_group(data: bytes, group: int) -> bytes:
    column = pq.read_metadata(io.BytesIO(data)).row_group(group).column(1)
    bad = bytearray(data)
    for i in range(column.data_page_offset, column.data_page_offset + 40):
        bad[i] ^= 0x5A
    return bytes(bad)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (
            "t.parquet",
            _PARQUET[: len(_PARQUET) // 2],
            "t.parquet: truncated or not a Parquet file (Parquet magic",
        ),
        ("t.parquet", b"", "t.parquet: truncated or not a Parquet file"),
        ("t.parquet", _corrupt_row_group(_PARQUET, 2), "t.parquet row group 2: cannot be decoded"),
        ("t.parquet", parquet_bytes(numbered(0), 10), "t.parquet: no rows"),
        ("t.arrow", _ARROW[:-40], "t.arrow: truncated or not an Arrow IPC file"),
        ("t.arrow", b"plain text, not arrow", "t.arrow: not an Arrow IPC file; its bytes"),
        ("t.feather", b"FEA1" + bytes(64), "t.feather: Feather v1 is not supported"),
        ("t.arrow", arrow_bytes(numbered(0), 10), "t.arrow: no rows"),
        (
            "x.npy",
            _NPY[:-12],
            f"x.npy byte {len(_NPY) - 12}: truncated .npy (the header promises {len(_NPY)} bytes)",
        ),
        ("x.npy", _NPY[:40], "x.npy: corrupt .npy header"),
        ("x.npy", b"not numpy", "x.npy: not a .npy file"),
        ("x.npy", npy_bytes(np.zeros((0, 3))), "x.npy: no rows"),
        ("x.npy", npy_bytes(np.float64(1)), "x.npy: a 0-d array has no rows to split"),
    ],
    ids=[
        "parquet-truncated",
        "parquet-empty-file",
        "parquet-corrupt-row-group",
        "parquet-no-rows",
        "arrow-truncated",
        "arrow-not-arrow",
        "feather-v1",
        "arrow-no-rows",
        "npy-truncated",
        "npy-corrupt-header",
        "npy-bad-magic",
        "npy-no-rows",
        "npy-0d",
    ],
)
def test_bad_columnar_input_is_one_line_and_leaves_no_chunks(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    """Bad Parquet, Arrow or .npy input fails with a one-line DataError naming the file and
    place, and CHUNKS_DIR is left empty even when earlier chunks were already written."""
    message, left = fail(tmp_path, {name: data}, {"num_chunks": 4})
    assert message.startswith(expected)
    assert "\n" not in message
    assert left == []


def _lying_footer(data: bytes, group: int | None, rows: int) -> bytes:
    """``data`` with its footer's row count (of one row group, or the file's) set to ``rows``."""
    size = int.from_bytes(data[-8:-4], "little")
    footer, _ = thrift.decode(data[-8 - size : -8])
    if group is None:
        footer.set(3, thrift.I64, rows)
    else:
        groups = footer.get_list(4)
        assert groups is not None
        cast(thrift.Struct, groups.items[group]).set(3, thrift.I64, rows)
    encoded = thrift.encode(footer)
    return data[: -8 - size] + encoded + len(encoded).to_bytes(4, "little") + b"PAR1"


@pytest.mark.parametrize("output_format", ["same", "csv"])
@pytest.mark.parametrize(
    ("group", "rows", "expected"),
    [
        (
            2,
            101,
            "t.parquet row group 2: its footer says 101 rows, but column 'id' holds 100 values",
        ),
        (None, 401, "t.parquet: its footer says 401 rows, but its row groups hold 400"),
    ],
    ids=["row-group", "file"],
)
def test_a_footer_lying_about_row_counts_is_refused_before_any_chunk(
    tmp_path: Path, group: int | None, rows: int, expected: str, output_format: str
) -> None:
    """A Parquet footer whose row counts disagree with its columns' value counts is damage
    named by row group, not a chunk cut to hold rows the file lacks."""
    data = _lying_footer(_PARQUET, group, rows)
    message, left = fail(
        tmp_path, {"t.parquet": data}, {"num_chunks": 4, "output_format": output_format}
    )
    assert message.startswith(expected)
    assert left == []


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("x.arrow", _PARQUET, "x.arrow: not an Arrow IPC file; its bytes look like Parquet"),
        ("x.feather", b"a,b\n1,2\n", "x.feather: not an Arrow IPC file; its bytes look like text (CSV?)"),  # noqa: E501
        ("x.parquet", b"a,b\n1,2\n", "x.parquet: not a Parquet file; its bytes look like text (CSV?)"),  # noqa: E501
        ("x.parquet", _ARROW, "x.parquet: not a Parquet file; its bytes look like Arrow IPC"),
        ("x.parquet", _NPY, "x.parquet: not a Parquet file; its bytes look like a NumPy .npy array"),  # noqa: E501
        ("x.npy", _PARQUET, "x.npy: not a .npy file; its bytes look like Parquet"),
        ("x.npy", b'{"a": 1}\n', "x.npy: not a .npy file; its bytes look like text (JSON Lines?)"),
        ("x.npy", b"PK\x03\x04" + bytes(40), "x.npy: not a .npy file; its bytes look like a ZIP archive (an .npz?)"),  # noqa: E501
    ],
)  # fmt: skip
def test_other_bytes_under_a_binary_table_name_say_what_they_look_like(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    """A Parquet, Arrow IPC or .npy name over another format's bytes is one line saying
    what the bytes look like, not pyarrow's or numpy's wording about metadata lengths."""
    message, left = fail(tmp_path, {name: data}, {"num_chunks": 2})
    assert message == expected
    assert left == []


def test_npy_source_with_bytes_after_its_data_names_the_byte_where_they_start(
    tmp_path: Path,
) -> None:
    """A .npy source longer than its header and data (rows appended that its header does
    not count) is an error naming the byte where the unexpected bytes start, not split
    as if they were not there."""
    shown = npy_bytes(np.arange(90.0))
    message, left = fail(tmp_path, {"x.npy": shown + np.arange(90.0, 100.0).tobytes()}, {})
    assert message == (
        f"x.npy byte {len(shown)}: 80 unexpected bytes after the .npy data (the header "
        f"promises {len(shown)} bytes, the file has {len(shown) + 80})"
    )
    assert left == []


def test_object_npy_is_rejected(tmp_path: Path) -> None:
    """An object-dtype .npy cannot be memory-mapped, so it is refused with a clear reason."""
    sink = io.BytesIO()
    np.save(sink, np.array([1, "a"], dtype=object), allow_pickle=True)
    message, left = fail(tmp_path, {"x.npy": sink.getvalue()}, {"num_chunks": 2})
    assert message == "x.npy: object arrays cannot be memory-mapped or split; save a plain dtype"
    assert left == []


@pytest.mark.parametrize("output_format", ["same", "arrow"])
def test_chunk_metadata_off_leaves_the_slot_empty(output_format: str) -> None:
    """With chunk_metadata 'off' a Parquet (or converted Arrow) chunk carries no metadata."""
    table = pa.table({"x": list(range(10))})
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=5)
    params = {"rows_per_chunk": 5, "chunk_metadata": "off", "output_format": output_format}
    chunks = row({"t.parquet": sink.getvalue()}, params)
    assert len(chunks) == 2
    assert all(slot_meta(c.data) is None and c.meta is None for c in chunks)
    assert pa.concat_tables(read_chunk(c.data) for c in chunks).equals(table)


# -- real-world files ------------------------------------------------------------------


@pytest.mark.parametrize("compression", ["none", {"id": "snappy", "name": "none"}])
def test_uncompressed_parquet_is_cut_inside_row_groups(compression: Any) -> None:
    """An uncompressed Parquet file (polars' 'uncompressed', or one column so) is cut
    inside its row groups, re-encoded with the same codecs."""
    table = numbered(10)
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=5, compression=compression)
    chunks = row({"t.parquet": sink.getvalue()}, {"num_chunks": 3})
    assert pa.concat_tables([read_chunk(c.data) for c in chunks]).equals(table)
    codecs = {
        pq.read_metadata(io.BytesIO(c.data)).row_group(0).column(1).compression for c in chunks
    }
    assert codecs == {"UNCOMPRESSED"}


def test_a_stream_that_replaces_its_dictionary_is_cut_into_arrow_files() -> None:
    """An IPC stream may replace a column's dictionary between batches, which a file cannot
    hold: a chunk spanning the replacement gets one growing dictionary, values intact."""
    first = pa.table({"c": pa.array(["x", "y"]).dictionary_encode()})
    second = pa.table({"c": pa.array(["z", "x", None]).dictionary_encode()})
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, first.schema) as writer:
        writer.write_table(first)
        writer.write_table(second)
    for params in ({"num_chunks": 1}, {"num_chunks": 1, "output_format": "parquet"}):
        (chunk,) = row({"t.arrow": sink.getvalue()}, params)
        column = read_chunk(chunk.data).column("c")
        assert column.to_pylist() == ["x", "y", "z", "x", None]
        assert pa.types.is_dictionary(column.type)


def test_nanosecond_times_convert_to_json_lines_with_every_digit() -> None:
    """Nanosecond timestamps (pandas writes them), times and durations become ISO 8601
    text with all nine digits and seconds, never a failure or a silent truncation."""
    table = pa.table(
        {
            "ts": pa.array([1704110400123456789, None], pa.timestamp("ns")),
            "tz": pa.array([1704110400123456789, 0], pa.timestamp("ns", tz="Europe/Berlin")),
            "t": pa.array([45296123456789, 0], pa.time64("ns")),
            "d": pa.array([1500000000, 1], pa.duration("ns")),
        }
    )
    (chunk,) = row({"t.parquet": parquet_bytes(table, 10)}, {"output_format": "jsonl"})
    assert [orjson.loads(line) for line in chunk.data.splitlines()] == [
        {
            "ts": "2024-01-01T12:00:00.123456789",
            "tz": "2024-01-01T13:00:00.123456789+01:00",
            "t": "12:34:56.123456789",
            "d": 1.5,
        },
        {
            "ts": None,
            "tz": "1970-01-01T01:00:00.000000000+01:00",
            "t": "00:00:00.000000000",
            "d": 1e-9,
        },
    ]


@pytest.mark.parametrize(
    ("header", "twice"), [(b"a,a,b", "'a'"), (b'a,"a",b', "'a'"), (b"a,,", "''")]
)
@pytest.mark.parametrize("output_format", ["parquet", "arrow", "jsonl", "tsv"])
def test_a_duplicate_column_name_is_refused_before_any_chunk(
    tmp_path: Path, header: bytes, twice: str, output_format: str
) -> None:
    """A CSV header naming a column twice (or two unnamed columns) fails up front for any
    conversion, naming the file and the column, instead of writing unreadable Parquet."""
    data = header + b"\n1,2,3\n4,5,6\n"
    message = failing_partition(
        tmp_path, "row", {"t.csv": data}, output_format=output_format, rows_per_chunk=1
    )
    assert message == (
        f"t.csv: column {twice} appears twice in the header; columns need distinct names "
        f"to convert to {output_format}"
    )


def test_a_big_endian_npy_converts_and_an_arrows_stream_is_recognised() -> None:
    """A big-endian .npy converts to Parquet with its values, and a .arrows file (the IPC
    stream's usual extension) is taken for Arrow without a format param."""
    big = np.arange(4, dtype=">i4")
    (chunk,) = row({"x.npy": npy_bytes(big)}, {"num_chunks": 1, "output_format": "parquet"})
    assert read_chunk(chunk.data).to_pydict() == {"value": [0, 1, 2, 3]}
    chunks = row({"t.arrows": arrow_bytes(numbered(6), 2, stream=True)}, {"num_chunks": 3})
    assert pa.concat_tables(read_chunk(c.data) for c in chunks).equals(numbered(6))


@pytest.mark.parametrize("output_format", ["parquet", "jsonl"])
def test_npy_text_with_a_nul_inside_converts_with_every_character(output_format: str) -> None:
    """.npy text (bytes and str, in a 1-D array, a 2-D array's columns or a structured
    field) holding a NUL before other characters converts whole, as numpy holds it, not
    cut at the NUL as pyarrow alone does."""
    raw = np.array([[b"a\x00b", b"x"], [b"c\x00", b"\x00d"]], dtype="S3")
    text = np.array([(1, "y\x00z"), (2, "\x00q")], dtype=[("i", "<i4"), ("s", ">U3")])
    params = {"num_chunks": 1, "output_format": output_format}
    (raw_chunk,) = row({"x.npy": npy_bytes(raw)}, params)
    (text_chunk,) = row({"y.npy": npy_bytes(text)}, params)
    if output_format == "jsonl":
        assert [orjson.loads(line) for line in raw_chunk.data.splitlines()] == [
            {"c0": "YQBi", "c1": "eA=="},
            {"c0": "Yw==", "c1": "AGQ="},
        ]
        assert text_chunk.data == b'{"i":1,"s":"y\\u0000z"}\n{"i":2,"s":"\\u0000q"}\n'
        return
    assert read_chunk(raw_chunk.data).to_pydict() == {
        "c0": [b"a\x00b", b"c"],
        "c1": [b"x", b"\x00d"],
    }
    assert read_chunk(text_chunk.data).to_pydict() == {"i": [1, 2], "s": ["y\x00z", "\x00q"]}


def test_nan_and_infinities_written_to_json_lines_are_null_with_a_warning_per_column(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Parquet floats holding NaN or an infinity become null in JSON Lines chunks (JSON has
    neither), and a warning names each such column of the file once, not once a chunk."""
    table = pa.table(
        {
            "x": pa.array([1.5, float("nan"), float("inf"), None, -float("inf"), 2.0]),
            "y": pa.array([0.5] * 6),
            "z": pa.array([1.0, 2.0, 3.0, 4.0, 5.0, float("nan")], pa.float32()),
        }
    )
    chunks = row(
        {"t.parquet": parquet_bytes(table, 2)}, {"num_chunks": 3, "output_format": "jsonl"}
    )
    lines = [orjson.loads(line) for c in chunks for line in c.data.splitlines()]
    assert [line["x"] for line in lines] == [1.5, None, None, None, None, 2.0]
    assert lines[-1]["z"] is None
    err = capsys.readouterr().err
    for column in ("x", "z"):
        warning = f"t.parquet: column '{column}' holds NaN or an infinity, which JSON has no way"
        assert err.count(warning) == 1
    assert "column 'y'" not in err

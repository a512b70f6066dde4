"""The ``concat`` assembler joining tables: CSV/TSV, JSON Lines, Parquet, Arrow IPC, ``.npy``."""

from __future__ import annotations

import contextlib
import io
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from _failing import failing_assembly, failing_partition
from _tables import arrow_bytes, npy_bytes

from bytenite_runtime import DataError
from bytenite_runtime.chunks import META_KEY, ChunkMeta
from bytenite_runtime.settings import assembler_environment
from bytenite_runtime.tables import join
from bytenite_runtime.task import entrypoint_for
from bytenite_runtime.testing import run_assembler, run_partitioner

_FOOTER = {"chunk_metadata": "footer"}


def _names(parts: list[bytes], name: str = "out.csv") -> dict[str, bytes]:
    return {f"chunk-{i:06d}.{name}": part for i, part in enumerate(parts)}


def _parquet(table: pa.Table, meta: ChunkMeta | None = None, **options: Any) -> bytes:
    """``table`` as Parquet, ``meta`` (if any) in its schema metadata as chunks carry it,
    written with pyarrow's defaults (one row group, snappy) unless ``options`` say
    otherwise; ``_tables.parquet_bytes`` sets both and carries no metadata."""
    if meta is not None:
        metadata = {**(table.schema.metadata or {}), META_KEY: meta.to_json()}
        table = table.replace_schema_metadata(metadata)
    sink = io.BytesIO()
    pq.write_table(table, sink, **options)
    return sink.getvalue()


def _rows(meta_rows: list[tuple[int, int]], tables: list[pa.Table]) -> dict[str, bytes]:
    count = len(tables)
    return {
        f"chunk-{i:06d}.out.parquet": _parquet(t, ChunkMeta(i, count, "src", {"rows": [a, b]}))
        for i, ((a, b), t) in enumerate(zip(meta_rows, tables, strict=True))
    }


# -- CSV / TSV ---------------------------------------------------------------------------


def test_csv_header_is_written_once() -> None:
    """Every chunk's header is dropped but the first's; bodies follow in chunk order."""
    parts = [b"id,name\n1,a\n", b"id,name\n2,b\n3,c\n", b"id,name\n", b"id,name\n4,d\n"]
    assert run_assembler("concat", _names(parts)) == {"out.csv": b"id,name\n1,a\n2,b\n3,c\n4,d\n"}


def test_csv_bom_is_kept_once_and_ignored_when_comparing_headers() -> None:
    """The first chunk's BOM is kept; a later chunk's BOM is dropped, its header still matches."""
    bom = b"\xef\xbb\xbf"
    parts = [bom + b"a,b\r\n1,2\r\n", bom + b"a,b\r\n3,4\r\n", b"a,b\r\n5,6\r\n"]
    output = run_assembler("concat", _names(parts))["out.csv"]
    assert output == bom + b"a,b\r\n1,2\r\n3,4\r\n5,6\r\n"


def test_csv_header_with_quoted_newlines() -> None:
    """A header whose quoted fields hold CR, LF and delimiters ends at its real terminator."""
    header = b'"first\nname","x,\r\ny",z\r\n'
    parts = [header + b'1,"a\nb",c\r\n', header + b"2,d,e\r\n"]
    output = run_assembler("concat", _names(parts))["out.csv"]
    assert output == header + b'1,"a\nb",c\r\n2,d,e\r\n'


def test_csv_header_longer_than_one_read_block() -> None:
    """A header far larger than the scan block is still found whole, CRLF split or not."""
    header = b",".join(b'"col\n%d"' % i for i in range(20_000)) + b"\r\n"
    parts = [header + b"1\r\n", header + b"2\r\n"]
    assert run_assembler("concat", _names(parts))["out.csv"] == header + b"1\r\n2\r\n"


def test_csv_header_mismatch_names_the_chunk() -> None:
    """A chunk whose header differs from the first is a DataError naming both chunks."""
    parts = [b"id,name\n1,a\n", b"id,name\n2,b\n", b"id,nmae\n3,c\n"]
    with pytest.raises(DataError) as exc:
        run_assembler("concat", _names(parts))
    assert str(exc.value) == "chunk 2: header differs from chunk 0's ('id,nmae' vs 'id,name')"


def test_csv_header_with_an_unterminated_quote_names_the_chunk() -> None:
    """A header whose quoted field never closes is a DataError naming the chunk."""
    parts = [b"a,b\n1,2\n", b'a,"b\n1,2\n']
    with pytest.raises(DataError) as exc:
        run_assembler("concat", _names(parts))
    assert str(exc.value) == "chunk 1: the first record has an unterminated quoted field"


def test_csv_result_ending_inside_a_quoted_field_names_the_chunk(tmp_path: Path) -> None:
    """A result whose last quoted field never closes fails naming the chunk and byte, and
    writes nothing, instead of swallowing the next chunk's rows into that field."""
    parts = [b'a,b\n1,"2', b"a,b\n3,4\n"]
    assert failing_assembly(tmp_path, "concat", _names(parts)) == (
        "chunk 0 byte 8: unterminated quoted field (opened at byte 6); if its quotes are "
        "plain characters, set quoting=false"
    )


def test_csv_quoting_false_joins_results_with_bare_quotes() -> None:
    """With quoting=false a result's odd quote is a plain character and the bytes join."""
    parts = [b"a,b\n1,5'11\"\n", b"a,b\n3,4\n"]
    out = run_assembler("concat", _names(parts), {"quoting": False})
    assert out["out.csv"] == b"a,b\n1,5'11\"\n3,4\n"


def test_csv_utf16_result_is_named_as_utf16(tmp_path: Path) -> None:
    """A UTF-16 result is reported as UTF-16 with a conversion hint, not as a header mismatch."""
    parts = [b"a,b\n1,2\n", "a,b\n3,4\n".encode("utf-16")]
    assert failing_assembly(tmp_path, "concat", _names(parts)) == (
        "chunk 1 byte 0: not valid UTF-8, it looks like UTF-16 (byte order mark FF FE); "
        "convert it to UTF-8 first (e.g. iconv -f UTF-16 -t UTF-8)"
    )


_OWN = {
    "t.arrow": arrow_bytes(pa.table({"a": [1, 2]}), 2),
    "t.parquet": _parquet(pa.table({"a": [1, 2]})),
    "t.npy": npy_bytes(np.arange(3)),
}


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("t.arrow", b"a,b\n1,2\n", "chunk 0: not an Arrow IPC file; its bytes look like text (CSV?)"),  # noqa: E501
        ("t.parquet", b"a\tb\n1\t2\n", "chunk 0: not a Parquet file; its bytes look like text (TSV?)"),  # noqa: E501
        ("t.npy", _OWN["t.parquet"], "chunk 0: not a .npy file; its bytes look like Parquet"),
    ],
    ids=["csv-as-arrow", "tsv-as-parquet", "parquet-as-npy"],
)  # fmt: skip
def test_other_bytes_under_a_binary_result_name_say_what_they_look_like(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    """A Parquet, Arrow IPC or .npy result holding another format's bytes fails naming
    its chunk and what the bytes look like, in one line."""
    parts = {f"chunk-000000.{name}": data, f"chunk-000001.{name}": _OWN[name]}
    assert failing_assembly(tmp_path, "concat", parts) == expected


@pytest.mark.parametrize("name", ["t.csv", "t.jsonl"])
def test_a_binary_result_under_a_text_name_says_what_it_looks_like(
    tmp_path: Path, name: str
) -> None:
    """Parquet bytes in a .csv or .jsonl result fail naming the chunk and the format to
    set, as the row partitioner does, instead of being joined as text."""
    fmt = "CSV" if name == "t.csv" else "JSONL"
    parts = {f"chunk-000000.{name}": b"a\n1\n", f"chunk-000001.{name}": _OWN["t.parquet"]}
    assert failing_assembly(tmp_path, "concat", parts) == (
        f'chunk 1: looks like Parquet (starts with PAR1), not {fmt}; set "format": "parquet" '
        "or rename it"
    )


def test_csv_empty_results_are_skipped() -> None:
    """A result with no bytes, or only a BOM, adds nothing and is not a header mismatch."""
    parts = [b"", b"a\n1\n", b"\xef\xbb\xbf", b"\xef\xbb\xbfa\n2"]
    assert run_assembler("concat", _names(parts)) == {"out.csv": b"a\n1\n2"}


def test_csv_missing_trailing_newline_is_inserted_only_between_records() -> None:
    """A chunk ending mid-line gets the file's newline before more records, never at the end."""
    parts = [b"a,b\r\n1,2", b"a,b\r\n", b"a,b\r\n3,4\r\n5,6"]
    assert run_assembler("concat", _names(parts))["out.csv"] == b"a,b\r\n1,2\r\n3,4\r\n5,6"


def test_csv_header_only_chunk_without_newline() -> None:
    """A first chunk holding only a header without newline still yields separate records."""
    parts = [b"a,b", b"a,b\n1,2\n"]
    assert run_assembler("concat", _names(parts))["out.csv"] == b"a,b\n1,2\n"


def test_csv_without_header_is_joined_as_records() -> None:
    """header=false joins bodies as they are, only adding a newline where records would merge."""
    parts = [b"1,2\n3,4", b"5,6\n", b"7,8"]
    output = run_assembler("concat", _names(parts), {"header": False})
    assert output == {"out.csv": b"1,2\n3,4\n5,6\n7,8"}


def test_tsv_header_once() -> None:
    """TSV (.tsv and .tab) is joined like CSV: one header, then every body."""
    parts = [b"a\tb\n1\t2\n", b"a\tb\n3\t4\n"]
    for name in ("t.tsv", "t.tab"):
        assert run_assembler("concat", _names(parts, name)) == {name: b"a\tb\n1\t2\n3\t4\n"}


# -- CSV / TSV / JSON Lines read in tiny blocks ------------------------------------------

_BOM = b"\xef\xbb\xbf"


@contextlib.contextmanager
def _join_blocks_of(size: int) -> Iterator[None]:
    """concat reads heads and counts quotes ``size`` bytes at a time."""
    with mock.patch.object(join, "_SCAN", size), mock.patch.object(join, "_PARITY_BLOCK", size):
        yield


def _misjoined(
    parts: list[bytes], expected: bytes | str, name: str = "out.csv", **params: Any
) -> dict[int, bytes | str]:
    """The block sizes, from 1 byte to one past the largest part, at which concat's
    outcome (the output's bytes, or a DataError's message) is not ``expected``."""
    wrong: dict[int, bytes | str] = {}
    for size in range(1, max(map(len, parts)) + 2):
        with _join_blocks_of(size):
            try:
                outcome: bytes | str = run_assembler("concat", _names(parts, name), params)[name]
            except DataError as exc:
                outcome = str(exc)
        if outcome != expected:
            wrong[size] = outcome
    return wrong


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (
            [b"id,name\n1,a\n", b"id,name\n2,b\n", b"id,namf\n3,c\n"],
            "chunk 2: header differs from chunk 0's ('id,namf' vs 'id,name')",
        ),
        (
            [b"id,name\r\n1,a\r\n", b"id,name,x\r\n2,b\r\n"],
            "chunk 1: header differs from chunk 0's ('id,name,x' vs 'id,name')",
        ),
        (
            [b"id,name,x\n1,a\n", b"id,name\n2,b\n"],
            "chunk 1: header differs from chunk 0's ('id,name' vs 'id,name,x')",
        ),
        (
            [b'"x\r\ny",z\r\n1,2\r\n', b'"x\r\ny",w\r\n3,4\r\n'],
            "chunk 1: header differs from chunk 0's ('\"x\\r\\ny\",w' vs '\"x\\r\\ny\",z')",
        ),
        (
            [_BOM + "nom,é\n1,2\n".encode(), _BOM + "nom,è\n3,4\n".encode()],
            "chunk 1: header differs from chunk 0's ('nom,è' vs 'nom,é')",
        ),
    ],
    ids=["last-byte", "longer", "shorter", "after-quoted-crlf", "utf8-after-bom"],
)
def test_headers_differing_after_a_block_edge_name_the_chunk(
    parts: list[bytes], message: str
) -> None:
    """Headers that differ only past some block edge (a last byte, an extra field, a field
    after a quoted CRLF, a UTF-8 letter after a BOM) are a mismatch at every block size."""
    assert _misjoined(parts, message) == {}


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (
            [b"a,b\r\n1,2\r\n", b"a,b\r\n", b"a,b", _BOM + b"a,b\r\n3,4\r\n"],
            b"a,b\r\n1,2\r\n3,4\r\n",
        ),
        ([b"a,b", b"a,b\r\n1,2\r\n"], b"a,b\r\n1,2\r\n"),
        ([_BOM + b'"a\r\nb",c\r\n', _BOM + b'"a\r\nb",c'], _BOM + b'"a\r\nb",c\r\n'),
        ([b"a\r", b"a\r1\r"], b"a\r1\r"),
        ([b"", _BOM, b"a\n1\n", _BOM, _BOM + b"a\n2"], b"a\n1\n2"),
    ],
    ids=[
        "header-only-between",
        "header-only-first",
        "quoted-crlf-header-only",
        "cr-newlines",
        "empty-and-bom-only",
    ],
)
def test_header_only_results_add_nothing_at_every_block_size(
    parts: list[bytes], expected: bytes
) -> None:
    """A result holding only its header (with or without its newline, behind a BOM, with
    a quoted CRLF) or nothing but a BOM adds nothing, and a first one without a newline
    gets the newline the others' headers use (a CRLF split by a block edge read whole),
    at every block size."""
    assert _misjoined(parts, expected) == {}


@pytest.mark.parametrize(
    ("parts", "header", "expected"),
    [
        ([b"a\r\n1", b"a\r\n2\r\n"], True, b"a\r\n1\r\n2\r\n"),
        ([b"1,2\r\n3,4", b"5,6\r\n", b"7"], False, b"1,2\r\n3,4\r\n5,6\r\n7"),
        ([b'"x\r\ny",1\n2', b"3\n"], False, b'"x\r\ny",1\n2\n3\n'),
        ([b"1", b'"x\ny"\r\n'], False, b'1\r\n"x\ny"\r\n'),
        ([b"1\r2", b"3\r"], False, b"1\r2\r3\r"),
        ([_BOM + b"\xc3\xa9", _BOM + b"\xc3\xa8\r\n"], False, _BOM + "é\r\nè\r\n".encode()),
    ],
    ids=["header", "crlf", "quoted-crlf-first", "quoted-lf-later", "cr", "bom-utf8"],
)
def test_results_without_a_final_newline_get_the_datas_newline_at_every_block_size(
    parts: list[bytes], header: bool, expected: bytes
) -> None:
    """A result ending mid-record followed by another gets the newline the data uses
    (CRLF, LF or CR, never a newline inside quotes nor half a CRLF), at every block size;
    a later result's BOM is dropped."""
    assert _misjoined(parts, expected, header=header) == {}


def test_jsonl_without_a_final_newline_gets_the_datas_newline_at_every_block_size() -> None:
    """A JSON Lines result ending without a newline gets the newline a later result uses,
    a CRLF split by a block edge read whole, at every block size."""
    parts = [b'{"a": "\xc3\xa9"}', b'{"a": 2}\r\n{"a": 3}']
    expected = b'{"a": "\xc3\xa9"}\r\n{"a": 2}\r\n{"a": 3}'
    assert _misjoined(parts, expected, "out.jsonl") == {}


@pytest.mark.parametrize(
    ("parts", "chunk", "size", "opened"),
    [
        ([b'a,b\n1,"x""y\n', b"a,b\n3,4\n"], 0, 12, 9),
        ([b'"h\n1",c\n1,2\n', b'"h\n1",c\n"\xc3\xa9"",",2\n"\xc3\xa9', b'"h\n1",c\n"'], 1, 21, 18),
    ],
    ids=["escaped-quote", "quoted-header-utf8"],
)
def test_a_result_ending_inside_quotes_names_the_chunk_at_every_block_size(
    parts: list[bytes], chunk: int, size: int, opened: int
) -> None:
    """A result whose bytes end inside a quoted field is an error naming the first such
    chunk, its size and its last quote, however its quotes fall across parity blocks."""
    message = (
        f"chunk {chunk} byte {size}: unterminated quoted field (opened at byte {opened}); "
        "if its quotes are plain characters, set quoting=false"
    )
    assert _misjoined(parts, message) == {}


def test_row_partitioner_chunks_join_back_byte_for_byte() -> None:
    """Partitioning a CSV with `row` and concatenating the chunks gives the input back."""
    pytest.importorskip("bytenite_runtime.tables.delimited")
    records = b"".join(b'%d,"x,\r\n""%d"""\r\n' % (i, i) for i in range(50))
    source = b'\xef\xbb\xbfid,"note\nline"\r\n' + records + b"50,last"
    chunks = run_partitioner("row", {"in.csv": source}, {"rows_per_chunk": 7})
    assert len(chunks) > 3
    results = _names([chunk.data for chunk in chunks])
    assert run_assembler("concat", results)["out.csv"] == source


def test_row_partitioner_parquet_and_npy_chunks_join_back() -> None:
    """Parquet chunks of `row` (metadata in their footer) join back row for row, and
    .npy chunks byte for byte; an app that drops a row while keeping the metadata is caught."""
    table = pa.table({"x": list(range(100)), "s": [str(i) for i in range(100)]})
    source = {"t.parquet": _parquet(table, row_group_size=10)}
    chunks = run_partitioner("row", source, {"rows_per_chunk": 20})
    results = _names([chunk.data for chunk in chunks], "t.parquet")
    joined = pq.read_table(io.BytesIO(run_assembler("concat", results)["t.parquet"]))
    assert joined.equals(table)
    assert joined.schema.metadata is None or META_KEY.encode() not in joined.schema.metadata
    filtered = pq.read_table(io.BytesIO(results["chunk-000002.t.parquet"])).slice(1)
    results["chunk-000002.t.parquet"] = _parquet(filtered)
    with pytest.raises(
        DataError, match=r"^chunk 2: 19 rows, but its chunk metadata says rows 40-60 \(20 rows\)"
    ):
        run_assembler("concat", results)

    array = npy_bytes(np.arange(300.0).reshape(100, 3))
    chunks = run_partitioner("row", {"m.npy": array}, {"rows_per_chunk": 30})
    results = _names([chunk.data for chunk in chunks], "m.npy")
    assert run_assembler("concat", results) == {"m.npy": array}


@pytest.mark.parametrize("output_format", ["parquet", "arrow"])
@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_blank_lines_between_records_convert_and_join_with_every_row(
    fmt: str, output_format: str
) -> None:
    """Blank lines between records, which pyarrow skips, leave a converted chunk's `rows`
    counting the rows it holds, so the converted chunks join back, checked, with every row."""
    sep = b"\t" if fmt == "tsv" else b","
    if fmt == "jsonl":
        head, line = b"", (lambda i: b'{"a":"%d","b":"x"}' % i)
    else:
        head, line = b"a" + sep + b"b\n", (lambda i: b"%d%sx" % (i, sep))
    body = b"".join(line(i) + (b"\n\n" if i % 3 == 0 else b"\r\n") for i in range(20))
    chunks = run_partitioner(
        "row", {f"t.{fmt}": head + body}, {"rows_per_chunk": 4, "output_format": output_format}
    )
    ranges = [c.meta.fields["rows"] for c in chunks if c.meta]
    assert ranges[0][0] == 0 and ranges[-1][1] == 20
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    results = _names([chunk.data for chunk in chunks], f"t.{output_format}")
    joined = run_assembler("concat", results)[f"t.{output_format}"]
    if output_format == "parquet":
        table = pq.read_table(io.BytesIO(joined))
    else:
        table = pa.ipc.open_file(io.BytesIO(joined)).read_all()
    assert table.column("a").to_pylist() == [str(i) for i in range(20)]


@pytest.mark.parametrize(
    ("name", "source", "params", "rows"),
    [
        ("t.csv", b"f,g\n1,x\n2,y\n\n\n\n\n3,z\n", {"header": False}, [2, 1, 0, 1]),
        ("t.csv", b"a,b\n1,x\n2,y\n\n\n\n\n3,z\n", {"infer_types": True}, [2, 0, 0, 1]),
        ("t.jsonl", b'{"a":1}\n{"a":2}\n\n\n\n\n{"a":3}\n', {}, [2, 0, 0, 1]),
        ("t.jsonl", b'\n\n{"a":1}\n', {}, [0, 1]),
    ],
    ids=["no-header", "header-typed", "jsonl", "jsonl-first"],
)
def test_converted_chunk_of_blank_lines_alone_has_the_files_columns(
    name: str, source: bytes, params: dict[str, object], rows: list[int]
) -> None:
    """A converted chunk cut from blank lines alone holds no rows but the columns (and
    types) of its file's first chunk (of the whole file, for JSON Lines, even where it
    is the first chunk), so the chunks join back; pyarrow alone reads no columns there
    (no header, JSON Lines) or null-typed ones (a typed header)."""
    chunks = run_partitioner(
        "row", {name: source}, {"rows_per_chunk": 2, "output_format": "parquet", **params}
    )
    tables = [pq.read_table(io.BytesIO(c.data)) for c in chunks]
    assert [t.num_rows for t in tables] == rows
    assert len({t.schema.remove_metadata() for t in tables}) == 1
    assert not any(pa.types.is_null(t) for t in tables[0].schema.types)
    results = _names([c.data for c in chunks], "t.parquet")
    joined = pq.read_table(io.BytesIO(run_assembler("concat", results)["t.parquet"]))
    assert joined.num_rows == sum(rows)


def test_converted_first_chunk_of_blank_lines_alone_is_one_error_line() -> None:
    """Blank lines alone as a headerless CSV's first converted chunk, where no earlier
    chunk gives the columns, are one error naming the file and rows."""
    with pytest.raises(DataError, match=r"^t\.csv rows 0-2: blank lines only, and no earlier"):
        run_partitioner(
            "row",
            {"t.csv": b"\n\n1,x\n"},
            {"rows_per_chunk": 2, "output_format": "parquet", "header": False},
        )


def test_converted_chunk_footer_counts_the_rows_it_holds() -> None:
    """A converted chunk with no slot (JSON Lines) carries, in its footer, the range of
    the rows it holds, not of the blank lines it was cut with."""
    source = b"a,b\n1,x\n\n\n2,y\n3,z\n"
    chunks = run_partitioner(
        "row", {"t.csv": source}, {"rows_per_chunk": 2, "output_format": "jsonl", **_FOOTER}
    )
    assert [(c.meta.fields["rows"] if c.meta else None) for c in chunks] == [[0, 1], [1, 2], [2, 3]]
    assert b"".join(c.data for c in chunks).count(b"\n") == 3


def test_blank_lines_between_records_stay_in_unconverted_chunks_byte_for_byte() -> None:
    """Unconverted, blank lines between records count as rows and the chunks join back
    byte for byte."""
    source = b"a,b\n" + b"".join(b"%d,x\n\n" % i for i in range(20))
    chunks = run_partitioner("row", {"t.csv": source}, {"rows_per_chunk": 4, **_FOOTER})
    assert [c.meta.fields["rows"] for c in chunks if c.meta][-1] == [36, 39]
    results = _names([chunk.data for chunk in chunks])
    assert run_assembler("concat", results)["out.csv"] == source


# -- JSON Lines converted: one schema per file ---------------------------------------


def _converted_jsonl(source: bytes, output_format: str = "parquet", **params: Any) -> list[Any]:
    chunks = run_partitioner(
        "row", {"t.jsonl": source}, {"rows_per_chunk": 2, "output_format": output_format, **params}
    )
    if output_format == "parquet":
        return [pq.read_table(io.BytesIO(c.data)) for c in chunks]
    return [pa.ipc.open_file(io.BytesIO(c.data)).read_all() for c in chunks]


def _schemas(tables: list[Any]) -> set[Any]:
    return {t.schema.remove_metadata() for t in tables}


def test_jsonl_chunks_whose_types_differ_share_the_files_schema() -> None:
    """Chunks of a JSON Lines file whose values are typed differently chunk by chunk
    (int then float, a date then plain text) all get the whole file's types."""
    source = b'{"n":1,"s":"2024-01-01"}\n{"n":2,"s":"2024-01-02"}\n{"n":2.5,"s":"soon"}\n'
    tables = _converted_jsonl(source)
    assert _schemas(tables) == {pa.schema([("n", pa.float64()), ("s", pa.string())])}
    assert tables[0].column("s").to_pylist() == ["2024-01-01", "2024-01-02"]


def test_jsonl_column_null_throughout_one_chunk_gets_its_real_type() -> None:
    """A key null in every row of one chunk has the type its values have elsewhere in
    the file there, not pyarrow's null type."""
    source = b'{"a":null}\n{"a":null}\n{"a":{"x":1}}\n{"a":{"y":"z"}}\n'
    tables = _converted_jsonl(source)
    kind = pa.struct([("x", pa.int64()), ("y", pa.string())])
    assert _schemas(tables) == {pa.schema([("a", kind)])}
    assert tables[0].column("a").to_pylist() == [None, None]


def test_jsonl_key_missing_from_a_chunk_is_a_null_column_there() -> None:
    """A key that no line of a chunk holds is still a column of that chunk, null, in the
    order the keys first appear in the file."""
    source = b'{"a":1}\n{"a":2}\n{"b":true}\n{"a":3,"c":"x"}\n\n\n{"a":4}\n'
    tables = _converted_jsonl(source, "arrow")
    expected = pa.schema([("a", pa.int64()), ("b", pa.bool_()), ("c", pa.string())])
    assert _schemas(tables) == {expected}
    assert tables[0].column("c").to_pylist() == [None, None]
    assert [t.num_rows for t in tables] == [2, 2, 0, 1]


def test_jsonl_schema_is_the_same_however_the_file_is_read_in_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole-file schema found a block of lines at a time (blocks smaller than a
    line included) is the one found reading the file in one block."""
    from bytenite_runtime.tables import jsonl_schema

    source = b'{"a":null}\n\n{"a":1,"long":"%s"}\n{"b":[]}\n{"a":0.5,"b":[true]}' % (b"x" * 50)
    whole = _schemas(_converted_jsonl(source, "arrow"))
    monkeypatch.setattr(jsonl_schema, "_BLOCK", 16)
    assert _schemas(_converted_jsonl(source, "arrow")) == whole
    assert whole == {
        pa.schema([("a", pa.float64()), ("long", pa.string()), ("b", pa.list_(pa.bool_()))])
    }


@pytest.mark.parametrize("block", [4 << 20, 16], ids=["one-block", "small-blocks"])
@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            b'{"a":1}\n{"a":2}\n\n{"a":"x"}\n',
            "t.jsonl line 4: column 'a' holds a string here but a number earlier in the file",
        ),
        (
            b'{"a":{"x":1}}\n{"a":null}\n{"a":{"x":true}}\n',
            "t.jsonl line 3: column 'a.x' holds a boolean here but a number earlier",
        ),
        (
            b'{"a":[1]}\n{"b":1}\n{"b":2}\n{"a":"s"}\n',
            "t.jsonl line 4: column 'a' holds a string here but an array earlier",
        ),
    ],
    ids=["number-string", "nested", "array-scalar"],
)
def test_jsonl_true_type_conflict_is_one_error_line_naming_where(
    source: bytes, message: str, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values of one column that no type holds both (a number and a string, an array and
    a string) fail before any chunk, naming the file, the line where the second kind
    first appears, the column and both kinds; reading the file whole fails on them too."""
    from bytenite_runtime.tables import jsonl_schema

    monkeypatch.setattr(jsonl_schema, "_BLOCK", block)
    with pytest.raises(DataError) as caught:
        _converted_jsonl(source)
    assert str(caught.value).startswith(message)
    assert str(caught.value).endswith(
        "a column converted to parquet holds one type (make its values one kind, or leave "
        "output_format at 'same')"
    )


_ROUNDS = "which a float column (it holds non-integers elsewhere) rounds"


@pytest.mark.parametrize("block", [4 << 20, 16], ids=["one-block", "small-blocks"])
@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            b'{"a":1}\n{"a":9223372036854775808}\n',
            "t.jsonl line 2: column 'a' holds the integer 9223372036854775808, beyond the "
            "64-bit range: it would be 9.223372036854776e+18 in parquet",
        ),
        (
            b'{"a":{"b":[1,2]}}\n\n{"a":{"b":[3,-18446744073709551615]}}\n',
            "t.jsonl line 3: column 'a.b[]' holds the integer -18446744073709551615, beyond "
            "the 64-bit range: it would be -1.8446744073709552e+19 in parquet",
        ),
        (
            b'{"a":1}\n{"a":9007199254740993}\n{"a":2}\n{"a":0.5}\n',
            f"t.jsonl line 2: column 'a' holds the integer 9007199254740993, {_ROUNDS}: it "
            "would be 9007199254740992.0 in parquet",
        ),
    ],
    ids=["past-64-bits", "nested-in-a-list", "past-2-53-in-a-float-column"],
)
def test_jsonl_integer_a_converted_column_would_round_is_one_error_line_naming_where(
    source: bytes, message: str, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An integer that the converted chunk would hold only as a rounded float (one past
    64 bits, or one past 2**53 in a column holding fractions elsewhere in the file) fails
    before any chunk, naming the file, the line and the column, read whole or in blocks."""
    from bytenite_runtime.tables import jsonl_schema

    monkeypatch.setattr(jsonl_schema, "_BLOCK", block)
    with pytest.raises(DataError) as caught:
        _converted_jsonl(source)
    assert str(caught.value) == (
        f"{message}; write it as a string to keep every digit, or leave output_format at 'same'"
    )


@pytest.mark.parametrize("block", [4 << 20, 16], ids=["one-block", "small-blocks"])
@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            b'\xef\xbb\xbf[{"a":1},{"a":2}]\n',
            "t.jsonl line 1: an array, not an object; converting JSON Lines to parquet needs "
            "one JSON object per line (a file holding one array: write each item on a line of "
            "its own)",
        ),
        (
            b'{"a":1}\n\n7\n',
            "t.jsonl line 3: a number, not an object; converting JSON Lines to parquet needs "
            "one JSON object per line",
        ),
        (
            b'[\n{"a":1}\n]\n',
            "t.jsonl line 1: not one JSON value (unexpected end of data at column 2); "
            "converting JSON Lines to parquet needs one JSON object per line",
        ),
    ],
    ids=["top-level-array", "number-line", "pretty-printed-array"],
)
def test_jsonl_line_that_is_not_an_object_is_named_before_any_chunk(
    tmp_path: Path, source: bytes, message: str, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSON Lines source converted by ``output_format`` whose line is not one JSON
    object (a top-level array, on one line or spread over lines, a bare number) fails before
    any chunk naming the line and what it holds, not with pyarrow's 'Column() changed'."""
    from bytenite_runtime.tables import jsonl_schema

    monkeypatch.setattr(jsonl_schema, "_BLOCK", block)
    params = {"rows_per_chunk": 1, "output_format": "parquet"}
    assert failing_partition(tmp_path, "row", {"t.jsonl": source}, **params) == message


def test_jsonl_integers_past_2_53_convert_exactly_or_fail_but_are_never_rounded() -> None:
    """Integers past 2**53 convert exactly in a column of integers alone (and large floats
    stay floats), and in a column that is a float column because of one fraction they
    are an error rather than a rounded value."""
    exact = b'{"id":1700000000000000001,"f":1e20}\n{"id":-9223372036854775808,"f":0.5}\n'
    tables = _converted_jsonl(exact)
    assert tables[0].column("id").to_pylist() == [1700000000000000001, -9223372036854775808]
    assert tables[0].column("f").to_pylist() == [1e20, 0.5]
    rounded = b'{"id":1700000000000000001}\n{"id":0.5}\n'
    with pytest.raises(DataError, match=r"^t\.jsonl line 1: column 'id' holds the integer 1700"):
        _converted_jsonl(rounded)


@pytest.mark.parametrize("block", [4 << 20, 16], ids=["one-block", "small-blocks"])
def test_jsonl_times_with_an_offset_convert_to_utc_timestamps_not_naive_ones(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON Lines times that all carry a UTC offset (at the top, in an object, in a list)
    become tz-aware UTC timestamps of the same instant, while times without one stay
    naive, so no reader takes a UTC instant for local time."""
    from bytenite_runtime.tables import jsonl_schema

    monkeypatch.setattr(jsonl_schema, "_BLOCK", block)
    source = (
        b'{"t":"2024-01-01T10:00:00+05:00","n":"2024-01-01T10:00:00",'
        b'"e":{"u":["2024-01-01T10:00:00Z"]}}\n'
        b'{"t":null}\n{"t":"2024-01-02T10:00:00-0130","n":"2024-01-02T10:00:00"}\n'
    )
    tables = _converted_jsonl(source, "arrow")
    utc = pa.timestamp("s", tz="UTC")
    assert _schemas(tables) == {
        pa.schema([("t", utc), ("n", pa.timestamp("s")), ("e", pa.struct([("u", pa.list_(utc))]))])
    }
    joined = pa.concat_tables(tables)
    assert joined.column("t").to_pylist() == [
        datetime(2024, 1, 1, 5, tzinfo=UTC),
        None,
        datetime(2024, 1, 2, 11, 30, tzinfo=UTC),
    ]
    assert joined.column("n").to_pylist()[0] == datetime(2024, 1, 1, 10)


@pytest.mark.parametrize("block", [4 << 20, 16], ids=["one-block", "small-blocks"])
def test_jsonl_times_with_and_without_an_offset_in_one_column_stay_text(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSON Lines column mixing times with and without a UTC offset, in one chunk or
    across chunks, converts to text exactly as written, never to one timestamp type that
    gives half its values the wrong meaning."""
    from bytenite_runtime.tables import jsonl_schema

    monkeypatch.setattr(jsonl_schema, "_BLOCK", block)
    times = ["2024-01-01T10:00:00", "2024-01-01T10:00:00", "2024-01-01T10:00:00Z"]
    source = b"".join(orjson.dumps({"t": t}) + b"\n" for t in times)
    tables = _converted_jsonl(source)
    assert _schemas(tables) == {pa.schema([("t", pa.string())])}
    assert pa.concat_tables(tables).column("t").to_pylist() == times


@pytest.mark.parametrize("output_format", ["parquet", "arrow", "csv"])
def test_jsonl_converted_chunks_concat_back_without_unify_schemas(output_format: str) -> None:
    """Converted chunks of a JSON Lines file whose chunks differ in types, nulls and keys
    join back with concat's defaults (no ``unify_schemas``), every row in order."""
    rows = [
        {"id": i, "v": None if i < 4 else i / 2, "t": "x" if i == 7 else None} for i in range(9)
    ]
    present = [{key: value for key, value in r.items() if value is not None} for r in rows]
    source = b"".join(orjson.dumps(r) + b"\n" for r in present)
    chunks = run_partitioner(
        "row",
        {"t.jsonl": source},
        {"rows_per_chunk": 3, "output_format": output_format, **_FOOTER},
    )
    name = f"t.{output_format}"
    joined = run_assembler("concat", _names([c.data for c in chunks], name))[name]
    if output_format == "csv":
        assert joined.splitlines()[0] == b'"id","v","t"'
        assert len(joined.splitlines()) == 10
        return
    if output_format == "parquet":
        table = pq.read_table(io.BytesIO(joined))
    else:
        table = pa.ipc.open_file(io.BytesIO(joined)).read_all()
    assert table.column("id").to_pylist() == list(range(9))
    assert table.column("v").type == pa.float64()
    assert table.to_pylist() == rows


# -- JSON Lines --------------------------------------------------------------------------


def test_jsonl_joins_lines_and_repairs_a_missing_newline() -> None:
    """JSON Lines have no header; a chunk's unterminated last line is separated from the next."""
    parts = [b'{"a": 1}\n{"a": 2}', b'{"a": 3}\n', b"", b'{"a": 4}']
    for name in ("o.jsonl", "o.ndjson"):
        output = run_assembler("concat", _names(parts, name))
        assert output == {name: b'{"a": 1}\n{"a": 2}\n{"a": 3}\n{"a": 4}'}


# -- Parquet and Arrow -------------------------------------------------------------------


def test_parquet_join_keeps_rows_row_groups_and_user_metadata() -> None:
    """Parquet results are streamed row group by row group; our metadata key is stripped."""
    tables = [pa.table({"x": list(range(i * 10, i * 10 + 10)), "s": ["v"] * 10}) for i in range(3)]
    tables = [t.replace_schema_metadata({"owner": "me"}) for t in tables]
    results = _rows([(0, 10), (10, 20), (20, 30)], tables)
    output = run_assembler("concat", results)
    parquet = pq.ParquetFile(io.BytesIO(output["out.parquet"]))
    assert parquet.read().column("x").to_pylist() == list(range(30))
    assert parquet.num_row_groups == 3
    assert parquet.schema_arrow.metadata[b"owner"] == b"me"
    assert META_KEY.encode() not in parquet.schema_arrow.metadata


def test_parquet_join_keeps_the_compression_codec() -> None:
    """The output uses the results' compression codec, not pyarrow's default."""
    table = pa.table({"x": [1, 2]})
    results = {f"chunk-{i:06d}.o.pq": _parquet(table, compression="zstd") for i in range(2)}
    output = run_assembler("concat", results)
    column = pq.ParquetFile(io.BytesIO(output["o.pq"])).metadata.row_group(0).column(0)
    assert column.compression == "ZSTD"


def test_parquet_schema_mismatch_names_chunk_and_field() -> None:
    """Without unify_schemas, a differing field type is a DataError naming chunk and field."""
    results = {
        "chunk-000000.o.parquet": _parquet(pa.table({"x": [1], "y": ["a"]})),
        "chunk-000001.o.parquet": _parquet(pa.table({"x": [2.5], "y": ["b"]})),
    }
    with pytest.raises(DataError) as exc:
        run_assembler("concat", results)
    assert str(exc.value).startswith(
        "chunk 1: schema differs from chunk 0's: field 'x' is double here but int64 in chunk 0"
    )
    assert "unify_schemas=true" in str(exc.value)


def test_parquet_missing_column_is_a_mismatch() -> None:
    """A result lacking a column of the first result's schema is named with that column."""
    results = {
        "chunk-000000.o.parquet": _parquet(pa.table({"x": [1], "y": ["a"]})),
        "chunk-000001.o.parquet": _parquet(pa.table({"x": [2]})),
    }
    with pytest.raises(DataError, match=r"^chunk 1: .*field 'y' of chunk 0's schema is missing"):
        run_assembler("concat", results)


def test_parquet_unify_fills_missing_columns_and_promotes_types() -> None:
    """unify_schemas=true merges schemas: a missing column becomes nulls, int32 widens to int64."""
    results = {
        "chunk-000000.o.parquet": _parquet(pa.table({"x": pa.array([1], pa.int32())})),
        "chunk-000001.o.parquet": _parquet(pa.table({"y": ["b"], "x": pa.array([2], pa.int64())})),
    }
    output = run_assembler("concat", results, {"unify_schemas": True})
    table = pq.read_table(io.BytesIO(output["o.parquet"]))
    assert table.schema.field("x").type == pa.int64()
    assert table.to_pylist() == [{"x": 1, "y": None}, {"x": 2, "y": "b"}]


def test_parquet_unify_rejects_incompatible_types_naming_the_field() -> None:
    """Types no promotion reconciles stay an error, naming the chunk and the field."""
    results = {
        "chunk-000000.o.parquet": _parquet(pa.table({"x": [1]})),
        "chunk-000001.o.parquet": _parquet(pa.table({"x": [b"\x00"]})),
    }
    with pytest.raises(DataError, match=r"^chunk 1: cannot unify schemas: field 'x' is binary"):
        run_assembler("concat", results, {"unify_schemas": True})


def test_truncated_parquet_result_is_a_data_error() -> None:
    """A damaged Parquet result is named by chunk, not a pyarrow traceback."""
    good = _parquet(pa.table({"x": [1]}))
    results = {"chunk-000000.o.parquet": good, "chunk-000001.o.parquet": good[:-20]}
    with pytest.raises(DataError, match=r"^chunk 1: not a readable Parquet file"):
        run_assembler("concat", results)


def test_arrow_file_and_stream_results_join_into_one_ipc_file() -> None:
    """Arrow IPC results (file or stream format) become one IPC file, batches in order."""
    tables = [pa.table({"x": list(range(i * 5, i * 5 + 5))}) for i in range(3)]
    results = {
        "chunk-000000.o.arrow": arrow_bytes(tables[0], 2),
        "chunk-000001.o.arrow": arrow_bytes(tables[1], 2, stream=True),
        "chunk-000002.o.arrow": arrow_bytes(tables[2], 2),
    }
    output = run_assembler("concat", results)
    reader = pa.ipc.open_file(pa.BufferReader(output["o.arrow"]))
    assert reader.read_all().column("x").to_pylist() == list(range(15))
    assert reader.num_record_batches == 9


def test_feather_v1_result_is_named_as_such() -> None:
    """A Feather v1 result is refused saying so, as the row partitioner refuses a Feather v1
    source, not as a bad metadata length read from its magic bytes."""
    results = {
        "chunk-000000.o.feather": arrow_bytes(pa.table({"x": [1]}), 2),
        "chunk-000001.o.feather": b"FEA1" + bytes(64),
    }
    with pytest.raises(DataError) as exc:
        run_assembler("concat", results)
    assert str(exc.value) == (
        "chunk 1: Feather v1 is not supported; rewrite it as Feather v2 / Arrow IPC"
    )


def test_arrow_schema_mismatch_names_chunk_and_field() -> None:
    """Arrow results follow the Parquet schema rules."""
    results = {
        "chunk-000000.o.feather": arrow_bytes(pa.table({"x": [1]}), 2),
        "chunk-000001.o.feather": arrow_bytes(pa.table({"z": [1]}), 2),
    }
    with pytest.raises(DataError, match=r"^chunk 1: schema differs .*field 'z' is not in"):
        run_assembler("concat", results)


# -- .npy --------------------------------------------------------------------------------


def test_npy_one_dimensional() -> None:
    """1-D arrays join end to end, one header for the total length."""
    parts = [np.arange(5, dtype="<i4"), np.arange(5, 8, dtype="<i4"), np.arange(0, dtype="<i4")]
    output = run_assembler("concat", _names([npy_bytes(p) for p in parts], "a.npy"))
    joined = np.load(io.BytesIO(output["a.npy"]))
    assert joined.dtype == np.dtype("<i4")
    assert joined.tolist() == list(range(8))


def test_npy_two_dimensional_and_fortran_order() -> None:
    """2-D arrays join along the first axis; a Fortran-order result is laid out in C order."""
    a = np.arange(12, dtype=np.float64).reshape(4, 3)
    b = np.asfortranarray(np.arange(12, 18, dtype=np.float64).reshape(2, 3))
    output = run_assembler("concat", _names([npy_bytes(a), npy_bytes(b)], "m.npy"))
    np.testing.assert_array_equal(np.load(io.BytesIO(output["m.npy"])), np.vstack([a, b]))


def test_npy_format_3_results_with_utf8_field_names_join() -> None:
    """Structured arrays whose field names latin-1 cannot hold (which numpy saves in .npy
    format 3.0, as the row partitioner's chunks of them are) join, names kept."""
    dtype = np.dtype([("温度", "<f4"), ("id", "<i4")])
    source = np.array([(i * 0.5, i) for i in range(10)], dtype=dtype)
    with pytest.warns(UserWarning, match="format 3.0"):
        data = npy_bytes(source)
        chunks = run_partitioner("row", {"t.npy": data}, {"rows_per_chunk": 4})
    assert [chunk.data[6:8] for chunk in chunks] == [b"\x03\x00"] * 3
    output = run_assembler("concat", _names([chunk.data for chunk in chunks], "t.npy"))
    assert output["t.npy"][6:8] == b"\x03\x00"
    joined = np.load(io.BytesIO(output["t.npy"]))
    assert joined.dtype == dtype
    np.testing.assert_array_equal(joined, source)


def test_npy_dtype_mismatch_names_the_chunk() -> None:
    """Arrays of different dtypes cannot be byte-joined: the chunk is named."""
    parts = [npy_bytes(np.zeros(3, "<f8")), npy_bytes(np.zeros(3, "<f4"))]
    with pytest.raises(DataError) as exc:
        run_assembler("concat", _names(parts, "a.npy"))
    assert str(exc.value) == "chunk 1: dtype float32 differs from chunk 0's float64"


def test_npy_trailing_shape_mismatch_names_the_chunk() -> None:
    """Arrays whose shape[1:] differs cannot follow each other along the first axis."""
    parts = [npy_bytes(np.zeros((2, 3))), npy_bytes(np.zeros((2, 3))), npy_bytes(np.zeros((2, 4)))]
    with pytest.raises(DataError, match=r"^chunk 2: shape \(2, 4\) does not continue chunk 0's"):
        run_assembler("concat", _names(parts, "a.npy"))


def test_npy_truncated_result_names_the_chunk_and_the_byte_where_it_ends() -> None:
    """A result whose data section is shorter than its header promises is rejected by
    chunk, naming the byte where its data ends early."""
    whole = npy_bytes(np.zeros(4))
    parts = [whole, whole[:-8]]
    with pytest.raises(DataError) as caught:
        run_assembler("concat", _names(parts, "a.npy"))
    assert str(caught.value) == (
        f"chunk 1 byte {len(whole) - 8}: truncated .npy file: shape (4,) needs 32 data bytes, "
        "the file has 24"
    )


def test_npy_result_with_bytes_after_its_data_names_the_chunk_and_the_byte(
    tmp_path: Path,
) -> None:
    """A result longer than its header and data (rows its header does not count) is an
    error naming the chunk and the byte where the unexpected bytes start, never joined
    without them."""
    shown = npy_bytes(np.arange(4.0))
    parts = [npy_bytes(np.arange(4.0)), shown + np.arange(4.0, 6.0).tobytes()]
    assert failing_assembly(tmp_path, "concat", _names(parts, "a.npy")) == (
        f"chunk 1 byte {len(shown)}: 16 unexpected bytes after the .npy data (shape (4,) "
        "needs 32 data bytes, the file has 48)"
    )


# -- row counts, order, format choice, failure -------------------------------------------


def test_row_count_mismatch_names_the_chunk_and_both_counts() -> None:
    """A result whose row count differs from its metadata's range is a DataError by chunk."""
    tables = [pa.table({"x": [1, 2]}), pa.table({"x": [3]})]
    results = _rows([(0, 2), (2, 4)], tables)
    with pytest.raises(DataError) as exc:
        run_assembler("concat", results)
    assert str(exc.value) == (
        "chunk 1: 1 rows, but its chunk metadata says rows 2-4 (2 rows) of 'src'; "
        "set verify_rows=false for apps that change the row count"
    )


def test_verify_rows_false_accepts_changed_row_counts() -> None:
    """verify_rows=false lets an app filter rows; the output holds what the results hold."""
    results = _rows([(0, 2), (2, 4)], [pa.table({"x": [1, 2]}), pa.table({"x": [3]})])
    output = run_assembler("concat", results, {"verify_rows": False})
    assert pq.read_table(io.BytesIO(output["out.parquet"])).column("x").to_pylist() == [1, 2, 3]


def test_non_contiguous_row_ranges_warn(capsys: pytest.CaptureFixture[str]) -> None:
    """Consecutive chunks of one source whose ranges leave a gap log a warning, not an error."""
    results = _rows([(0, 1), (5, 6)], [pa.table({"x": [1]}), pa.table({"x": [2]})])
    run_assembler("concat", results)
    assert "chunk 1: rows of 'src' start at 5, but chunk 0 ended at 1" in capsys.readouterr().err


@pytest.mark.parametrize(("count", "which"), [(2, "chunk 1"), (4, "chunks 1-3")])
def test_missing_last_chunks_warn(
    capsys: pytest.CaptureFixture[str], count: int, which: str
) -> None:
    """Results that stop before the chunk count their metadata gives log a warning naming
    the missing chunks (no later range shows that gap), and the rest is still joined."""
    parts = {
        "chunk-000000.out.parquet": _parquet(
            pa.table({"x": [1]}), ChunkMeta(0, count, "src", {"rows": [0, 1]})
        )
    }
    output = run_assembler("concat", parts)
    assert pq.read_table(io.BytesIO(output["out.parquet"])).column("x").to_pylist() == [1]
    assert (
        f"chunk 0: the last result, but the partitioner made {count} chunks: {which} missing "
        "(no result, or an app that wrote none?)"
    ) in capsys.readouterr().err


def test_chunks_of_another_output_are_not_warned_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Results under two names (two sources' chunks 0-1 and 2-3) join into two outputs, and
    neither warns that the other's chunks are missing."""
    parts = {
        f"chunk-{i:06d}.{name}": _parquet(
            pa.table({"x": [i]}), ChunkMeta(i, 4, name, {"rows": [i % 2, i % 2 + 1]})
        )
        for i, name in enumerate(["a.parquet", "a.parquet", "b.parquet", "b.parquet"])
    }
    output = run_assembler("concat", parts)
    assert pq.read_table(io.BytesIO(output["a.parquet"])).column("x").to_pylist() == [0, 1]
    assert "missing" not in capsys.readouterr().err


def test_complete_results_do_not_warn(capsys: pytest.CaptureFixture[str]) -> None:
    """Results for every chunk the metadata counts log no missing-chunk warning."""
    run_assembler("concat", _rows([(0, 1), (1, 2)], [pa.table({"x": [1]}), pa.table({"x": [2]})]))
    assert "missing" not in capsys.readouterr().err


def test_results_are_ordered_by_chunk_index_despite_platform_prefixes() -> None:
    """Chunk index, not the name, orders results; a platform prefix changes nothing."""
    results = {
        "ff_chunk-000002.out.csv": b"h\nc\n",
        "ab12_chunk-000001.out.csv": b"h\nb\n",
        "zz_chunk-000000.out.csv": b"h\na\n",
        "00_chunk-000010.out.csv": b"h\nd\n",
    }
    assert run_assembler("concat", results) == {"out.csv": b"h\na\nb\nc\nd\n"}


def test_format_param_overrides_the_extension() -> None:
    """format='bytes' keeps every CSV header; format='csv' treats .txt results as CSV."""
    parts = [b"h\n1\n", b"h\n2\n"]
    assert run_assembler("concat", _names(parts), {"format": "bytes"}) == {
        "out.csv": b"h\n1\nh\n2\n"
    }
    assert run_assembler("concat", _names(parts, "o.txt"), {"format": "csv"}) == {
        "o.txt": b"h\n1\n2\n"
    }


def test_each_group_is_joined_by_its_own_format() -> None:
    """With several result names, each output is joined according to its own extension."""
    results = {**_names([b"h\n1\n", b"h\n2\n"]), **_names([b"h\n", b"h\n"], "log.txt")}
    results.update(_names([npy_bytes(np.arange(2)), npy_bytes(np.arange(2, 3))], "v.npy"))
    output = run_assembler("concat", results)
    assert output["out.csv"] == b"h\n1\n2\n"
    assert output["log.txt"] == b"h\nh\n"
    assert np.load(io.BytesIO(output["v.npy"])).tolist() == [0, 1, 2]


def test_failing_table_concat_leaves_output_empty(tmp_path: Path) -> None:
    """A header mismatch in the second group fails the run with nothing left in OUTPUT_DIR."""
    results = {**_names([b"h\n1\n", b"h\n2\n"], "a.csv"), **_names([b"h\n", b"x\n"], "b.csv")}
    (tmp_path / "results").mkdir()
    (tmp_path / "out").mkdir()
    for name, data in results.items():
        (tmp_path / "results" / name).write_bytes(data)
    env = assembler_environment(tmp_path / "results", tmp_path / "out", {}, None)
    with pytest.raises(DataError, match=r"^chunk 1: header differs"):
        entrypoint_for("assembler", "concat").invoke(env)
    assert list((tmp_path / "out").iterdir()) == []


def test_importing_the_assembler_loads_no_table_library() -> None:
    """numpy and pyarrow are imported only when a table is joined."""
    import subprocess
    import sys

    code = (
        "import sys, bytenite_runtime.assemblers.concat, bytenite_runtime.tables.join\n"
        "assert not {'numpy', 'pyarrow'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_uncompressed_parquet_results_join() -> None:
    """Results written without compression join, and the output stays uncompressed."""
    table = pa.table({"i": list(range(10))})
    out = run_assembler("concat", _names([_parquet(table, compression="none")] * 2, "t.parquet"))
    joined = io.BytesIO(out["t.parquet"])
    assert pq.read_table(joined).num_rows == 20
    assert pq.read_metadata(joined).row_group(0).column(0).compression == "UNCOMPRESSED"


def test_arrow_results_with_their_own_dictionaries_join_onto_one() -> None:
    """Each task dictionary-encodes its own categories; the joined Arrow file holds one
    dictionary per column that grows by deltas, and every value reads back."""
    parts = [["x", "y"], ["z", "x"], ["y", None, "w"]]
    results = [arrow_bytes(pa.table({"c": pa.array(p).dictionary_encode()}), 2) for p in parts]
    out = run_assembler("concat", _names(results, "t.arrow"))
    column = pa.ipc.open_file(pa.py_buffer(out["t.arrow"])).read_all().column("c")
    assert column.to_pylist() == [v for p in parts for v in p]
    assert pa.types.is_dictionary(column.type)


def test_dictionaries_outgrowing_their_index_type_name_the_column(tmp_path: Path) -> None:
    """int8 indices address 128 values: results whose dictionaries add up to more fail,
    naming the column, instead of wrapping around."""
    kind = pa.dictionary(pa.int8(), pa.string())
    parts = [[f"v{i}" for i in range(k, k + 100)] for k in (0, 100)]
    tables = [pa.table({"c": pa.array(p).dictionary_encode().cast(kind)}) for p in parts]
    results = [arrow_bytes(table, 2) for table in tables]
    assert failing_assembly(tmp_path, "concat", _names(results, "t.arrow")) == (
        "t.arrow: column 'c': the dictionaries hold 200 distinct values together, more than "
        "its int8 indices can address"
    )


def test_a_result_with_a_duplicate_column_name_is_named(tmp_path: Path) -> None:
    """Columns are matched by name, so a result with two columns of one name fails naming
    the chunk and the column, not with a KeyError."""
    table = pa.table([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"])
    results = _names([_parquet(table.slice(0, 1)), _parquet(table.slice(1))], "t.parquet")
    assert failing_assembly(tmp_path, "concat", results) == (
        "chunk 0: column 'a' appears twice; results are joined by column name"
    )

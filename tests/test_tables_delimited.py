"""The ``row`` partitioner on CSV, TSV and JSON Lines: whole records, copied byte for byte.

Unit tests pin each RFC 4180 corner and each sizing; property tests generate tables with
quoted delimiters, quotes, CR/LF/CRLF inside fields, unicode and empty fields, and scan
them with tiny blocks so that every block-boundary case (a quoted field, a UTF-8
sequence, a CRLF cut in two) is hit; the bad-input tests check the message and that no
chunk is left behind.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import zstandard
from _failing import failing_partition
from _tables import TEXT_SIZINGS, delimited_tables, json_lines, parse_delimited
from hypothesis import given, settings
from hypothesis import strategies as st

from bytenite_runtime import DataError
from bytenite_runtime import _copy as copy_module
from bytenite_runtime._copy import copy_range
from bytenite_runtime.chunks import ChunkMeta
from bytenite_runtime.settings import partitioner_environment
from bytenite_runtime.tables import _records, delimited
from bytenite_runtime.tables.source import Sizing
from bytenite_runtime.testing import PartitionedChunk, run_partitioner

BOM = b"\xef\xbb\xbf"
FOOTER = {"chunk_metadata": "footer"}


def _chunks(files: Mapping[str, bytes], **params: Any) -> list[PartitionedChunk]:
    return run_partitioner("row", files, {**FOOTER, **params})


def _rows(chunk: PartitionedChunk) -> tuple[int, int]:
    assert chunk.meta is not None
    start, stop = chunk.meta.fields["rows"]
    return start, stop


def _plan(tmp_path: Path, data: bytes, sizing: Sizing, **options: Any) -> list[bytes]:
    """Plan ``data`` as data.csv and write every piece into memory."""
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    fmt = options.pop("fmt", "csv")
    pieces = delimited.plan(path, "data.csv", fmt, sizing, header=True, strict=False, **options)
    written = []
    for index, piece in enumerate(pieces):
        out = io.BytesIO()
        piece.write(out, ChunkMeta(index))
        written.append(out.getvalue())
    return written


@contextlib.contextmanager
def _blocks_of(size: int) -> Iterator[None]:
    """Scan with blocks of ``size`` bytes, so small inputs cross many block boundaries."""
    with mock.patch.object(_records, "BLOCK", size):
        yield


# -- RFC 4180 corners ------------------------------------------------------------------


def test_quoted_delimiters_and_escaped_quotes_stay_inside_their_record() -> None:
    """A comma and a doubled quote inside quotes never end a field's record."""
    data = b'id,text\n1,"a,b"\n2,"say ""hi"", then go"\n3,plain\n'
    chunks = _chunks({"t.csv": data}, rows_per_chunk=1)
    assert [c.data for c in chunks] == [
        b'id,text\n1,"a,b"\n',
        b'id,text\n2,"say ""hi"", then go"\n',
        b"id,text\n3,plain\n",
    ]


@pytest.mark.parametrize("newline", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_newlines_inside_quoted_fields_do_not_end_records(newline: bytes) -> None:
    """LF, CR and CRLF inside a quoted field belong to the field, with CRLF records."""
    data = b"a,b\r\n" + b'1,"x' + newline + b'y"\r\n' + b'2,"' + newline + b'"\r\n3,z\r\n'
    chunks = _chunks({"t.csv": data}, rows_per_chunk=2)
    assert [c.data for c in chunks] == [
        b"a,b\r\n" + b'1,"x' + newline + b'y"\r\n' + b'2,"' + newline + b'"\r\n',
        b"a,b\r\n3,z\r\n",
    ]
    assert [_rows(c) for c in chunks] == [(0, 2), (2, 3)]


def test_bom_travels_with_the_header_into_every_chunk(tmp_path: Path) -> None:
    """With a header, every chunk starts with the BOM and the header exactly as in the source."""
    data = BOM + b"x,y\r\n1,2\r\n3,4\r\n"
    assert _plan(tmp_path, data, Sizing(rows=1)) == [
        BOM + b"x,y\r\n1,2\r\n",
        BOM + b"x,y\r\n3,4\r\n",
    ]


def test_without_header_the_bom_stays_with_the_first_record() -> None:
    """Without a header, only the first chunk holds the BOM, so the chunks join to the source."""
    data = BOM + b"1,2\n3,4\n"
    chunks = _chunks({"t.csv": data}, rows_per_chunk=1, header=False)
    assert [c.data for c in chunks] == [BOM + b"1,2\n", b"3,4\n"]
    assert [_rows(c) for c in chunks] == [(0, 1), (1, 2)]


def test_without_header_the_first_record_is_data() -> None:
    """header=false counts the first record as row 0 and repeats nothing."""
    chunks = _chunks({"t.tsv": b"a\tb\nc\td\ne\tf\n"}, num_chunks=3, header=False)
    assert [c.data for c in chunks] == [b"a\tb\n", b"c\td\n", b"e\tf\n"]


def test_last_record_without_newline_is_kept() -> None:
    """A file whose last record has no newline loses nothing, and the record counts."""
    chunks = _chunks({"t.csv": b'h\n1\n"2\n2"'}, rows_per_chunk=1)
    assert [c.data for c in chunks] == [b"h\n1\n", b'h\n"2\n2"']
    assert [_rows(c) for c in chunks] == [(0, 1), (1, 2)]


def test_jsonl_has_no_header_and_ignores_quotes() -> None:
    """In JSON Lines every newline ends a record, a lone quote inside a string included."""
    lines = [b'{"a": "x\\"y"}\n', b'{"a": "\\""}\n', b'{"a": 3}\n']
    chunks = _chunks({"t.jsonl": b"".join(lines)}, rows_per_chunk=1)
    assert [c.data for c in chunks] == lines


# -- sizing ----------------------------------------------------------------------------


def test_rows_per_chunk_cuts_every_k_records(tmp_path: Path) -> None:
    """rows=k gives chunks of k records, the last one shorter."""
    body = b"".join(b"%d\n" % i for i in range(7))
    assert _plan(tmp_path, b"n\n" + body, Sizing(rows=3)) == [
        b"n\n0\n1\n2\n",
        b"n\n3\n4\n5\n",
        b"n\n6\n",
    ]


def test_bytes_per_chunk_cuts_at_the_first_record_end_past_the_target(tmp_path: Path) -> None:
    """Each chunk is at least the target (but the last), and a bigger record goes whole."""
    records = [b"aaaa\n", b'"' + b"b\n" * 20 + b'"\n', b"c\n", b"d\n", b"e\n"]
    chunks = _plan(tmp_path, b"h\n" + b"".join(records), Sizing(target_bytes=6))
    assert chunks == [
        b"h\n" + records[0] + records[1],
        b"h\n" + b"".join(records[2:5]),
    ]


def test_num_chunks_gives_exactly_n_chunks_when_there_are_enough_records(tmp_path: Path) -> None:
    """chunks=n always gives n non-empty chunks for at least n records, even when the
    byte targets all fall inside one huge last record."""
    huge = b'"' + b"x" * 5000 + b'"\n'
    data = b"h\n" + b"1\n2\n3\n4\n" + huge
    chunks = _plan(tmp_path, data, Sizing(chunks=4))
    assert chunks == [b"h\n1\n2\n", b"h\n3\n", b"h\n4\n", b"h\n" + huge]


def test_num_chunks_larger_than_the_records_gives_one_record_per_chunk(tmp_path: Path) -> None:
    """chunks=n with fewer records than n never makes an empty chunk."""
    assert _plan(tmp_path, b"h\n1\n2\n", Sizing(chunks=5)) == [b"h\n1\n", b"h\n2\n"]


def test_cuts_land_the_same_when_blocks_are_tiny(tmp_path: Path) -> None:
    """Late cuts found by reading a block again agree with those found while scanning."""
    data = b"h\n" + b"".join(b'%d,"a\r\nb"\n' % i for i in range(40)) + b'"' + b"z" * 300 + b'"\n'
    expected = _plan(tmp_path, data, Sizing(chunks=12))
    with _blocks_of(16):
        assert _plan(tmp_path, data, Sizing(chunks=12)) == expected
    assert len(expected) == 12


@pytest.mark.parametrize("workers", [2, 3])
def test_blocks_analysed_on_worker_threads_give_the_same_cuts(tmp_path: Path, workers: int) -> None:
    """On machines with cores to spare blocks are analysed on several threads; the cuts,
    quote parity and UTF-8 checks come out as on one."""
    data = b"h\n" + b"".join(b'%d,"\xc3\xa9\r\nb"\n' % i for i in range(300))
    expected = _plan(tmp_path, data, Sizing(chunks=7))
    with _blocks_of(24), mock.patch.object(_records, "_WORKERS", workers):
        assert _plan(tmp_path, data, Sizing(chunks=7)) == expected
        bad = data[:-40] + b"\xff" + data[-39:]
        with pytest.raises(DataError, match=f"byte {len(data) - 40}: not valid UTF-8"):
            _plan(tmp_path, bad, Sizing(chunks=7))


def test_a_csv_split_never_imports_pyarrow(tmp_path: Path) -> None:
    """Splitting a CSV into CSV chunks loads numpy only: pyarrow would add its import time
    to every run."""
    (tmp_path / "src").mkdir()
    (tmp_path / "chunks").mkdir()
    (tmp_path / "src" / "t.csv").write_bytes(b"a,b\n1,2\n3,4\n")
    env = partitioner_environment(
        tmp_path / "src", tmp_path / "chunks", {"rows_per_chunk": 1}, None
    )
    code = (
        "import sys\n"
        "from bytenite_runtime.task import entrypoint_for\n"
        "entrypoint_for('partitioner', 'row').invoke(dict(__import__('os').environ))\n"
        "print(sorted(m for m in ('pyarrow', 'zstandard') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, check=True
    )
    assert done.stdout.decode().strip() == "[]"
    assert len(list((tmp_path / "chunks").iterdir())) == 2


def test_pieces_are_given_while_the_scan_goes_on(tmp_path: Path) -> None:
    """Pieces come out before the scan reaches the end of the file, so their copies overlap
    the scan: a bad byte at the end raises only after earlier pieces were given."""
    path = tmp_path / "data.csv"
    path.write_bytes(b"h\n" + b"row\n" * 200 + b"\xff\n")
    given = []
    with _blocks_of(64), pytest.raises(DataError, match="not valid UTF-8"):
        for piece in delimited.plan(
            path, "data.csv", "csv", Sizing(rows=10), header=True, strict=False
        ):
            given.append(piece)
    assert len(given) >= 10


def test_a_given_cut_never_moves_when_chunks_top_up(tmp_path: Path) -> None:
    """With chunks=n, a cut placed early is held back until enough records follow it, since
    the top-up for a huge last record may push it back: the result is the same as when
    the whole file is one block."""
    huge = b'"' + b"x" * 1990 + b'"\n'
    data = b"h\n" + b"".join(b"%04d,%s\n" % (i, b"p" * 14) for i in range(100)) + huge
    expected = _plan(tmp_path, data, Sizing(chunks=8))
    with _blocks_of(16):
        assert _plan(tmp_path, data, Sizing(chunks=8)) == expected
    assert len(expected) == 8 and expected[-1] == b"h\n" + huge
    # The fourth cut was placed at record 100 by its byte target, then pushed back to 97.
    assert expected[3].endswith(b"0096,pppppppppppppp\n")


def test_closing_the_plan_early_stops_its_scan_thread(tmp_path: Path) -> None:
    """A caller that stops after the first piece leaves no scanning thread behind."""
    path = tmp_path / "data.csv"
    path.write_bytes(b"h\n" + b"row\n" * 2000)
    with _blocks_of(64):
        pieces = delimited.plan(path, "data.csv", "csv", Sizing(rows=1), header=True, strict=False)
        next(pieces)
        pieces.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("scan ")]


@pytest.mark.parametrize("broken", [("copy_file_range",), ("copy_file_range", "sendfile")])
def test_copy_falls_back_when_the_kernel_refuses(tmp_path: Path, broken: tuple[str, ...]) -> None:
    """Where copy_file_range (then sendfile too) fails, the chunk is copied another way."""
    source = tmp_path / "s.csv"
    source.write_bytes(bytes(range(256)) * 64)

    def refuse(*_: Any) -> int:
        raise OSError(18, "Invalid cross-device link")

    with contextlib.ExitStack() as stack:
        for name in broken:
            stack.enter_context(mock.patch.object(copy_module.os, name, refuse))
        with (tmp_path / "out").open("wb") as out, source.open("rb") as src:
            copy_range(src.fileno(), out, 0, 4096)
            copy_range(src.fileno(), out, 4096, 16384)
    assert (tmp_path / "out").read_bytes() == source.read_bytes()


def test_kernel_copies_only_between_offsets_aligned_alike(tmp_path: Path) -> None:
    """copy_file_range runs where source and target sit alike in a page, a buffer elsewhere."""
    source = tmp_path / "s.csv"
    source.write_bytes(bytes(range(256)) * 64)
    real = copy_module.os.copy_file_range
    with (
        mock.patch.object(copy_module.os, "copy_file_range", side_effect=real) as spy,
        (tmp_path / "out").open("wb") as out,
        source.open("rb") as src,
    ):
        out.write(b"header\n")
        copy_range(src.fileno(), out, 100, 5000)
        assert spy.call_count == 0
        copy_range(src.fileno(), out, 4096 + 7 + 4900, 16384)
        assert spy.call_count >= 1
    expected = b"header\n" + source.read_bytes()[100:5000] + source.read_bytes()[9003:]
    assert (tmp_path / "out").read_bytes() == expected


# -- several files, metadata -----------------------------------------------------------


def test_several_files_are_chunked_in_path_order_with_their_row_ranges() -> None:
    """Chunks of several files come in path order, each naming its file and its rows."""
    files = {
        "b.csv": b"k\n" + b"".join(b"b%d\n" % i for i in range(5)),
        "a/x.tsv": b"k\tv\n1\t2\n",
        "c.jsonl": b'{"i": 1}\n{"i": 2}\n{"i": 3}\n',
    }
    chunks = _chunks(files, rows_per_chunk=2)
    described = [(c.meta.index, c.meta.count, c.meta.source, _rows(c)) for c in chunks if c.meta]
    assert described == [
        (0, 6, "a/x.tsv", (0, 1)),
        (1, 6, "b.csv", (0, 2)),
        (2, 6, "b.csv", (2, 4)),
        (3, 6, "b.csv", (4, 5)),
        (4, 6, "c.jsonl", (0, 2)),
        (5, 6, "c.jsonl", (2, 3)),
    ]
    assert chunks[3].data == b"k\nb4\n"


def test_compressed_sources_are_read_transparently() -> None:
    """A .csv.gz and a .csv.zst give the chunks their plain .csv would."""
    data = b'id,t\n1,"a\nb"\n2,c\n3,d\n'
    plain = [c.data for c in _chunks({"p.csv": data}, num_chunks=2)]
    files = {"g.csv.gz": gzip.compress(data), "z.csv.zst": zstandard.compress(data)}
    chunks = _chunks(files, num_chunks=4)
    assert [c.data for c in chunks] == plain * 2
    assert [c.meta.source for c in chunks if c.meta] == ["g.csv.gz"] * 2 + ["z.csv.zst"] * 2


@pytest.mark.parametrize("compress", [gzip.compress, zstandard.compress])
def test_a_truncated_compressed_source_is_an_error_not_a_shorter_table(
    tmp_path: Path, compress: Any
) -> None:
    """A .gz or .zst cut short fails naming the file, and leaves no chunk: zstd's stream
    copy stops quietly inside a frame, which would cut half the table as if it were all."""
    data = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * 7) for i in range(20000))
    packed = compress(data)
    ext = "gz" if compress is gzip.compress else "zst"
    message = failing_partition(
        tmp_path, "row", {f"t.csv.{ext}": packed[: len(packed) // 2]}, num_chunks=2
    )
    kind = "gzip" if ext == "gz" else "zstd"
    assert message.startswith(f"t.csv.{ext}: not a valid {kind} stream (")


def test_a_zstd_source_of_several_frames_is_read_whole() -> None:
    """Frames one after another (as zstd -c a b or a streaming writer leaves them) all count."""
    first = b"a,b\n" + b"".join(b"%d,x\n" % i for i in range(50))
    second = b"".join(b"%d,y\n" % i for i in range(50, 100))
    packed = zstandard.compress(first) + zstandard.compress(second)
    chunks = _chunks({"t.csv.zst": packed}, rows_per_chunk=40)
    assert [c.meta.fields["rows"] for c in chunks if c.meta] == [[0, 40], [40, 80], [80, 100]]


@pytest.mark.parametrize("tail", [b"\n", b"\n\n\n", b"\r\n\r\n"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_blank_lines_at_the_end_are_kept_but_are_not_rows(
    tmp_path: Path, tail: bytes, fmt: str
) -> None:
    """A file ending in blank lines gives no chunk of blank lines alone and no row for
    them: the last chunk keeps them (the join is byte for byte), and converted to Parquet
    the chunks join with every row."""
    line = (lambda i: b"%d,%d" % (i, i)) if fmt == "csv" else (lambda i: b'{"a": %d}' % i)
    newline = b"\r\n" if tail.startswith(b"\r") else b"\n"
    head = b"a,b" + newline if fmt == "csv" else b""
    data = head + b"".join(line(i) + newline for i in range(100)) + tail
    for sizing in ({"rows_per_chunk": 50}, {"num_chunks": 3}, {"bytes_per_chunk": 200}):
        chunks = _chunks({f"t.{fmt}": data}, **sizing)
        rows = [c.meta.fields["rows"] for c in chunks if c.meta]
        assert rows[-1][1] == 100
        assert all(stop > start for start, stop in rows)
        assert b"".join(c.data[len(head) :] if i else c.data for i, c in enumerate(chunks)) == data
    converted = _chunks({f"t.{fmt}": data}, rows_per_chunk=50, output_format="parquet")
    assert len(converted) == 2
    strict = _chunks({f"t.{fmt}": data}, rows_per_chunk=50, strict=True)
    assert len(strict) == 2


def test_a_file_of_blank_lines_or_a_header_and_blank_lines_has_no_records(tmp_path: Path) -> None:
    """Blank lines alone are no table, and a header followed by them has no data rows."""
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    assert failing_partition(tmp_path / "a", "row", {"t.csv": b"\n\n\n"}) == (
        "t.csv: no records (only blank lines)"
    )
    assert failing_partition(tmp_path / "b", "row", {"t.csv": b"a,b\n\n"}) == (
        "t.csv: no data rows (only a header and blank lines)"
    )


def test_lines_ending_in_a_bare_cr_are_named_as_the_problem(tmp_path: Path) -> None:
    """Classic Mac OS line endings (CR alone) are not taken for one long record or a lone
    header: the error says what they are and how to convert them; a quoted CR is data."""
    message = failing_partition(tmp_path, "row", {"t.csv": b"a,b\r1,2\r3,4\r"}, num_chunks=2)
    assert message.startswith("t.csv: lines end in a bare CR (classic Mac OS); only LF and CRLF")
    # A CR inside a quoted field is data: one record, no error (hypothesis found this one).
    for data in (b',"\r"', b'a,"x\r""y"\r\n'):
        chunks = _chunks({"q.csv": data}, rows_per_chunk=1, header=False)
        assert [c.data for c in chunks] == [data]


@pytest.mark.parametrize("output_format", ["same", "parquet"])
@pytest.mark.parametrize("prefix", [b"", BOM])
def test_excel_delimiter_hint_line_is_named_not_taken_for_the_header(
    tmp_path: Path, prefix: bytes, output_format: str
) -> None:
    """An Excel export's first line ``sep=;`` fails naming it, before any chunk, instead
    of being repeated as every chunk's header or naming a converted chunk's columns."""
    data = prefix + b"sep=;\r\na;b\r\n1;x\r\n2;y\r\n"
    message = failing_partition(
        tmp_path, "row", {"t.csv": data}, rows_per_chunk=1, delimiter=";",
        output_format=output_format,
    )  # fmt: skip
    assert message == (
        "t.csv: its first line 'sep=;' is Excel's delimiter hint, not a header or a record; "
        "remove that line (and set delimiter to ';')"
    )


@pytest.mark.parametrize("block", [3, 8, 64, 1 << 20])
@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"a,b\n1,2\r3,4\n5,6\n", 7),  # one stray CR in an LF file
        (b"a,b\r\n1,2\r\n3,4\r5,6\r\n", 13),  # a CR-ended line among CRLF ones
        (b'a,b\n1,"x\ry"\n2,3\r4,5\n', 15),  # the quoted CR is data, the later one is not
    ],
)
def test_strict_names_a_bare_cr_among_lf_lines_by_its_byte(
    tmp_path: Path, data: bytes, where: int, block: int
) -> None:
    """With strict, a bare CR outside quotes in a file of LF or CRLF lines, where Python's
    csv and pyarrow end a row, fails naming its byte, rather than making a chunk hold more
    rows for them than it says."""
    with _blocks_of(block):
        message = failing_partition(tmp_path, "row", {"t.csv": data}, rows_per_chunk=1, strict=True)
    assert message == (
        f"t.csv byte {where}: a bare CR outside quotes; only LF and CRLF end records: quote "
        "the field that holds it, or convert the line endings first"
    )


def test_a_bare_cr_is_field_data_without_strict() -> None:
    """Without strict a bare CR outside quotes stays in its field, as polars reads it: the
    cuts fall at LF and the row ranges count LF-ended records."""
    chunks = _chunks({"t.csv": b"a,b\n1,2\r3,4\n5,6\n"}, rows_per_chunk=1)
    assert [c.data for c in chunks] == [b"a,b\n1,2\r3,4\n", b"a,b\n5,6\n"]
    assert [_rows(c) for c in chunks] == [(0, 1), (1, 2)]


def test_a_cr_ending_the_file_or_split_from_its_lf_by_a_block_is_no_bare_cr() -> None:
    """A CR as the file's last byte, or a CRLF whose two bytes fall in two blocks, ends a
    record as before, strict or not."""
    for block, strict in itertools.product((2, 3, 1 << 20), (False, True)):
        with _blocks_of(block):
            chunks = _chunks({"t.csv": b"a,b\r\n1,2\r\n3,4\r"}, rows_per_chunk=1, strict=strict)
        assert [c.data for c in chunks] == [b"a,b\r\n1,2\r\n", b"a,b\r\n3,4\r"]


# -- properties ------------------------------------------------------------------------

_BLOCKS = st.sampled_from([8, 16, 24, 64, 1 << 20])


def _check_chunks(
    chunks: list[PartitionedChunk], data: bytes, header: int, sizing: dict[str, int]
) -> None:
    """Indices run 0..n-1, no chunk is empty, row ranges are contiguous, the bodies
    (header dropped from all but the first) join to the input byte for byte, and the
    sizing holds: n chunks when there are n rows, no chunk but the last under the target."""
    assert [c.meta.index if c.meta else None for c in chunks] == list(range(len(chunks)))
    ranges = [_rows(c) for c in chunks]
    assert all(start < stop for start, stop in ranges)
    assert [start for start, _ in ranges] == [0] + [stop for _, stop in ranges[:-1]]
    assert all(c.data[:header] == data[:header] for c in chunks)
    assert chunks[0].data + b"".join(c.data[header:] for c in chunks[1:]) == data
    if "num_chunks" in sizing:
        assert len(chunks) == min(sizing["num_chunks"], ranges[-1][1])
    if "rows_per_chunk" in sizing:
        assert all(stop - start == sizing["rows_per_chunk"] for start, stop in ranges[:-1])
    if "bytes_per_chunk" in sizing:
        assert all(len(c.data) - header >= sizing["bytes_per_chunk"] for c in chunks[:-1])


@settings(max_examples=30, deadline=None)
@given(
    table=st.sampled_from(["csv", "tsv"]).flatmap(
        lambda f: st.tuples(st.just(f), delimited_tables("," if f == "csv" else "\t"))
    ),
    sizing=TEXT_SIZINGS,
    block=_BLOCKS,
)
def test_property_csv_tsv_chunks_are_whole_records(
    table: tuple[str, tuple[bytes, int]], sizing: dict[str, int], block: int
) -> None:
    """Generated CSV/TSV: chunks join to the input, each parses to whole records, and each
    holds as many records as its metadata row range says."""
    fmt, (data, header) = table
    delimiter = "," if fmt == "csv" else "\t"
    with _blocks_of(block):
        chunks = _chunks({f"t.{fmt}": data}, header=bool(header), **sizing)
    _check_chunks(chunks, data, header, sizing)
    skip = 1 if header else 0
    parsed = [parse_delimited(c.data, delimiter)[skip:] for c in chunks]
    assert [len(rows) for rows in parsed] == [stop - start for start, stop in map(_rows, chunks)]
    assert [row for rows in parsed for row in rows] == parse_delimited(data, delimiter)[skip:]


@settings(max_examples=30, deadline=None)
@given(data=json_lines(), sizing=TEXT_SIZINGS, block=_BLOCKS)
def test_property_jsonl_chunks_are_whole_records(
    data: bytes, sizing: dict[str, int], block: int
) -> None:
    """Generated JSON Lines: chunks join to the input and every line of every chunk is a
    whole JSON document, as many as the metadata row range says."""
    with _blocks_of(block):
        chunks = _chunks({"t.jsonl": data}, **sizing)
    _check_chunks(chunks, data, 0, sizing)
    for chunk in chunks:
        lines = chunk.data.decode().split("\n")
        lines = lines[:-1] if lines[-1] == "" else lines
        assert all(isinstance(json.loads(line), dict) for line in lines)
        assert len(lines) == _rows(chunk)[1] - _rows(chunk)[0]


# -- bad input -------------------------------------------------------------------------


def test_unterminated_quoted_field_names_where_it_opened(tmp_path: Path) -> None:
    """An unterminated quote fails at the end of the file, naming the opening quote's byte,
    and the good file planned before it leaves no chunk."""
    bad = b'a,b\n1,2\n3,"open\n4,5\n'
    good = b"a\n" + b"x\n" * 100
    message = failing_partition(tmp_path, "row", {"a.csv": good, "b.csv": bad}, rows_per_chunk=1)
    opened = bad.index(b'"')
    assert message == (
        f"b.csv byte {len(bad)}: unterminated quoted field (opened at byte {opened}); "
        "if its quotes are plain characters, set quoting=false"
    )


def test_utf8_checks_run_off_the_scan_yet_in_file_order(tmp_path: Path) -> None:
    """The UTF-8 checks run on the caller's thread, behind the scan: an invalid byte early
    in the file is still the error, not a broken quote the scan met later, and no piece
    past the bad byte is given."""
    path = tmp_path / "data.csv"
    path.write_bytes(b"h\n" + b"row\n" * 50 + b"\xff\n" + b"row\n" * 150 + b'"open')
    given = []
    with _blocks_of(64), pytest.raises(DataError, match=r"byte 202: not valid UTF-8"):
        for piece in delimited.plan(
            path, "data.csv", "csv", Sizing(rows=10), header=True, strict=False
        ):
            given.append(piece)
    assert given and all(piece.records[1] <= 202 for piece in given)


def test_unterminated_quote_opened_in_an_earlier_block_is_found(tmp_path: Path) -> None:
    """The opening quote is found even when blocks without quotes follow it."""
    bad = b'a\n"' + b"x" * 200
    with _blocks_of(16):
        message = failing_partition(tmp_path, "row", {"t.csv": bad})
    assert "(opened at byte 2);" in message


@pytest.mark.parametrize(
    ("data", "where", "reason"),
    [
        (b"a,b\n1,\xff\n", 6, "invalid start byte"),
        (b"a,b\n1,\xc3\xa9\n2,\xe6\x97\n", 11, "invalid continuation byte"),
        (b"a,b\n" + "é".encode() * 40 + b"\xe6\x97", 84, "unexpected end of data"),
    ],
    ids=["bad-byte", "cut-sequence", "truncated-at-end"],
)
def test_invalid_utf8_names_the_byte(tmp_path: Path, data: bytes, where: int, reason: str) -> None:
    """Invalid UTF-8 fails with the byte offset of the first bad sequence, across blocks too."""
    with _blocks_of(24):
        message = failing_partition(tmp_path, "row", {"t.csv": data})
    assert message == f"t.csv byte {where}: not valid UTF-8 ({reason})"


@pytest.mark.parametrize(
    ("encoded", "looks", "iconv"),
    [
        ("a,b\n1,é\n".encode("utf-16"), "UTF-16 (byte order mark FF FE)", "UTF-16"),
        (
            b"\xfe\xff" + "a,b\n1,é\n".encode("utf-16-be"),
            "UTF-16 (byte order mark FE FF)",
            "UTF-16",
        ),
        ("a,b\n1,é\n".encode("utf-32"), "UTF-32 (byte order mark FF FE 00 00)", "UTF-32"),
        (
            "a,b\n1,2\n".encode("utf-16-le"),
            "UTF-16LE (NUL in every other byte, no byte order mark)",
            "UTF-16LE",
        ),
        (
            "a,b\n1,2\n".encode("utf-16-be"),
            "UTF-16BE (NUL in every other byte, no byte order mark)",
            "UTF-16BE",
        ),
    ],
    ids=["utf16-le-bom", "utf16-be-bom", "utf32-bom", "utf16-le", "utf16-be"],
)
@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.jsonl"])
def test_utf16_source_is_named_as_utf16_with_how_to_convert(
    tmp_path: Path, encoded: bytes, looks: str, iconv: str, name: str
) -> None:
    """A UTF-16 (or UTF-32) table, with a byte order mark or only NULs in every other byte,
    fails on one line naming the file, byte 0, the encoding and an iconv command."""
    message = failing_partition(tmp_path, "row", {name: encoded})
    assert message == (
        f"{name} byte 0: not valid UTF-8, it looks like {looks}; convert it to UTF-8 first "
        f"(e.g. iconv -f {iconv} -t UTF-8)"
    )


def test_a_stray_nul_or_a_utf8_bom_is_not_taken_for_utf16() -> None:
    """UTF-8 with a BOM, or with a NUL inside one field, is still read as UTF-8."""
    for data in (BOM + b"a,b\n1,2\n", b"a,b\n1,\x00\n2,3\n", b"\x00,b\n1,2\n"):
        assert [c.data for c in _chunks({"t.csv": data})] == [data]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "t.csv: no records"),
        (BOM, "t.csv: no records"),
        (b"a,b\r\n", "t.csv: no data rows (only a header)"),
    ],
    ids=["empty", "bom-only", "header-only"],
)
def test_empty_source_is_an_error(tmp_path: Path, data: bytes, expected: str) -> None:
    """A source without data rows fails with a one-line message naming it."""
    assert failing_partition(tmp_path, "row", {"t.csv": data}) == expected


def test_ragged_row_in_strict_mode_names_the_row(tmp_path: Path) -> None:
    """strict=true rejects a row whose field count differs from the header's, naming it."""
    data = b'a,b\n1,2\n"x\ny",2\n3\n4,5\n'
    message = failing_partition(tmp_path, "row", {"t.csv": data}, strict=True)
    assert message == "t.csv row 2 (line 5): 1 field where the header has 2"
    assert len(_chunks({"t.csv": data}, num_chunks=2)) == 2


def test_zero_size_is_rejected_by_the_params_model(tmp_path: Path) -> None:
    """A zero or negative size never reaches planning: it is a settings error."""
    with pytest.raises(Exception, match=r"PARTITIONER_PARAMS\.rows_per_chunk"):
        failing_partition(tmp_path, "row", {"t.csv": b"a\n1\n"}, rows_per_chunk=0)


def test_a_bare_quote_in_a_tsv_fails_with_the_quoting_hint(tmp_path: Path) -> None:
    """A TSV whose unquoted field holds a bare quote fails at the end, saying how to read it."""
    body = b"name\theight\n" + b"".join(b"p%d\t5'%d\"\n" % (i, i) for i in range(3))
    message = failing_partition(tmp_path, "row", {"people.tsv": body})
    assert message.endswith("; if its quotes are plain characters, set quoting=false")


def test_quoting_off_conversion_reads_bare_quotes_as_characters() -> None:
    """With quoting false a conversion reads each bare quote as part of its field."""
    body = b"name\theight\n" + b"".join(b"p%d\t5'%d\"\n" % (i, i) for i in range(4))
    chunks = run_partitioner(
        "row",
        {"people.tsv": body},
        {"rows_per_chunk": 2, "quoting": False, "output_format": "jsonl"},
    )
    rows = [json.loads(line) for c in chunks for line in c.data.decode().splitlines()]
    assert rows == [{"name": f"p{i}", "height": f"5'{i}\""} for i in range(4)]


def test_delimiter_option_separates_fields_for_strict_and_conversion(tmp_path: Path) -> None:
    """A semicolon CSV: strict counts fields by ';' (a ragged row is named), and conversion
    reads its columns, a quoted ';' staying inside its field."""
    data = b'id;name;amount\n1;"Smith; Anna";2,50\n2;Ben;3,00\n'
    strict = _chunks({"t.csv": data}, rows_per_chunk=1, strict=True, delimiter=";")
    assert b"".join(c.data[len(b"id;name;amount\n") :] for c in strict) == data[15:]
    converted = _chunks({"t.csv": data}, num_chunks=1, delimiter=";", output_format="jsonl")
    assert [json.loads(line) for line in converted[0].data.decode().splitlines()] == [
        {"id": "1", "name": "Smith; Anna", "amount": "2,50"},
        {"id": "2", "name": "Ben", "amount": "3,00"},
    ]
    ragged = data + b"3;Cleo\n"
    message = failing_partition(tmp_path, "row", {"t.csv": ragged}, strict=True, delimiter=";")
    assert message == "t.csv row 2 (line 4): 2 fields where the header has 3"


@pytest.mark.parametrize(
    ("delimiter", "reason"),
    [
        ('"', "'\"' cannot separate fields (it is a quote or a newline)"),
        ("\n", "'\\n' cannot separate fields (it is a quote or a newline)"),
        ("\r", "'\\r' cannot separate fields (it is a quote or a newline)"),
        (";;", "String should have at most 1 character (got ';;')"),
        ("", "String should have at least 1 character (got '')"),
    ],
)
def test_a_delimiter_that_cannot_separate_fields_is_a_settings_error(
    tmp_path: Path, delimiter: str, reason: str
) -> None:
    """A quote, a newline, or anything but one character is refused before any planning."""
    with pytest.raises(Exception, match=r"PARTITIONER_PARAMS\.delimiter: ") as caught:
        failing_partition(tmp_path, "row", {"t.csv": b"a\n1\n"}, delimiter=delimiter)
    assert str(caught.value).endswith(f"PARTITIONER_PARAMS.delimiter: {reason}")


def test_a_non_ascii_delimiter_with_output_format_is_a_settings_error(tmp_path: Path) -> None:
    """A non-ASCII delimiter is refused up front when output_format converts, naming it."""
    with pytest.raises(Exception, match=r"PARTITIONER_PARAMS\.delimiter: ") as caught:
        failing_partition(
            tmp_path, "row", {"t.csv": "a\u00e9b\n1\u00e92\n".encode()}, delimiter="\u00e9",
            output_format="jsonl",
        )  # fmt: skip
    assert str(caught.value).endswith(
        "PARTITIONER_PARAMS.delimiter: '\u00e9' is not an ASCII character, which "
        "output_format needs to read the fields (splitting without output_format takes any "
        "character)"
    )
    assert getattr(caught.value, "exit_code", None) == 2


def test_a_non_ascii_delimiter_still_splits_without_conversion() -> None:
    """Without output_format a non-ASCII delimiter only serves strict, and works."""
    data = "a\u00e9b\n1\u00e92\n3\u00e94\n".encode()
    chunks = _chunks({"t.csv": data}, rows_per_chunk=1, delimiter="\u00e9", strict=True)
    assert [c.data for c in chunks] == [
        "a\u00e9b\n1\u00e92\n".encode(),
        "a\u00e9b\n3\u00e94\n".encode(),
    ]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("t.csv.gz", b"notgzip", "t.csv.gz: not gzip data (no gzip magic bytes); rename it or compress it"),  # noqa: E501
        ("t.csv.gz", b"a,b\n1,2\n", "t.csv.gz: not gzip data (no gzip magic bytes); rename it or compress it"),  # noqa: E501
        ("t.csv.zst", b"a,b\n1,2\n", "t.csv.zst: not zstd data (no zstd magic bytes); rename it or compress it"),  # noqa: E501
    ],
    ids=["gz-garbage", "gz-plain", "zst-plain"],
)  # fmt: skip
def test_a_compression_name_that_does_not_match_the_bytes_is_an_error(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    """A .gz/.zst name over other bytes fails naming the file, instead of being read as
    something else."""
    assert failing_partition(tmp_path, "row", {name: data}) == expected


@pytest.mark.parametrize("compress", [gzip.compress, zstandard.compress], ids=["gzip", "zstd"])
def test_compressed_bytes_under_a_plain_name_are_read_decompressed(
    compress: Callable[[bytes], bytes],
) -> None:
    """gzip or zstd bytes named t.csv are read by their magic, decompressed."""
    chunks = _chunks({"t.csv": compress(b"a,b\n1,2\n3,4\n")}, rows_per_chunk=1)
    assert [c.data for c in chunks] == [b"a,b\n1,2\n", b"a,b\n3,4\n"]


def _columnar(fmt: str) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"a": [1, 2]})
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
    elif fmt == "arrow":
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    else:
        import numpy as np

        np.save(sink, np.arange(3))
    return sink.getvalue()


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("parquet", "t.csv: looks like Parquet (starts with PAR1), not CSV; set \"format\": \"parquet\" or rename it"),  # noqa: E501
        ("arrow", "t.csv: looks like Arrow IPC (starts with ARROW1), not CSV; set \"format\": \"arrow\" or rename it"),  # noqa: E501
        ("npy", "t.csv: looks like a NumPy .npy array (starts with \\x93NUMPY), not CSV; set \"format\": \"npy\" or rename it"),  # noqa: E501
    ],
)  # fmt: skip
def test_a_binary_table_under_a_text_name_says_what_it_looks_like(
    tmp_path: Path, fmt: str, expected: str
) -> None:
    """Parquet, Arrow IPC or .npy bytes named .csv fail naming the format to set, not at
    their first non-UTF-8 byte."""
    assert failing_partition(tmp_path, "row", {"t.csv": _columnar(fmt)}) == expected


def test_a_csv_whose_header_starts_like_a_magic_is_still_csv() -> None:
    """A CSV header starting "PAR1," is text: Parquet must also end in its magic."""
    chunks = _chunks({"t.csv": b"PAR1,PAR2\n1,2\n"})
    assert [c.data for c in chunks] == [b"PAR1,PAR2\n1,2\n"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a": 1}\n{"a": 2,}\n{"a": 3}\n', "t.jsonl row 1 (line 2): not one JSON value"),
        (b'{"a": 1}\n{"a": 2} {"a": 3}\n', "t.jsonl row 1 (line 2): not one JSON value"),
        (b'{"a": 1}\n\n{"a": 3}\n', "t.jsonl row 1 (line 2): blank line"),
    ],
    ids=["trailing-comma", "two-values", "blank-between"],
)
def test_strict_json_lines_names_the_bad_line(tmp_path: Path, body: bytes, expected: str) -> None:
    """strict=true parses each JSON Lines line and names the first that is not one value;
    without strict the same file is cut line by line."""
    message = failing_partition(tmp_path, "row", {"t.jsonl": body}, strict=True)
    assert message.startswith(expected)
    assert len(_chunks({"t.jsonl": body}, rows_per_chunk=1)) == body.count(b"\n")


def test_strict_json_lines_accepts_a_bom_crlf_and_blank_lines_at_the_end() -> None:
    """A BOM before the first line, CRLF endings and trailing blank lines are valid."""
    body = BOM + b'{"a": 1}\r\n[2, 3]\r\n"four"\r\n\r\n\n'
    chunks = _chunks({"t.jsonl": body}, rows_per_chunk=2, strict=True)
    assert [_rows(c) for c in chunks] == [(0, 2), (2, 3)]
    assert b"".join(c.data for c in chunks) == body


def test_quoting_off_splits_a_tsv_with_bare_quotes_at_every_newline() -> None:
    """With quoting false a bare quote in an unquoted field does not swallow the next
    records: every newline ends a record and the chunks join back byte for byte."""
    body = b"name\theight\n" + b"".join(b"p%d\t5'%d\"\n" % (i, i) for i in range(10))
    chunks = run_partitioner("row", {"people.tsv": body}, {"rows_per_chunk": 3, "quoting": False})
    assert len(chunks) == 4
    header = b"name\theight\n"
    assert all(c.data.startswith(header) for c in chunks)
    assert header + b"".join(c.data[len(header) :] for c in chunks) == body


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("../nowhere.csv", "No such file or directory"),
        ("link.csv", "Too many levels of symbolic links"),
    ],
)
def test_a_source_that_cannot_be_opened_is_a_data_error_naming_it(
    tmp_path: Path, target: str, reason: str
) -> None:
    """A dangling symlink or a link loop among the sources fails naming the file, no chunk."""
    from bytenite_runtime.task import entrypoint_for

    source, chunks = tmp_path / "src", tmp_path / "chunks"
    source.mkdir()
    chunks.mkdir()
    (source / "a.csv").write_bytes(b"a,b\n1,2\n")
    (source / "link.csv").symlink_to(target)
    with pytest.raises(DataError) as caught:
        entrypoint_for("partitioner", "row").invoke(
            partitioner_environment(source, chunks, {}, None)
        )
    assert str(caught.value) == f"link.csv: cannot be read ({reason})"
    assert list(chunks.iterdir()) == []

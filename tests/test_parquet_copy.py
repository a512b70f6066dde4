"""Whole Parquet row groups copied page for page, and the Thrift compact codec under it."""

from __future__ import annotations

import io
import struct
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bytenite_runtime.chunks import META_KEY, ChunkMeta
from bytenite_runtime.errors import DataError
from bytenite_runtime.tables import _parquet, columnar, parquet_copy, slots, thrift
from bytenite_runtime.tables.spans import Span

ROWS = 1000
GROUP = 250


def sample(rows: int = ROWS) -> pa.Table:
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "score": [None if i % 7 == 0 else i / 3 for i in range(rows)],
            "flag": [i % 3 == 0 for i in range(rows)],
            "city": [None if i % 11 == 0 else f"city {i % 5}" for i in range(rows)],
            "text": [f"free text {i} " * (i % 4) for i in range(rows)],
            "tags": [None if i % 13 == 0 else [i, None, i * 2][: i % 4] for i in range(rows)],
            "kind": pa.array([f"k{i % 3}" for i in range(rows)]).dictionary_encode(),
            "at": pa.array(
                [datetime(2024, 1, 1 + i % 28) for i in range(rows)], pa.timestamp("us")
            ),
        }
    )
    return table.replace_schema_metadata({"owner": "tests"})


def write(path: Path, table: pa.Table, **options: Any) -> Path:
    pq.write_table(table, path, row_group_size=GROUP, **options)
    return path


def footer_bytes(data: bytes) -> bytes:
    (size,) = struct.unpack("<I", data[-8:-4])
    return data[-8 - size : -8]


def first_column(data: bytes, group: int) -> thrift.Struct:
    groups = thrift.decode(footer_bytes(data))[0].get_list(4)
    assert groups is not None
    row_group = groups.items[group]
    assert isinstance(row_group, thrift.Struct)
    columns = row_group.get_list(1)
    assert columns is not None and isinstance(columns.items[0], thrift.Struct)
    return columns.items[0]


def meta_of(column: thrift.Struct) -> thrift.Struct:
    meta = column.get_struct(3)
    assert meta is not None
    return meta


def piece(path: Path, groups: list[int], rows: int = GROUP) -> columnar.ParquetPiece:
    spans = tuple(Span(g, 0, rows) for g in groups)
    return columnar.ParquetPiece(path, path.name, (0, rows * len(groups)), spans)


def copied(path: Path, groups: list[int], meta: ChunkMeta | None) -> bytes:
    out = io.BytesIO()
    edit = lambda kv: _parquet._chunk_key_values(meta, kv)  # noqa: E731
    spans = [(g, 0, GROUP) for g in groups]
    assert parquet_copy.copy_row_groups(path, spans, out, edit, path.name)
    return out.getvalue()


def decoded(path: Path, groups: list[int], meta: ChunkMeta | None) -> bytes:
    out = io.BytesIO()
    original = _parquet.copy_row_groups
    _parquet.copy_row_groups = lambda *args: False  # type: ignore[assignment]
    try:
        piece(path, groups).write(out, meta)
    finally:
        _parquet.copy_row_groups = original
    return out.getvalue()


@pytest.mark.parametrize("codec", ["snappy", "zstd", "none"])
@pytest.mark.parametrize("page_version", ["1.0", "2.0"])
def test_copied_row_groups_read_back_in_pyarrow_and_polars(
    tmp_path: Path, codec: str, page_version: str
) -> None:
    """A chunk of whole row groups reads back with the source's rows and schema in both."""
    table = sample()
    source = write(
        tmp_path / "s.parquet",
        table,
        compression=codec,
        data_page_version=page_version,
        data_page_size=512,  # several pages per column chunk
    )
    meta = ChunkMeta(3, 4, "s.parquet")
    data = copied(source, [1, 2], meta)
    chunk = tmp_path / "c.parquet"
    chunk.write_bytes(data)
    expected = table.slice(GROUP, 2 * GROUP)
    back = pq.read_table(chunk)
    assert back.equals(expected.cast(back.schema))
    assert back.schema.remove_metadata().equals(table.schema.remove_metadata())
    assert back.schema.metadata == {**table.schema.metadata, META_KEY.encode(): meta.to_json()}
    assert pl.read_parquet(chunk).equals(pl.read_parquet(source).slice(GROUP, 2 * GROUP))
    assert pq.ParquetFile(chunk).metadata.num_row_groups == 2
    assert pq.ParquetFile(chunk).metadata.num_rows == 2 * GROUP
    assert b"ARROW:schema" in pq.read_metadata(chunk).metadata
    assert slots.read_parquet_meta(chunk) == meta


def test_copy_matches_the_decoding_path(tmp_path: Path) -> None:
    """The copy and the decode-and-re-encode path give the same table, schema metadata
    and file key-value metadata."""
    source = write(tmp_path / "s.parquet", sample())
    meta = ChunkMeta(0, 2, "s.parquet")
    fast = pq.ParquetFile(io.BytesIO(copied(source, [0, 3], meta)))
    slow = pq.ParquetFile(io.BytesIO(decoded(source, [0, 3], meta)))
    assert fast.read().equals(slow.read())
    assert fast.schema_arrow.equals(slow.schema_arrow, check_metadata=True)
    assert fast.metadata.metadata.keys() == slow.metadata.metadata.keys()


def test_piece_write_takes_the_copy_for_whole_row_groups(tmp_path: Path) -> None:
    """ParquetPiece.write copies pages verbatim when every span is a whole row group."""
    source = write(tmp_path / "s.parquet", sample(), compression="zstd")
    out = io.BytesIO()
    piece(source, [2]).write(out, None)
    raw = source.read_bytes()
    column = pq.read_metadata(source).row_group(2).column(0)
    start = column.dictionary_page_offset or column.data_page_offset
    pages = raw[start : start + column.total_compressed_size]
    assert out.getvalue()[4 : 4 + len(pages)] == pages
    assert META_KEY.encode() not in (pq.read_metadata(io.BytesIO(out.getvalue())).metadata or {})


def test_partial_row_groups_fall_back_to_decoding(tmp_path: Path) -> None:
    """A span covering part of a row group is not copied, and the piece still decodes it."""
    table = sample()
    source = write(tmp_path / "s.parquet", table)
    out = io.BytesIO()
    spans = [(1, 0, GROUP), (2, 0, 100)]
    assert not parquet_copy.copy_row_groups(source, spans, out, dict, "s")
    assert out.getvalue() == b""
    part = columnar.ParquetPiece(
        source, "s", (GROUP, GROUP + 350), (Span(1, 0, GROUP), Span(2, 0, 100))
    )
    part.write(out, None)
    back = pq.read_table(io.BytesIO(out.getvalue()))
    assert back.to_pylist() == table.slice(GROUP, 350).to_pylist()


def test_encrypted_footer_magic_is_not_copied(tmp_path: Path) -> None:
    """A file ending in 'PARE' (encrypted footer) is left to the decoding path."""
    source = write(tmp_path / "s.parquet", sample())
    source.write_bytes(source.read_bytes()[:-4] + b"PARE")
    out = io.BytesIO()
    assert not parquet_copy.copy_row_groups(source, [(0, 0, GROUP)], out, dict, "s")
    assert out.getvalue() == b""


def test_damaged_page_header_is_not_copied(tmp_path: Path) -> None:
    """A page header that does not parse, or whose sizes do not add up, refuses the copy."""
    source = write(tmp_path / "s.parquet", sample())
    offset = pq.read_metadata(source).row_group(1).column(1).data_page_offset
    raw = bytearray(source.read_bytes())
    for i in range(offset, offset + 40):
        raw[i] ^= 0x5A
    source.write_bytes(bytes(raw))
    out = io.BytesIO()
    assert not parquet_copy.copy_row_groups(source, [(1, 0, GROUP)], out, dict, "s")
    assert parquet_copy.copy_row_groups(source, [(0, 0, GROUP)], out, dict, "s")


@pytest.mark.parametrize("block", [None, 7], ids=["default-reads", "pages-across-reads"])
def test_page_checksums_are_checked_while_copying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int | None
) -> None:
    """With page CRCs in the source, a damaged page body is a DataError naming the group,
    also when a page's body arrives over several reads."""
    if block is not None:
        monkeypatch.setattr(parquet_copy, "_BLOCK", block)
    table = sample()
    source = write(tmp_path / "s.parquet", table, write_page_checksum=True, compression="none")
    assert pq.read_table(io.BytesIO(copied(source, [0, 1], None))).equals(table.slice(0, 2 * GROUP))
    column = pq.read_metadata(source).row_group(1).column(0)
    raw = bytearray(source.read_bytes())
    start = column.dictionary_page_offset or column.data_page_offset
    raw[start + column.total_compressed_size - 3] ^= 0xFF  # the last page's body
    source.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"s\.parquet row group 1: cannot be decoded"):
        copied(source, [1], None)


# pyarrow writes bloom filters from 24 on.
BLOOM = int(pa.__version__.split(".")[0]) >= 24


def test_page_index_and_bloom_filters_are_dropped(tmp_path: Path) -> None:
    """Offsets of page indexes and bloom filters, which are not copied, leave the footer."""
    table = sample()
    options: dict[str, Any] = {"write_page_index": True}
    if BLOOM:
        options["bloom_filter_options"] = {"id": {}}
    source = write(tmp_path / "s.parquet", table, **options)
    data = copied(source, [3], None)
    chunk = pq.ParquetFile(io.BytesIO(data))
    assert not chunk.metadata.row_group(0).column(0).has_offset_index
    assert not chunk.metadata.row_group(0).column(0).has_column_index
    assert chunk.read().equals(table.slice(3 * GROUP, GROUP))
    before, after = first_column(source.read_bytes(), 3), first_column(data, 0)
    assert {4, 5, 6, 7} <= before.fields.keys()
    assert not BLOOM or {14, 15} <= meta_of(before).fields.keys()
    assert not {4, 5, 6, 7} & after.fields.keys()
    assert not {14, 15} & meta_of(after).fields.keys()


def test_source_without_key_values_gets_none(tmp_path: Path) -> None:
    """With no chunk metadata and none in the source, the footer has no key-value list."""
    table = sample().replace_schema_metadata(None)
    source = write(tmp_path / "s.parquet", table, store_schema=False)
    data = copied(source, [0], None)
    assert 5 not in thrift.decode(footer_bytes(data))[0].fields
    assert pq.read_table(io.BytesIO(data)).num_rows == GROUP


def test_polars_written_source_is_copied(tmp_path: Path) -> None:
    """A file from another writer (polars) copies and reads back in pyarrow and polars."""
    frame = pl.from_arrow(sample().drop(["kind"]))
    assert isinstance(frame, pl.DataFrame)
    source = tmp_path / "s.parquet"
    frame.write_parquet(source, row_group_size=GROUP, statistics=True)
    groups = pq.read_metadata(source).num_row_groups
    assert groups > 1
    rows = pq.read_metadata(source).row_group(1).num_rows
    out = io.BytesIO()
    assert parquet_copy.copy_row_groups(source, [(1, 0, rows)], out, dict, "s")
    start = pq.read_metadata(source).row_group(0).num_rows
    assert pl.read_parquet(io.BytesIO(out.getvalue())).equals(frame.slice(start, rows))
    assert pq.read_table(io.BytesIO(out.getvalue())).num_rows == rows


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"compression": "none", "write_statistics": False},
        {"data_page_version": "2.0", "write_page_index": True},
        {"use_dictionary": False, "version": "1.0"},
    ],
)
def test_thrift_round_trips_real_footers_byte_for_byte(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    """decode then encode gives back pyarrow's footers and page headers unchanged."""
    source = write(tmp_path / "s.parquet", sample(), **options)
    raw = source.read_bytes()
    footer = footer_bytes(raw)
    tree, end = thrift.decode(footer)
    assert end == len(footer)
    assert thrift.encode(tree) == footer
    column = pq.read_metadata(source).row_group(0).column(0)
    start = column.dictionary_page_offset or column.data_page_offset
    header, end = thrift.decode(raw, start)
    assert thrift.encode(header) == raw[start:end]


def test_thrift_round_trips_every_wire_type() -> None:
    """Every compact-protocol type, long field deltas and big lists survive a round trip."""
    inner = thrift.Struct({1: (thrift.BOOL, False)})
    tree = thrift.Struct(
        {
            1: (thrift.BOOL, True),
            2: (thrift.BYTE, -5),
            3: (thrift.I16, -300),
            4: (thrift.I32, 2**31 - 1),
            5: (thrift.I64, -(2**63)),
            6: (thrift.DOUBLE, 1.5),
            7: (thrift.BINARY, b"\x00bytes"),
            40: (thrift.LIST, thrift.List(thrift.I32, list(range(-10, 30)))),
            41: (thrift.SET, thrift.List(thrift.BOOL, [True, False], thrift.SET)),
            42: (thrift.MAP, thrift.Map(thrift.BINARY, thrift.STRUCT, [(b"k", inner)])),
            43: (thrift.MAP, thrift.Map(0, 0)),
            44: (thrift.STRUCT, thrift.Struct()),
        }
    )
    data = thrift.encode(tree)
    assert thrift.decode(data) == (tree, len(data))


@pytest.mark.parametrize("data", [b"", b"\x15", b"\x18\x05ab", b"\x1f", b"\x19\xf5"])
def test_thrift_rejects_truncated_or_invalid_input(data: bytes) -> None:
    """Truncated structs and unknown wire types raise ThriftError, not IndexError."""
    with pytest.raises(thrift.ThriftError):
        thrift.decode(data)


def test_missing_source_or_repeated_group_is_not_copied(tmp_path: Path) -> None:
    """A source that cannot be opened, or a row group named twice, refuses the copy."""
    source = write(tmp_path / "s.parquet", sample())
    out = io.BytesIO()
    assert not parquet_copy.copy_row_groups(tmp_path / "gone", [(0, 0, GROUP)], out, dict, "s")
    assert not parquet_copy.copy_row_groups(source, [(0, 0, GROUP)] * 2, out, dict, "s")
    assert out.getvalue() == b""

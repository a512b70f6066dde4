"""Whole Parquet row groups copied page for page into a new Parquet file.

A chunk made of whole source row groups needs no decoding: each column chunk's pages
(dictionary page and data pages, already compressed) are copied as they are, and a new
footer, the source's with its row groups narrowed and their offsets rebased, is written
after them. That runs at the speed of copying bytes, where decoding and re-encoding
costs several times more.

Everything is checked before the first byte is written, so that the caller can still
fall back to decoding (which reports damage by row group) when anything is off: the
footer must be a plain one (no encryption, no external column files), and every page
header of every copied column chunk must parse, with page sizes adding up exactly to
the column chunk's size and page value counts to its value count. Page bodies are not
decoded; when the writer stored page CRCs, they are checked while copying.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import DataError
from . import thrift
from .thrift import Struct, ThriftError

__all__ = ["KeyValueEdit", "copy_row_groups"]

# The source footer's key-value metadata (a value may be absent) -> the chunk's.
KeyValueEdit = Callable[[dict[bytes, bytes | None]], Mapping[bytes, bytes | None]]

_MAGIC = b"PAR1"
_TAIL = 8  # footer length (4 bytes LE) + magic
_BLOCK = 8 << 20
_FIRST_HEADER_READ = 256
# Arrow's own limit on a page header; also bounds what a damaged header makes us read.
_MAX_HEADER = 16 << 20

# parquet.thrift field ids used here.
_FMD_NUM_ROWS, _FMD_ROW_GROUPS, _FMD_KV = 3, 4, 5
_FMD_ENCRYPTION = (8, 9)  # encryption_algorithm, footer_signing_key_metadata
_RG_COLUMNS, _RG_NUM_ROWS, _RG_FILE_OFFSET, _RG_ORDINAL = 1, 3, 5, 7
_CC_FILE_PATH, _CC_FILE_OFFSET, _CC_META = 1, 2, 3
_CC_INDEXES = (4, 5, 6, 7)  # offset / column index offsets and lengths: not copied
_CC_ENCRYPTED = (8, 9)
_CMD_NUM_VALUES, _CMD_COMPRESSED = 5, 7
_CMD_DATA, _CMD_INDEX, _CMD_DICT = 9, 10, 11
_CMD_BLOOM = (14, 15)  # bloom filters are not copied
_PH_TYPE, _PH_COMPRESSED, _PH_CRC, _PH_V1, _PH_V2 = 1, 3, 4, 5, 8
_DATA_PAGE, _INDEX_PAGE, _DICTIONARY_PAGE, _DATA_PAGE_V2 = 0, 1, 2, 3


@dataclass(frozen=True)
class _Column:
    """One column chunk to copy: where its pages lie in the source, and its metadata."""

    chunk: Struct
    start: int
    length: int
    crcs: tuple[tuple[int, int, int], ...]  # (body offset, body size, crc) per page


def copy_row_groups(
    path: Path,
    spans: Sequence[tuple[int, int, int]],
    out: BinaryIO,
    edit: KeyValueEdit,
    where: str,
) -> bool:
    """Write the row groups of ``spans`` ((group, start row, stop row) each) to ``out`` as
    a Parquet file whose key-value metadata is ``edit`` of the source's. False, with
    nothing written, when a span is not a whole row group or the file does not pass the
    checks; ``where`` names the source in errors met while copying."""
    # An unreadable source is left to the decoding path, which reports it in its words.
    try:
        source = path.open("rb", buffering=0)
    except OSError:
        return False
    with source:
        try:
            planned = _plan(source, spans)
        except OSError:
            return False
        if planned is None:
            return False
        footer, groups = planned
        _write(source, out, footer, groups, edit, where)
    return True


def _read_at(source: BinaryIO, offset: int, size: int) -> bytes:
    source.seek(offset)
    data = source.read(size)
    return data if len(data) == size else b""


def _plan(
    source: BinaryIO, spans: Sequence[tuple[int, int, int]]
) -> tuple[Struct, list[tuple[int, Struct, list[_Column]]]] | None:
    size = source.seek(0, 2)
    tail = _read_at(source, size - _TAIL, _TAIL) if size >= len(_MAGIC) + _TAIL else b""
    # "PARE" (an encrypted footer) or anything else: left to the decoding path.
    if len(tail) != _TAIL or tail[4:] != _MAGIC:
        return None
    (footer_size,) = struct.unpack("<I", tail[:4])
    data_end = size - _TAIL - footer_size
    if data_end < len(_MAGIC):
        return None
    try:
        footer, _ = thrift.decode(_read_at(source, data_end, footer_size))
    except ThriftError:
        return None
    row_groups = footer.get_list(_FMD_ROW_GROUPS)
    if row_groups is None or any(fid in footer.fields for fid in _FMD_ENCRYPTION):
        return None
    groups: list[tuple[int, Struct, list[_Column]]] = []
    for index, start, stop in spans:
        # A group named twice would be rebased twice (its metadata is edited in place).
        if not 0 <= index < len(row_groups.items) or index in {g for g, _, _ in groups}:
            return None
        group = row_groups.items[index]
        if not isinstance(group, Struct) or (start, stop) != (0, group.get_int(_RG_NUM_ROWS, -1)):
            return None
        columns_list = group.get_list(_RG_COLUMNS)
        if columns_list is None:
            return None
        columns = []
        for chunk in columns_list.items:
            column = _column(source, chunk, data_end) if isinstance(chunk, Struct) else None
            if column is None:
                return None
            columns.append(column)
        groups.append((index, group, columns))
    return footer, groups


def _column(source: BinaryIO, chunk: Struct, data_end: int) -> _Column | None:
    """The column chunk's page range, if its pages check out; None otherwise."""
    meta = chunk.get_struct(_CC_META)
    if meta is None or any(f in chunk.fields for f in (_CC_FILE_PATH, *_CC_ENCRYPTED)):
        return None
    data = meta.get_int(_CMD_DATA, -1)
    start = data
    if _CMD_DICT in meta.fields:
        # As readers do: the dictionary page, when there is one, comes before the data.
        dictionary = meta.get_int(_CMD_DICT, -1)
        if not len(_MAGIC) <= dictionary < data:
            return None
        start = dictionary
    length = meta.get_int(_CMD_COMPRESSED, -1)
    if start < len(_MAGIC) or length <= 0 or start + length > data_end:
        return None
    crcs = _check_pages(source, start, start + length, meta.get_int(_CMD_NUM_VALUES, -1))
    return None if crcs is None else _Column(chunk, start, length, crcs)


def _page_header(source: BinaryIO, pos: int, end: int) -> tuple[Struct, int] | None:
    """The page header at ``pos`` and its size, reading more while it runs past the read."""
    want = _FIRST_HEADER_READ
    while True:
        window = min(want, end - pos, _MAX_HEADER)
        try:
            return thrift.decode(_read_at(source, pos, window))
        except ThriftError:
            if window >= min(end - pos, _MAX_HEADER):
                return None
            want *= 4


def _check_pages(
    source: BinaryIO, pos: int, end: int, num_values: int
) -> tuple[tuple[int, int, int], ...] | None:
    """Page CRCs to check while copying, when every page header in ``pos``-``end`` parses,
    the pages fill the range exactly and hold ``num_values`` values; else None."""
    values = 0
    crcs = []
    first = True
    while pos < end:
        parsed = _page_header(source, pos, end)
        if parsed is None:
            return None
        header, header_size = parsed
        kind = header.get_int(_PH_TYPE, -1)
        body_size = header.get_int(_PH_COMPRESSED, -1)
        body = pos + header_size
        if body_size < 0 or body + body_size > end:
            return None
        if kind in (_DATA_PAGE, _DATA_PAGE_V2):
            page = header.get_struct(_PH_V1 if kind == _DATA_PAGE else _PH_V2)
            count = -1 if page is None else page.get_int(1, -1)
            if count < 0:
                return None
            values += count
        elif not (kind == _DICTIONARY_PAGE and first) and kind != _INDEX_PAGE:
            return None
        if _PH_CRC in header.fields:
            crcs.append((body, body_size, header.get_int(_PH_CRC) & 0xFFFFFFFF))
        pos = body + body_size
        first = False
    return tuple(crcs) if pos == end and values == num_values else None


def _rebase(chunk: Struct, delta: int) -> None:
    """Move the column chunk's offsets by ``delta`` and drop the structures not copied."""
    meta = chunk.get_struct(_CC_META)
    assert meta is not None  # checked in _column
    # Some writers leave the deprecated ColumnChunk.file_offset and the unused index page
    # offset at 0, meaning none: only offsets pointing into the file move.
    for owner, fid in (
        (chunk, _CC_FILE_OFFSET),
        (meta, _CMD_DATA),
        (meta, _CMD_DICT),
        (meta, _CMD_INDEX),
    ):
        if owner.get_int(fid) > 0:
            owner.set(fid, owner.fields[fid][0], owner.get_int(fid) + delta)
    chunk.drop(*_CC_INDEXES)
    meta.drop(*_CMD_BLOOM)


def _key_values(footer: Struct, edit: KeyValueEdit) -> thrift.List:
    source: dict[bytes, bytes | None] = {}
    for item in (footer.get_list(_FMD_KV) or thrift.List(thrift.STRUCT)).items:
        if isinstance(item, Struct) and isinstance(key := item.get(1), bytes):
            value = item.get(2)
            source[key] = value if isinstance(value, bytes) else None
    items: list[object] = []
    for key, value in edit(source).items():
        entry = Struct({1: (thrift.BINARY, key)})
        if value is not None:
            entry.set(2, thrift.BINARY, value)
        items.append(entry)
    return thrift.List(thrift.STRUCT, items)


def _write(
    source: BinaryIO,
    out: BinaryIO,
    footer: Struct,
    groups: list[tuple[int, Struct, list[_Column]]],
    edit: KeyValueEdit,
    where: str,
) -> None:
    out.write(_MAGIC)
    pos = len(_MAGIC)
    buffer = bytearray(_BLOCK)
    rows = 0
    for ordinal, (index, group, columns) in enumerate(groups):
        for i, column in enumerate(columns):
            if i == 0 and _RG_FILE_OFFSET in group.fields:
                group.set(_RG_FILE_OFFSET, group.fields[_RG_FILE_OFFSET][0], pos)
            _rebase(column.chunk, pos - column.start)
            _copy(source, out, column, buffer, f"{where} row group {index}")
            pos += column.length
        if _RG_ORDINAL in group.fields:
            group.set(_RG_ORDINAL, thrift.I16, ordinal)
        rows += group.get_int(_RG_NUM_ROWS)
    footer.set(_FMD_NUM_ROWS, thrift.I64, rows)
    footer.set(_FMD_ROW_GROUPS, thrift.LIST, thrift.List(thrift.STRUCT, [g for _, g, _ in groups]))
    key_values = _key_values(footer, edit)
    if key_values.items:
        footer.set(_FMD_KV, thrift.LIST, key_values)
    else:
        footer.drop(_FMD_KV)  # as writers do: no list rather than an empty one
    encoded = thrift.encode(footer)
    out.write(encoded)
    out.write(struct.pack("<I", len(encoded)) + _MAGIC)


def _copy(source: BinaryIO, out: BinaryIO, column: _Column, buffer: bytearray, where: str) -> None:
    # Page CRCs are computed on the bytes as they pass, not on a second read of the pages.
    view = memoryview(buffer)
    pos, end = column.start, column.start + column.length
    pages = iter(column.crcs)
    page = next(pages, None)
    running = 0
    source.seek(pos)
    while pos < end:
        n = source.readinto(view[: min(end - pos, len(view))])  # type: ignore[attr-defined]
        if not n:
            raise DataError(f"{where}: cannot be copied (the source file shrank)")
        out.write(view[:n])
        while page is not None:
            body, body_size, crc = page
            low, high = max(body, pos), min(body + body_size, pos + n)
            if low < high:
                running = zlib.crc32(view[low - pos : high - pos], running)
            if body + body_size > pos + n:
                break  # the page goes on in the next read
            if running != crc:
                raise DataError(f"{where}: cannot be decoded (page checksum mismatch)")
            running = 0
            page = next(pages, None)
        pos += n

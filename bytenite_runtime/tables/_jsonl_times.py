"""Times with a UTC offset in JSON Lines converted by ``output_format``.

pyarrow reads an ISO 8601 JSON string as a timestamp without a time zone, and one with
an offset (``2024-01-01T10:00:00+05:00``, ``…Z``) as the UTC instant it names, offset
dropped (``2024-01-01 05:00:00``), which any reader then takes as local time.
:func:`settle_times` gives each such column of a block the type its strings call for,
as pyarrow's CSV reader does:

- every string with an offset: ``timestamp[s, tz=UTC]``, the same instant;
- none with one: a timestamp without a time zone, as written (unchanged);
- some with one, some without: text, exactly as written (the two mean different things).

The schema pass joins blocks' types as before (two timestamp types that differ give
text), and every chunk is then read with the file's types, so the offset is never lost.
Only a block with a timestamp column is read again, for those columns alone.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

__all__ = ["settle_times"]

# What follows the date (YYYY-MM-DD, the only form pyarrow reads as a timestamp) holds
# 'Z', '+' or '-' only as an offset.
_OFFSET = r"^.{10}.*[Z+\-]"
_UTC = pa.timestamp("s", tz="UTC")


def settle_times(block: bytes, schema: Any) -> Any:
    """``schema`` (pyarrow's for ``block``) with each timestamp type, at any depth, made
    tz-aware UTC where every string has an offset, or text where only some do."""
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    from pyarrow import json

    timed = [field for field in schema if _has_timestamp(field.type)]
    if not timed:
        return schema
    as_text = pa.schema([pa.field(f.name, _as_text(f.type)) for f in timed])
    options = json.ParseOptions(explicit_schema=as_text, unexpected_field_behavior="ignore")
    read = json.ReadOptions(use_threads=False, block_size=len(block) + 1)
    table = json.read_json(io.BytesIO(block), read_options=read, parse_options=options)
    kinds: dict[tuple[str, ...], Any] = {}
    for field in timed:
        for path, strings in _timestamp_strings(table.column(field.name), field.type, ()):
            with_offset = pc.sum(pc.match_substring_regex(strings, _OFFSET)).as_py() or 0
            if with_offset == 0:
                continue
            written = len(strings) - strings.null_count
            kinds[(field.name, *path)] = _UTC if with_offset == written else pa.string()
    if not kinds:
        return schema
    return pa.schema([pa.field(f.name, _settled(f.type, (f.name,), kinds)) for f in schema])


def _has_timestamp(kind: Any) -> bool:
    if pa.types.is_timestamp(kind):
        return True
    if pa.types.is_list(kind):
        return _has_timestamp(kind.value_type)
    if pa.types.is_struct(kind):
        return any(_has_timestamp(f.type) for f in kind.fields)
    return False


def _as_text(kind: Any) -> Any:
    if pa.types.is_timestamp(kind):
        return pa.string()
    if pa.types.is_list(kind):
        return pa.list_(_as_text(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([pa.field(f.name, _as_text(f.type)) for f in kind.fields])
    return kind


def _timestamp_strings(
    column: Any, kind: Any, path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """The strings of ``column`` (read as text where ``kind`` has timestamps) at each
    path ``kind`` holds a timestamp, flattened through lists and structs."""
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_timestamp(kind):
        yield path, column
    elif pa.types.is_list(kind):
        yield from _timestamp_strings(pc.list_flatten(column), kind.value_type, (*path, "[]"))
    elif pa.types.is_struct(kind):
        for field in kind.fields:
            if _has_timestamp(field.type):
                child = pc.struct_field(column, field.name)
                yield from _timestamp_strings(child, field.type, (*path, field.name))


def _settled(kind: Any, path: tuple[str, ...], kinds: dict[tuple[str, ...], Any]) -> Any:
    if pa.types.is_timestamp(kind):
        return kinds.get(path, kind)
    if pa.types.is_list(kind):
        return pa.list_(_settled(kind.value_type, (*path, "[]"), kinds))
    if pa.types.is_struct(kind):
        return pa.struct(
            [pa.field(f.name, _settled(f.type, (*path, f.name), kinds)) for f in kind.fields]
        )
    return kind

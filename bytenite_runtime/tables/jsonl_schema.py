"""One schema for every converted chunk of a JSON Lines file: the one the whole file implies.

pyarrow reads JSON Lines by guessing types from the values it is given, so chunks read
one at a time get different schemas (a key null in every row of one chunk is typed null
there, a key absent from it is no column, ``1`` in one chunk and ``1.5`` in the next is
int64 and double). Before the first chunk of a file is converted, :func:`file_schema`
reads the file once more, a block of whole lines at a time (memory stays bounded by the
block and the longest line), lets pyarrow type each block, and joins the blocks' types
as pyarrow does within one block, which is what reading the whole file at once gives:

- null (a key null or empty everywhere so far) takes the other side's type;
- int64 and double give double;
- a timestamp (pyarrow reads ISO 8601 text as one) and text, or two timestamps of
  different units or zones, give text, exactly as written: both were JSON strings
  (times with a UTC offset are tz-aware UTC, :mod:`._jsonl_times`);
- lists join their items, objects (structs) their fields, in order of first appearance.

Any other pair (a number and a string, a boolean and a number, an object and a scalar)
is a true conflict, which reading the file whole fails on too: a one-line
:class:`DataError` naming the file, the line where the second kind first appears, the
column and both kinds. An integer these types would round (one past 64 bits, which
pyarrow reads as a double, or one past 2**53 in a double column) is an error naming its
line too (:mod:`._jsonl_integers`). A file pyarrow cannot read for another reason (a
line that is not a JSON object) gets no schema here: its chunks fail as they are
converted, as before.
"""

from __future__ import annotations

import collections
import concurrent.futures
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped]

from ..errors import DataError
from ._jsonl_integers import LargeBlock, check_blocks, large_paths
from ._jsonl_times import settle_times

__all__ = ["file_schema"]

_BLOCK = 4 << 20
_WORKERS = 4


class _Conflict(Exception):
    """Two types, or two JSON kinds, at ``path`` that do not join."""

    def __init__(self, path: tuple[str, ...], before: Any, here: Any) -> None:
        super().__init__(path)
        self.path, self.before, self.here = path, before, here


def file_schema(path: Path, name: str, dst_fmt: str) -> Any:
    """The schema of the whole JSON Lines file at ``path`` (named ``name`` in messages),
    or None where pyarrow cannot read some block of it; a true type conflict is a
    DataError saying which line brings it in (``dst_fmt``: the conversion's target)."""
    fields: dict[str, Any] = {}
    # Blocks with numbers past 2**53: looked at again once the file's types are known.
    large: list[LargeBlock] = []
    for first_line, offset, block, typed in _block_schemas(path):
        if typed is None:
            # A conflict inside the block, or lines that are not JSON objects.
            _raise_conflict(fields, block, first_line, name, dst_fmt)
            return None
        schema, paths = typed
        if paths:
            large.append((first_line, offset, len(block), paths))
        try:
            fields = _merge_fields(fields, {f.name: f.type for f in schema}, ())
        except _Conflict as conflict:
            _raise_conflict(fields, block, first_line, name, dst_fmt)
            # Not found line by line (the kinds join where the types do not): the block.
            last = first_line + block.rstrip(b"\r\n").count(b"\n")
            raise DataError(
                f"{name} lines {first_line}-{last}: column {_column(conflict.path)!r} is "
                f"{conflict.here} there but {conflict.before} earlier in the file; a column "
                f"converted to {dst_fmt} holds one type"
            ) from None
    schema = pa.schema(list(fields.items()))
    check_blocks(path, large, schema, name, dst_fmt)
    return schema


def _block_schemas(path: Path) -> Iterator[tuple[int, int, bytes, Any]]:
    """Each block of :func:`_blocks` with the schema pyarrow gives it and the paths of
    its numbers past 2**53 (None where it cannot read it), in order. Blocks are read a
    few at a time in threads (pyarrow lets go of the GIL; one block is one pyarrow block,
    which it reads on one core): the pass would otherwise take longer than converting
    the chunks."""
    workers = min(os.cpu_count() or 1, _WORKERS)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        pending: collections.deque[tuple[int, int, bytes, Any]] = collections.deque()
        for first_line, offset, block in _blocks(path):
            pending.append((first_line, offset, block, pool.submit(_block_schema, block)))
            if len(pending) > workers:
                first, at, done, future = pending.popleft()
                yield first, at, done, future.result()
        while pending:
            first, at, done, future = pending.popleft()
            yield first, at, done, future.result()


def _block_schema(block: bytes) -> Any:
    from pyarrow import json

    # One pyarrow block for the whole of ours: across its own blocks pyarrow fails on
    # some types it joins within one (a key null in one block, an object in the next).
    options = json.ReadOptions(use_threads=False, block_size=len(block) + 1)
    try:
        table = json.read_json(io.BytesIO(block), read_options=options)
    except pa.ArrowInvalid:
        return None
    return settle_times(block, table.schema), large_paths(table)


def _blocks(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """Blocks of whole lines of ``path`` (about ``_BLOCK`` bytes, or one longer line),
    each with the number of its first line (from 1) and its byte offset; blocks of blank
    lines alone are skipped, pyarrow has no columns for them."""
    line, offset = 1, 0
    # The reads since the last newline: joined only once a newline ends them, so a line
    # far longer than a block is copied once, not once per read.
    carry: list[bytes] = []
    with path.open("rb") as stream:
        for data in iter(lambda: stream.read(_BLOCK), b""):
            end = data.rfind(b"\n") + 1
            if not end:
                carry.append(data)
                continue
            block = b"".join([*carry, data[:end]])
            carry = [data[end:]]
            if block.strip():
                yield line, offset, block
            line += block.count(b"\n")
            offset += len(block)
    rest = b"".join(carry)
    if rest.strip():
        yield line, offset, rest


def _merge(old: Any, new: Any, path: tuple[str, ...]) -> Any:
    if old.equals(new) or pa.types.is_null(new):
        return old
    if pa.types.is_null(old):
        return new
    numbers = (pa.types.is_integer, pa.types.is_floating)
    if any(a(old) for a in numbers) and any(b(new) for b in numbers):
        return pa.float64()
    texts = (pa.types.is_string, pa.types.is_timestamp)
    if any(a(old) for a in texts) and any(b(new) for b in texts):
        return pa.string()
    if pa.types.is_list(old) and pa.types.is_list(new):
        return pa.list_(_merge(old.value_type, new.value_type, (*path, "[]")))
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        merged = _merge_fields(
            {f.name: f.type for f in old.fields}, {f.name: f.type for f in new.fields}, path
        )
        return pa.struct(list(merged.items()))
    raise _Conflict(path, old, new)


def _merge_fields(
    old: dict[str, Any], new: dict[str, Any], path: tuple[str, ...]
) -> dict[str, Any]:
    merged = dict(old)
    for key, kind in new.items():
        merged[key] = _merge(old[key], kind, (*path, key)) if key in old else kind
    return merged


# -- finding the line ------------------------------------------------------------------
# Only on a conflict: the block that brings it in is read again line by line, each
# value's JSON kind joined to what the lines before it held, the first that does not
# join being the line to name.


def _raise_conflict(
    fields: dict[str, Any], block: bytes, first_line: int, name: str, dst_fmt: str
) -> None:
    """A DataError for the first line of ``block`` that is not one JSON object (a
    top-level array, a bare number, a pretty-printed object's first line) or whose kinds
    conflict with ``fields`` (the earlier blocks' types) or with the block's earlier
    lines; nothing when none does (``block`` is unreadable for another reason)."""
    known: dict[str, Any] = {key: _kind_of_type(kind) for key, kind in fields.items()}
    needs = f"converting JSON Lines to {dst_fmt} needs one JSON object per line"
    for number, line in enumerate(block.split(b"\n"), start=first_line):
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise DataError(
                f"{name} line {number}: not one JSON value ({exc.msg} at column {exc.colno}); "
                f"{needs}"
            ) from None
        if not isinstance(record, dict):
            kind = "null" if record is None else _words(_kind_of_value(record, ()))
            whole = " (a file holding one array: write each item on a line of its own)"
            raise DataError(
                f"{name} line {number}: {kind}, not an object; {needs}"
                + (whole if isinstance(record, list) else "")
            )
        try:
            known = _join_object(known, record, ())
        except _Conflict as conflict:
            raise DataError(
                f"{name} line {number}: column {_column(conflict.path)!r} holds "
                f"{_words(conflict.here)} here but {_words(conflict.before)} earlier in the "
                f"file; a column converted "
                f"to {dst_fmt} holds one type (make its values one kind, or leave "
                "output_format at 'same')"
            ) from None


# A kind: None (null), "boolean", "number", "string", ("array", kind) or ("object", {..}).


def _kind_of_type(kind: Any) -> Any:
    if pa.types.is_null(kind):
        return None
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return "number"
    if pa.types.is_list(kind):
        return ("array", _kind_of_type(kind.value_type))
    if pa.types.is_struct(kind):
        return ("object", {f.name: _kind_of_type(f.type) for f in kind.fields})
    return "string"


def _kind_of_value(value: Any, path: tuple[str, ...]) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        item: Any = None
        for element in value:
            item = _join(item, _kind_of_value(element, (*path, "[]")), (*path, "[]"))
        return ("array", item)
    return ("object", _join_object({}, value, path))


def _join_object(
    known: dict[str, Any], record: dict[str, Any], path: tuple[str, ...]
) -> dict[str, Any]:
    joined = dict(known)
    for key, value in record.items():
        here = _kind_of_value(value, (*path, key))
        joined[key] = _join(known.get(key), here, (*path, key))
    return joined


def _join(before: Any, here: Any, path: tuple[str, ...]) -> Any:
    if here is None or before == here:
        return before
    if before is None:
        return here
    if isinstance(before, tuple) and isinstance(here, tuple) and before[0] == here[0]:
        if before[0] == "array":
            return ("array", _join(before[1], here[1], (*path, "[]")))
        fields = dict(before[1])
        for key, kind in here[1].items():
            fields[key] = _join(fields.get(key), kind, (*path, key))
        return ("object", fields)
    raise _Conflict(path, before, here)


def _column(path: tuple[str, ...]) -> str:
    return ".".join(path).replace(".[]", "[]")


def _words(kind: Any) -> str:
    if isinstance(kind, tuple):
        return "an array" if kind[0] == "array" else "an object"
    return {"boolean": "a boolean", "number": "a number", "string": "a string"}[kind]

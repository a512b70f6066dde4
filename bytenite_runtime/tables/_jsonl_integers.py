"""JSON Lines integers that a converted chunk would round, found before the first chunk.

pyarrow reads an integer beyond the 64-bit range as a double, without a word, and a
column holding fractions anywhere in the file is a double column (:mod:`.jsonl_schema`),
where an integer beyond 2**53 may be rounded (9007199254740993 becomes
9007199254740992.0). Either is an error naming the line and the column, since a
converted table has no exact place for the value (Parquet's decimal would hold it, but
only with one precision for the whole column, fixed before the file is read).

Finding them rides on the whole-file pass: :func:`large_paths` names the numeric columns
of a block whose values reach past 2**53, the only ones a double can round. Only a block
with such a column that ends as a double is looked at again: its lines holding a run of
16 digits or more after what may start a number (any integer past 2**53 has 16) are
read with Python's ``json``, which keeps every digit, to name the first such integer.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from ..errors import DataError

__all__ = ["INT64", "LargeBlock", "as_float", "check_blocks", "large_paths"]

Path = tuple[str, ...]
LargeBlock = tuple[int, int, int, frozenset[Path]]
"""A block's first line, byte offset and size, and the paths of its numbers past 2**53."""

_EXACT = 2**53
INT64 = range(-(2**63), 2**63)
# What may come before a JSON number becomes 1, digits 0: an integer past 2**53 (16
# digits or more) is then found by one search in C, not a regular expression's walk,
# which reads a block 20 times slower. A fraction's digits follow a '.', so they are not
# found; a string holding such a run is, and its line is read for nothing.
_MASK = bytes.maketrans(b"0123456789 \t\r\n:,[-", b"\0" * 10 + b"\1" * 8)
_NEEDLE = b"\1" + b"\0" * 16


def large_paths(table: Any) -> frozenset[Path]:
    """The paths of ``table``'s numeric columns (in structs and lists too, a list's items
    as ``[]``) holding a value of ±2**53 or beyond: a double rounds an integer past 2**53
    to 2**53 at least."""
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    found: set[Path] = set()

    def visit(column: Any, path: Path) -> None:
        kind = column.type
        if pa.types.is_struct(kind):
            for i, field in enumerate(kind):
                visit(pc.struct_field(column, [i]), (*path, field.name))
        elif pa.types.is_list(kind):
            visit(pc.list_flatten(column), (*path, "[]"))
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            low, high = (v.as_py() for v in pc.min_max(column).values())
            if high is not None and (high >= _EXACT or low <= -_EXACT):
                found.add(path)

    for field, column in zip(table.schema, table.columns, strict=True):
        visit(column, (field.name,))
    return frozenset(found)


def check_blocks(
    file: pathlib.Path, large: list[LargeBlock], schema: Any, name: str, dst_fmt: str
) -> None:
    """The blocks of ``file`` in ``large`` whose numbers past 2**53 end in a double column
    of ``schema`` (the whole file's; integers past 64 bits are read as doubles) read
    again, in file order, for the first integer the conversion would round."""
    floats = _float_paths(schema)
    with file.open("rb") as stream:
        for first_line, offset, size, paths in large:
            if paths & floats:
                stream.seek(offset)
                _check_block(stream.read(size), first_line, floats, name, dst_fmt)


def _float_paths(schema: Any) -> frozenset[Path]:
    """The paths whose type in ``schema`` is floating, named as :func:`large_paths` does."""
    found: set[Path] = set()

    def visit(kind: Any, path: Path) -> None:
        if pa.types.is_struct(kind):
            for field in kind:
                visit(field.type, (*path, field.name))
        elif pa.types.is_list(kind):
            visit(kind.value_type, (*path, "[]"))
        elif pa.types.is_floating(kind):
            found.add(path)

    for field in schema:
        visit(field.type, (field.name,))
    return frozenset(found)


def _check_block(
    block: bytes, first_line: int, floats: frozenset[Path], name: str, dst_fmt: str
) -> None:
    """A DataError for the first integer of ``block`` (whose first line is ``first_line``)
    that the converted table would not hold exactly: one beyond the 64-bit range, or one
    beyond 2**53 that a double rounds in a column of ``floats``."""
    masked = block.translate(_MASK)
    number, line_start = first_line, 0
    while (found := masked.find(_NEEDLE, line_start)) >= 0:
        start = block.rfind(b"\n", 0, found) + 1
        number += block.count(b"\n", line_start, start)
        end = block.find(b"\n", found)
        line_start = len(block) if end < 0 else end
        try:
            record = json.loads(block[start:line_start])
        except ValueError:
            continue  # not this check's to report: reading the chunk fails on it
        for path, value in _integers(record, ()):
            if value not in INT64:
                why = "beyond the 64-bit range"
            elif path in floats and float(value) != value:
                why = "which a float column (it holds non-integers elsewhere) rounds"
            else:
                continue
            raise DataError(
                f"{name} line {number}: column {_column(path)!r} holds the integer {value}, "
                f"{why}: it would be {as_float(value)} in {dst_fmt}; write it as a string "
                "to keep every digit, or leave output_format at 'same'"
            )


def _integers(value: Any, path: Path) -> Iterator[tuple[Path, int]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _integers(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _integers(item, (*path, "[]"))
    elif isinstance(value, int) and not isinstance(value, bool):
        yield path, value


def as_float(value: int) -> str:
    try:
        return repr(float(value))
    except OverflowError:
        return "inf"


def _column(path: Path) -> str:
    return ".".join(path).replace(".[]", "[]")

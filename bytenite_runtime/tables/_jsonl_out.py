"""Arrow tables written as JSON Lines: what JSON has no type for made plain first.

Decimals keep their digits as text, bytes go as base64, nanosecond times as ISO 8601
text with every digit, durations as seconds; NaN and infinities, which JSON cannot
write, become null (:func:`nonfinite_columns` finds them, for a warning). A value that
still cannot be written is an error naming its column.
"""

from __future__ import annotations

import base64
import datetime
import decimal
from typing import Any, BinaryIO

import orjson
import pyarrow as pa  # type: ignore[import-untyped]

from .columnar import duplicate_name, short_reason

__all__ = ["nonfinite_columns", "write_jsonl"]

_JSON_BATCH = 4096


def write_jsonl(table: Any, out: BinaryIO) -> None:
    """``table`` as JSON Lines into ``out``, a batch of rows at a time."""
    for batch in _json_ready(table).to_batches(max_chunksize=_JSON_BATCH):
        try:
            lines = [orjson.dumps(r, default=_json_value) for r in batch.to_pylist()]
        except (TypeError, ValueError, pa.ArrowException) as exc:
            raise ValueError(f"{_json_culprit(batch)}: {short_reason(exc)}") from None
        out.write(b"\n".join(lines) + b"\n")


def _json_ready(table: Any) -> Any:
    """``table`` with what JSON objects cannot hold as is made plain: nanosecond times
    become ISO 8601 text with every digit (Python's datetime stops at microseconds, and
    with pandas installed they come out as pandas Timestamps), nanosecond durations
    seconds. Duplicate column names are an error: a JSON object keeps one of each."""
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    names = table.column_names
    twice = duplicate_name(names)
    if twice is not None:
        raise ValueError(f"column {twice!r} appears twice; a JSON object holds each key once")
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type
        if pa.types.is_timestamp(kind) and kind.unit == "ns":
            form = "%Y-%m-%dT%H:%M:%S" + ("%Ez" if kind.tz else "")
            column = pc.strftime(column, format=form)
        elif pa.types.is_time64(kind) and kind.unit == "ns":
            column = column.cast(pa.string())
        elif pa.types.is_duration(kind) and kind.unit == "ns":
            column = pc.divide(column.cast(pa.int64()).cast(pa.float64()), 1e9)
        columns.append(column)
    return pa.table(columns, names=names)


def nonfinite_columns(table: Any) -> list[str]:
    """The floating-point columns of ``table`` holding NaN or an infinity, which JSON has
    no way to write: a JSON Lines chunk holds null there."""
    import pyarrow.compute as pc

    return [
        field.name
        for field, column in zip(table.schema, table.columns, strict=True)
        if pa.types.is_floating(field.type) and pc.any(pc.invert(pc.is_finite(column))).as_py()
    ]


def _json_culprit(batch: Any) -> str:
    """The first column of ``batch`` whose values JSON cannot hold, in words."""
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        try:
            orjson.dumps(column.to_pylist(), default=_json_value)
        except (TypeError, ValueError, pa.ArrowException):
            return f"column {name!r}"
    return "a row"


def _json_value(value: Any) -> Any:
    # What orjson cannot write natively: decimals keep their digits as text, bytes go
    # as base64, durations as seconds.
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")

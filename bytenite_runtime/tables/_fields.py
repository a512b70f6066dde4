"""Where delimited files are parsed rather than copied: the ``strict`` checks (field
counts of CSV/TSV rows, each JSON Lines line one JSON value) and a header's column names.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from ..errors import DataError
from ._utf8 import check_not_wide
from .source import DELIMITERS

if TYPE_CHECKING:
    from .delimited import Delimited

__all__ = ["BOM", "check_fields", "check_json_lines", "header_names"]

BOM = b"\xef\xbb\xbf"


def check_fields(path: Path, name: str, delimiter: str, header: bool, quoted: bool) -> None:
    """Every row has as many fields as the first; rows are counted from 0 after the
    header, as in chunk metadata, and lines from 1."""
    expected: int | None = None
    with _unlimited_fields(), path.open(encoding="utf-8-sig", newline="") as text:
        if quoted:
            reader = csv.reader(text, delimiter=delimiter, strict=True)
        else:
            reader = csv.reader(text, delimiter=delimiter, quoting=csv.QUOTE_NONE)
        blank: DataError | None = None
        try:
            for number, row in enumerate(reader):
                if blank is not None and row:
                    raise blank
                if expected is None:
                    expected = len(row)
                elif not row and blank is None:
                    # A blank line is an error only if a record follows it: blank lines
                    # at the end of a file are not records.
                    blank = DataError(
                        f"{name} row {number - header} (line {reader.line_num}): "
                        f"0 fields where {'the header' if header else 'row 0'} has {expected}"
                    )
                elif row and len(row) != expected:
                    first = "the header" if header else "row 0"
                    fields = f"{len(row)} field{'' if len(row) == 1 else 's'}"
                    raise DataError(
                        f"{name} row {number - header} (line {reader.line_num}): "
                        f"{fields} where {first} has {expected}"
                    )
        except csv.Error as exc:
            raise DataError(f"{name} line {reader.line_num}: {exc}") from None


def header_names(
    path: Path, name: str, fmt: Delimited, *, delimiter: str | None, quoting: bool
) -> list[str]:
    """The column names in the file's header, as a CSV reader splits them; none when the
    header cannot be read, which the scan then reports at its byte."""
    from .join import first_record

    check_not_wide(path, name)
    with contextlib.suppress(DataError, csv.Error):
        record = first_record(path, quoted=quoting, where=name)[1]
        text = record.decode("utf-8", "replace")
        split = delimiter or DELIMITERS[fmt]
        with _unlimited_fields():
            if quoting:
                rows = list(csv.reader([text], delimiter=split))
            else:
                rows = list(csv.reader([text], delimiter=split, quoting=csv.QUOTE_NONE))
        return rows[0] if rows else []
    return []


def check_json_lines(path: Path, name: str) -> None:
    """Every line is one JSON value (rows and lines counted as in :func:`check_fields`);
    blank lines are errors only when a record follows them."""
    blank: DataError | None = None
    with path.open("rb") as stream:
        for number, line in enumerate(stream):
            text = line[len(BOM) :] if number == 0 and line.startswith(BOM) else line
            text = text.rstrip(b"\r\n")  # so that an error's column is on this line
            if not text.strip():
                blank = blank or DataError(f"{name} row {number} (line {number + 1}): blank line")
                continue
            if blank is not None:
                raise blank
            try:
                orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise DataError(
                    f"{name} row {number} (line {number + 1}): not one JSON value "
                    f"({exc.msg} at column {exc.colno})"
                ) from None


@contextlib.contextmanager
def _unlimited_fields() -> Iterator[None]:
    # The csv module refuses fields over 128 KiB by default; a table may hold larger
    # ones, and the limit is process-wide, so it is put back afterwards.
    saved = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    try:
        yield
    finally:
        csv.field_size_limit(saved)

"""Table results joined back into one file in chunk order: one joiner per format family.

Every joiner works in two steps. :func:`plan` reads only what is cheap (a CSV header, a
Parquet footer, an ``.npy`` header), rejects a result that does not fit the first one,
naming its chunk, and counts rows where the format says so without decoding; ``write``
then streams the output. A bad chunk therefore fails before any byte of a possibly huge
output is written, and row counts can be checked against chunk metadata in between.

Text formats (CSV, TSV, JSON Lines) and ``.npy`` data are copied in the kernel
(``copy_file_range``), never parsed; Parquet and Arrow go one row group or record batch
at a time, so memory is bounded by the largest of those, not by the output.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from .._copy import append_file, write_all
from .._inputs import Result
from ..errors import DataError
from .source import Format, check_magic, check_not_binary, read_head

__all__ = ["Join", "label", "plan"]

_SCAN = 64 << 10
_PARITY_BLOCK = 2 << 20
_BOM = b"\xef\xbb\xbf"
_SHOWN = 60


class Join(Protocol):
    """A planned join: per-result row counts (None where unknown without parsing), then write."""

    rows: list[int | None]

    def write(self, out: Path) -> None: ...


def plan(
    fmt: Format, results: Sequence[Result], *, header: bool, unify: bool, quoting: bool = True
) -> Join:
    """Check that ``results`` (in chunk order) can be joined as ``fmt``; nothing is written.
    ``quoting=False`` reads a CSV/TSV result's quotes as plain characters."""
    for result in results:
        head = read_head(result.path)
        check_magic(head, label(result), fmt)
        check_not_binary(result.path, head, label(result), fmt)
    if fmt in ("parquet", "arrow"):
        from . import join_columnar

        return join_columnar.ColumnarJoin(fmt, results, unify=unify)
    if fmt == "npy":
        from . import join_npy

        return join_npy.NpyJoin(results)
    quoted = quoting and fmt != "jsonl"
    return TextJoin(results, header=header and fmt != "jsonl", quoted=quoted)


def label(result: Result) -> str:
    """How errors name a result: by chunk index when it has one."""
    return f"chunk {result.index}" if result.index is not None else f"result {result.name!r}"


def _shown(record: bytes) -> str:
    text = record.decode("utf-8", "replace")
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")


_QUOTED_STOPS = re.compile(rb'["\r\n]')
_PLAIN_STOPS = re.compile(rb"[\r\n]")


def first_record(path: Path, *, quoted: bool, where: str) -> tuple[int, bytes, bytes]:
    """``(bom_length, record, terminator)`` of the file's first record, read block by
    block: a header may hold quoted newlines but is never searched for past its end.
    ``terminator`` is empty when the record runs to the end of the file; ``where`` names
    the file in errors."""
    stops = _QUOTED_STOPS if quoted else _PLAIN_STOPS
    buf = bytearray()
    pos = 0
    in_quotes = False
    with path.open("rb") as stream:
        while True:
            block = stream.read(_SCAN)
            at_end = not block
            buf += block
            bom = len(_BOM) if buf.startswith(_BOM) else 0
            pos = max(pos, bom)
            while pos < len(buf):
                if in_quotes:
                    close = buf.find(b'"', pos)
                    if close < 0:
                        pos = len(buf)
                        break
                    in_quotes, pos = False, close + 1
                    continue
                hit = stops.search(buf, pos)
                if hit is None:
                    pos = len(buf)
                    break
                stop = hit.start()
                if buf[stop] == ord('"'):
                    in_quotes, pos = True, stop + 1
                    continue
                if buf[stop] == ord("\r") and stop + 1 == len(buf) and not at_end:
                    pos = stop  # a CR at the block's end: is it half a CRLF?
                    break
                crlf = buf[stop : stop + 2] == b"\r\n"
                return bom, bytes(buf[bom:stop]), b"\r\n" if crlf else bytes(buf[stop : stop + 1])
            if at_end:
                if in_quotes:
                    raise DataError(f"{where}: the first record has an unterminated quoted field")
                return bom, bytes(buf[bom:]), b""


def _check_not_wide(result: Result) -> None:
    """A UTF-16/32 result is named as such, not as a header mismatch of garbled text."""
    from ._utf8 import check_not_wide  # numpy: only when a text table is joined

    check_not_wide(result.path, label(result))


def _check_quotes_close(pieces: Sequence[tuple[Result, int, int, bool]]) -> None:
    """Raise ``DataError`` for the first piece whose bytes end inside a quoted field,
    which would swallow the next result's records into it.

    Outside quotes a record's quotes pair up (``""`` escapes one), so the bytes end
    inside a quoted field exactly when they hold an odd number of quotes: a numpy count
    per block, ~0.1 ms per 2 MiB, results counted on a few threads (numpy and ``preadv``
    release the GIL), next to a copy the kernel does without reading the bytes."""
    from concurrent.futures import ThreadPoolExecutor

    workers = max(1, min(4, os.cpu_count() or 1, len(pieces)))
    with ThreadPoolExecutor(workers) as pool:
        opened = list(pool.map(lambda piece: _open_quote(*piece[:3]), pieces))
    for (result, _, size, _), at in zip(pieces, opened, strict=True):
        if at is not None:
            raise DataError(
                f"{label(result)} byte {size}: unterminated quoted field (opened at byte {at}); "
                "if its quotes are plain characters, set quoting=false"
            )


def _open_quote(result: Result, start: int, size: int) -> int | None:
    """Where the quoted field open at the end of the result's bytes from ``start`` opened,
    or None when every quoted field closes."""
    import numpy as np

    quotes, last = 0, -1
    buffer = bytearray(_PARITY_BLOCK)
    flags = np.empty(_PARITY_BLOCK, np.bool_)
    with result.path.open("rb", buffering=0) as stream:
        offset = start
        while offset < size:
            got = min(os.preadv(stream.fileno(), [buffer], offset), size - offset)
            if got <= 0:
                raise DataError(f"{label(result)}: the file changed while being read")
            data = np.frombuffer(buffer, np.uint8, got)
            found = int(np.count_nonzero(np.equal(data, 0x22, out=flags[:got])))
            if found:
                # Parity only changes at a quote, so the last quote is the one left open.
                quotes, last = quotes + found, offset + buffer.rfind(b'"', 0, got)
            offset += got
    return last if quotes % 2 else None


def _ends_a_record(path: Path, size: int) -> bool:
    with path.open("rb", buffering=0) as stream:
        return os.pread(stream.fileno(), 1, size - 1) in (b"\n", b"\r")


class TextJoin:
    """CSV, TSV (``quoted``) and JSON Lines: the header written once, bodies byte-copied.

    A result whose last record lacks a newline gets one inserted only when more records
    follow it, since otherwise the output would merge two records; the ``row``
    partitioner leaves the newline off only the last chunk of a source, so its chunks
    join back byte for byte. A UTF-8 BOM is kept on the first result and dropped from
    the others, where it could only be read as data.
    """

    def __init__(self, results: Sequence[Result], *, header: bool, quoted: bool) -> None:
        self.rows: list[int | None] = [None] * len(results)
        self.head = b""
        self.quoted = quoted
        self.newline = b""
        # (result, first byte to copy, size, ends with a record terminator)
        self.pieces: list[tuple[Result, int, int, bool]] = []
        first: tuple[Result, bytes] | None = None
        for result in results:
            size = result.path.stat().st_size
            if size == 0:
                continue
            _check_not_wide(result)
            if header:
                bom, record, terminator = first_record(
                    result.path, quoted=quoted, where=label(result)
                )
                start = bom + len(record) + len(terminator)
                if start == bom:
                    continue  # a BOM alone: an empty result, like a 0-byte one
                self.newline = self.newline or terminator
                if first is None:
                    first, self.head = (result, record), _BOM[:bom] + record + terminator
                elif record != first[1]:
                    raise DataError(
                        f"{label(result)}: header differs from {label(first[0])}'s "
                        f"({_shown(record)} vs {_shown(first[1])})"
                    )
            else:
                with result.path.open("rb") as stream:
                    start = len(_BOM) if self.pieces and stream.read(3) == _BOM else 0
            if start < size:
                self.pieces.append((result, start, size, _ends_a_record(result.path, size)))
        if quoted and self.pieces:
            _check_quotes_close(self.pieces)

    def _newline(self) -> bytes:
        # The newline the data already uses (looked up only when one must be inserted);
        # a record that cannot be scanned is the app's business here, not a reason to fail.
        for result, _, _, _ in self.pieces:
            if self.newline:
                break
            with contextlib.suppress(DataError):
                self.newline = first_record(result.path, quoted=self.quoted, where=label(result))[2]
        return self.newline or b"\n"

    def write(self, out: Path) -> None:
        with out.open("wb", buffering=0) as dst:
            write_all(dst, self.head)
            open_record = bool(self.head) and not self.head.endswith((b"\n", b"\r"))
            for result, start, size, terminated in self.pieces:
                if open_record:
                    write_all(dst, self._newline())
                append_file(dst, result.path, start, size - start)
                open_record = not terminated

"""CSV, TSV and JSON Lines cut into chunks of whole records, bytes copied, never parsed.

Planning is one pass over the file (:mod:`._records`) that finds every cut, checks the
quoting and the UTF-8 and counts the rows, so a bad file fails before any chunk is
written. Writing a chunk is then two range copies: the header (exactly as in the
source, a UTF-8 BOM included) and the chunk's records. Only ``strict`` parses rows (the
csv module, ~50 MB/s), to compare field counts.

Sizing, over data rows (a header is repeated in every chunk, never counted):

``rows``          a cut after every ``k`` records
``target_bytes``  a cut at the first record end at least ``k`` bytes past the last cut
``chunks``        cut ``k`` at the first record end at or past ``k/n`` of the data;
                  exactly ``n`` chunks whenever there are ``n`` records

A record larger than the target still goes whole into one chunk, and no chunk is empty.
Without a header, a leading BOM stays with the first record, so the chunks joined give
back the source byte for byte.

Here: planning (``plan``) and the end-of-file checks. The cuts and the pieces they make
are in :mod:`._cutter`, the thread the scan runs on in :mod:`._background`, and what
parses rows (``strict``, a header's column names) in :mod:`._fields`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import DataError
from ._background import in_background
from ._cutter import Cutter, DelimitedPiece
from ._fields import BOM, check_fields, check_json_lines, header_names
from ._records import Check, RecordScan
from ._utf8 import check_not_wide
from .source import DELIMITERS, Sizing

__all__ = ["DelimitedPiece", "header_names", "plan"]

Delimited = Literal["csv", "tsv", "jsonl"]
_LONE_CR = re.compile(rb"\r(?!\n|$)")
_QUOTED_FIELD = re.compile(rb'"[^"]*"')


def plan(
    path: Path,
    name: str,
    fmt: Delimited,
    sizing: Sizing,
    *,
    header: bool,
    strict: bool,
    quoting: bool = True,
    delimiter: str | None = None,
) -> Iterator[DelimitedPiece]:
    """The chunks of ``path`` (named ``name`` in messages), in order.

    Pieces come out while the file is still being scanned, from a thread, so a caller
    copying them overlaps the copy with the scan (1 GiB into 16 chunks: 0.40 s against
    0.32 s + 0.24 s one after the other). A piece is given only once no later record
    can move its cut; a bad file still raises, at the byte that is bad, after some
    pieces may have been given (the runtime stages chunks and removes them then).
    ``strict`` parses every record first (field counts of CSV/TSV rows, each JSON Lines
    line as JSON), so it scans the whole file before the first piece.
    ``quoting=False`` makes every newline a record end: for TSV-style files whose
    fields are never quoted but may hold a bare ``"`` (``5'11"``). ``delimiter``
    (default: the format's) only matters to ``strict``: cuts fall between records.
    """
    has_header = header and fmt != "jsonl"
    quoted = quoting and fmt != "jsonl"
    # A bare quote in an unquoted field opens a "quoted field" that never ends: say
    # how to read such a file.
    hint = "; if its quotes are plain characters, set quoting=false" if quoted else ""
    check_not_wide(path, name)
    # Python's csv module and pyarrow end a row at a bare CR outside quotes (polars keeps
    # it in its field, as the cuts do), so such a record would be several rows to some
    # apps but one to the cuts: strict looks for one. Not by default: the search costs
    # ~0.1 ms per 2 MiB block that holds any CR, 8-10% of a CRLF file's split.
    scan = RecordScan(
        path, name, quoted=quoted, unterminated_hint=hint, find_bare_cr=strict and fmt != "jsonl"
    )
    tail = _BlankTail.of(path, scan.size, name)
    cutter = Cutter(sizing, has_header, scan.size, path, extent=tail.start)
    if strict:
        for block in scan.blocks():
            cutter.feed(block)
        rows = _real_rows(_data_rows(scan, has_header, path, name), tail, name)
        if fmt == "jsonl":
            check_json_lines(path, name)
        else:
            check_fields(path, name, delimiter or DELIMITERS[fmt], has_header, quoted)
        yield from cutter.finish(rows, scan)
        return

    def produce(give: Callable[[DelimitedPiece], None], checks: Callable[[Check], None]) -> None:
        for block in scan.blocks(checks):
            cutter.feed(block)
            seen = block.first + block.count - has_header - tail.lines_before(block.end)
            for piece in cutter.settled(seen):
                give(piece)
        rows = _real_rows(_data_rows(scan, has_header, path, name), tail, name)
        for piece in cutter.finish(rows, scan):
            give(piece)

    yield from in_background(produce, name)


@dataclass(frozen=True, slots=True)
class _BlankTail:
    """Blank lines at the very end of a file (``a,b\\n1,2\\n\\n``): they stay in the last
    chunk's bytes, so the chunks still join back byte for byte, but are not records, so
    no chunk is made of them alone and row counts match what CSV readers count."""

    start: int
    """Just past the last record's own terminator; blank lines follow."""
    data: bytes
    """The bytes from ``start`` to the end of the file."""

    @property
    def lines(self) -> int:
        return self.data.count(b"\n")

    def lines_before(self, end: int) -> int:
        """Blank lines ending at or before ``end``."""
        return self.data[: max(0, end - self.start)].count(b"\n")

    @classmethod
    def of(cls, path: Path, size: int, name: str) -> _BlankTail:
        run = b""
        with path.open("rb") as stream:
            while len(run) < size:
                step = min(1 << 16, size - len(run))
                stream.seek(size - len(run) - step)
                block = stream.read(step)
                kept = len(block.rstrip(b"\r\n"))
                run = block[kept:] + run
                if kept:
                    break
        if len(run) == size and size:
            raise DataError(f"{name}: no records (only blank lines)")
        own = 2 if run.startswith(b"\r\n") else 1 if run.startswith((b"\n", b"\r")) else 0
        return cls(size - len(run) + own, run[own:])


def _real_rows(rows: int, tail: _BlankTail, name: str) -> int:
    """Data rows less the blank lines at the end of the file."""
    if rows - tail.lines <= 0:
        raise DataError(f"{name}: no data rows (only a header and blank lines)")
    return rows - tail.lines


def _data_rows(scan: RecordScan, header: bool, path: Path, name: str) -> int:
    """Data rows of a scanned file; an empty file or a lone header is an error."""
    if scan.size <= len(BOM) and path.read_bytes() in (b"", BOM):
        raise DataError(f"{name}: no records")
    if scan.records <= 1:
        # No LF anywhere: a file whose lines end in a bare CR would otherwise be one
        # record, "only a header" or a single chunk whatever the sizing.
        with path.open("rb") as stream:
            head = stream.read(1 << 20)
        # A CR inside a quoted field is data, not a line end (""-escapes are two fields).
        unquoted = _QUOTED_FIELD.sub(b"", head) if scan.quoted else head
        if b"\n" not in head and _LONE_CR.search(unquoted):
            raise DataError(
                f"{name}: lines end in a bare CR (classic Mac OS); only LF and CRLF end "
                "records: convert the line endings first (e.g. tr '\\r' '\\n')"
            )
    if scan.bare_cr is not None:
        raise DataError(
            f"{name} byte {scan.bare_cr}: a bare CR outside quotes; only LF and CRLF end "
            "records: quote the field that holds it, or convert the line endings first"
        )
    rows = scan.records - header
    if rows <= 0:
        raise DataError(f"{name}: no data rows (only a header)")
    return rows

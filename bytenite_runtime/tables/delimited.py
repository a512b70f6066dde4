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
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, TypeVar, cast

import orjson

from .._copy import copy_range
from ..chunks import ChunkMeta
from ..errors import DataError
from ._records import Block, Check, RecordScan
from ._utf8 import check_not_wide
from .source import DELIMITERS, Sizing

__all__ = ["DelimitedPiece", "header_names", "plan"]

Delimited = Literal["csv", "tsv", "jsonl"]
_BOM = b"\xef\xbb\xbf"
_LONE_CR = re.compile(rb"\r(?!\n|$)")
_QUOTED_FIELD = re.compile(rb'"[^"]*"')
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class DelimitedPiece:
    """One chunk: the header's and the records' byte ranges in the source file."""

    path: Path
    header: tuple[int, int]
    records: tuple[int, int]
    rows: tuple[int, int]
    embeds: bool = False

    def write(self, out: BinaryIO, meta: ChunkMeta | None) -> None:
        """The header, then the records; ``meta`` is unused (a CSV has no metadata slot)."""
        with self.path.open("rb", buffering=0) as source:
            copy_range(source.fileno(), out, *self.header, self.path.name)
            copy_range(source.fileno(), out, *self.records, self.path.name)


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
    scan = RecordScan(path, name, quoted=quoted, unterminated_hint=hint)
    tail = _BlankTail.of(path, scan.size, name)
    cutter = _Cutter(sizing, has_header, scan.size, path, extent=tail.start)
    if strict:
        for block in scan.blocks():
            cutter.feed(block)
        rows = _real_rows(_data_rows(scan, has_header, path, name), tail, name)
        if fmt == "jsonl":
            _check_json_lines(path, name)
        else:
            _check_fields(path, name, delimiter or DELIMITERS[fmt], has_header, quoted)
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

    yield from _in_background(produce, name)


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
    if scan.size <= len(_BOM) and path.read_bytes() in (b"", _BOM):
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
    rows = scan.records - header
    if rows <= 0:
        raise DataError(f"{name}: no data rows (only a header)")
    return rows


_DONE = object()


_Producer = Callable[[Callable[[_T], None], Callable[[Check], None]], None]


def _in_background(produce: _Producer[_T], name: str) -> Iterator[_T]:
    """What ``produce`` gives, as it gives it, ``produce`` running on a thread; its error
    is raised here. Closing the iterator early stops the thread at its next ``give``.

    ``produce`` also hands over checks, run here in order with what it gives: the caller
    mostly waits for the next item, so a check costs it nothing, while on the producing
    thread it would delay every item after it (the UTF-8 check of a CSV: ~7% of a scan).
    """
    given: queue.SimpleQueue[object] = queue.SimpleQueue()
    stopping = threading.Event()

    def give(item: object) -> None:
        if stopping.is_set():
            raise _Stopped
        given.put(item)

    def run() -> None:
        try:
            produce(give, lambda check: give(_Check(check)))
        except _Stopped:
            pass
        except BaseException as exc:  # handed over whole, to be raised in the caller
            given.put(_Failure(exc))
        given.put(_DONE)

    worker = threading.Thread(target=run, name=f"scan {name}", daemon=True)
    worker.start()
    try:
        while (item := given.get()) is not _DONE:
            if isinstance(item, _Check):
                item.run()
            elif isinstance(item, _Failure):
                raise item.exc
            else:
                yield cast(_T, item)
    finally:
        stopping.set()
        worker.join()


class _Stopped(Exception):
    """The consumer went away: the producing thread stops."""


@dataclass(frozen=True, slots=True)
class _Failure:
    exc: BaseException


@dataclass(frozen=True, slots=True)
class _Check:
    run: Check


class _Cutter:
    """Places cuts while the scan passes, as ``(position, data rows before it)``, and
    turns them into pieces once they are settled."""

    def __init__(
        self, sizing: Sizing, header: bool, size: int, path: Path, *, extent: int | None = None
    ) -> None:
        self.sizing = sizing
        self.skip = int(header)
        self.size = size
        self.extent = size if extent is None else extent
        """Where the records end (blank lines may follow): what ``chunks`` shares out."""
        self.path = path
        self.data_start: int | None = None if header else 0
        self.cuts: list[tuple[int, int]] = []
        self.given = 0
        """Pieces handed out so far: piece ``k`` ends at cut ``k``."""
        if sizing.rows is not None:
            # Cut after record end number skip + k*rows - 1 (the header is end 0).
            self._next_end = self.skip + sizing.rows - 1

    def feed(self, block: Block) -> None:
        if not block.count:
            return
        if self.data_start is None:
            self.data_start = int(block.ends()[0])
        if self.sizing.rows is not None:
            while self._next_end < block.first + block.count:
                position = block.ends()[self._next_end - block.first]
                self.cuts.append((int(position), self._next_end + 1 - self.skip))
                self._next_end += self.sizing.rows
            return
        while (target := self._target()) is not None and target <= block.end:
            ends = block.ends()
            i = int(ends.searchsorted(target))
            if i == ends.size:
                return
            self.cuts.append((int(ends[i]), block.first + i + 1 - self.skip))

    def _target(self) -> int | None:
        assert self.data_start is not None
        last = self.cuts[-1][0] if self.cuts else self.data_start
        if self.sizing.target_bytes is not None:
            return last + self.sizing.target_bytes
        count = self.sizing.chunks or 1
        k = len(self.cuts) + 1
        if k >= count:
            return None
        return max(self.data_start + k * (self.extent - self.data_start) // count, last + 1)

    def settled(self, rows_seen: int) -> list[DelimitedPiece]:
        """Pieces whose end cut no later record can move, given ``rows_seen`` data rows
        known so far: :meth:`finish` drops a cut with no record after it, and with
        ``chunks`` pushes a cut down when fewer records follow it than chunks remain."""
        settled = self.given
        for k in range(self.given, len(self.cuts)):
            after = rows_seen - self.cuts[k][1]
            needed = (self.sizing.chunks - 1 - k) if self.sizing.chunks is not None else 1
            if after < max(needed, 1):
                break
            settled = k + 1
        return self._pieces(self.cuts[: settled + 1], self.given, settled)

    def finish(self, rows: int, scan: RecordScan) -> list[DelimitedPiece]:
        """The pieces not given yet, the last ending at the end of the file."""
        cuts = self._final_cuts(rows, scan)
        assert cuts[: self.given] == self.cuts[: self.given], "a given piece's cut moved"
        return self._pieces([*cuts, (self.size, rows)], self.given, len(cuts) + 1)

    def _pieces(self, cuts: list[tuple[int, int]], first: int, stop: int) -> list[DelimitedPiece]:
        """Pieces ``first``–``stop`` (half-open), piece ``k`` running from cut ``k - 1``
        (the first data byte for ``k = 0``) to ``cuts[k]``."""
        assert self.data_start is not None or first == stop
        start = self.data_start or 0
        heading = (0, start if self.skip else 0)
        bounds = [(start, 0), *cuts]
        self.given = max(self.given, stop)
        return [
            DelimitedPiece(self.path, heading, (a, b), (r, s))
            for (a, r), (b, s) in itertools.pairwise(bounds[first : stop + 1])
        ]

    def _final_cuts(self, rows: int, scan: RecordScan) -> list[tuple[int, int]]:
        """The cuts, none at the very end; ``chunks`` topped up to its count from the
        records nearest the end when the targets ran past the last record end."""
        cuts = [cut for cut in self.cuts if cut[1] < rows]
        wanted = min(self.sizing.chunks or 0, rows) - 1
        if len(cuts) >= wanted:
            return cuts
        given = {before: position for position, before in cuts}
        befores = [before for _, before in cuts] + [rows] * (wanted - len(cuts))
        ceiling = rows
        for k in reversed(range(wanted)):
            befores[k] = ceiling = min(befores[k], ceiling - 1)
        return [(given[b] if b in given else scan.locate(b + self.skip - 1), b) for b in befores]


def _check_fields(path: Path, name: str, delimiter: str, header: bool, quoted: bool) -> None:
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


def _check_json_lines(path: Path, name: str) -> None:
    """Every line is one JSON value (rows and lines counted as in :func:`_check_fields`);
    blank lines are errors only when a record follows them."""
    blank: DataError | None = None
    with path.open("rb") as stream:
        for number, line in enumerate(stream):
            text = line[len(_BOM) :] if number == 0 and line.startswith(_BOM) else line
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

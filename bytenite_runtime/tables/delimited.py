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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from .._copy import copy_range
from ..chunks import ChunkMeta
from ..errors import DataError
from ._records import Block, RecordScan
from .source import Sizing

if TYPE_CHECKING:
    from ..partitioners.rows import Piece

__all__ = ["DelimitedPiece", "plan"]

Delimited = Literal["csv", "tsv", "jsonl"]
_DELIMITERS = {"csv": ",", "tsv": "\t"}
_BOM = b"\xef\xbb\xbf"


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
) -> list[Piece]:
    """The chunks of ``path`` (named ``name`` in messages), every check done first.

    ``quoting=False`` makes every newline a record end: for TSV-style files whose
    fields are never quoted but may hold a bare ``"`` (``5'11"``).
    """
    has_header = header and fmt != "jsonl"
    quoted = quoting and fmt != "jsonl"
    scan = RecordScan(path, name, quoted=quoted)
    cutter = _Cutter(sizing, has_header, scan.size)
    for block in scan.blocks():
        cutter.feed(block)
    data_rows = scan.records - has_header
    if scan.size <= len(_BOM) and path.read_bytes() in (b"", _BOM):
        raise DataError(f"{name}: no records")
    if data_rows <= 0:
        raise DataError(f"{name}: no data rows (only a header)")
    if strict and fmt != "jsonl":
        _check_fields(path, name, _DELIMITERS[fmt], has_header, quoted)
    cuts = cutter.finish(data_rows, scan)
    start = cutter.data_start or 0
    heading = (0, start if has_header else 0)
    bounds = [(start, 0), *cuts, (scan.size, data_rows)]
    return [
        DelimitedPiece(path, heading, (a, b), (r, s))
        for (a, r), (b, s) in itertools.pairwise(bounds)
    ]


class _Cutter:
    """Places cuts while the scan passes, as ``(position, data rows before it)``."""

    def __init__(self, sizing: Sizing, header: bool, size: int) -> None:
        self.sizing = sizing
        self.skip = int(header)
        self.size = size
        self.data_start: int | None = None if header else 0
        self.cuts: list[tuple[int, int]] = []
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
        return max(self.data_start + k * (self.size - self.data_start) // count, last + 1)

    def finish(self, rows: int, scan: RecordScan) -> list[tuple[int, int]]:
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
        try:
            for number, row in enumerate(reader):
                if expected is None:
                    expected = len(row)
                elif len(row) != expected:
                    first = "the header" if header else "row 0"
                    fields = f"{len(row)} field{'' if len(row) == 1 else 's'}"
                    raise DataError(
                        f"{name} row {number - header} (line {reader.line_num}): "
                        f"{fields} where {first} has {expected}"
                    )
        except csv.Error as exc:
            raise DataError(f"{name} line {reader.line_num}: {exc}") from None


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

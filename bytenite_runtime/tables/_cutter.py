"""Where the CSV/TSV/JSON Lines split puts its cuts, and the pieces they make.

A :class:`DelimitedPiece` is one chunk as two byte ranges of the source (header,
records); the :class:`Cutter` places cuts while the scan passes, by rows, target bytes
or chunk count, and gives a piece once no later record can move its cut.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .._copy import copy_range
from ..chunks import ChunkMeta
from ._bitmaps import Block
from ._records import RecordScan
from .source import Sizing

__all__ = ["Cutter", "DelimitedPiece"]


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


class Cutter:
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

"""Cutting a run of units (row groups, record batches, one array) into chunks of rows.

A *unit* is a stretch of rows the source stores together: a Parquet row group, an Arrow
record batch, or a whole ``.npy`` array. Units are kept whole whenever the sizing
allows, so a chunk is a run of consecutive units, and a unit is cut into slices only
when a chunk must hold fewer rows (or bytes) than the unit does. Planning is pure
arithmetic on row and byte counts: nothing here reads data.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .source import Sizing

__all__ = ["Cut", "Span", "Unit", "plan_cuts"]


@dataclass(frozen=True, slots=True)
class Unit:
    """A stretch of rows stored together; ``index`` is its position in the source."""

    index: int
    rows: int
    nbytes: int


@dataclass(frozen=True, slots=True)
class Span:
    """Rows ``start``–``stop`` (half-open) inside unit ``unit``."""

    unit: int
    start: int
    stop: int


@dataclass(frozen=True, slots=True)
class Cut:
    """One planned chunk: its half-open row range in the source and the spans that hold it."""

    rows: tuple[int, int]
    spans: tuple[Span, ...]


def plan_cuts(units: Sequence[Unit], sizing: Sizing) -> list[Cut]:
    """Cut ``units`` into chunks by ``sizing``; units with no rows are left out.

    ``rows``/``target_bytes``: consecutive whole units are packed while they fit; a unit
    bigger than the target is sliced (at least one row per slice). ``chunks``: exactly
    that many chunks when there are enough rows, balanced by rows, units kept whole when
    there are at least as many units as chunks.
    """
    full = [u for u in units if u.rows > 0]
    if sizing.rows is not None:
        groups = _pack(full, sizing.rows, lambda u: u.rows)
    elif sizing.target_bytes is not None:
        groups = _pack(full, sizing.target_bytes, lambda u: u.nbytes)
    else:
        assert sizing.chunks is not None
        groups = _share(full, sizing.chunks)
    cuts: list[Cut] = []
    first = 0
    for spans in groups:
        count = sum(s.stop - s.start for s in spans)
        cuts.append(Cut((first, first + count), tuple(spans)))
        first += count
    return cuts


def _pack(units: Sequence[Unit], target: int, weight: Callable[[Unit], int]) -> list[list[Span]]:
    groups: list[list[Span]] = []
    current: list[Span] = []
    filled = 0
    for unit in units:
        size = weight(unit)
        if size > target:
            if current:
                groups.append(current)
                current, filled = [], 0
            # Slices are sized by rows; bytes are assumed spread evenly across the unit.
            step = max(1, unit.rows * target // size)
            groups.extend([s] for s in _slices(unit, step))
            continue
        if current and filled + size > target:
            groups.append(current)
            current, filled = [], 0
        current.append(Span(unit.index, 0, unit.rows))
        filled += size
    if current:
        groups.append(current)
    return groups


def _share(units: Sequence[Unit], chunks: int) -> list[list[Span]]:
    total = sum(u.rows for u in units)
    if total == 0:
        return []
    chunks = min(chunks, total)
    if chunks <= len(units):
        return _group_whole(units, chunks)
    parts = _parts_per_unit(units, chunks, total)
    groups: list[list[Span]] = []
    for unit, count in zip(units, parts, strict=True):
        base, extra = divmod(unit.rows, count)
        start = 0
        for k in range(count):
            stop = start + base + (1 if k < extra else 0)
            groups.append([Span(unit.index, start, stop)])
            start = stop
    return groups


def _group_whole(units: Sequence[Unit], chunks: int) -> list[list[Span]]:
    # Cut k goes at the unit boundary nearest k/chunks of the rows, leaving at least one
    # unit for every chunk still to come.
    bounds = [0]
    for unit in units:
        bounds.append(bounds[-1] + unit.rows)
    total = bounds[-1]
    cuts = [0]
    for k in range(1, chunks):
        low, high = cuts[-1] + 1, len(units) - (chunks - k)
        ideal = total * k / chunks
        at = min(max(bisect.bisect_left(bounds, ideal), low), high)
        if at > low and ideal - bounds[at - 1] < bounds[at] - ideal:
            at -= 1
        cuts.append(at)
    cuts.append(len(units))
    return [[Span(u.index, 0, u.rows) for u in units[a:b]] for a, b in itertools.pairwise(cuts)]


def _parts_per_unit(units: Sequence[Unit], chunks: int, total: int) -> list[int]:
    # Largest-remainder share-out of ``chunks`` over units by rows: each unit gets at
    # least one part and never more parts than rows; the sum is exactly ``chunks``.
    ideal = [chunks * u.rows / total for u in units]
    parts = [min(u.rows, max(1, int(x))) for u, x in zip(units, ideal, strict=True)]
    while sum(parts) < chunks:
        room = [i for i, u in enumerate(units) if parts[i] < u.rows]
        parts[max(room, key=lambda i: ideal[i] - parts[i])] += 1
    while sum(parts) > chunks:
        spare = [i for i in range(len(units)) if parts[i] > 1]
        parts[min(spare, key=lambda i: ideal[i] - parts[i])] -= 1
    return parts


def _slices(unit: Unit, step: int) -> list[Span]:
    return [
        Span(unit.index, start, min(start + step, unit.rows)) for start in range(0, unit.rows, step)
    ]

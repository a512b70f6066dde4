"""Whether a mosaic's tiles cover its grid: each cell once, every chunk's tile accounted
for, and, for a missing tile, what its chunk returned instead. Plain Python, no Pillow."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from .._inputs import Result
from ..errors import DataError
from .grid import Box
from .placement import Layout, PlacedTile

__all__ = ["check_cover", "check_every_chunk", "missing_notes"]


def check_cover(
    where: str,
    tiles: Sequence[PlacedTile],
    xs: Sequence[int],
    ys: Sequence[int],
    notes: Mapping[int, str] | None = None,
) -> list[list[PlacedTile]]:
    """The tiles by grid row and column; a missing, duplicate or misplaced tile is an error
    (saying, from ``notes`` by chunk index, what its chunk returned instead)."""
    cols, rows = len(xs) - 1, len(ys) - 1
    cells: dict[tuple[int, int], PlacedTile] = {}
    base = None
    for tile in tiles:
        # The overlap too: feathering ramps every tile by one overlap, so a tile cut with
        # another (results of two tile runs mixed) would leave a seam. And the orientation:
        # a tile of the stored pixels ('keep') among upright ones would be pasted turned.
        for field, mine, theirs in zip(Layout._fields, tile.layout, tiles[0].layout, strict=True):
            if mine != theirs:
                raise DataError(
                    f"{where}: {tile.label} has {field} {_shown(mine)}, but {tiles[0].label} "
                    f"has {_shown(theirs)}"
                )
        key = (tile.col, tile.row)
        expected = (
            Box(xs[tile.col], ys[tile.row], xs[tile.col + 1], ys[tile.row + 1])
            if 0 <= tile.col < cols and 0 <= tile.row < rows
            else None
        )
        if expected != tile.core:
            raise DataError(f"{where}: {tile.label} does not match the grid its metadata gives")
        if key in cells:
            first = cells[key]
            raise DataError(
                f"{where}: tile at box {tile.core} given twice (chunks {first.meta.index} and "
                f"{tile.meta.index}: {first.result.name!r}, {tile.result.name!r})"
            )
        cells[key] = tile
        base = tile.meta.index - (tile.row * cols + tile.col)
    for row in range(rows):
        for col in range(cols):
            if (col, row) not in cells:
                box = Box(xs[col], ys[row], xs[col + 1], ys[row + 1])
                index = base + row * cols + col if base is not None else None
                chunk = f" (chunk {index})" if index is not None else ""
                if index is not None and notes and index in notes:
                    chunk = f" (chunk {index}: {notes[index]})"
                raise DataError(f"{where}: tile at box {box} missing{chunk}")
    return [[cells[(col, row)] for col in range(cols)] for row in range(rows)]


def _shown(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def missing_notes(
    groups: Mapping[tuple[str, str], Sequence[PlacedTile]], untagged: Sequence[Result]
) -> dict[tuple[str, str], dict[int, str]]:
    """For each group ``(source, original)``, what came back, by chunk index, from chunks
    that may be missing one of its tiles: a result under its name without tile metadata,
    or tiles of the source under another name (an app that saved some tiles as JPEG)."""
    # Indexed once: a job of thousands of source images, each group scanning every other
    # group and result, was quadratic.
    plain: dict[str, list[Result]] = defaultdict(list)
    for result in untagged:
        plain[result.original].append(result)
    originals: dict[str, list[str]] = defaultdict(list)
    for source, original in groups:
        originals[source].append(original)
    found: dict[tuple[str, str], dict[int, str]] = {}
    for source, original in groups:
        notes = {
            r.index: f"its result {r.name!r} carries no tile metadata; write tiles with "
            "bytenite_runtime.images.tiles.save_tile"
            for r in plain.get(original, ())
            if r.index is not None
        }
        for other in originals[source]:
            if other != original:
                for tile in groups[(source, other)]:
                    notes.setdefault(
                        tile.meta.index, f"it returned {tile.result.name!r} but no {original!r}"
                    )
        found[(source, original)] = notes
    return found


def check_every_chunk(groups: Collection[Sequence[PlacedTile]]) -> None:
    """A DataError naming the chunks (the first eight) that no group's grid accounts for,
    when the tiles agree on the chunk count."""
    # Coverage is checked per source image, so a source none of whose tiles came back
    # would vanish from the output unnoticed; the chunk count every tile records tells.
    counts = {tile.meta.count for group in groups for tile in group}
    count = counts.pop() if len(counts) == 1 else None
    if not isinstance(count, int):
        return
    spans = []
    for group in groups:  # the other tiles' grids are checked against the first's later
        tile = group[0]
        cols, rows = tile.layout.grid
        base = tile.meta.index - (tile.row * cols + tile.col)
        spans.append((base, base + cols * rows))
    missing: list[int] = []  # the first nine at most: the count may be huge
    reached = 0
    for start, stop in [*sorted(spans), (count, count)]:
        missing.extend(range(reached, min(start, count, reached + 9 - len(missing))))
        reached = max(reached, stop)
    if missing:
        shown = ", ".join(map(str, missing[:8])) + (", …" if len(missing) > 8 else "")
        raise DataError(
            f"mosaic: no tile came back from chunks {shown} (of {count}): a whole source "
            "image is missing"
        )

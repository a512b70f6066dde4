"""Where tiles go: the grid of cells, each tile's box, and the checks a mosaic needs.

Plain integer geometry, no Pillow. Terms used throughout (all boxes half-open,
``(x0, y0)-(x1, y1)`` in pixels of the full, upright image):

``core``
    the grid cell a tile owns; the cores of one image cover it exactly once.
``box``
    the core grown by ``overlap`` on every side, clipped to the image: what the tile
    holds of the image.
``offset``
    where ``box``'s top-left corner sits inside the tile file: ``(0, 0)`` for ``shrink``
    tiles (the file is exactly ``box``); for ``pad`` tiles every file is the full tile
    size (cell + 2 × overlap) and the image region sits at ``offset``, the rest filled.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Box", "EdgePolicy", "TilePlan", "axis_edges", "plan_tiles"]

EdgePolicy = Literal["shrink", "pad"]


@dataclass(frozen=True, slots=True)
class Box:
    """A half-open pixel rectangle."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]

    @classmethod
    def of(cls, value: Sequence[int]) -> Box:
        x0, y0, x1, y1 = (int(v) for v in value)
        return cls(x0, y0, x1, y1)

    def __str__(self) -> str:
        return f"({self.x0}, {self.y0})-({self.x1}, {self.y1})"


@dataclass(frozen=True, slots=True)
class TilePlan:
    """One planned tile: its grid position, core, box, offset and file size."""

    col: int
    row: int
    core: Box
    box: Box
    offset: tuple[int, int]
    size: tuple[int, int]


def axis_edges(total: int, count: int | None, cell: int | None) -> list[int]:
    """Cell edges along one axis of ``total`` pixels: every ``cell`` pixels (the last cell
    shorter; a cell at least as long as the axis gives one cell), or ``count`` cells as
    even as integers allow (clamped to one pixel per cell)."""
    if cell is not None:
        return [*range(0, total, cell), total]
    n = min(count or 1, total)
    return [i * total // n for i in range(n + 1)]


def plan_tiles(
    width: int,
    height: int,
    *,
    cell: tuple[int, int] | None,
    grid: tuple[int, int] | None,
    overlap: int,
    edge: EdgePolicy,
) -> list[TilePlan]:
    """Every tile of a ``width`` × ``height`` image, row by row, left to right.

    ``cell`` is (tile_width, tile_height); ``grid`` is (cols, rows); exactly one is given.
    """
    cw, ch = cell if cell is not None else (None, None)
    cols, rows = grid if grid is not None else (None, None)
    xs = axis_edges(width, cols, cw)
    ys = axis_edges(height, rows, ch)
    full_w = (cw or max(b - a for a, b in itertools.pairwise(xs))) + 2 * overlap
    full_h = (ch or max(b - a for a, b in itertools.pairwise(ys))) + 2 * overlap
    tiles = []
    for row, (y0, y1) in enumerate(itertools.pairwise(ys)):
        for col, (x0, x1) in enumerate(itertools.pairwise(xs)):
            core = Box(x0, y0, x1, y1)
            box = Box(
                max(0, x0 - overlap),
                max(0, y0 - overlap),
                min(width, x1 + overlap),
                min(height, y1 + overlap),
            )
            if edge == "pad":
                offset = (box.x0 - (x0 - overlap), box.y0 - (y0 - overlap))
                size = (full_w, full_h)
            else:
                offset, size = (0, 0), (box.width, box.height)
            tiles.append(TilePlan(col, row, core, box, offset, size))
    return tiles

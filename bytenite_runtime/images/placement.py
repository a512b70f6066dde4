"""Where each result tile goes in a mosaic: its metadata read, its cell checked against
the grid, the app's scale read off its size. Plain Python, no Pillow."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .._io import Result
from ..chunks import ChunkMeta
from ..errors import DataError
from .grid import Box

__all__ = ["PlacedTile", "check_cover", "scale_of", "tile_of", "to_out"]


@dataclass
class PlacedTile:
    """One result tile and what its metadata says; ``pixels`` and ``mode`` are filled in
    from the file's header before placement."""

    result: Result
    meta: ChunkMeta
    col: int
    row: int
    core: Box
    box: Box
    offset: tuple[int, int]
    tile_size: tuple[int, int]
    pixels: tuple[int, int] = (0, 0)
    mode: str = ""

    @property
    def label(self) -> str:
        return f"tile at box {self.core} (chunk {self.meta.index}, {self.result.name!r})"


def tile_of(result: Result, meta: ChunkMeta) -> PlacedTile:
    """The tile ``result`` is, from its metadata (a DataError when fields are missing)."""
    f = meta.fields
    try:
        col, row = int(f["grid"][0]), int(f["grid"][1])
        if len(f["size"]) != 2 or len(f["grid"]) != 4:
            raise ValueError("'size' needs 2 numbers and 'grid' 4")
        return PlacedTile(
            result, meta, col, row, Box.of(f["core"]), Box.of(f["box"]),
            (int(f["offset"][0]), int(f["offset"][1])),
            (int(f["tile_size"][0]), int(f["tile_size"][1])),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataError(f"{result.name}: tile metadata is incomplete ({exc!r})") from None


def to_out(value: int | Fraction, scale: Fraction) -> int:
    """Image coordinate → output coordinate (round half up, so it is exact for integers)."""
    scaled = Fraction(value) * scale
    return math.floor(scaled + Fraction(1, 2))


def check_cover(
    where: str, tiles: Sequence[PlacedTile], xs: Sequence[int], ys: Sequence[int]
) -> list[list[PlacedTile]]:
    """The tiles by grid row and column; a missing, duplicate or misplaced tile is an error."""
    cols, rows = len(xs) - 1, len(ys) - 1
    cells: dict[tuple[int, int], PlacedTile] = {}
    base = None
    first_fields = tiles[0].meta.fields
    for tile in tiles:
        for field in ("size", "grid", "cell"):
            mine, theirs = tile.meta.fields.get(field), first_fields.get(field)
            if field == "grid" and mine and theirs:
                mine, theirs = mine[2:], theirs[2:]
            if mine != theirs:
                raise DataError(
                    f"{where}: {tile.label} has {field} {mine}, but {tiles[0].label} has {theirs}"
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
                chunk = f" (chunk {base + row * cols + col})" if base is not None else ""
                raise DataError(f"{where}: tile at box {box} missing{chunk}")
    return [[cells[(col, row)] for col in range(cols)] for row in range(rows)]


def scale_of(where: str, tiles: Sequence[PlacedTile]) -> tuple[Fraction, Fraction]:
    """One rational scale per axis, read off the largest tile and checked on every tile."""
    widest = max(tiles, key=lambda t: t.tile_size[0])
    tallest = max(tiles, key=lambda t: t.tile_size[1])
    sx = Fraction(widest.pixels[0], widest.tile_size[0])
    sy = Fraction(tallest.pixels[1], tallest.tile_size[1])
    if sx == 0 or sy == 0:
        raise DataError(f"{where}: {widest.label} is empty")
    for tile in tiles:
        want = (tile.tile_size[0] * sx, tile.tile_size[1] * sy)
        got = tile.pixels
        if abs(got[0] - want[0]) >= 1 or abs(got[1] - want[1]) >= 1:
            raise DataError(
                f"{where}: {tile.label} is {got[0]}x{got[1]}, but the tiles are scaled "
                f"{sx} x {sy} (expected {float(want[0]):g}x{float(want[1]):g} from its "
                f"{tile.tile_size[0]}x{tile.tile_size[1]} chunk); the app must not crop tiles"
            )
    return sx, sy

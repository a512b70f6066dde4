"""Where each result tile goes in a mosaic: its metadata read and its geometry checked,
the tiles' common mode, the app's scale read off their sizes (the grid's cover checked
in :mod:`.coverage`). Plain Python, no Pillow."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

from .._inputs import Result
from ..chunks import ChunkMeta
from ..errors import DataError
from .grid import Box

__all__ = [
    "Layout",
    "PlacedTile",
    "common_mode",
    "scale_of",
    "tile_of",
    "to_out",
]

# Tiles in these modes join in the wider one without loss: libwebp stores a fully opaque
# tile without its alpha channel, so its neighbours with alpha decode as RGBA and it as RGB.
_WIDER = {frozenset({"RGB", "RGBA"}): "RGBA", frozenset({"L", "LA"}): "LA"}
# Exact tile scales tried, most common first, when the largest tile's is not everyone's.
_TRIED_SCALES = 4


class Layout(NamedTuple):
    """What every tile of one source states alike: the image's size, the grid's columns
    and rows, the cell asked for (None for a grid), the overlap (0 when absent) and the
    EXIF orientation (1 when absent)."""

    size: tuple[int, int]
    grid: tuple[int, int]
    cell: tuple[int, int] | None
    overlap: int
    orientation: int


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
    layout: Layout
    pixels: tuple[int, int] = (0, 0)
    mode: str = ""

    @property
    def label(self) -> str:
        return f"tile at box {self.core} (chunk {self.meta.index}, {self.result.name!r})"


def tile_of(result: Result, meta: ChunkMeta) -> PlacedTile:
    """The tile ``result`` is, from its metadata; a DataError names the result when fields
    are missing or describe geometry no tile can have (placing it anyway would paste the
    wrong pixels or blame a neighbour)."""
    f = meta.fields
    try:
        grid = _ints(f["grid"], 4)
        tile = PlacedTile(
            result, meta, grid[0], grid[1], Box.of(_ints(f["core"], 4)),
            Box.of(_ints(f["box"], 4)), _pair(_ints(f["offset"], 2)),
            _pair(_ints(f["tile_size"], 2)), _layout(f, grid),
        )  # fmt: skip
        _check_geometry(tile)
    except KeyError as exc:
        reason = f"no {exc.args[0]!r}"
    except (TypeError, ValueError) as exc:
        reason = str(exc)
    else:
        return tile
    raise DataError(f"{result.name} (chunk {meta.index}): tile metadata is not valid ({reason})")


def _ints(value: object, count: int) -> list[int]:
    if isinstance(value, list) and len(value) == count and all(type(v) is int for v in value):
        return value
    raise ValueError(f"{value!r} is not a list of {count} integers")


def _pair(values: list[int]) -> tuple[int, int]:
    return values[0], values[1]


def _layout(fields: Mapping[str, Any], grid: list[int]) -> Layout:
    size, cell = _ints(fields["size"], 2), fields.get("cell")
    # The mosaic feathers by the overlap and turns its output by the orientation.
    overlap, orientation = fields.get("overlap", 0), fields.get("orientation")
    if type(overlap) is not int or overlap < 0:
        raise ValueError(f"overlap {overlap!r} is not an integer >= 0")
    if orientation is not None and (type(orientation) is not int or not 1 <= orientation <= 8):
        raise ValueError(f"orientation {orientation!r} is not an EXIF orientation (1 to 8)")
    return Layout(
        _pair(size), _pair(grid[2:]), None if cell is None else _pair(_ints(cell, 2)), overlap,
        orientation or 1,
    )  # fmt: skip


def _check_geometry(tile: PlacedTile) -> None:
    size = tile.layout.size
    for name, values in (("size", size), ("grid", tile.layout.grid), ("cell", tile.layout.cell),
                         ("tile_size", tile.tile_size)):  # fmt: skip
        if values is not None and min(values) < 1:
            raise ValueError(f"{name} {list(values)} must be positive")
    core, box = tile.core, tile.box
    inside = 0 <= box.x0 <= core.x0 < core.x1 <= box.x1 <= size[0] and (
        0 <= box.y0 <= core.y0 < core.y1 <= box.y1 <= size[1]
    )
    if not inside:
        raise ValueError(
            f"box {box} is not inside the {size[0]}x{size[1]} image around its core {core}"
        )
    (left, top), (width, height) = tile.offset, tile.tile_size
    if min(left, top) < 0 or left + box.width > width or top + box.height > height:
        raise ValueError(
            f"offset {list(tile.offset)} puts box {box} outside its {width}x{height} tile"
        )


def to_out(value: int | Fraction, scale: Fraction) -> int:
    """Image coordinate → output coordinate (round half up, so it is exact for integers)."""
    scaled = Fraction(value) * scale
    return math.floor(scaled + Fraction(1, 2))


def common_mode(where: str, tiles: Sequence[PlacedTile]) -> str:
    """The mode the mosaic is built in: the tiles' own, or the one with alpha when only some
    carry it; any other mix is an error naming a tile that differs."""
    modes = {tile.mode for tile in tiles}
    if len(modes) == 1:
        return tiles[0].mode
    wider = _WIDER.get(frozenset(modes))
    if wider is not None:
        return wider
    odd = next(tile for tile in tiles if tile.mode != tiles[0].mode)
    raise DataError(f"{where}: {odd.label} is mode {odd.mode}, others are {tiles[0].mode}")


def scale_of(where: str, tiles: Sequence[PlacedTile]) -> tuple[Fraction, Fraction]:
    """One rational scale per axis, the one most tiles agree on (see :func:`_axis_scale`),
    checked on every tile."""
    sx, sy = _axis_scale(tiles, 0), _axis_scale(tiles, 1)
    if sx == 0 or sy == 0:
        empty = next(tile for tile in tiles if 0 in tile.pixels)
        raise DataError(f"{where}: {empty.label} is empty")
    for tile in tiles:
        want = (tile.tile_size[0] * sx, tile.tile_size[1] * sy)
        got = tile.pixels
        if abs(got[0] - want[0]) >= 1 or abs(got[1] - want[1]) >= 1:
            raise DataError(
                f"{where}: {tile.label} is {got[0]}x{got[1]}, but the tiles are scaled "
                f"{sx} x {sy} (expected {float(want[0]):g}x{float(want[1]):g} from its "
                f"{tile.tile_size[0]}x{tile.tile_size[1]} chunk); the app must scale every "
                "tile alike and crop none"
            )
    return sx, sy


def _axis_scale(tiles: Sequence[PlacedTile], axis: int) -> Fraction:
    """The scale along ``axis`` that puts most tiles within a pixel of their size.

    The first of the largest tiles gives the most precise scale (a rational scale rounds a
    small tile's pixels further off) and is the answer whenever every tile agrees with it
    or no other scale has more tiles on its side; otherwise one odd tile would be taken
    for the scale and its correct neighbours blamed. Only the few most common exact
    scales are tried against it, so a grid of many tiles costs a few passes at most.
    """

    def agreeing(scale: Fraction) -> int:
        return sum(abs(t.pixels[axis] - t.tile_size[axis] * scale) < 1 for t in tiles)

    largest = max(tiles, key=lambda t: t.tile_size[axis])
    first = Fraction(largest.pixels[axis], largest.tile_size[axis])
    if agreeing(first) == len(tiles):
        return first
    common = Counter(Fraction(t.pixels[axis], t.tile_size[axis]) for t in tiles)
    others = [scale for scale, _ in common.most_common(_TRIED_SCALES) if scale != first]
    return max([first, *others], key=agreeing)  # the first of equals: ties keep ``first``

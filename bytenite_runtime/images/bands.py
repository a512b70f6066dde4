"""A mosaic built one band (row of tiles) at a time: tiles cropped to their cells, or
overlaps feathered with linear ramps; each finished band is handed to a sink."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any, TypeAlias

import numpy as np
from PIL import Image

from . import codec, formats
from .placement import PlacedTile, to_out

__all__ = ["Sink", "copy_palette", "crop_bands", "cut", "feather_bands"]

Sink: TypeAlias = Callable[[Image.Image, int], None]
"""Receives each finished band and the output row it starts at."""


def decoded(
    pool: ThreadPoolExecutor, tiles: Sequence[PlacedTile], mode: str
) -> Iterator[Image.Image]:
    """The tiles decoded on ``pool``, in order and in ``mode``; damage is a DataError naming
    the result and its chunk."""

    def decode(tile: PlacedTile) -> Image.Image:
        # Every tile's size was held to max_pixels from its header before placement.
        image = codec.open_image(tile.result.path, tile.result.name, 1 << 62)
        codec.load(image, f"{tile.result.name} (chunk {tile.meta.index})")
        # Through supported_mode first: Pillow's convert clamps big-endian 16-bit to 255.
        image = formats.supported_mode(image, tile.result.name)
        return image if image.mode == mode else image.convert(mode)

    return pool.map(decode, tiles)


def origin(tile: PlacedTile) -> tuple[int, int]:
    """Where the tile file's top-left pixel sits in the full image (negative when padded)."""
    return tile.box.x0 - tile.offset[0], tile.box.y0 - tile.offset[1]


def crop_bands(
    sink: Sink,
    out_w: int,
    mode: str,
    grid: Sequence[Sequence[PlacedTile]],
    scale: tuple[Fraction, Fraction],
    pool: ThreadPoolExecutor,
) -> None:
    """Each band of tiles pasted, core cells only, into a band image handed to ``sink``."""
    sx, sy = scale
    for band in grid:
        band_y0 = to_out(band[0].core.y0, sy)
        band_image = Image.new(mode, (out_w, to_out(band[0].core.y1, sy) - band_y0))
        for tile, image in zip(band, decoded(pool, band, mode), strict=True):
            ox, oy = origin(tile)
            x0, y0 = to_out(tile.core.x0, sx), to_out(tile.core.y0, sy)
            left, top = x0 - to_out(ox, sx), y0 - to_out(oy, sy)
            w = to_out(tile.core.x1, sx) - x0
            h = to_out(tile.core.y1, sy) - y0
            band_image.paste(cut(image, left, top, w, h), (x0, y0 - band_y0))
            image.close()
        sink(band_image, band_y0)


def cut(image: Image.Image, left: int, top: int, width: int, height: int) -> Image.Image:
    """The ``width`` x ``height`` region at (``left``, ``top``), its edge pixels repeated where
    it reaches past the image: at a scale like 3/2 an edge tile of odd size ends half a
    pixel short of the rounded output size, and Pillow's crop would fill that with black."""
    inside = image.crop(
        (max(left, 0), max(top, 0), min(left + width, image.width), min(top + height, image.height))
    )
    if inside.size == (width, height):
        return inside
    return codec.pad(inside, (max(-left, 0), max(-top, 0)), (width, height), edge=True)


def copy_palette(source: Image.Image, target: Image.Image) -> None:
    """Give ``target`` the palette and the transparent index(es) of ``source``."""
    palette = source.getpalette()
    if palette is not None:
        target.putpalette(palette)
    if "transparency" in source.info:
        target.info["transparency"] = source.info["transparency"]


def ramp(
    start: int, stop: int, scale: Fraction, core: tuple[int, int], total: int, overlap: int
) -> np.ndarray[Any, Any]:
    """Feather weights of output pixels ``start…stop`` of a tile along one axis: 1 inside its
    core, falling linearly to 0 across each overlap it shares with a neighbour."""
    centres = (np.arange(start, stop, dtype=np.float64) + 0.5) / float(scale)
    weight = np.ones(stop - start)
    if core[0] > 0:
        weight = np.minimum(weight, (centres - (core[0] - overlap)) / (2 * overlap))
    if core[1] < total:
        weight = np.minimum(weight, ((core[1] + overlap) - centres) / (2 * overlap))
    clipped: np.ndarray[Any, Any] = np.clip(weight, 1e-6, 1.0)
    return clipped


def feather_bands(
    sink: Sink,
    out_w: int,
    mode: str,
    grid: Sequence[Sequence[PlacedTile]],
    xs: Sequence[int],
    ys: Sequence[int],
    size: tuple[int, int],
    scale: tuple[Fraction, Fraction],
    pool: ThreadPoolExecutor,
) -> None:
    """Each band of output rows blended from every tile whose box reaches it, weighted by
    :func:`ramp`; a band of tiles is decoded once and kept while later bands still need it."""
    sx, sy = scale
    width, height = size
    overlap = grid[0][0].layout.overlap
    cache: dict[int, list[tuple[PlacedTile, np.ndarray[Any, Any]]]] = {}
    tops = [to_out(band[0].box.y0, sy) for band in grid]
    bottoms = [to_out(band[0].box.y1, sy) for band in grid]
    for r in range(len(ys) - 1):
        band_y0, band_y1 = to_out(ys[r], sy), to_out(ys[r + 1], sy)
        # Boxes move down with their row (one overlap for all), so the bands reaching this
        # one are a run around it: checking every band for every row made a 1 px-high grid
        # of 4000 rows take a minute, and 20000 half an hour.
        lo, hi = r, r + 1
        while lo > 0 and bottoms[lo - 1] > band_y0:
            lo -= 1
        while hi < len(grid) and tops[hi] < band_y1:
            hi += 1
        wanted = range(lo, hi)
        for i in list(cache):
            if i not in wanted:
                del cache[i]
        for i in wanted:
            if i not in cache:
                cache[i] = [
                    (tile, np.asarray(image))
                    for tile, image in zip(grid[i], decoded(pool, grid[i], mode), strict=True)
                ]
        first = cache[wanted[0]][0][1]
        channels = first.shape[2:] if first.ndim == 3 else ()
        acc = np.zeros((band_y1 - band_y0, out_w, *channels), dtype=np.float32)
        weights = np.zeros((band_y1 - band_y0, out_w), dtype=np.float32)
        for i in wanted:
            for tile, pixels in cache[i]:
                ox, oy = origin(tile)
                x0, x1 = to_out(tile.box.x0, sx), to_out(tile.box.x1, sx)
                y0, y1 = (
                    max(to_out(tile.box.y0, sy), band_y0),
                    min(to_out(tile.box.y1, sy), band_y1),
                )
                if y0 >= y1:
                    continue
                left, top = x0 - to_out(ox, sx), y0 - to_out(oy, sy)
                part = pixels[top : top + y1 - y0, left : left + x1 - x0]
                if part.shape[:2] != (y1 - y0, x1 - x0):
                    # As in cut(): a box ending half a pixel short of its rounded span (an
                    # odd size at scale 3/2) repeats its edge pixels there; cut short, the
                    # pixels past it had no tile's weight and came out black.
                    ys_in = np.clip(np.arange(top, top + y1 - y0), 0, pixels.shape[0] - 1)
                    xs_in = np.clip(np.arange(left, left + x1 - x0), 0, pixels.shape[1] - 1)
                    part = pixels[np.ix_(ys_in, xs_in)]
                wx = ramp(x0, x1, sx, (tile.core.x0, tile.core.x1), width, overlap)
                wy = ramp(y0, y1, sy, (tile.core.y0, tile.core.y1), height, overlap)
                w = np.outer(wy, wx).astype(np.float32)
                target = acc[y0 - band_y0 : y1 - band_y0, x0:x1]
                target += part.astype(np.float32) * (w[..., None] if part.ndim == 3 else w)
                weights[y0 - band_y0 : y1 - band_y0, x0:x1] += w
        blended = acc / (weights[..., None] if acc.ndim == 3 else weights)
        top_value = 65535 if mode == "I;16" else 255
        dtype = np.uint16 if mode == "I;16" else np.uint8
        band_pixels = np.clip(np.rint(blended), 0, top_value).astype(dtype)
        band_image = Image.frombytes(
            mode, (out_w, band_y1 - band_y0), np.ascontiguousarray(band_pixels).tobytes()
        )
        sink(band_image, band_y0)

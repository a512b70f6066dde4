"""The ``mosaic`` assembler: each source image rebuilt from its tiles, in any order.

Every result that carries tile metadata in its own slot (see
:mod:`bytenite_runtime.images.tiles`) is placed by it, whatever its name or chunk
order; results without any are left out with a warning, unless one stands where a tile
should (an image named like the tiles) and is damaged: that is an error naming it. Tiles
are grouped by source image (and by result name, for apps that write several images per
tile); a chunk that belongs to no group (a source all of whose tiles are missing) is an
error, and sources whose output names would collide keep their extension in the name.
Per group:

1. the cells are checked against the grid the metadata describes: a missing or
   duplicate tile is a DataError naming its box and chunk;
2. the scale the app applied is read off the tile sizes (``tile_size`` in the metadata
   against the result's pixel size), one rational factor per axis shared by every tile;
3. the image is built one band (row of tiles) at a time, the band's tiles decoded in
   parallel and released before the next band; overlaps are cropped (each tile gives
   its core cell) or, with ``blend='feather'``, blended with linear ramps;
4. a PNG output is written band by band as it is built
   (:mod:`bytenite_runtime.images.pngstream`, deflated on every core), so peak memory
   stays below the output's raw pixel size; other formats (and palette images) are
   built whole and encoded by Pillow, holding the whole output once.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from ..chunks import read_slot
from ..components import Assembler
from ..errors import DataError, listed
from ..images import DEFAULT_MAX_PIXELS
from ..images.coverage import check_cover, check_every_chunk, missing_notes
from ..images.formats import format_of_name
from ..images.grid import axis_edges
from ..images.naming import mosaic_names
from ..images.params import FormatChoice, Quality, chosen_format
from ..images.placement import PlacedTile, common_mode, scale_of, tile_of, to_out
from ..task import AssemblerContext

if TYPE_CHECKING:
    from .._inputs import Result
    from ..images.bands import Sink
    from ..images.formats import ImageFormat

__all__ = ["Mosaic"]


class Mosaic(Assembler):
    """Each source image rebuilt from its tiles (any order), overlaps cropped or feathered,
    a uniform scale detected, coverage checked."""

    name: ClassVar[str] = "mosaic"
    summary: ClassVar[str] = "Tiles joined back into each source image (any order, any scale)."

    format: FormatChoice = Field(
        "same",
        description="Output format; 'same' is the source image's (PNG when the source was "
        "not one of the four).",
    )
    quality: Quality = 95
    lossless: bool = Field(False, description="WebP: lossless output.")
    blend: Literal["crop", "feather"] = Field(
        "crop",
        description="'crop': each tile gives exactly its own cell; 'feather': overlaps are "
        "blended with linear ramps (palette tiles are cropped).",
    )
    max_pixels: int = Field(
        DEFAULT_MAX_PIXELS,
        ge=1,
        description="Largest tile or output (width x height) accepted: a decompression-bomb guard.",
    )
    workers: int | None = Field(
        None, ge=1, description="Threads decoding tiles (default: one per core)."
    )

    def assemble(self, ctx: AssemblerContext[Any]) -> None:
        groups: dict[tuple[str, str], list[PlacedTile]] = defaultdict(list)
        untagged: list[Result] = []
        for result in ctx.results:
            meta = read_slot(result.path)
            if meta is None or "core" not in meta.fields:
                untagged.append(result)
                continue
            groups[(meta.source or "image", result.original)].append(tile_of(result, meta))
        # A damaged tile carries no metadata the slot reader can find (garbage, a PNG cut
        # before its text chunk): one that stands where a tile should is decoded, so its
        # damage is named rather than its cell reported missing.
        tile_names = {original for _, original in groups}
        for result in untagged:
            if format_of_name(result.name) and (not groups or result.original in tile_names):
                self._check_undamaged(result)
        skipped = [result.name for result in untagged]
        if skipped:
            ctx.log.warning(
                "%d result(s) carry no tile metadata and are left out: %s",
                len(skipped), listed(skipped, 5),
            )  # fmt: skip
        if not groups:
            raise DataError(
                "TASK_RESULTS_DIR: no result carries tile metadata (write tiles with "
                "bytenite_runtime.images.tiles.save_tile)"
            )
        check_every_chunk(groups.values())
        names = mosaic_names({key: self._output_format(tiles) for key, tiles in groups.items()})
        notes = missing_notes(groups, untagged)
        for key, tiles in groups.items():
            self._build(ctx, key[0], names[key], tiles, notes[key])

    def _check_undamaged(self, result: Result) -> None:
        from ..images import codec

        name = result.name if result.index is None else f"{result.name} (chunk {result.index})"
        with codec.open_image(result.path, name, self.max_pixels) as image:
            codec.load(image, name)

    def _output_format(self, tiles: Sequence[PlacedTile]) -> ImageFormat:
        return chosen_format(self.format, tiles[0].meta.fields.get("source_format"))

    def _build(
        self,
        ctx: AssemblerContext[Any],
        source: str,
        name: str,
        tiles: list[PlacedTile],
        notes: Mapping[int, str],
    ) -> None:
        from PIL import Image

        from ..images import codec, formats, header, pngstream
        from ..images.bands import copy_palette, crop_bands, feather_bands

        where = f"mosaic {source!r}"
        fields, layout = tiles[0].meta.fields, tiles[0].layout
        (width, height), (cols, rows), cell = layout.size, layout.grid, layout.cell
        xs = axis_edges(width, cols, cell[0] if cell else None)
        ys = axis_edges(height, rows, cell[1] if cell else None)
        grid = check_cover(where, tiles, xs, ys, notes)
        first = grid[0][0]
        icc_profile: bytes | None = None
        icc_mode = ""  # the first tile's own mode, which its profile describes
        subsampling: int | None = None
        grey_key: int | None = None  # a 16-bit grey tile's transparent value (PNG tRNS)
        palette: Image.Image | None = None
        palettes: set[tuple[bytes, str]] = set()
        keyed = False  # a palette tile has a transparent index
        for tile in tiles:
            with codec.open_image(tile.result.path, tile.result.name, self.max_pixels) as image:
                tile.pixels = image.size
                tile.mode = formats.normalized_mode(image.mode, f"{where}: {tile.label}")
                if image.mode == "P":
                    transparency = image.info.get("transparency")
                    keyed |= transparency is not None
                    palettes.add((bytes(image.getpalette() or []), repr(transparency)))
                if tile is first:
                    icc_profile, icc_mode = image.info.get("icc_profile"), image.mode
                    # JPEG tiles' own (an app may have chosen it), else a JPEG source's
                    # that PNG or other tiles could not keep.
                    subsampling = header.subsampling_of(image)
                    if subsampling is None:
                        subsampling = header.subsampling_named(first.meta.fields.get("subsampling"))
                    key = image.info.get("transparency")
                    if image.mode == "I;16" and isinstance(key, int):
                        grey_key = key
                    if image.mode == "P":  # tiles of mixed modes fail in common_mode below
                        palette = Image.new("P", (1, 1))
                        copy_palette(image, palette)
        if palette is not None and len(palettes) > 1:
            # Each tile has its own palette (an app quantised it): pasting the indices under
            # the first tile's palette would give the others wrong colours.
            joined = "RGBA" if keyed else "RGB"
            ctx.log.warning("%s: the tiles' palettes differ: joined as %s", where, joined)
            palette = None
            for tile in tiles:
                tile.mode = joined
        sx, sy = scale_of(where, tiles)
        out_w, out_h = to_out(width, sx), to_out(height, sy)
        if min(out_w, out_h) < 1:  # tiles padded past the image, shrunk below a pixel of it
            raise DataError(
                f"{where}: output {out_w}x{out_h} is empty: the {width}x{height} image at the "
                f"app's scale {sx} x {sy}"
            )
        if out_w * out_h > self.max_pixels:
            raise DataError(
                f"{where}: output {out_w}x{out_h} exceeds max_pixels ({self.max_pixels})"
            )
        mode = common_mode(where, tiles)
        feather = self.blend == "feather" and layout.overlap > 0
        if feather and mode == "P":
            ctx.log.warning("%s: palette tiles cannot be blended; cropping instead", where)
            feather = False
        workers = self.workers or os.cpu_count() or 1
        fmt = self._output_format(tiles)
        # Before the tiles are decoded, so a format that cannot hold the mode fails at once.
        transparent = palette is not None and "transparency" in palette.info
        out_mode = formats.output_mode(mode, fmt, name, transparent=transparent)
        icc_profile = formats.profile_for(icc_profile, icc_mode, out_mode)
        dpi = header.storable_dpi(header.scaled_dpi(fields.get("dpi"), sx, sy), fmt)
        target = ctx.output.path(name)

        def fill(sink: Sink) -> None:
            with ThreadPoolExecutor(workers, thread_name_prefix="mosaic") as pool:
                if feather:
                    feather_bands(sink, out_w, mode, grid, xs, ys, (width, height), (sx, sy), pool)
                else:
                    crop_bands(sink, out_w, mode, grid, (sx, sy), pool)

        if fmt == "png" and mode in pngstream.MODES:
            exif = header.exif_bytes(layout.orientation) if layout.orientation != 1 else None
            with target.open("wb") as stream:
                writer = pngstream.PngWriter(
                    stream, out_w, out_h, mode, workers=workers, exif=exif,
                    icc_profile=icc_profile, dpi=dpi, transparency=grey_key,
                )  # fmt: skip
                fill(lambda band, _y: writer.write_image(band))
                writer.close()
        else:
            if grey_key is not None and mode == "I;16":
                ctx.log.warning(
                    "%s: %s has no place for the transparent grey value %d: the output is "
                    "opaque", where, fmt, grey_key,
                )  # fmt: skip
            output = Image.new(mode, (out_w, out_h))
            fill(lambda band, y: output.paste(band, (0, y)))
            if palette is not None:
                copy_palette(palette, output)
            if out_mode != mode:
                output = output.convert(out_mode)
            codec.save(
                output, target, fmt, quality=self.quality, lossless=self.lossless,
                orientation=layout.orientation, icc_profile=icc_profile, dpi=dpi,
                subsampling=subsampling,
            )  # fmt: skip
        ctx.log.info(
            "%s: %d tile(s) → %s (%dx%d, scale %s x %s)", where, len(tiles), name, out_w, out_h,
            sx, sy,
        )  # fmt: skip

"""For app authors: open a tile chunk, save the processed tile so ``mosaic`` can place it.

::

    from bytenite_runtime import task
    from bytenite_runtime.images.tiles import open_tile, save_tile

    @task.app
    def main(ctx):
        tile = open_tile(ctx.chunk)
        save_tile(ctx, tile.filter(ImageFilter.GaussianBlur(2)))

The ``mosaic`` assembler finds each result's place from the tile metadata in the
result's own metadata slot; Pillow drops that slot when it saves an image, so a result
must be written with :func:`save_tile` (or carry ``ctx.chunk.meta`` in the slot some
other way). The app may scale the tile (e.g. 2x super-resolution): the mosaic detects
the scale from the tile sizes. It must scale every tile alike and crop none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from .._context import AppContext
from .._inputs import Chunk
from ..errors import DataError
from . import DEFAULT_MAX_PIXELS, codec, formats, header
from .params import chosen_format

__all__ = ["open_tile", "save_tile"]


def open_tile(chunk: Chunk, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """The chunk's image, decoded (a DataError names the chunk if it is damaged)."""
    name = _label(chunk)
    image = codec.open_image(chunk.path, name, max_pixels)
    codec.load(image, name)
    return image


def save_tile(
    ctx: AppContext[Any],
    image: Image.Image,
    name: str | None = None,
    *,
    quality: int = 95,
    lossless: bool = False,
) -> Path:
    """Write ``image`` as a result carrying the chunk's tile metadata; returns its path.

    The format follows ``name``'s extension (``.png``, ``.jpg``, ``.webp``, ``.tif``);
    the default name is ``tile`` with the chunk's own format's extension. A mode other
    than L, LA, RGB, RGBA, I;16 and P is converted as the ``tile`` partitioner converts
    its sources (1-bit to L, CMYK to RGB, …); 32-bit I and F are a DataError.
    A JPEG result keeps the chroma subsampling of a JPEG chunk, or of the JPEG source of
    a chunk in another format. An image without an ``icc_profile`` in its ``info`` (one
    built anew, as from a numpy array) gets the chunk's colour profile; set it to ``b""``
    to write none.
    """
    meta = ctx.chunk.meta
    if meta is None or "box" not in meta.fields:
        raise DataError(
            f"{_label(ctx.chunk)}: carries no tile metadata (was it written by the 'tile' "
            "partitioner with chunk_metadata other than 'off'?)"
        )
    if name is None:
        fmt = chosen_format("same", meta.fields.get("format"))
        name = "tile" + formats.EXTENSIONS[fmt]
    else:
        found = formats.format_of_name(name)
        if found is None:
            raise ValueError(f"{name!r}: use a .png, .jpg, .webp or .tif name for a tile")
        fmt = found
    # A profile describes the pixels in their own mode (a CMYK one does not describe them
    # converted to RGB). An image built anew (Image.fromarray of a model's output) has
    # none, yet its pixels are still in the chunk's colour space: the chunk's is taken.
    own_profile = "icc_profile" in image.info
    stored_mode, icc_profile = image.mode, image.info.get("icc_profile")
    # A 1-bit, premultiplied or big-endian 16-bit tile is brought to one of the modes the
    # mosaic joins, as the partitioner brings its sources.
    image = formats.supported_mode(image, name)
    mode = formats.output_mode(image.mode, fmt, name, transparent="transparency" in image.info)
    if mode != image.mode:
        image = image.convert(mode)
    subsampling = None
    jpeg_chunk = fmt == "jpeg" and meta.fields.get("format") == "jpeg"
    if jpeg_chunk or not own_profile:
        # The chunk's header only; its size was checked when the app opened it.
        with codec.open_image(ctx.chunk.path, _label(ctx.chunk), 1 << 62) as chunk:
            if jpeg_chunk:  # its chroma subsampling, which Pillow would reset to 4:2:0
                subsampling = header.subsampling_of(chunk)
            if not own_profile:
                stored_mode, icc_profile = chunk.mode, chunk.info.get("icc_profile")
    icc_profile = formats.profile_for(icc_profile, stored_mode, mode)
    if fmt == "jpeg" and subsampling is None:  # a chunk in another format of a JPEG source
        subsampling = header.subsampling_named(meta.fields.get("subsampling"))
    path = ctx.results.path(name)
    codec.save(
        image, path, fmt, quality=quality, lossless=lossless, meta=meta,
        icc_profile=icc_profile, subsampling=subsampling,
    )  # fmt: skip
    return path


def _label(chunk: Chunk) -> str:
    return f"chunk {chunk.index}" if chunk.index is not None else "chunk"

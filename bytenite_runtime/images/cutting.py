"""Tiles cut from a decoded source image: the box a plan gives cropped, padded to the
tile's full size when its plan asks (zeros or the edge pixels repeated), and encoded.
The ``tile`` partitioner runs :func:`encode_tile` on its thread pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from . import codec

if TYPE_CHECKING:
    from PIL import Image

    from ..chunks import ChunkMeta
    from .formats import ImageFormat
    from .grid import TilePlan
    from .header import Dpi

__all__ = ["cut", "encode_tile"]


def encode_tile(
    image: Image.Image,
    plan: TilePlan,
    fmt: ImageFormat,
    meta: ChunkMeta | None,
    fill: Literal["zero", "edge"],
    quality: int,
    lossless: bool,
    icc_profile: bytes | None,
    dpi: Dpi | None,
    subsampling: int | None,
) -> bytes:
    """The tile ``plan`` describes, cut from ``image`` (see :func:`cut`) and encoded as
    ``fmt`` with ``meta`` in its slot (see :func:`bytenite_runtime.images.codec.encode`)."""
    tile = cut(image, plan, fill)
    return codec.encode(
        tile, fmt, quality=quality, lossless=lossless, meta=meta, icc_profile=icc_profile,
        dpi=dpi, subsampling=subsampling,
    )  # fmt: skip


def cut(image: Image.Image, plan: TilePlan, fill: Literal["zero", "edge"]) -> Image.Image:
    """The tile ``plan`` describes, cut from ``image`` (padded when its size asks for it)."""
    tile = image.crop((plan.box.x0, plan.box.y0, plan.box.x1, plan.box.y1))
    if plan.size == tile.size:
        return tile
    return codec.pad(tile, plan.offset, plan.size, edge=fill == "edge")

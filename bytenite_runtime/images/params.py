"""The params the ``tile`` partitioner and the ``mosaic`` assembler share, defined once
where they are the same: the choices of ``format`` (and the format each picks) and the
whole ``quality`` field.

Both also take ``lossless``, ``max_pixels`` and ``workers``, but each component's table
says what they mean there (tiles or the output, the source or each tile, encoding or
decoding threads), so each component defines those itself.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .formats import EXTENSIONS, ImageFormat

__all__ = ["FormatChoice", "Quality", "chosen_format"]

FormatChoice = Literal["same", "png", "jpeg", "webp", "tiff"]
"""The ``format`` param: one of the four tile formats, or ``same`` (the source's)."""

Quality = Annotated[int, Field(ge=1, le=100, description="JPEG and WebP quality.")]
"""The ``quality`` param; both components default it to 95."""


def chosen_format(choice: FormatChoice, source: object) -> ImageFormat:
    """The format ``choice`` picks: itself, or for ``same`` the ``source`` format (a file's,
    or a ``format`` field of metadata another tool may have written) when it is one of the
    four, else PNG."""
    if choice != "same":
        return choice
    for fmt in EXTENSIONS:
        if fmt == source:
            return fmt
    return "png"

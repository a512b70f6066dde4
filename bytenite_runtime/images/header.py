"""What a file states about its pixels besides the pixels, read from the header alone
and written back: the EXIF orientation (and the size stored under it), the pixel density
(DPI) and a JPEG's chroma subsampling.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PIL import Image, JpegImagePlugin, TiffImagePlugin

if TYPE_CHECKING:
    from fractions import Fraction

__all__ = [
    "QUARTER_TURNS",
    "SUBSAMPLINGS",
    "Dpi",
    "exif_bytes",
    "orientation_of",
    "oriented",
    "resolution",
    "scaled_dpi",
    "storable_dpi",
    "stored_size",
    "subsampling_named",
    "subsampling_of",
]

_ORIENTATION = 0x0112
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_STORED = {**_UPRIGHT, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
_TIFF_WIDTH, _TIFF_LENGTH = 256, 257
_TIFF_X_RESOLUTION, _TIFF_Y_RESOLUTION = 282, 283


def orientation_of(image: Image.Image) -> int:
    """The EXIF orientation (1 … 8; 1 when there is none or it is out of range).

    Read from the header only: Pillow's ``getexif`` on a PNG decodes every pixel to look
    for an ``eXIf`` chunk after the image data (0.8 s and the whole image in memory at
    8192x8192), so for a PNG only an ``eXIf`` chunk before the pixels counts.
    """
    try:
        if image.format == "PNG":
            raw = image.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
            value = exif.get(_ORIENTATION, 1)
        else:
            value = image.getexif().get(_ORIENTATION, 1)
    except Exception:  # a broken EXIF block means no orientation, not a damaged image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def stored_size(image: Image.Image) -> tuple[int, int]:
    """The pixel size as stored, before any EXIF orientation, from the header alone.

    Recent Pillow releases report a TIFF's size already turned by its orientation (they
    turn the pixels while decoding, see :func:`oriented`); the IFD has the stored size.
    """
    if isinstance(image, TiffImagePlugin.TiffImageFile):
        tags = image.tag_v2
        if _TIFF_WIDTH in tags and _TIFF_LENGTH in tags:
            return int(tags[_TIFF_WIDTH]), int(tags[_TIFF_LENGTH])
    return image.size


def oriented(image: Image.Image, orientation: int, *, upright: bool) -> Image.Image:
    """A decoded ``image`` turned upright by ``orientation``, or as stored.

    Pillow applies a TIFF's orientation itself while decoding (and drops the tag), but
    leaves every other format as stored, so a TIFF is turned back for ``upright=False``.
    """
    turned = isinstance(image, TiffImagePlugin.TiffImageFile)
    if orientation not in _UPRIGHT or upright == turned:
        return image
    return image.transpose((_UPRIGHT if upright else _STORED)[orientation])


Dpi = tuple[float, float]


def resolution(image: Image.Image, orientation: int = 1, *, upright: bool = False) -> Dpi | None:
    """The pixel density the file states, in dots per inch across and down (None when it
    states none), for the pixels as stored, or turned upright by ``orientation``: a
    quarter turn swaps the two."""
    if isinstance(image, TiffImagePlugin.TiffImageFile):
        # Pillow reports 1 dpi for a TIFF without resolution tags, which states none.
        tags = image.tag_v2
        if _TIFF_X_RESOLUTION not in tags or _TIFF_Y_RESOLUTION not in tags:
            return None
    try:
        x, y = (float(v) for v in image.info["dpi"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (0 < x < math.inf and 0 < y < math.inf):
        return None
    if upright and orientation in QUARTER_TURNS:
        x, y = y, x
    return _whole(x), _whole(y)


def _whole(dpi: float) -> float:
    # PNG stores whole dots per metre: 300 dpi reads back as 299.9994. Within that
    # rounding of a whole number, the file meant the whole number.
    near = round(dpi)
    return float(near) if abs(dpi - near) <= _PER_METRE_STEP else round(dpi, 4)


_PER_METRE_STEP = 0.0254 / 2


QUARTER_TURNS = frozenset({5, 6, 7, 8})
"""EXIF orientations that turn the image a quarter (transposed, rotated 90 or 270
degrees): applied, they swap width and height."""


def scaled_dpi(stated: object, sx: Fraction, sy: Fraction) -> tuple[float, float] | None:
    """The source's density (its tiles' ``dpi`` field) times the app's scale, so that the
    output prints at the source's size; None when the source stated none."""
    if not isinstance(stated, list) or len(stated) != 2:
        return None
    if not all(type(v) in (int, float) and 0 < v < math.inf for v in stated):
        return None
    return round(float(stated[0] * sx), 4), round(float(stated[1] * sy), 4)


_INCH_IN_METRES = 0.0254


def storable_dpi(dpi: Dpi | None, fmt: str) -> Dpi | None:
    """``dpi`` when a ``fmt`` file can state it, else None: a JPEG's JFIF density is a
    16-bit count of dots per inch and a PNG's pHYs a 32-bit count of dots per metre, so
    a density past them (a microscope's, or a large one an app's scale doubled) would
    wrap round in JPEG and stop the PNG encoder; WebP has no place for one at all."""
    if dpi is None or fmt == "webp":
        return None
    # What each encoder rounds to a whole count must be one that is at least 1 and fits.
    if fmt == "jpeg":
        counts, most = dpi, 0xFFFF
    elif fmt == "png":
        counts, most = (dpi[0] / _INCH_IN_METRES, dpi[1] / _INCH_IN_METRES), 0xFFFFFFFF
    else:
        return dpi
    return dpi if all(0.5 <= c < most + 0.5 for c in counts) else None


def exif_bytes(orientation: int) -> bytes:
    """An EXIF block holding only ``orientation``."""
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    return exif.tobytes()


def subsampling_of(image: Image.Image) -> int | None:
    """The chroma subsampling of an opened colour JPEG, as Pillow's ``subsampling`` option
    takes it (0: 4:4:4, 1: 4:2:2, 2: 4:2:0), or None for anything else."""
    sampling = JpegImagePlugin.get_sampling(image)
    return sampling if sampling >= 0 else None


SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")
"""The chroma subsamplings by Pillow's number for them, as the ``subsampling`` field of
tile metadata records them."""


def subsampling_named(value: object) -> int | None:
    """Pillow's number for a ``subsampling`` field (``"4:2:2"`` → 1), None for null or
    anything else: the field only refines the output, so a value from another tool that
    means nothing here leaves Pillow's default."""
    return SUBSAMPLINGS.index(value) if value in SUBSAMPLINGS else None

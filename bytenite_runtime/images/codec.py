"""Opening and encoding images with Pillow: bomb limit, damage, modes, formats, slots.

Every image the library reads goes through :func:`open_image`, which checks the pixel
count against ``max_pixels`` from the header alone (before a byte of pixels is decoded)
and turns Pillow's many exceptions for damaged files into a ``DataError`` naming the
file. :func:`encode` writes one of the four tile formats with the chunk metadata in the
format's own slot (see :mod:`bytenite_runtime.images.slots`).
"""

from __future__ import annotations

import io
import math
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from PIL import (
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
)

from ..chunks import META_KEY, META_TEXT_PREFIX, ChunkMeta
from ..errors import DataError
from . import sniff
from .slots import meta_text, xmp_packet

__all__ = [
    "EXTENSIONS",
    "MODES",
    "QUARTER_TURNS",
    "SUBSAMPLINGS",
    "ImageFormat",
    "encode",
    "exif_bytes",
    "format_of_name",
    "keyed_alpha",
    "load",
    "normalized_mode",
    "open_image",
    "orientation_of",
    "oriented",
    "output_mode",
    "pad",
    "pil_format",
    "planned_mode",
    "profile_for",
    "save",
    "stored_size",
    "subsampling_named",
    "subsampling_of",
    "supported_mode",
]

ImageFormat = Literal["png", "jpeg", "webp", "tiff"]
MODES = ("L", "LA", "RGB", "RGBA", "I;16", "P")
EXTENSIONS: dict[ImageFormat, str] = {
    "png": ".png",
    "jpeg": ".jpg",
    "webp": ".webp",
    "tiff": ".tif",
}
_BY_SUFFIX: dict[str, ImageFormat] = {
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".webp": "webp",
    ".tif": "tiff", ".tiff": "tiff",
}  # fmt: skip
_PIL_NAMES: dict[ImageFormat, str] = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "tiff": "TIFF"}
# MPO: a camera JPEG with extra pictures (previews, depth) after it, which Pillow names MPO.
_BY_PIL = {**{pil: ours for ours, pil in _PIL_NAMES.items()}, "MPO": "jpeg"}
# Modes Pillow may open, onto the six we tile: 16-bit layouts, alpha kinds and 1-bit
# without loss; CMYK, YCbCr, LAB and HSV by Pillow's conversion (no colour profile).
_NORMALIZE = {
    "1": "L", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "PA": "RGBA",
    "La": "LA", "RGBa": "RGBA", "RGBX": "RGB", "I;16L": "I;16", "I;16B": "I;16", "I;16N": "I;16",
}  # fmt: skip
# What each format stores of each mode without losing anything but (for JPEG) precision.
_WRITABLE: dict[ImageFormat, dict[str, str]] = {
    "png": {m: m for m in MODES},
    "tiff": {m: m for m in MODES},
    "jpeg": {"L": "L", "RGB": "RGB", "P": "RGB"},
    "webp": {"RGB": "RGB", "RGBA": "RGBA", "L": "RGB", "LA": "RGBA", "P": "RGBA"},
}
_ORIENTATION = 0x0112
_PILLOW_GLOBALS = threading.Lock()
"""Held while Pillow's process-wide settings are changed and in effect: tiles decode on
several threads."""
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
_COLOUR_FAMILY = {
    **dict.fromkeys(("1", "L", "LA", "La", "I;16", "I;16B", "I;16L", "I;16N"), "grey"),
    **dict.fromkeys(("RGB", "RGBA", "RGBa", "RGBX", "P", "PA"), "rgb"),
}


def format_of_name(name: str) -> ImageFormat | None:
    """The tile format a file name's extension stands for, or None."""
    return _BY_SUFFIX.get(Path(name).suffix.lower())


def pil_format(image: Image.Image) -> ImageFormat | None:
    """The tile format of an opened file (None for formats we do not write, like BMP)."""
    return _BY_PIL.get(image.format or "")


@contextmanager
def _damage_is_data_error(name: str, path: Path | None = None) -> Iterator[None]:
    try:
        yield
    except DataError:
        raise
    except UnidentifiedImageError:
        if path is None:
            raise DataError(f"{name}: not an image Pillow can read") from None
        raise sniff.unidentified(path, name) from None
    except OSError as exc:
        if exc.errno is not None:  # the file system's (no such file, permission), not damage
            raise DataError(f"{name}: cannot be read ({exc.strerror or exc})") from None
        raise DataError(f"{name}: corrupt or truncated image ({exc})") from None
    except (SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        raise DataError(f"{name}: corrupt or truncated image ({exc})") from None


def open_image(path: Path, name: str, max_pixels: int) -> Image.Image:
    """Open ``path`` lazily (header only) and check its size against ``max_pixels``."""
    # Our own limit replaces Pillow's global one, which would warn or raise with a message
    # that names neither the file nor the parameter to change. The global and the warning
    # filters are process-wide and tiles are opened on several threads, so one lock covers
    # the lift and the restore (opening reads the header only).
    with _damage_is_data_error(name, path), _PILLOW_GLOBALS, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            image = Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise DataError(
            f"{name}: {width}x{height} = {width * height} pixels exceeds max_pixels "
            f"({max_pixels}); a decompression bomb? raise max_pixels if the image is genuine"
        )
    return image


def load(image: Image.Image, name: str) -> None:
    """Decode every pixel now, so damage surfaces here as a DataError naming the file."""
    with _damage_is_data_error(name):
        if not ImageFile.LOAD_TRUNCATED_IMAGES:
            image.load()
            return
        # Someone turned Pillow's (process-wide) leniency on; a truncated tile must still
        # fail here rather than come back with grey rows. The lock keeps one decoding
        # thread from switching it back on while another decodes.
        with _PILLOW_GLOBALS:
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            try:
                image.load()
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = True


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
_CONVERTED = frozenset({"CMYK", "YCbCr", "LAB", "HSV"})


def precision_lost(image: Image.Image) -> str | None:
    """What reading ``image`` (opened, not yet loaded) and bringing it to one of ``MODES``
    loses, or None: Pillow reads 16-bit RGB(A) as 8 bits, and converts CMYK and the other
    colour spaces to RGB by formula, without a colour profile."""
    tiles = getattr(image, "tile", None)
    raw = tiles[0][3] if tiles else None
    rawmode = raw[0] if isinstance(raw, tuple) else raw
    if image.mode in {"RGB", "RGBA"} and isinstance(rawmode, str) and ";16" in rawmode:
        # The raw mode names the file's layout: RGB;16B, RGBA;16B, LA;16B (read as RGBA).
        kind = rawmode.split(";")[0]
        read = f"read as 8-bit {image.mode}"
        return f"{kind} at 16 bits a channel is {read} (Pillow has no 16-bit {kind})"
    if image.mode in _CONVERTED:
        return f"{image.mode} is converted to RGB by formula, without colour management"
    return None


def normalized_mode(mode: str, name: str) -> str:
    """The one of ``MODES`` that :func:`supported_mode` brings ``mode`` to, or a DataError
    naming ``name``."""
    if mode in MODES:
        return mode
    target = _NORMALIZE.get(mode)
    if target is None:
        raise DataError(f"{name}: mode {mode} is not supported (supported: {', '.join(MODES)})")
    return target


def supported_mode(image: Image.Image, name: str) -> Image.Image:
    """``image`` in one of ``MODES`` (converted as ``_NORMALIZE`` says), or a DataError."""
    target = normalized_mode(image.mode, name)
    if target == image.mode:
        return image
    if target == "I;16":
        # Pillow converts the other 16-bit layouts straight to I;16 by clamping to 255;
        # through 32-bit I every value survives.
        return image.convert("I").convert("I;16")
    return image.convert(target)


def keyed_alpha(image: Image.Image) -> Image.Image:
    """An L or RGB ``image`` with a transparent colour (a PNG ``tRNS`` key) as LA or RGBA:
    the key lives in ``image.info``, which the mosaic, WebP and JPEG do not carry."""
    if image.mode in ("L", "RGB") and image.info.get("transparency") is not None:
        return image.convert(image.mode[0] + "A" if image.mode == "L" else "RGBA")
    return image


def output_mode(mode: str, fmt: ImageFormat, name: str, *, transparent: bool = False) -> str:
    """The mode ``fmt`` stores ``mode`` as, or a DataError when it would lose data;
    ``transparent``: a palette image has a transparent index, which JPEG cannot keep (and
    TIFF keeps only as alpha)."""
    target = _WRITABLE[fmt].get(mode)
    if mode == "P" and transparent and fmt == "tiff":
        # Pillow's TIFF writer drops a palette's transparent index: alpha keeps it.
        return "RGBA"
    if mode == "P" and transparent and fmt == "jpeg":
        fits = ", ".join(f for f, table in _WRITABLE.items() if table.get("P") in ("P", "RGBA"))
        raise DataError(f"{name}: mode P with transparency cannot be written as jpeg (use {fits})")
    if target is None:
        fits = ", ".join(f for f, table in _WRITABLE.items() if mode in table)
        raise DataError(f"{name}: mode {mode} cannot be written as {fmt} (use {fits})")
    return target


def planned_mode(image: Image.Image, fmt: ImageFormat, name: str) -> str:
    """The mode tiles of ``image`` (opened, not yet loaded) take in ``fmt``, from its header
    alone, as :func:`supported_mode`, :func:`keyed_alpha` and :func:`output_mode` bring it;
    a DataError as theirs when it has no such mode."""
    mode = normalized_mode(image.mode, name)
    keyed = image.info.get("transparency") is not None
    if mode in ("L", "RGB") and keyed:
        mode += "A"
    return output_mode(mode, fmt, name, transparent=keyed and mode == "P")


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


def encode(
    image: Image.Image,
    fmt: ImageFormat,
    *,
    quality: int,
    lossless: bool,
    meta: ChunkMeta | None = None,
    icc_profile: bytes | None = None,
    dpi: Dpi | None = None,
    subsampling: int | None = None,
) -> bytes:
    """``image`` as ``fmt`` bytes, with ``meta`` in the format's metadata slot."""
    out = io.BytesIO()
    save(
        image, out, fmt, quality=quality, lossless=lossless, meta=meta,
        icc_profile=icc_profile, dpi=dpi, subsampling=subsampling,
    )  # fmt: skip
    return out.getvalue()


def save(
    image: Image.Image,
    target: Path | io.BytesIO,
    fmt: ImageFormat,
    *,
    quality: int,
    lossless: bool,
    meta: ChunkMeta | None = None,
    orientation: int = 1,
    icc_profile: bytes | None = None,
    dpi: Dpi | None = None,
    subsampling: int | None = None,
) -> None:
    """Write ``image`` as ``fmt`` to ``target`` (see :func:`encode`), with ``icc_profile``
    (Pillow's encoders write one only when asked, and some take it from ``image.info``),
    ``dpi`` (PNG pHYs, JPEG JFIF density in whole dots, TIFF resolution; WebP has no
    place for it) and, for JPEG, the chroma ``subsampling`` (see :func:`subsampling_of`;
    None: Pillow's 4:2:0)."""
    options: dict[str, object] = {"icc_profile": icc_profile or None}
    if dpi is not None and fmt != "webp":
        options["dpi"] = dpi
    text = meta_text(meta) if meta is not None else None
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        if text is not None:
            info.add_text(META_KEY, text)
        options["pnginfo"] = info
    elif fmt == "jpeg":
        options["quality"] = quality
        if subsampling is not None:
            options["subsampling"] = subsampling
        if text is not None:
            options["comment"] = (META_TEXT_PREFIX + text).encode("ascii")
    elif fmt == "webp":
        # exact: libwebp's lossless mode otherwise rewrites the colour under alpha 0.
        options.update(quality=quality, lossless=lossless, exact=lossless)
        if meta is not None:
            options["xmp"] = xmp_packet(meta)
    else:
        options["compression"] = "tiff_adobe_deflate"
        if text is not None:
            options["description"] = META_TEXT_PREFIX + text
    if orientation != 1:
        options["exif"] = exif_bytes(orientation)
    image.save(target, _PIL_NAMES[fmt], **options)


def profile_for(icc_profile: bytes | None, mode: str, out_mode: str) -> bytes | None:
    """``icc_profile`` if it still describes pixels converted from ``mode`` to ``out_mode``:
    a grey profile on RGB pixels (L written as WebP) or a CMYK one on RGB is wrong, and a
    viewer may reject the file or shift its colours."""
    family = _COLOUR_FAMILY.get(mode)
    return icc_profile if family is not None and family == _COLOUR_FAMILY.get(out_mode) else None


def exif_bytes(orientation: int) -> bytes:
    """An EXIF block holding only ``orientation``."""
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    return exif.tobytes()


def pad(
    image: Image.Image, offset: tuple[int, int], size: tuple[int, int], *, edge: bool
) -> Image.Image:
    """``image`` at ``offset`` in a ``size`` image, the rest filled with ``image``'s edge
    pixels repeated (``edge``) or zeros; a palette image keeps its palette and info."""
    import numpy as np

    (left, top), (width, height) = offset, size
    pixels = np.asarray(image)
    widths = (
        (top, height - image.height - top),
        (left, width - image.width - left),
    ) + ((0, 0),) * (pixels.ndim - 2)
    padded = np.pad(pixels, widths, mode="edge" if edge else "constant")
    out = Image.frombytes(image.mode, size, np.ascontiguousarray(padded).tobytes())
    if image.mode == "P":
        palette = image.getpalette()
        if palette is not None:
            out.putpalette(palette, image.palette.mode if image.palette else "RGB")
        out.info = dict(image.info)
    return out

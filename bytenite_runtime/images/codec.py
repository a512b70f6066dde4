"""Opening and encoding images with Pillow: bomb limit, damage, modes, formats, slots.

Every image the library reads goes through :func:`open_image`, which checks the pixel
count against ``max_pixels`` from the header alone (before a byte of pixels is decoded)
and turns Pillow's many exceptions for damaged files into a ``DataError`` naming the
file. :func:`encode` writes one of the four tile formats with the chunk metadata in the
format's own slot (see :mod:`bytenite_runtime.images.slots`).
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from PIL import Image, ImageFile, PngImagePlugin, UnidentifiedImageError

from ..chunks import META_KEY, ChunkMeta
from ..errors import DataError
from .slots import PREFIX, meta_text, xmp_packet

__all__ = [
    "EXTENSIONS",
    "MODES",
    "ImageFormat",
    "encode",
    "format_of_name",
    "open_image",
    "output_mode",
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
_BY_PIL = {pil: ours for ours, pil in _PIL_NAMES.items()}
# Modes Pillow may open that map without loss onto the six we tile.
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


def format_of_name(name: str) -> ImageFormat | None:
    """The tile format a file name's extension stands for, or None."""
    return _BY_SUFFIX.get(Path(name).suffix.lower())


def pil_format(image: Image.Image) -> ImageFormat | None:
    """The tile format of an opened file (None for formats we do not write, like BMP)."""
    return _BY_PIL.get(image.format or "")


@contextmanager
def _damage_is_data_error(name: str) -> Iterator[None]:
    try:
        yield
    except DataError:
        raise
    except UnidentifiedImageError:
        raise DataError(f"{name}: not an image Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        raise DataError(f"{name}: corrupt or truncated image ({exc})") from None


def open_image(path: Path, name: str, max_pixels: int) -> Image.Image:
    """Open ``path`` lazily (header only) and check its size against ``max_pixels``."""
    with _damage_is_data_error(name), warnings.catch_warnings():
        # Our own limit replaces Pillow's global one, which would warn or raise with a
        # message that names neither the file nor the parameter to change.
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
        saved = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            image.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = saved


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


def supported_mode(image: Image.Image, name: str) -> Image.Image:
    """``image`` in one of ``MODES`` (lossless conversions only), or a DataError."""
    if image.mode in MODES:
        return image
    target = _NORMALIZE.get(image.mode)
    if target is None:
        raise DataError(
            f"{name}: mode {image.mode} is not supported (supported: {', '.join(MODES)})"
        )
    return image.convert(target)


def output_mode(mode: str, fmt: ImageFormat, name: str) -> str:
    """The mode ``fmt`` stores ``mode`` as, or a DataError when it would lose data."""
    target = _WRITABLE[fmt].get(mode)
    if target is None:
        fits = ", ".join(f for f, table in _WRITABLE.items() if mode in table)
        raise DataError(f"{name}: mode {mode} cannot be written as {fmt} (use {fits})")
    return target


def encode(
    image: Image.Image,
    fmt: ImageFormat,
    *,
    quality: int,
    lossless: bool,
    meta: ChunkMeta | None = None,
    orientation: int = 1,
    compress_level: int | None = None,
) -> bytes:
    """``image`` as ``fmt`` bytes, with ``meta`` in the format's metadata slot."""
    out = io.BytesIO()
    save(image, out, fmt, quality=quality, lossless=lossless, meta=meta,
         orientation=orientation, compress_level=compress_level)  # fmt: skip
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
    compress_level: int | None = None,
) -> None:
    """Write ``image`` as ``fmt`` to ``target`` (see :func:`encode`)."""
    options: dict[str, object] = {}
    text = meta_text(meta) if meta is not None else None
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        if text is not None:
            info.add_text(META_KEY, text)
        options["pnginfo"] = info
        if compress_level is not None:
            options["compress_level"] = compress_level
    elif fmt == "jpeg":
        options["quality"] = quality
        if text is not None:
            options["comment"] = (PREFIX + text).encode("ascii")
    elif fmt == "webp":
        options.update(quality=quality, lossless=lossless)
        if meta is not None:
            options["xmp"] = xmp_packet(meta)
    else:
        options["compression"] = "tiff_adobe_deflate"
        if text is not None:
            options["description"] = PREFIX + text
    if orientation != 1:
        options["exif"] = exif_bytes(orientation)
    image.save(target, _PIL_NAMES[fmt], **options)


def exif_bytes(orientation: int) -> bytes:
    """An EXIF block holding only ``orientation``."""
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    return exif.tobytes()

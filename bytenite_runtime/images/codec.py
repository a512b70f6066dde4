"""Opening and encoding images with Pillow: bomb limit, damage, slots; padding a tile.

Every image the library reads goes through :func:`open_image`, which checks the pixel
count against ``max_pixels`` from the header alone (before a byte of pixels is decoded)
and turns Pillow's many exceptions for damaged files into a ``DataError`` naming the
file. :func:`encode` writes one of the four tile formats with the chunk metadata in the
format's own slot (see :mod:`bytenite_runtime.images.slots`).

Formats and modes live in :mod:`bytenite_runtime.images.formats`; orientation, density
and chroma subsampling in :mod:`bytenite_runtime.images.header`.
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, ImageFile, PngImagePlugin, UnidentifiedImageError

from ..chunks import META_KEY, META_TEXT_PREFIX, ChunkMeta
from ..errors import DataError
from . import sniff
from .formats import PIL_NAMES, ImageFormat
from .header import Dpi, exif_bytes, storable_dpi
from .slots import meta_text, xmp_packet

__all__ = ["encode", "load", "open_image", "pad", "save"]

_PILLOW_GLOBALS = threading.Lock()
"""Held while Pillow's process-wide settings are changed and in effect: tiles decode on
several threads."""


@contextmanager
def _damage_is_data_error(name: str, path: Path | None = None) -> Iterator[None]:
    # ``path`` is given while the header is read: Pillow reports a header cut short in
    # several ways (unidentified, "Truncated File Read", EOFError), all of them one damage.
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
        if path is not None:
            raise sniff.unidentified(path, name) from None
        raise DataError(f"{name}: corrupt or truncated image ({exc})") from None
    except (SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
        if path is not None:
            raise sniff.unidentified(path, name) from None
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
    place for it) and, for JPEG, the chroma ``subsampling`` (see
    :func:`bytenite_runtime.images.header.subsampling_of`; None: Pillow's 4:2:0)."""
    options: dict[str, object] = {"icc_profile": icc_profile or None}
    dpi = storable_dpi(dpi, fmt)
    if dpi is not None:
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
    image.save(target, PIL_NAMES[fmt], **options)


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

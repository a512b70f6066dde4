"""The four tile formats and the pixel modes: which format a file or a name is, which of
the six tiled modes Pillow's many modes are brought to, and which mode each format stores.

Plain Python at import (Pillow only in annotations): :mod:`bytenite_runtime.images.naming`
reads the format tables without loading Pillow.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..errors import DataError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "EXTENSIONS",
    "MODES",
    "PIL_NAMES",
    "ImageFormat",
    "format_of_name",
    "keyed_alpha",
    "normalized_mode",
    "output_mode",
    "pil_format",
    "planned_mode",
    "precision_lost",
    "profile_for",
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
PIL_NAMES: dict[ImageFormat, str] = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "tiff": "TIFF"}
# MPO: a camera JPEG with extra pictures (previews, depth) after it, which Pillow names MPO.
_BY_PIL = {**{pil: ours for ours, pil in PIL_NAMES.items()}, "MPO": "jpeg"}
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
_COLOUR_FAMILY = {
    **dict.fromkeys(("1", "L", "LA", "La", "I;16", "I;16B", "I;16L", "I;16N"), "grey"),
    **dict.fromkeys(("RGB", "RGBA", "RGBa", "RGBX", "P", "PA"), "rgb"),
}
_CONVERTED = frozenset({"CMYK", "YCbCr", "LAB", "HSV"})


def format_of_name(name: str) -> ImageFormat | None:
    """The tile format a file name's extension stands for, or None."""
    return _BY_SUFFIX.get(Path(name).suffix.lower())


def pil_format(image: Image.Image) -> ImageFormat | None:
    """The tile format of an opened file (None for formats we do not write, like BMP)."""
    return _BY_PIL.get(image.format or "")


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
    TIFF and WebP keep only as alpha)."""
    target = _WRITABLE[fmt].get(mode)
    if mode == "P" and not transparent and fmt == "webp":
        # WebP has no palette: an opaque one as RGBA would take alpha from zero padding
        # and then could not be joined as JPEG.
        return "RGB"
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


def profile_for(icc_profile: bytes | None, mode: str, out_mode: str) -> bytes | None:
    """``icc_profile`` if it still describes pixels converted from ``mode`` to ``out_mode``:
    a grey profile on RGB pixels (L written as WebP) or a CMYK one on RGB is wrong, and a
    viewer may reject the file or shift its colours."""
    family = _COLOUR_FAMILY.get(mode)
    return icc_profile if family is not None and family == _COLOUR_FAMILY.get(out_mode) else None

"""Images the image tests generate, and their encoded bytes."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image


def encoded(image: Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    """``image`` saved as ``fmt`` (Pillow's format name) into bytes."""
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    """The image ``data`` holds, every pixel decoded."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def noise_rgb(width: int, height: int, seed: int = 0) -> Image.Image:
    """A ``width`` x ``height`` RGB image of random pixels (incompressible, seeded)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)

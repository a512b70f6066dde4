"""The band-by-band PNG writer behind ``mosaic``: any mode it takes, any band split, gives
a PNG that Pillow decodes to exactly the pixels written."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bytenite_runtime.images.pngstream import PngWriter

SHAPES = {"L": (), "LA": (2,), "RGB": (3,), "RGBA": (4,), "I;16": ()}


@settings(max_examples=40, deadline=None)
@given(
    mode=st.sampled_from(sorted(SHAPES)),
    width=st.integers(1, 60),
    height=st.integers(1, 60),
    band=st.integers(1, 70),
    workers=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_bands_written_in_order_decode_to_the_same_pixels(
    mode: str, width: int, height: int, band: int, workers: int, seed: int
) -> None:
    """Rows given in bands of any height come back exactly, 8- and 16-bit alike."""
    dtype = np.uint16 if mode == "I;16" else np.uint8
    top = 65536 if mode == "I;16" else 256
    pixels = np.random.default_rng(seed).integers(0, top, (height, width, *SHAPES[mode]))
    pixels = pixels.astype(dtype)
    out = io.BytesIO()
    writer = PngWriter(out, width, height, mode, workers=workers)
    for start in range(0, height, band):
        writer.write(pixels[start : start + band])
    writer.close()
    image = Image.open(io.BytesIO(out.getvalue()))
    image.load()
    assert image.mode == mode and np.array_equal(np.asarray(image), pixels)


def test_missing_rows_are_an_error() -> None:
    """Closing before every row was written fails instead of leaving a short image."""
    writer = PngWriter(io.BytesIO(), 4, 4, "L")
    writer.write(np.zeros((2, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="wrote 2 rows of 4"):
        writer.close()

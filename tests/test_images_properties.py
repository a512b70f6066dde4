"""Properties of ``tile`` → identity app → ``mosaic``: for any size, mode, overlap (0…64),
edge policy, fill and lossless format, the mosaic is the source pixel for pixel and the
tiles' cores cover the image exactly once; JPEG round trips stay above a stated PSNR."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from _pictures import decoded, encoded
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from bytenite_runtime.testing import run_assembler, run_partitioner

MODES = ["L", "LA", "RGB", "RGBA", "I;16", "P"]
JPEG_MIN_PSNR = 38.0
"""Smallest PSNR (dB) accepted for a JPEG round trip at quality 95 of a smooth image."""


def _image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    rgba = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8))
    if mode == "P":
        return rgba.convert("RGB").quantize(37)
    return rgba.convert(mode)


def _round_trip(
    source: Image.Image, fmt: str, seed: int, blend: str = "crop", **params: Any
) -> Image.Image:
    chunks = run_partitioner("tile", {"img.png": encoded(source)}, {**params, "format": fmt})
    cores = [c.meta.fields["core"] for c in chunks if c.meta]
    covered = np.zeros((source.height, source.width), dtype=np.int32)
    for x0, y0, x1, y1 in cores:
        covered[y0:y1, x0:x1] += 1
    assert len(cores) == len(chunks) and np.all(covered == 1)
    results = [(f"chunk-{i:06d}.tile.{fmt}", c.data) for i, c in enumerate(chunks)]
    random.Random(seed).shuffle(results)
    out = run_assembler("mosaic", dict(results), {"format": "png", "blend": blend})
    return decoded(out["img.png"])


sizes = st.one_of(st.integers(1, 90), st.sampled_from([127, 128, 129, 255]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mode=st.sampled_from(MODES),
    width=sizes,
    height=sizes,
    tile=st.one_of(st.tuples(st.integers(1, 96), st.integers(1, 96)), st.none()),
    grid=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    overlap=st.integers(0, 64),
    edge=st.sampled_from(["shrink", "pad"]),
    fill=st.sampled_from(["zero", "edge"]),
    fmt=st.sampled_from(["png", "tiff"]),
    blend=st.sampled_from(["crop", "feather"]),
    seed=st.integers(0, 2**16),
)
@example(mode="RGB", width=1001, height=777, tile=(256, 256), grid=(1, 1), overlap=64,
         edge="pad", fill="edge", fmt="png", blend="feather", seed=0)  # fmt: skip
@example(mode="P", width=1001, height=777, tile=None, grid=(3, 5), overlap=17,
         edge="shrink", fill="zero", fmt="tiff", blend="crop", seed=1)  # fmt: skip
def test_lossless_round_trip_is_pixel_exact(
    mode: str,
    width: int,
    height: int,
    tile: tuple[int, int] | None,
    grid: tuple[int, int],
    overlap: int,
    edge: str,
    fill: str,
    fmt: str,
    blend: str,
    seed: int,
) -> None:
    """Tiles in any order, through an identity app, rebuild the source exactly (PNG, TIFF),
    overlaps cropped or feathered."""
    if tile:
        # Tiny tiles of a larger image are thousands of files: slow, and no new case.
        assume(-(-width // tile[0]) * -(-height // tile[1]) <= 120)
    source = _image(mode, width, height, seed)
    sizing = (
        {"tile_width": tile[0], "tile_height": tile[1]}
        if tile
        else {"cols": grid[0], "rows": grid[1]}
    )
    sizing.update(overlap=overlap, edge=edge, fill=fill)
    back = _round_trip(source, fmt, seed, blend, **sizing)
    assert back.mode == source.mode and back.size == source.size
    assert np.array_equal(np.asarray(back), np.asarray(source))
    if mode == "P":
        # TIFF pads the palette to 256 entries; the colours must be the same.
        assert np.array_equal(np.asarray(back.convert("RGBA")), np.asarray(source.convert("RGBA")))


@settings(max_examples=10, deadline=None)
@given(
    mode=st.sampled_from(["RGB", "RGBA"]),
    width=st.integers(1, 70),
    height=st.integers(1, 70),
    overlap=st.integers(0, 16),
    seed=st.integers(0, 2**16),
)
def test_lossless_webp_round_trip_is_pixel_exact(
    mode: str, width: int, height: int, overlap: int, seed: int
) -> None:
    """WebP tiles with lossless=true rebuild an RGB or RGBA source exactly."""
    source = _image(mode, width, height, seed)
    if mode == "RGBA":
        # WebP stores the colour of fully transparent pixels as it likes; keep alpha > 0.
        pixels = np.asarray(source).copy()
        pixels[..., 3] |= 1
        source = Image.fromarray(pixels)
    chunks = run_partitioner(
        "tile",
        {"img.png": encoded(source)},
        {"tile_width": 24, "overlap": overlap, "format": "webp", "lossless": True},
    )
    results = {f"chunk-{i:06d}.tile.webp": c.data for i, c in enumerate(chunks)}
    out = run_assembler("mosaic", results, {"format": "png"})
    back = decoded(out["img.png"])
    assert np.array_equal(np.asarray(back.convert(mode)), np.asarray(source))


@pytest.mark.parametrize("edge", ["shrink", "pad"])
def test_jpeg_round_trip_stays_above_the_stated_psnr(edge: str) -> None:
    """A smooth 1001x777 image through JPEG tiles (quality 95) keeps PSNR >= JPEG_MIN_PSNR."""
    y, x = np.mgrid[0:777, 0:1001].astype(np.float64)
    pixels = np.stack(
        [128 + 100 * np.sin(x / 37) * np.cos(y / 23), x / 1001 * 255, y / 777 * 255], axis=-1
    ).astype(np.uint8)
    source = Image.fromarray(pixels)
    back = _round_trip(source, "jpeg", 0, tile_width=256, overlap=16, edge=edge, quality=95)
    mse = np.mean((np.asarray(back).astype(np.float64) - pixels) ** 2)
    assert 10 * np.log10(255**2 / mse) >= JPEG_MIN_PSNR

"""The image-tiles example runs end to end through simulate, as the README says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import delivered_names
from PIL import Image, ImageFilter

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "image-tiles"


@pytest.mark.parametrize("extra", [(), ("--no-chunk-number", "--prefix-results")])
def test_image_tiles_example_equals_blurring_the_whole_image(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    """tile (overlap 8, edge-padded) → a blur per tile → mosaic is, pixel for pixel, the blur
    of the whole image, with or without CHUNK_NUMBER and with prefixed result names."""
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "bytenite_runtime.simulate", str(EXAMPLE / "job.json"),
         "--workdir", str(tmp_path / "jobs"), "--output", str(out), "-q", "-j", "2", *extra],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert delivered_names(out) == ["photo.png"]
    expected = Image.open(EXAMPLE / "photo.png").filter(ImageFilter.GaussianBlur(2))
    assert np.array_equal(np.asarray(Image.open(out / "photo.png")), np.asarray(expected))

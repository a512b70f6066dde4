"""Every example in examples/ runs end to end through simulate, as the README says."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _simulate(job: Path, tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "bytenite_runtime.simulate", str(job), "--workdir",
         str(tmp_path / "jobs"), "--output", str(out), "-q", *extra],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return out


@pytest.mark.parametrize("extra", [(), ("--no-chunk-number",)])
def test_image_generation_example_zips_one_distinct_image_per_task(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    """replicate-fanout → one PNG per task → zipper gives 8 distinct images in chunk order,
    with or without CHUNK_NUMBER (the template asks for footer metadata)."""
    out = _simulate(EXAMPLES / "image-generation" / "job.json", tmp_path, *extra)
    with zipfile.ZipFile(out / "images.zip") as archive:
        names = archive.namelist()
        bodies = [archive.read(n) for n in names]
    assert names == [f"chunk-{i:06d}.image.png" for i in range(8)]
    assert all(b.startswith(b"\x89PNG") for b in bodies)
    assert len(set(bodies)) == 8


def test_csv_map_example_adds_a_column_to_every_row_in_order(tmp_path: Path) -> None:
    """row → per-row transform → concat keeps every record (quoted newlines included) in order
    and writes the header once."""
    source = (EXAMPLES / "csv-map" / "products.csv").read_text(encoding="utf-8")
    out = _simulate(EXAMPLES / "csv-map" / "job.json", tmp_path)
    rows = list(csv.DictReader(io.StringIO((out / "priced.csv").read_text(encoding="utf-8"))))
    expected = list(csv.DictReader(io.StringIO(source)))
    assert [r["sku"] for r in rows] == [r["sku"] for r in expected]
    assert [r["description"] for r in rows] == [r["description"] for r in expected]
    assert [r["price_with_tax"] for r in rows[:2]] == ["11.99", "23.40"]

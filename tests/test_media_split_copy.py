"""``time-chunk`` copy mode on two threads: the same chunks, byte for byte, as one pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from _media_clips import cut_with_lead_in, make_variable_rate, make_video

from bytenite_runtime.media import _cut_copy
from bytenite_runtime.testing import PartitionedChunk, run_partitioner


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("split") / "clip.mp4", 6.0)


def _both(
    path: Path, params: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[PartitionedChunk], list[PartitionedChunk], list[bool]]:
    """Chunks cut in one pass, chunks cut in two halves, and where each half's seek landed."""
    monkeypatch.setattr(_cut_copy, "_SPLIT_BYTES", 1 << 62)
    whole = run_partitioner("time-chunk", {path.name: path.read_bytes()}, params)
    landed: list[bool] = []
    later = _cut_copy._copy_later

    def spy(*args: object) -> list[Path]:
        copied = later(*args)  # type: ignore[arg-type]
        landed.append(args[2].result())  # type: ignore[attr-defined]
        return copied

    monkeypatch.setattr(_cut_copy, "_SPLIT_BYTES", 0)
    monkeypatch.setattr(_cut_copy, "_copy_later", spy)
    halves = run_partitioner("time-chunk", {path.name: path.read_bytes()}, params)
    return whole, halves, landed


@pytest.mark.parametrize(
    "params",
    [
        {"segment_seconds": 1.0},
        {"segment_seconds": 2.5},
        {"num_chunks": 2},
        {"segment_seconds": 1.5, "audio": "pcm"},
        {"segment_seconds": 1.5, "audio": "drop"},
    ],
)
def test_two_halves_give_the_chunks_of_one_pass(
    clip: Path, params: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copied from a seek to the middle cut, every chunk is the one-pass chunk, byte for byte."""
    whole, halves, landed = _both(clip, params, monkeypatch)
    assert landed == [True]
    assert [c.data for c in halves] == [c.data for c in whole]
    assert [c.meta for c in halves] == [c.meta for c in whole]


def test_two_halves_of_a_cut_with_a_lead_in_and_of_a_variable_rate_clip(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hidden lead-in before the first chunk and varying frame durations split the same."""
    make_variable_rate(tmp_path / "vfr.mp4")
    for path in (cut_with_lead_in(clip, tmp_path / "lead.mp4", 1.3), tmp_path / "vfr.mp4"):
        whole, halves, _ = _both(path, {"segment_seconds": 0.8}, monkeypatch)
        assert [c.data for c in halves] == [c.data for c in whole]


def test_matroska_is_copied_in_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Formats without an index to seek by exactly (a WebM here) are never split."""
    source = make_video(tmp_path / "clip.webm", 2.0)
    _, _, landed = _both(source, {"segment_seconds": 0.5}, monkeypatch)
    assert landed == []

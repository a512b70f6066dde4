"""Bad media inputs to ``time-chunk`` and the media ``concat``: one-line errors naming the
file or chunk at fault, nothing left behind, and results a stream copy would corrupt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _media_clips import ffmpeg, grey_frames, make_video

from bytenite_runtime.chunks import result_name
from bytenite_runtime.testing import PartitionedChunk, run_assembler, run_partitioner


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4")


@pytest.fixture(scope="module")
def chunks(clip: Path) -> list[PartitionedChunk]:
    return run_partitioner("time-chunk", {clip.name: clip.read_bytes()}, {"segment_seconds": 1})


@pytest.mark.parametrize(
    "encoding",
    [
        ("-pix_fmt", "yuv444p"),
        ("-preset", "medium", "-profile:v", "high", "-pix_fmt", "yuv420p"),
    ],
)
def test_a_result_with_other_parameter_sets_is_re_encoded_not_copied(
    chunks: list[PartitionedChunk],
    clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    encoding: tuple[str, ...],
) -> None:
    """A result H.264-encoded otherwise than the others (4:4:4, or the High profile among
    Constrained Baseline) is joined by re-encoding, with a warning naming its chunk: a
    stream copy kept chunk 0's parameter sets alone, and its frames decoded to garbage."""
    source, changed = tmp_path / "c1.mp4", tmp_path / "r1.mp4"
    source.write_bytes(chunks[1].data)
    ffmpeg("-i", str(source), "-c:v", "libx264", *encoding, "-c:a", "copy", str(changed))
    parts = [c.data for c in chunks]
    parts[1] = changed.read_bytes()
    results = {result_name("out.mp4", i): data for i, data in enumerate(parts)}
    out = tmp_path / "out.mp4"
    out.write_bytes(run_assembler("concat", results)["out.mp4"])
    warned = capsys.readouterr().err
    assert "WARNING bytenite.assembler: chunk 1: " in warned and "from chunk 0's" in warned
    joined, original = grey_frames(out), grey_frames(clip)
    assert len(joined) == len(original)
    assert max(float(np.abs(a - b).mean()) for a, b in zip(joined, original, strict=True)) < 3

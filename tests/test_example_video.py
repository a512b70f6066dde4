"""examples/video-transcode runs end to end through simulate on a clip generated here."""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
from pathlib import Path

from _media_clips import decoded_counts, frame_times

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "video-transcode"


def _make_clip(target: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_clip", EXAMPLE / "make_clip.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made: Path = module.make(target)
    return made


def test_video_transcode_example_keeps_every_frame_and_sample(tmp_path: Path) -> None:
    """time-chunk → libx264 per chunk → concat gives back all 180 frames in order and the
    source's audio packets (passed through, never re-encoded): every decoded sample, and
    as played, trimmed by the edit list, to within one AAC frame."""
    clip = _make_clip(tmp_path / "clip.mp4")
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "bytenite_runtime.simulate", str(EXAMPLE / "job.json"),
         "--source", str(clip), "--workdir", str(tmp_path / "jobs"), "--output", str(out), "-q"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    joined = out / "transcoded.mp4"
    assert decoded_counts(joined, untrimmed=True) == decoded_counts(clip, untrimmed=True)
    # The joined MP4's end trim comes from its own last packet's duration: PyAV 19, which
    # applies it, plays 80 samples (1.7 ms) of the encoder's end padding more.
    (frames, samples), (clip_frames, clip_samples) = decoded_counts(joined), decoded_counts(clip)
    assert frames == clip_frames and abs(samples - clip_samples) < 1024
    times = frame_times(joined)
    assert all(b > a for a, b in itertools.pairwise(times))

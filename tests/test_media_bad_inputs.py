"""Bad media inputs to ``time-chunk`` and the media ``concat``: one-line errors naming the
file or chunk at fault, nothing left behind, and results a stream copy would corrupt."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from _media_clips import ffmpeg, grey_frames, make_video
from conftest import base_env, run_component

from bytenite_runtime import DataError
from bytenite_runtime.chunks import result_name
from bytenite_runtime.settings import assembler_environment, partitioner_environment
from bytenite_runtime.testing import PartitionedChunk, run_assembler, run_partitioner


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4")


@pytest.fixture(scope="module")
def chunks(clip: Path) -> list[PartitionedChunk]:
    return run_partitioner("time-chunk", {clip.name: clip.read_bytes()}, {"segment_seconds": 1})


def _cut_fails(
    tmp_path: Path, files: dict[str, bytes], params: dict[str, object], match: str
) -> None:
    with pytest.raises(DataError, match=match) as caught:
        run_partitioner("time-chunk", files, params, tmp_path=tmp_path)
    assert "\n" not in str(caught.value)
    assert not [*tmp_path.glob("*/chunks/*"), *tmp_path.glob("tmp/bytenite-time-chunk-*")]


def _join_fails(tmp_path: Path, parts: list[bytes], match: str) -> None:
    results = {result_name("out.mp4", i): data for i, data in enumerate(parts)}
    with pytest.raises(DataError, match=match) as caught:
        run_assembler("concat", results, tmp_path=tmp_path)
    assert "\n" not in str(caught.value)
    assert not [*tmp_path.glob("*/output/*"), *tmp_path.glob("tmp/bytenite-*")]


@pytest.mark.parametrize("mode", ["copy", "exact"])
def test_a_png_signature_before_garbage_under_an_mp4_name_is_named(
    tmp_path: Path, mode: str
) -> None:
    """Bytes that open as a PNG but hold none (a video stream of size 0x0) fail naming the
    file and stream in both modes, not with a muxer's EINVAL on a scratch path or an
    IndexError traceback."""
    garbage = b"\x89PNG\r\n\x1a\n" + bytes(300)
    _cut_fails(tmp_path, {"clip.mp4": garbage}, {"mode": mode},
               r"^clip\.mp4: video stream 0 \(png\) has no picture size: ")  # fmt: skip


@pytest.mark.parametrize("mode", ["copy", "exact"])
def test_a_raw_h264_stream_is_told_to_be_put_in_a_container(tmp_path: Path, mode: str) -> None:
    """A raw H.264 elementary stream, whose packets carry no timestamps, fails saying so and
    how to wrap it, not that its video stream has no frames."""
    raw = tmp_path / "clip.h264"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=2",
           "-c:v", "libx264", "-preset", "ultrafast", str(raw))  # fmt: skip
    _cut_fails(tmp_path, {raw.name: raw.read_bytes()}, {"mode": mode},
               r"^clip\.h264: video stream 0 has no timestamps \(a raw h264 stream carries "
               r"none\): put it in a container first, e\.g\. ffmpeg -i clip\.h264 -c copy "
               r"clip\.mkv$")  # fmt: skip


def test_an_empty_source_says_it_is_empty(tmp_path: Path) -> None:
    """A zero-byte source is named as empty, not as data ffmpeg finds invalid."""
    _cut_fails(tmp_path, {"clip.mp4": b""}, {}, r"^clip\.mp4: empty file \(0 bytes\), not media$")


def test_a_zero_byte_result_names_its_chunk(chunks: list[PartitionedChunk], tmp_path: Path) -> None:
    """A zero-byte result (an app that crashed after creating its output) is named, by its
    chunk's result name, as empty, and no output is written."""
    parts = [c.data for c in chunks]
    parts[2] = b""
    _join_fails(tmp_path, parts, r"^chunk-000002\.out\.mp4: empty file \(0 bytes\), not media$")


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


def test_an_exact_cut_ffmpeg_finds_no_frame_for_names_the_chunk(tmp_path: Path) -> None:
    """A raw MJPEG stream, where ffmpeg's seek finds no frame (exit 0, an empty NUT file),
    fails naming the chunk and its time range, not the scratch file."""
    raw = tmp_path / "raw.mjpeg"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=4", "-c:v", "mjpeg",
           str(raw))  # fmt: skip
    _cut_fails(tmp_path, {"raw.mjpeg": raw.read_bytes()}, {"mode": "exact", "segment_seconds": 1},
               r"^chunk \d+: encoding \d+\.\d{3}-\d+\.\d{3} s: ffmpeg wrote no frame$")  # fmt: skip


@pytest.mark.parametrize("mode", ["copy", "exact"])
def test_a_source_named_like_a_url_under_a_relative_source_dir_is_read_as_a_file(
    clip: Path, tmp_path: Path, mode: str
) -> None:
    """'http:x.mp4' in SOURCE_DIR='.' is cut as the file it is, not opened as a URL (ffmpeg
    reads a relative name with a colon as a protocol), and is joined back the same way."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "http:x.mp4").write_bytes(clip.read_bytes())
    (tmp_path / "chunks").mkdir()
    params = {"segment_seconds": 1, "mode": mode}
    env = partitioner_environment(Path("."), tmp_path / "chunks", params, None)
    command = [sys.executable, "-m", "bytenite_runtime", "serve", "partitioner", "time-chunk"]
    done = run_component(command, base_env(**env), cwd=tmp_path / "src")
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "chunks").iterdir())) > 1
    (tmp_path / "out").mkdir()
    for n, chunk in enumerate(sorted((tmp_path / "chunks").iterdir())):
        (tmp_path / "chunks" / result_name("http:x.mp4", n)).write_bytes(chunk.read_bytes())
        chunk.unlink()
    env = assembler_environment(Path("."), tmp_path / "out", {"reencode": mode == "exact"}, None)
    command[-2:] = ["assembler", "concat"]
    done = run_component(command, base_env(**env), cwd=tmp_path / "chunks")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["http:x.mp4"]

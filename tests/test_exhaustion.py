"""The machine failing under a component (a full disk, a read-only folder, too few file
descriptors) is one ResourceError line naming what ran out and where, never a traceback
or the data's fault, and leaves no chunk or output behind."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from conftest import base_env, needs_root, run_component

from bytenite_runtime import ResourceError, task
from bytenite_runtime.settings import (
    app_environment,
    assembler_environment,
    partitioner_environment,
)


def _full(out: BinaryIO) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _partitioner_env(root: Path) -> dict[str, str]:
    for name in ("src", "chunks"):
        (root / name).mkdir()
    (root / "src" / "a.txt").write_bytes(b"abc")
    return partitioner_environment(root / "src", root / "chunks", {}, None)


def test_a_full_chunks_dir_names_the_variable_and_the_chunk(tmp_path: Path) -> None:
    """A chunk write that runs out of space is a ResourceError naming CHUNKS_DIR and the
    chunk's file, and the chunks written before it are removed."""

    @task.partitioner
    def split(ctx: task.PartitionerContext[Any]) -> Iterator[Any]:
        yield b"first"
        yield task.NewChunk(write=_full)

    with pytest.raises(ResourceError) as exc:
        split.invoke(_partitioner_env(tmp_path))
    where = str(tmp_path / "chunks")
    assert str(exc.value) == f"CHUNKS_DIR {where!r}: no space left on device (writing 'data_1.bin')"
    assert list((tmp_path / "chunks").iterdir()) == []


def test_too_few_file_descriptors_in_an_app_names_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An app whose open() fails with EMFILE exits 6 with one line giving the ulimit -n
    value and the chunk, not a traceback blaming the app's code."""
    for name in ("task", "results"):
        (tmp_path / name).mkdir()
    (tmp_path / "task" / "data.bin").write_bytes(b"x")

    @task.app
    def opens(ctx: task.AppContext[Any]) -> None:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    for name in ("user", "shared"):
        (tmp_path / name).mkdir()
    env = app_environment(
        tmp_path / "task", tmp_path / "results", {}, tmp_path / "user", tmp_path / "shared", 2
    )
    assert opens.main(env) == ResourceError.exit_code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("error: chunk 2: too many open files")
    assert len(err.splitlines()) == 1


def _serve(kind: str, name: str, env: dict[str, str]) -> Any:
    command = [sys.executable, "-m", "bytenite_runtime", "serve", kind, name]
    return run_component(command, base_env(**env))


@needs_root
@pytest.mark.parametrize(
    ("params"), [{"rows_per_chunk": 2000}, {"rows_per_chunk": 2000, "output_format": "parquet"}]
)
def test_row_on_a_full_disk_is_one_line_naming_chunks_dir(
    tmp_path: Path, small_disk: Path, params: dict[str, Any]
) -> None:
    """row writing (or converting) chunks onto a full disk exits 6 with one error line naming
    CHUNKS_DIR, not a traceback or a conversion error blaming the data, and keeps no chunk."""
    (tmp_path / "src").mkdir()
    rows = "".join(f"{i},{os.urandom(24).hex()}\n" for i in range(40000))
    (tmp_path / "src" / "t.csv").write_text("a,b\n" + rows)
    (small_disk / "chunks").mkdir()
    env = partitioner_environment(tmp_path / "src", small_disk / "chunks", params, None)
    done = _serve("partitioner", "row", env)
    assert done.returncode == ResourceError.exit_code, done.stderr
    assert "Traceback" not in done.stderr
    where = str(small_disk / "chunks")
    assert done.last_error_line.startswith(f"error: CHUNKS_DIR {where!r}: no space left on device")
    assert list((small_disk / "chunks").iterdir()) == []


@needs_root
@pytest.mark.parametrize(("name", "params"), [("zipper", {"compression": "store"}), ("concat", {})])
def test_an_assembler_on_a_full_disk_is_one_line_naming_output_dir(
    tmp_path: Path, small_disk: Path, name: str, params: dict[str, Any]
) -> None:
    """An assembler whose output fills the disk exits 6 with one error line naming
    OUTPUT_DIR, and leaves no partial archive or staging folder there."""
    (tmp_path / "results").mkdir()
    for index in range(2):
        (tmp_path / "results" / f"chunk-{index:06d}.a.bin").write_bytes(os.urandom(700_000))
    (small_disk / "out").mkdir()
    env = assembler_environment(tmp_path / "results", small_disk / "out", params, None)
    done = _serve("assembler", name, env)
    assert done.returncode == ResourceError.exit_code, done.stderr
    assert "Traceback" not in done.stderr
    where = str(small_disk / "out")
    assert done.last_error_line.startswith(f"error: OUTPUT_DIR {where!r}: no space left on device")
    assert list((small_disk / "out").iterdir()) == []


def _big_clip(path: Path) -> Path:
    # 640x360: an exact cut's ffmpeg intermediate outgrows the space _fill leaves at once.
    from _media_clips import VIDEO_RECIPES, ffmpeg

    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=4",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4",
        *VIDEO_RECIPES["mp4"], "-shortest", str(path),
    )  # fmt: skip
    return path


def _fill(disk: Path, leave: int = 8 * 1024) -> None:
    # Nearly full, not full: Python's tempfile gives up on a TMPDIR it cannot write its
    # probe file into and quietly uses /tmp instead.
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "filler").write_bytes(b"\0" * max(0, free - leave))


@needs_root
@pytest.mark.parametrize(
    ("kind", "name", "params"),
    [
        ("partitioner", "time-chunk", {"segment_seconds": 2, "mode": "exact"}),
        ("assembler", "concat", {"reencode": True}),
    ],
)
def test_ffmpeg_filling_tmpdir_is_a_resource_error_naming_it(
    tmp_path: Path, small_disk: Path, kind: str, name: str, params: dict[str, Any]
) -> None:
    """ffmpeg running out of space in TMPDIR (an exact cut, a re-encoded join) exits 6 naming
    TMPDIR, not 3 blaming the media, and leaves no chunk, output or temporary folder."""
    clip = _big_clip(tmp_path / "clip.mp4")
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    if kind == "partitioner":
        (tmp_path / "in" / "clip.mp4").write_bytes(clip.read_bytes())
        env = partitioner_environment(tmp_path / "in", tmp_path / "out", params, None)
    else:
        for index in range(2):
            (tmp_path / "in" / f"chunk-{index:06d}.clip.mp4").write_bytes(clip.read_bytes())
        env = assembler_environment(tmp_path / "in", tmp_path / "out", params, None)
    (small_disk / "tmp").mkdir()
    _fill(small_disk)
    done = _serve(kind, name, {**env, "TMPDIR": str(small_disk / "tmp")})
    assert done.returncode == ResourceError.exit_code, done.stderr
    where = str(small_disk / "tmp")
    assert done.last_error_line.startswith(f"error: TMPDIR {where!r}: no space left on device")
    assert list((small_disk / "tmp").iterdir()) == []
    assert list((tmp_path / "out").iterdir()) == []


@needs_root
def test_a_media_join_filling_output_dir_is_a_resource_error_naming_it(
    tmp_path: Path, small_disk: Path
) -> None:
    """An ffmpeg stream-copy join that fills OUTPUT_DIR exits 6 naming OUTPUT_DIR and the
    output, not 3 blaming the results, and leaves no partial output there."""
    from _media_clips import make_video

    clip = make_video(tmp_path / "clip.mp4", 4.0)
    (tmp_path / "results").mkdir()
    for index in range(2):
        (tmp_path / "results" / f"chunk-{index:06d}.clip.mp4").write_bytes(clip.read_bytes())
    (small_disk / "out").mkdir()
    _fill(small_disk)
    env = assembler_environment(tmp_path / "results", small_disk / "out", {}, None)
    done = _serve("assembler", "concat", env)
    assert done.returncode == ResourceError.exit_code, done.stderr
    where = str(small_disk / "out")
    assert done.last_error_line == (
        f"error: OUTPUT_DIR {where!r}: no space left on device (writing 'clip.mp4')"
    )
    assert list((small_disk / "out").iterdir()) == []

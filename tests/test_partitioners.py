"""Built-in partitioners: ``passthrough`` and ``replicate-fanout``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bytenite_runtime import ChunkMeta, DataError, SettingsError
from bytenite_runtime.chunks import read_footer
from bytenite_runtime.settings import partitioner_environment
from bytenite_runtime.task import entrypoint_for
from bytenite_runtime.testing import run_partitioner


def _invoke(tmp_path: Path, name: str, files: dict[str, bytes], params: dict[str, Any]) -> Path:
    """Run a built-in in tmp_path; return CHUNKS_DIR (the source stays at tmp_path/src)."""
    source, chunks = tmp_path / "src", tmp_path / "chunks"
    chunks.mkdir()
    for rel, data in files.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(data)
    entrypoint_for("partitioner", name).invoke(
        partitioner_environment(source, chunks, params, None)
    )
    return chunks


# -- passthrough -------------------------------------------------------------------------


def test_passthrough_gives_one_identical_chunk_per_file() -> None:
    """Every source file becomes one chunk, byte for byte, in path order."""
    files = {"b.bin": bytes(range(256)), "a.txt": b"alpha", "sub/c.csv": b"1,2\n"}
    chunks = run_partitioner("passthrough", files)
    assert [c.data for c in chunks] == [b"alpha", bytes(range(256)), b"1,2\n"]
    assert all(c.meta is None for c in chunks)


def test_passthrough_single_file_is_a_single_task() -> None:
    """One source file gives exactly one chunk."""
    assert [c.data for c in run_partitioner("passthrough", {"in.mp4": b"\x00\x01"})] == [
        b"\x00\x01"
    ]


def test_passthrough_chunks_are_links_or_copies(tmp_path: Path) -> None:
    """Without footers a chunk is the source file itself (hard link) or an identical copy."""
    chunks = _invoke(tmp_path, "passthrough", {"a.bin": b"A" * 100, "b.bin": b"B"}, {})
    for index, name in enumerate(["a.bin", "b.bin"]):
        chunk, source = chunks / f"data_{index}.bin", tmp_path / "src" / name
        assert chunk.read_bytes() == source.read_bytes()
        if os.stat(chunk).st_dev == os.stat(source).st_dev:
            assert chunk.samefile(source)


def test_passthrough_footer_never_touches_the_source(tmp_path: Path) -> None:
    """With footers each chunk is a copy: the footer is never appended to the source file."""
    chunks = _invoke(tmp_path, "passthrough", {"a.bin": b"payload"}, {"chunk_metadata": "footer"})
    assert (tmp_path / "src" / "a.bin").read_bytes() == b"payload"
    assert not (chunks / "data_0.bin").samefile(tmp_path / "src" / "a.bin")
    assert read_footer(chunks / "data_0.bin") == (ChunkMeta(0, 1, "a.bin", {}), 7)


def test_passthrough_footer_names_index_count_and_relative_source() -> None:
    """Footer metadata gives each chunk its index, the count and its path inside SOURCE_DIR."""
    chunks = run_partitioner(
        "passthrough", {"x/one.txt": b"1", "two.txt": b"2"}, {"chunk_metadata": "footer"}
    )
    assert [c.meta for c in chunks] == [
        ChunkMeta(0, 2, "two.txt", {}),
        ChunkMeta(1, 2, "x/one.txt", {}),
    ]
    assert [c.data for c in chunks] == [b"2", b"1"]


def test_passthrough_off_mode_writes_no_footer(tmp_path: Path) -> None:
    """chunk_metadata='off' leaves chunks as plain files."""
    chunks = _invoke(tmp_path, "passthrough", {"a.bin": b"x" * 64}, {"chunk_metadata": "off"})
    assert read_footer(chunks / "data_0.bin") == (None, 64)


def test_passthrough_empty_source_file_is_one_empty_chunk() -> None:
    """An empty source file still becomes its own (empty) chunk, so its task runs."""
    chunks = run_partitioner("passthrough", {"empty.txt": b"", "full.txt": b"x"})
    assert [c.data for c in chunks] == [b"", b"x"]


def test_passthrough_without_files_is_a_data_error() -> None:
    """An empty SOURCE_DIR is a DataError naming SOURCE_DIR."""
    with pytest.raises(DataError, match=r"^SOURCE_DIR: "):
        run_partitioner("passthrough", {})


def test_passthrough_rejects_unknown_params() -> None:
    """A misspelt parameter fails with the variable and key named."""
    with pytest.raises(SettingsError, match=r"PARTITIONER_PARAMS\.chunk_metdata"):
        run_partitioner("passthrough", {"a": b"x"}, {"chunk_metdata": "footer"})


def test_chunk_metadata_mode_is_validated() -> None:
    """chunk_metadata must be one of auto, footer, off."""
    with pytest.raises(SettingsError, match=r"PARTITIONER_PARAMS\.chunk_metadata"):
        run_partitioner("passthrough", {"a": b"x"}, {"chunk_metadata": "trailer"})


# -- replicate-fanout --------------------------------------------------------------------


@pytest.mark.parametrize("replicas", [1, 2, 7])
def test_replicate_fanout_makes_num_replicas_identical_chunks(replicas: int) -> None:
    """The one source file is copied into exactly num_replicas chunks."""
    chunks = run_partitioner(
        "replicate-fanout", {"prompt.txt": b"a cat"}, {"num_replicas": replicas}
    )
    assert [c.data for c in chunks] == [b"a cat"] * replicas


def test_replicate_fanout_footer_carries_the_replica_number(tmp_path: Path) -> None:
    """With footers each replica knows its index, the count, the source and its replica field."""
    chunks = run_partitioner(
        "replicate-fanout", {"p.txt": b"go"}, {"num_replicas": 3, "chunk_metadata": "footer"}
    )
    assert [c.meta for c in chunks] == [ChunkMeta(i, 3, "p.txt", {"replica": i}) for i in range(3)]
    assert [c.data for c in chunks] == [b"go"] * 3


def test_replicate_fanout_footer_leaves_the_source_intact(tmp_path: Path) -> None:
    """Footers go on copies: the source file keeps its bytes after fanning out."""
    params = {"num_replicas": 4, "chunk_metadata": "footer"}
    chunks = _invoke(tmp_path, "replicate-fanout", {"p.txt": b"go"}, params)
    assert (tmp_path / "src" / "p.txt").read_bytes() == b"go"
    assert sorted(p.name for p in chunks.iterdir()) == [f"data_{i}.bin" for i in range(4)]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "PARTITIONER_PARAMS.num_replicas: field required"),
        ({"num_replicas": 0}, "PARTITIONER_PARAMS.num_replicas: Input should be greater than"),
        ({"num_replicas": -3}, "PARTITIONER_PARAMS.num_replicas: Input should be greater than"),
        ({"num_replicas": "many"}, "PARTITIONER_PARAMS.num_replicas: Input should be a valid"),
    ],
)
def test_replicate_fanout_requires_a_positive_count(params: dict[str, Any], reason: str) -> None:
    """num_replicas is required and must be at least 1."""
    with pytest.raises(SettingsError) as exc:
        run_partitioner("replicate-fanout", {"p.txt": b"x"}, params)
    assert str(exc.value.problems[0]).startswith(reason)


def test_replicate_fanout_rejects_several_source_files() -> None:
    """More than one source file is a DataError naming how many and which."""
    with pytest.raises(DataError) as exc:
        run_partitioner("replicate-fanout", {"a.txt": b"1", "b.txt": b"2"}, {"num_replicas": 2})
    assert str(exc.value) == (
        "SOURCE_DIR: replicate-fanout replicates one file, found 2 (a.txt, b.txt)"
    )


def test_replicate_fanout_names_several_sources_by_their_path_in_source_dir() -> None:
    """Sources in subfolders are named by their path in SOURCE_DIR, so two files of one
    name in two folders are told apart."""
    files = {"a/p.txt": b"1", "b/p.txt": b"2", "c/d/q.txt": b"3", "e.txt": b"4"}
    with pytest.raises(DataError) as exc:
        run_partitioner("replicate-fanout", files, {"num_replicas": 2})
    assert str(exc.value) == (
        "SOURCE_DIR: replicate-fanout replicates one file, found 4 (a/p.txt, b/p.txt, c/d/q.txt, …)"
    )


def test_failed_fanout_leaves_no_chunks(tmp_path: Path) -> None:
    """A rejected fan-out writes nothing into CHUNKS_DIR."""
    with pytest.raises(DataError):
        _invoke(tmp_path, "replicate-fanout", {"a": b"1", "b": b"2"}, {"num_replicas": 2})
    assert list((tmp_path / "chunks").iterdir()) == []

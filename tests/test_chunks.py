"""Chunk metadata footers and result names: the conventions chunks.py owns."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest

from bytenite_runtime import ChunkMeta
from bytenite_runtime.chunks import (
    FOOTER_MAGIC,
    ResultName,
    append_footer,
    chunk_file_name,
    chunk_files,
    chunk_index_of,
    parse_result_name,
    read_footer,
    read_meta,
    result_name,
)


def _with_footer(path: Path, payload: bytes, meta: ChunkMeta) -> Path:
    buffer = io.BytesIO()
    buffer.write(payload)
    append_footer(buffer, meta)
    path.write_bytes(buffer.getvalue())
    return path


# -- footers -----------------------------------------------------------------------------


def test_footer_round_trip(tmp_path: Path) -> None:
    """Metadata appended as a footer reads back equal, with the payload size before it."""
    meta = ChunkMeta(3, 10, "dir/video.mp4", {"start": 1.5, "rows": [0, 99]})
    path = _with_footer(tmp_path / "data.bin", b"payload bytes", meta)
    assert path.read_bytes().endswith(FOOTER_MAGIC)
    assert read_footer(path) == (meta, len(b"payload bytes"))


def test_footer_round_trip_with_only_an_index(tmp_path: Path) -> None:
    """A minimal footer (index only) reads back with count/source unset and no fields."""
    path = _with_footer(tmp_path / "c", b"", ChunkMeta(0))
    meta, size = read_footer(path)
    assert (meta, size) == (ChunkMeta(0, None, None, {}), 0)


def test_no_footer_returns_none_and_the_whole_size(tmp_path: Path) -> None:
    """A plain file has no metadata and its whole size is payload."""
    for payload in (b"", b"short", b"x" * 1000):
        path = tmp_path / "plain"
        path.write_bytes(payload)
        assert read_footer(path) == (None, len(payload))


def test_payload_that_merely_contains_the_magic_is_not_a_footer(tmp_path: Path) -> None:
    """The magic inside the payload (not at the very end) is not taken for a footer."""
    path = tmp_path / "c"
    path.write_bytes(FOOTER_MAGIC + b"then more data that is long enough")
    assert read_footer(path) == (None, path.stat().st_size)


def test_file_that_merely_ends_in_the_magic_is_read_whole(tmp_path: Path) -> None:
    """A plain file whose last 8 bytes are the magic, with no footer before it, is all payload."""
    for payload in (FOOTER_MAGIC, b"x" * 40 + FOOTER_MAGIC, b"a,b\n1,2\n" + FOOTER_MAGIC):
        path = tmp_path / "plain"
        path.write_bytes(payload)
        assert read_footer(path) == (None, len(payload))


def test_corrupted_footer_is_read_as_plain_data(tmp_path: Path) -> None:
    """A footer whose JSON was changed fails its checksum, so the file is read whole."""
    path = _with_footer(tmp_path / "data.bin", b"0123456789", ChunkMeta(4, 5))
    raw = bytearray(path.read_bytes())
    raw[12] ^= 0xFF  # inside the JSON body, which starts at byte 10
    path.write_bytes(bytes(raw))
    assert read_footer(path) == (None, len(raw))


def test_footer_with_valid_checksum_but_no_index_is_read_as_plain_data(tmp_path: Path) -> None:
    """A well-formed footer whose JSON lacks an integer index is not metadata: all payload."""
    for body in (b'{"v":1,"index":"seven"}', b"not json at all", b"[1,2]"):
        tail = struct.pack("<II", len(body), zlib.crc32(body)) + FOOTER_MAGIC
        path = tmp_path / "data.bin"
        path.write_bytes(b"abc" + body + tail)
        assert read_footer(path) == (None, path.stat().st_size)


def test_footer_length_beyond_the_file_is_read_as_plain_data(tmp_path: Path) -> None:
    """A footer claiming more bytes than the file (or than a footer may) holds is payload."""
    for length in (5000, 1 << 30):
        path = tmp_path / "data.bin"
        path.write_bytes(b"ab" + struct.pack("<II", length, 0) + FOOTER_MAGIC)
        assert read_footer(path) == (None, path.stat().st_size)


def test_read_meta_of_a_file_ending_in_the_magic_is_the_whole_file(tmp_path: Path) -> None:
    """read_meta, which apps and run_partitioner use, keeps such a file whole with no metadata."""
    path = tmp_path / "data.bin"
    path.write_bytes(b"some,csv\n" + struct.pack("<II", 3, 7) + FOOTER_MAGIC)
    assert read_meta(path) == (None, path.stat().st_size)


def test_chunk_meta_json_omits_unset_fields() -> None:
    """The footer JSON carries a version and the index, and only the fields that are set."""
    assert ChunkMeta(2).to_json() == b'{"v":1,"index":2}'
    assert ChunkMeta.from_json(ChunkMeta(2, 3, "s", {"a": 1}).to_json()) == ChunkMeta(
        2, 3, "s", {"a": 1}
    )


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (b'{"index":true}', "chunk metadata has no integer 'index'"),
        (b'{"index":1,"count":[2]}', "chunk metadata's 'count' is not an integer (got [2])"),
        (b'{"index":1,"count":"2"}', "chunk metadata's 'count' is not an integer (got '2')"),
        (b'{"index":1,"source":5}', "chunk metadata's 'source' is not a string (got 5)"),
        (b'{"index":1,"fields":[1]}', "chunk metadata's 'fields' is not an object (got [1])"),
    ],
)
def test_chunk_meta_with_a_member_of_the_wrong_type_is_not_metadata(
    doc: bytes, reason: str
) -> None:
    """An index, count, source or fields of the wrong JSON type is a ValueError saying which."""
    with pytest.raises(ValueError) as caught:
        ChunkMeta.from_json(doc)
    assert str(caught.value) == reason


# -- chunk file names --------------------------------------------------------------------


def test_chunk_file_names_follow_the_contract() -> None:
    """Chunk i is data_{i}.bin, and only such names parse back to an index."""
    assert chunk_file_name(0) == "data_0.bin"
    assert chunk_file_name(12) == "data_12.bin"
    assert chunk_index_of("data_12.bin") == 12
    for other in ("data.bin", "data_x.bin", "data_1.bin.partial", ".data_1.bin.partial"):
        assert chunk_index_of(other) is None


def test_a_chunk_index_in_digits_of_another_script_is_no_chunk_name() -> None:
    """data_١.bin (Arabic-Indic one) is not chunk 1: the contract's i is ASCII decimal, so
    simulate names such a file as stray instead of running it as a well-named chunk."""
    assert chunk_index_of("data_\u0661.bin") is None
    assert chunk_index_of("data_\uff11.bin") is None  # fullwidth one


def test_chunk_files_orders_tasks_and_names_stray_files(tmp_path: Path) -> None:
    """Every top-level file of CHUNKS_DIR is a task, data_<i>.bin by index then others by
    name; files in a subfolder are named apart, as no task."""
    for name in ("data_10.bin", "data_2.bin", "zz.bin", "extra.txt", "sub/data_0.bin"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = chunk_files(tmp_path)
    assert [p.name for p in found.tasks] == ["data_2.bin", "data_10.bin", "extra.txt", "zz.bin"]
    assert found.odd == ["extra.txt", "zz.bin"]
    assert found.nested == ["sub/data_0.bin"]


# -- result names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "index", "expected"),
    [
        ("out.png", 7, "chunk-000007.out.png"),
        ("out", 3, "chunk-000003.out"),
        ("archive.tar.gz", 1, "chunk-000001.archive.tar.gz"),
        ("a.b.c.txt", 0, "chunk-000000.a.b.c.txt"),
        (".hidden", 4, "chunk-000004..hidden"),
        ("big.bin", 1234567, "chunk-1234567.big.bin"),
    ],
)
def test_result_name_puts_the_marker_first(name: str, index: int, expected: str) -> None:
    """The chunk marker leads the name, so the app's name follows it untouched and parses back."""
    named = result_name(name, index)
    assert named == expected
    assert parse_result_name(named) == ResultName(index, name)


@pytest.mark.parametrize(
    ("received", "index", "original"),
    [
        ("a1b2c3d4_chunk-000007.out.png", 7, "out.png"),
        ("task-17-chunk-000002.out.tar.gz", 2, "out.tar.gz"),
        ("3f9c/chunk-000010.results", 10, "results"),
        ("ffff_task-0a1b2c3d.loose.txt", None, "loose.txt"),
    ],
)
def test_platform_prefix_keeps_index_and_original_name(
    received: str, index: int | None, original: str
) -> None:
    """A prefix added before the name is dropped: the index and the app's name both survive."""
    assert parse_result_name(received) == ResultName(index, original)


def test_per_task_prefixes_still_group_by_original_name() -> None:
    """Different prefixes on each task's result give the same original name."""
    names = [f"{p}_{result_name('part.txt', i)}" for i, p in enumerate(("aa", "bb", "cc"))]
    assert {parse_result_name(n).original for n in names} == {"part.txt"}
    assert [parse_result_name(n).index for n in names] == [0, 1, 2]


def test_unknown_index_gives_a_unique_unordered_name() -> None:
    """Without an index a result gets a random task marker, distinct on every call."""
    names = {result_name("out.txt", None) for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert re.fullmatch(r"task-[0-9a-f]{8}\.out\.txt", name)
        assert parse_result_name(name) == ResultName(None, "out.txt")


def test_plain_names_parse_as_unordered_originals() -> None:
    """A name with no marker has no index and is its own original."""
    for name in (
        "out.txt",
        "chunk-12.out.txt",
        "chunk-000001x.txt",
        "chunk-000001",
        "out.chunk-000001",
    ):
        assert parse_result_name(name) == ResultName(None, name)


def test_first_marker_wins() -> None:
    """When a name holds two markers the leftmost is the index; the rest is the app's name."""
    assert parse_result_name("chunk-000002.chunk-000001.x.txt") == ResultName(
        2, "chunk-000001.x.txt"
    )


@pytest.mark.parametrize("index", [0, 5, None])
def test_result_name_is_idempotent(index: int | None) -> None:
    """Naming an already-named result leaves it unchanged."""
    for name in ("out.png", "archive.tar.gz", "plain"):
        once = result_name(name, index)
        assert result_name(once, index) == once


def test_result_name_prefixes_a_name_that_only_looks_like_another_marker() -> None:
    """Only this chunk's own marker is kept: another chunk's, a task marker under a chunk
    index, or a marker inside a word is part of the app's name, given back whole."""
    assert result_name("chunk-000001.out.png", 1) == "chunk-000001.out.png"
    for name, index in [
        ("chunk-000001.out.png", 9),
        ("chunk-000001.out.png", None),
        ("task-20261124.log", 5),
        ("mytask-12345678.csv", 5),
    ]:
        named = result_name(name, index)
        assert parse_result_name(named) == ResultName(index, name)
        assert parse_result_name(f"0003_{named}") == ResultName(index, name)


@pytest.mark.parametrize("name", ["a/b.txt", "/abs.txt", "dir\\file.txt", "", ".", ".."])
def test_result_name_rejects_paths(name: str) -> None:
    """A result name must be a plain file name, not a path."""
    with pytest.raises(ValueError, match="must be a plain file name"):
        result_name(name, 0)

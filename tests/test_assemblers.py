"""Built-in assemblers: ``passthrough``, ``zipper`` and ``concat``."""

from __future__ import annotations

import io
import os
import random
import struct
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bytenite_runtime import DataError, SettingsError
from bytenite_runtime.assemblers.zip import is_incompressible
from bytenite_runtime.settings import assembler_environment
from bytenite_runtime.task import entrypoint_for
from bytenite_runtime.testing import run_assembler

TEXT = b"the quick brown fox jumps over the lazy dog\n" * 200
PNG = b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(4000)
NOISE = random.Random(2).randbytes(5000)


def _zip(output: dict[str, bytes], name: str = "results_archive.zip") -> zipfile.ZipFile:
    assert list(output) == [name]
    return zipfile.ZipFile(io.BytesIO(output[name]))


def _extra_ids(info: zipfile.ZipInfo) -> list[int]:
    ids, extra = [], info.extra
    while len(extra) >= 4:
        header, size = struct.unpack("<HH", extra[:4])
        ids.append(header)
        extra = extra[4 + size :]
    return ids


# -- passthrough -------------------------------------------------------------------------


def test_passthrough_restores_original_names() -> None:
    """By default results reach the output under their original names, bytes unchanged."""
    results = {"chunk-000000.a.png": PNG, "chunk-000001.b.txt": TEXT, "task-0a1b2c3d.c.bin": b""}
    assert run_assembler("passthrough", results) == {"a.png": PNG, "b.txt": TEXT, "c.bin": b""}


def test_passthrough_keeps_received_names_when_asked() -> None:
    """restore_names=false keeps the marked names as received."""
    results = {"chunk-000000.a.png": PNG, "chunk-000001.b.txt": TEXT}
    assert run_assembler("passthrough", results, {"restore_names": False}) == results


def test_passthrough_collision_falls_back_to_received_names() -> None:
    """When two results share an original name, every result keeps its received name."""
    results = {
        "chunk-000000.out.txt": b"0",
        "chunk-000001.out.txt": b"1",
        "chunk-000000.log.txt": b"",
    }
    assert run_assembler("passthrough", results) == results


@pytest.mark.parametrize(
    ("first", "second"),
    [("caf\u00e9.txt", "cafe\u0301.txt"), ("Report.txt", "report.txt")],
    ids=["nfc-nfd", "case"],
)
@pytest.mark.parametrize("assembler", ["passthrough", "zipper"])
def test_original_names_alike_but_for_normalization_or_case_keep_their_markers(
    assembler: str, first: str, second: str
) -> None:
    """Original names that differ only in Unicode normalization (NFC, NFD) or in case, which
    macOS and Windows file systems store as one file, keep their received names."""
    results = {f"chunk-000000.{first}": b"0", f"chunk-000001.{second}": b"1"}
    output = run_assembler(assembler, results)
    names = output if assembler == "passthrough" else _zip(output).namelist()
    assert sorted(names) == sorted(results)


def test_passthrough_with_no_results_writes_nothing() -> None:
    """No results give an empty output, not an error."""
    assert run_assembler("passthrough", {}) == {}


# -- zipper ------------------------------------------------------------------------------


def test_zipper_default_archive_name_and_contents() -> None:
    """The default archive is results_archive.zip, holding every result by original name."""
    archive = _zip(run_assembler("zipper", {"chunk-000000.a.txt": TEXT, "chunk-000001.b.png": PNG}))
    assert archive.testzip() is None
    assert archive.read("a.txt") == TEXT
    assert archive.read("b.png") == PNG


def test_zipper_orders_entries_by_chunk_index() -> None:
    """Entries follow chunk index order, not name order (numeric, platform prefixes ignored)."""
    results = {
        "chunk-000000.z.txt": b"0",
        "chunk-000002.a.txt": b"2",
        "9f_chunk-000001.m.txt": b"1",
        "chunk-1000000.b.txt": b"big",
        "chunk-999999.c.txt": b"less",
    }
    archive = _zip(run_assembler("zipper", results))
    assert [archive.read(info) for info in archive.infolist()] == [
        b"0", b"1", b"2", b"less", b"big"
    ]  # fmt: skip
    assert archive.namelist()[-2:] == ["c.txt", "b.txt"]


def test_zipper_is_deterministic(tmp_path: Path) -> None:
    """The same results (same bytes, modes and times) give a byte-identical archive."""
    (tmp_path / "results").mkdir()
    for name, data in {"chunk-000001.b.png": PNG, "chunk-000000.a.txt": TEXT}.items():
        path = tmp_path / "results" / name
        path.write_bytes(data)
        os.utime(path, (1_700_000_000, 1_700_000_000))
    archives = []
    for run in ("one", "two"):
        (tmp_path / run).mkdir()
        env = assembler_environment(tmp_path / "results", tmp_path / run, {}, None)
        entrypoint_for("assembler", "zipper").invoke(env)
        archives.append((tmp_path / run / "results_archive.zip").read_bytes())
    assert archives[0] == archives[1]


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Tokyo"])
@pytest.mark.parametrize(
    ("mtime", "stamp"),
    [(7_258_118_400, (2107, 12, 31, 23, 59, 58)), (-1, (1980, 1, 1, 0, 0, 0))],
)
def test_zipper_clamps_times_a_zip_date_cannot_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tz: str, mtime: int, stamp: tuple[int, ...]
) -> None:
    """A result modified after 2107 or before 1980 in local time (1970 west of UTC too),
    which a zip date cannot hold, is archived with the nearest date one can, not failed."""
    (tmp_path / "results").mkdir()
    (tmp_path / "out").mkdir()
    path = tmp_path / "results" / "chunk-000000.a.txt"
    path.write_bytes(TEXT)
    os.utime(path, (mtime, mtime))
    env = assembler_environment(tmp_path / "results", tmp_path / "out", {}, None)
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        entrypoint_for("assembler", "zipper").invoke(env)
    finally:
        monkeypatch.undo()
        time.tzset()
    archive = zipfile.ZipFile(tmp_path / "out" / "results_archive.zip")
    assert archive.testzip() is None
    assert archive.read("a.txt") == TEXT
    assert archive.getinfo("a.txt").date_time == stamp


def test_zipper_stores_compressed_media_and_deflates_text() -> None:
    """'auto' stores media and incompressible bytes, and deflates text."""
    results = {
        "chunk-000000.notes.txt": TEXT,
        "chunk-000001.image.png": PNG,
        "chunk-000002.photo.jpg": b"\xff\xd8\xff" + NOISE,
        "chunk-000003.blob.bin": NOISE,
        "chunk-000004.disguised.dat": b"\x89PNG" + NOISE,
        "chunk-000005.data.csv": TEXT,
    }
    archive = _zip(run_assembler("zipper", results))
    types = {info.filename: info.compress_type for info in archive.infolist()}
    assert types == {
        "notes.txt": zipfile.ZIP_DEFLATED,
        "image.png": zipfile.ZIP_STORED,
        "photo.jpg": zipfile.ZIP_STORED,
        "blob.bin": zipfile.ZIP_STORED,
        "disguised.dat": zipfile.ZIP_STORED,
        "data.csv": zipfile.ZIP_DEFLATED,
    }
    assert archive.getinfo("notes.txt").compress_size < len(TEXT) // 10


@pytest.mark.parametrize(
    ("compression", "expected"), [("store", zipfile.ZIP_STORED), ("deflate", zipfile.ZIP_DEFLATED)]
)
def test_zipper_compression_override_applies_to_every_entry(
    compression: str, expected: int
) -> None:
    """compression='store' or 'deflate' applies to every entry, media or not."""
    results = {"chunk-000000.a.txt": TEXT, "chunk-000001.b.png": PNG}
    archive = _zip(run_assembler("zipper", results, {"compression": compression}))
    assert {info.compress_type for info in archive.infolist()} == {expected}
    assert archive.testzip() is None


def test_zipper_archive_name_and_received_names() -> None:
    """archive_name names the output; restore_names=false keeps the marked entry names."""
    results = {"chunk-000000.a.txt": b"a"}
    params = {"archive_name": "all.zip", "restore_names": False}
    assert _zip(run_assembler("zipper", results, params), "all.zip").namelist() == [
        "chunk-000000.a.txt"
    ]


def test_zipper_name_collision_falls_back_to_received_names() -> None:
    """Two results with one original name both go in, under their received names."""
    results = {"chunk-000000.o.txt": b"0", "chunk-000001.o.txt": b"1"}
    archive = _zip(run_assembler("zipper", results))
    assert archive.namelist() == ["chunk-000000.o.txt", "chunk-000001.o.txt"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"archive_name": "dir/x.zip"}, "archive_name"),
        ({"archive_name": ""}, "archive_name"),
        ({"level": 0}, "level"),
        ({"compression": "lzma"}, "compression"),
    ],
)
def test_zipper_rejects_bad_params(params: dict[str, Any], field: str) -> None:
    """Bad zipper params are a SettingsError naming ASSEMBLER_PARAMS.<field>."""
    with pytest.raises(SettingsError) as exc:
        run_assembler("zipper", {"chunk-000000.a.txt": b"a"}, params)
    assert [(p.variable, p.field) for p in exc.value.problems] == [("ASSEMBLER_PARAMS", field)]


def test_zipper_uses_zip64_for_large_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries beyond the zip64 limit get zip64 extra fields and the archive still opens."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1024)
    results = {
        "chunk-000000.big.txt": TEXT,
        "chunk-000001.big.png": PNG,
        "chunk-000002.small.txt": b"s",
    }
    output = run_assembler("zipper", results)
    archive = _zip(output)
    assert archive.testzip() is None
    for info in archive.infolist():
        if info.file_size > 1024:
            assert 0x0001 in _extra_ids(info), info.filename
    assert archive.read("big.txt") == TEXT
    assert archive.read("big.png") == PNG
    assert archive.read("small.txt") == b"s"
    monkeypatch.undo()
    assert zipfile.ZipFile(io.BytesIO(output["results_archive.zip"])).testzip() is None


def test_is_incompressible_samples_content(tmp_path: Path) -> None:
    """Unknown extensions are judged by magic bytes or by how well a sample deflates."""
    cases = {"t.log": (TEXT, False), "r.bin": (NOISE, True), "z.dat": (b"\x1f\x8b" + TEXT, True)}
    for name, (data, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert is_incompressible(path, len(data)) is expected, name
    tiny = tmp_path / "tiny.bin"
    tiny.write_bytes(NOISE[:100])
    assert is_incompressible(tiny, 100) is False  # too small to judge: deflate is cheap


# -- concat ------------------------------------------------------------------------------


def test_concat_joins_bytes_in_chunk_order() -> None:
    """Results are appended in numeric chunk order, whatever their names sort as."""
    results = {
        "chunk-000002.out.txt": b"two|",
        "chunk-000000.out.txt": b"zero|",
        "chunk-1000000.out.txt": b"million",
        "chunk-999999.out.txt": b"999999|",
        "chunk-000001.out.txt": b"",
    }
    assert run_assembler("concat", results) == {"out.txt": b"zero|two|999999|million"}


def test_concat_falls_back_when_the_kernel_copy_stops_early(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If copy_file_range answers 0 or fails midway, the rest is copied in user space."""
    results = {f"chunk-{i:06d}.o.bin": bytes([i]) * 1000 for i in range(4)}
    expected = {"o.bin": b"".join(results[k] for k in sorted(results))}
    real = os.copy_file_range
    calls = iter(range(10_000))

    def flaky(src: int, dst: int, count: int, *args: Any) -> int:
        step = next(calls)
        if step % 3 == 0:
            return real(src, dst, min(count, 100))  # a short copy
        if step % 3 == 1:
            return 0  # an early 0
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", flaky)
    assert run_assembler("concat", results) == expected


def test_concat_groups_by_original_name() -> None:
    """Each original name becomes its own output, each joined in chunk order."""
    results = {
        "chunk-000001.a.dat": b"a1\n",
        "chunk-000000.b.log": b"b0\n",
        "chunk-000000.a.dat": b"a0\n",
        "chunk-000001.b.log": b"b1\n",
        "chunk-000000.summary.json": b"{}",
    }
    assert run_assembler("concat", results) == {
        "a.dat": b"a0\na1\n",
        "b.log": b"b0\nb1\n",
        "summary.json": b"{}",
    }


def test_concat_warns_about_outputs_whose_names_differ_only_in_normalization_or_case(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Result names that differ only in NFC/NFD or case give outputs joined apart, with a
    warning naming them escaped, since macOS and Windows would store them as one file."""
    results = {
        "chunk-000000.caf\u00e9.txt": b"0",
        "chunk-000001.cafe\u0301.txt": b"1",
        "chunk-000000.A.txt": b"a",
        "chunk-000001.a.txt": b"b",
    }
    output = run_assembler("concat", results, {"format": "bytes"})
    assert output == {"caf\u00e9.txt": b"0", "cafe\u0301.txt": b"1", "A.txt": b"a", "a.txt": b"b"}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "2 outputs whose names differ only in Unicode normalization or case ('A.txt', 'a.txt'): "
        "macOS and Windows store them as one file; have the app write one name",
        "2 outputs whose names differ only in Unicode normalization or case ('caf\\xe9.txt', "
        "'cafe\\u0301.txt'): macOS and Windows store them as one file; have the app write one "
        "name",
    ]


def test_concat_output_name_renames_the_single_group() -> None:
    """output_name names the output when every result shares one name."""
    results = {"chunk-000000.p.txt": b"x", "chunk-000001.p.txt": b"y"}
    assert run_assembler("concat", results, {"output_name": "all.txt"}) == {"all.txt": b"xy"}


@pytest.mark.parametrize(
    ("names", "shown"), [("ab", "a.txt, b.txt"), ("abcde", "a.txt, b.txt, c.txt and 2 more")]
)
def test_concat_output_name_with_several_groups_is_rejected(names: str, shown: str) -> None:
    """output_name cannot name several different outputs: the error names the param and
    lists the result names, saying how many more there are only when some are left out."""
    results = {f"chunk-000000.{n}.txt": b"" for n in names}
    with pytest.raises(DataError) as exc:
        run_assembler("concat", results, {"output_name": "x.txt"})
    assert str(exc.value) == (
        f"ASSEMBLER_PARAMS.output_name: names one output, but the results have {len(names)} "
        f"different names ({shown})"
    )


def test_concat_rejects_unordered_results_naming_the_file() -> None:
    """A group holding a result without a chunk index cannot be ordered; the file is named."""
    results = {"chunk-000000.out.txt": b"a", "task-deadbeef.out.txt": b"b"}
    with pytest.raises(DataError) as exc:
        run_assembler("concat", results)
    assert str(exc.value).startswith(
        "result 'task-deadbeef.out.txt': no chunk index in its name, so 'out.txt' cannot be "
        "put in order"
    )


def test_concat_accepts_a_lone_unordered_result() -> None:
    """A single result needs no order, index or not."""
    assert run_assembler("concat", {"task-0badc0de.only.txt": b"z"}) == {"only.txt": b"z"}


def test_concat_rejects_duplicate_index_naming_the_chunk() -> None:
    """Two results for one name and one chunk index are an error naming the chunk and both."""
    results = {"chunk-000003.o.txt": b"a", "chunk-0000003.o.txt": b"b", "chunk-000001.o.txt": b""}
    with pytest.raises(DataError) as exc:
        run_assembler("concat", results)
    assert str(exc.value) == (
        "chunk 3: two results for 'o.txt': 'chunk-0000003.o.txt', 'chunk-000003.o.txt'"
    )


def test_concat_without_results_is_a_data_error() -> None:
    """Nothing to concatenate is a DataError naming TASK_RESULTS_DIR."""
    with pytest.raises(DataError, match=r"^TASK_RESULTS_DIR: no results"):
        run_assembler("concat", {})


def test_concat_failure_leaves_no_output(tmp_path: Path) -> None:
    """A rejected concatenation (here an unordered result) leaves OUTPUT_DIR empty."""
    (tmp_path / "results").mkdir()
    (tmp_path / "out").mkdir()
    for name in ("chunk-000000.a.txt", "chunk-000000.z.txt", "task-00000000.z.txt"):
        (tmp_path / "results" / name).write_bytes(b"x")
    env = assembler_environment(tmp_path / "results", tmp_path / "out", {}, None)
    with pytest.raises(DataError):
        entrypoint_for("assembler", "concat").invoke(env)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    ("assembler", "field"), [("concat", "output_name"), ("zipper", "archive_name")]
)
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("x\x00.zip", "without control characters"),
        ("a\nb.zip", "without control characters"),
        ("a\tb.zip", "without control characters"),
        ("a/b.zip", "without folders"),
        ("a\\b.zip", "without folders"),
        (".", "without folders"),
        ("..", "without folders"),
        ("", "at least 1 character"),
        ("é" * 128, "256 bytes in UTF-8, over the 255-byte file-name limit"),
        ("e" * 256, "at most 255 characters"),
    ],
    ids=["nul", "newline", "tab", "slash", "backslash", "dot", "dotdot", "empty", "utf8", "long"],
)
def test_file_name_params_share_one_rule(
    assembler: str, field: str, value: str, reason: str
) -> None:
    """Every params field naming an output file rejects NUL and other control characters,
    folders, '.', '..', the empty name and names over 255 UTF-8 bytes, as a settings error
    naming the field, before anything is written."""
    with pytest.raises(SettingsError, match=rf"ASSEMBLER_PARAMS\.{field}: .*{reason}"):
        run_assembler(assembler, {"chunk-000000.a.txt": b""}, {field: value})


@pytest.mark.parametrize(
    ("assembler", "field"), [("concat", "output_name"), ("zipper", "archive_name")]
)
def test_file_name_params_accept_255_utf8_bytes(assembler: str, field: str) -> None:
    """A file-name param of exactly 255 UTF-8 bytes (non-ASCII included) is accepted."""
    name = "é" * 126 + "abc"
    assert list(run_assembler(assembler, {"chunk-000000.a.txt": b"x"}, {field: name})) == [name]


def test_concat_rejects_a_path_as_output_name() -> None:
    """output_name must be a plain file name."""
    with pytest.raises(SettingsError, match=r"ASSEMBLER_PARAMS\.output_name"):
        run_assembler("concat", {"chunk-000000.a.txt": b""}, {"output_name": "../x"})

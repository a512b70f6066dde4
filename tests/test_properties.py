"""Property tests over every built-in partitioner/assembler pair, joined by an identity app.

Each example runs the pipeline the way the platform does: the partitioner writes
``data_{i}.bin`` files, each is moved to its own task folder as ``data.bin`` (with or
without ``CHUNK_NUMBER``), every task's results land flat in one folder, and the
assembler reads that folder. The properties: indices are contiguous from 0, a chunk is
empty only when its source file is, and assembling gives back the input.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bytenite_runtime import task
from bytenite_runtime.chunks import chunk_index_of, parse_result_name, read_footer
from bytenite_runtime.settings import (
    app_environment,
    assembler_environment,
    partitioner_environment,
)
from bytenite_runtime.task import entrypoint_for

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Flat names from one alphabet and a folder name outside it, so no file shadows a folder;
# no leading dot, as dotfiles are not sources.
_NAME = st.text(alphabet="abcxyz019", min_size=1, max_size=6)
_PATH = st.one_of(_NAME, _NAME.map(lambda n: f"dir_/{n}"))
FILES = st.dictionaries(_PATH, st.binary(max_size=300), min_size=1, max_size=4)
ONE_FILE = st.binary(max_size=300)
# Metadata mode and whether CHUNK_NUMBER is sent, limited to ways the index is known.
DELIVERY = st.sampled_from([("footer", False), ("footer", True), ("auto", True), ("off", True)])


@task.app
def identity(ctx: task.AppContext[Any]) -> None:
    """Write the chunk's payload back as its only result."""
    ctx.results.write_bytes("part.bin", ctx.chunk.read_bytes())


@dataclass
class Pipeline:
    """What one run left behind: chunk payloads and result names in order, and the output."""

    payloads: list[bytes]
    chunk_indices: list[int]
    result_names: list[str]
    output: dict[str, bytes]


def run_pipeline(
    partitioner: str,
    files: dict[str, bytes],
    partitioner_params: dict[str, Any],
    assembler: str,
    send_chunk_number: bool,
) -> Pipeline:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source, chunks, results, output = (root / n for n in ("src", "chunks", "res", "out"))
        for folder in (source, chunks, results, output):
            folder.mkdir()
        for rel, data in files.items():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            (source / rel).write_bytes(data)
        entrypoint_for("partitioner", partitioner).invoke(
            partitioner_environment(source, chunks, partitioner_params, None)
        )
        written = sorted(p.name for p in chunks.iterdir())
        indices = sorted(i for name in written if (i := chunk_index_of(name)) is not None)
        assert len(indices) == len(written), f"stray files in CHUNKS_DIR: {written}"
        payloads = []
        for i in indices:
            meta, size = read_footer(chunks / f"data_{i}.bin")
            assert meta is None or (meta.index, meta.count) == (i, len(indices))
            payloads.append((chunks / f"data_{i}.bin").read_bytes()[:size])
            task_dir, task_results = root / f"task{i}", root / f"results{i}"
            task_dir.mkdir()
            task_results.mkdir()
            shutil.copyfile(chunks / f"data_{i}.bin", task_dir / "data.bin")
            number = i if send_chunk_number else None
            identity.invoke(app_environment(task_dir, task_results, {}, root, root, number))
            for result in task_results.iterdir():
                assert not (results / result.name).exists(), f"result collision: {result.name}"
                result.replace(results / result.name)
        result_names = sorted(p.name for p in results.iterdir())
        entrypoint_for("assembler", assembler).invoke(
            assembler_environment(results, output, {}, None)
        )
        produced = {p.name: p.read_bytes() for p in output.iterdir()}
    return Pipeline(payloads, indices, result_names, produced)


def _unzip(output: dict[str, bytes]) -> list[bytes]:
    (archive,) = output.values()
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        assert zipped.testzip() is None
        return [zipped.read(info) for info in zipped.infolist()]


def _in_index_order(output: dict[str, bytes]) -> list[bytes]:
    if len(output) == 1:
        return list(output.values())
    ordered = sorted(output.items(), key=lambda item: parse_result_name(item[0]).index or 0)
    return [data for _, data in ordered]


# What each assembler's output says about the ordered result payloads.
ASSEMBLED: dict[str, Callable[[dict[str, bytes]], list[bytes]]] = {
    "concat": lambda output: [output["part.bin"]],
    "zipper": _unzip,
    "passthrough": _in_index_order,
}


def _expected(assembler: str, parts: list[bytes]) -> list[bytes]:
    return [b"".join(parts)] if assembler == "concat" else parts


def _check_common(run: Pipeline) -> None:
    count = len(run.chunk_indices)
    assert run.chunk_indices == list(range(count))
    assert [parse_result_name(name).index for name in run.result_names] == list(range(count))
    assert {parse_result_name(name).original for name in run.result_names} == {"part.bin"}


@pytest.mark.parametrize("assembler", sorted(ASSEMBLED))
@PROPERTY
@given(files=FILES, delivery=DELIVERY)
def test_passthrough_partitions_reassemble_to_the_input(
    assembler: str, files: dict[str, bytes], delivery: tuple[str, bool]
) -> None:
    """passthrough → identity → any assembler gives back every source file, in path order."""
    mode, send_chunk_number = delivery
    run = run_pipeline("passthrough", files, {"chunk_metadata": mode}, assembler, send_chunk_number)
    in_order = [files[name] for name in sorted(files)]
    _check_common(run)
    assert run.payloads == in_order
    # A chunk is empty exactly when its source file is: passthrough never drops a file.
    assert [not p for p in run.payloads] == [not f for f in in_order]
    assert ASSEMBLED[assembler](run.output) == _expected(assembler, in_order)


@pytest.mark.parametrize("assembler", sorted(ASSEMBLED))
@PROPERTY
@given(data=ONE_FILE, replicas=st.integers(1, 5), delivery=DELIVERY)
def test_replicate_fanout_reassembles_to_n_copies(
    assembler: str, data: bytes, replicas: int, delivery: tuple[str, bool]
) -> None:
    """replicate-fanout → identity → any assembler gives back num_replicas copies."""
    mode, send_chunk_number = delivery
    params = {"num_replicas": replicas, "chunk_metadata": mode}
    run = run_pipeline("replicate-fanout", {"in.bin": data}, params, assembler, send_chunk_number)
    _check_common(run)
    assert run.payloads == [data] * replicas
    assert ASSEMBLED[assembler](run.output) == _expected(assembler, [data] * replicas)


@PROPERTY
@given(files=FILES)
def test_footer_alone_orders_results(files: dict[str, bytes]) -> None:
    """With footers and no CHUNK_NUMBER, every result still carries its chunk's index."""
    run = run_pipeline("passthrough", files, {"chunk_metadata": "footer"}, "concat", False)
    _check_common(run)
    assert run.output == {"part.bin": b"".join(files[n] for n in sorted(files))}

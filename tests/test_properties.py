"""Property tests over every built-in partitioner/assembler pair, joined by an identity app.

Each example runs the pipeline the way the platform does: the partitioner writes
``data_{i}.bin`` files, each is moved to its own task folder as ``data.bin`` (with or
without ``CHUNK_NUMBER``), every task's results land flat in one folder, and the
assembler reads that folder. The properties: indices are contiguous from 0, a chunk is
empty only when its source file is, and assembling gives back the input.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest
from _pipeline import Pipeline, run_pipeline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bytenite_runtime.chunks import parse_result_name

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Flat names from one alphabet and a folder name outside it, so no file shadows a folder;
# no leading dot, as dotfiles are not sources.
_NAME = st.text(alphabet="abcxyz019", min_size=1, max_size=6)
_PATH = st.one_of(_NAME, _NAME.map(lambda n: f"dir_/{n}"))
FILES = st.dictionaries(_PATH, st.binary(max_size=300), min_size=1, max_size=4)
ONE_FILE = st.binary(max_size=300)
# Metadata mode and whether CHUNK_NUMBER is sent, limited to ways the index is known.
DELIVERY = st.sampled_from([("footer", False), ("footer", True), ("auto", True), ("off", True)])


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

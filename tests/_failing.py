"""Run a built-in on bad input, expect its error, and check it left nothing behind."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bytenite_runtime import DataError
from bytenite_runtime.errors import ByteniteError
from bytenite_runtime.settings import assembler_environment, partitioner_environment
from bytenite_runtime.task import entrypoint_for


def failing_partition(
    tmp_path: Path,
    name: str,
    files: Mapping[str, bytes],
    *,
    errors: type[ByteniteError] | tuple[type[ByteniteError], ...] = DataError,
    **params: Any,
) -> str:
    """Run partitioner ``name`` on ``files`` with ``params``; expect ``errors``, check that
    no chunk is left, and return the message."""
    source, chunks = tmp_path / "src", tmp_path / "chunks"
    source.mkdir()
    chunks.mkdir()
    for file_name, data in files.items():
        (source / file_name).write_bytes(data)
    with pytest.raises(errors) as caught:
        entrypoint_for("partitioner", name).invoke(
            partitioner_environment(source, chunks, params, None)
        )
    assert sorted(p.name for p in chunks.iterdir()) == []
    return str(caught.value)


def failing_assembly(tmp_path: Path, name: str, results: Mapping[str, bytes], **params: Any) -> str:
    """Run assembler ``name`` on ``results`` with ``params``; expect a DataError, check that
    no output is left, and return the message."""
    folder, output = tmp_path / "results", tmp_path / "output"
    folder.mkdir()
    output.mkdir()
    for file_name, data in results.items():
        (folder / file_name).write_bytes(data)
    with pytest.raises(DataError) as caught:
        entrypoint_for("assembler", name).invoke(
            assembler_environment(folder, output, params, None)
        )
    assert list(output.iterdir()) == []
    return str(caught.value)

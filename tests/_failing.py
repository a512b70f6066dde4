"""Run a built-in on bad input, expect its error, and check it left nothing behind."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pytest

from bytenite_runtime import DataError
from bytenite_runtime.errors import ByteniteError
from bytenite_runtime.settings import assembler_environment, partitioner_environment
from bytenite_runtime.task import entrypoint_for


def _expect_failure(
    kind: Literal["partitioner", "assembler"],
    name: str,
    inbox: Path,
    outbox: Path,
    files: Mapping[str, bytes],
    errors: type[ByteniteError] | tuple[type[ByteniteError], ...],
    params: Mapping[str, Any],
) -> str:
    inbox.mkdir()
    outbox.mkdir()
    for file_name, data in files.items():
        (inbox / file_name).parent.mkdir(parents=True, exist_ok=True)
        (inbox / file_name).write_bytes(data)
    environment = partitioner_environment if kind == "partitioner" else assembler_environment
    with pytest.raises(errors) as caught:
        entrypoint_for(kind, name).invoke(environment(inbox, outbox, params, None))
    assert list(outbox.iterdir()) == []
    return str(caught.value)


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
    return _expect_failure("partitioner", name, source, chunks, files, errors, params)


def failing_assembly(tmp_path: Path, name: str, results: Mapping[str, bytes], **params: Any) -> str:
    """Run assembler ``name`` on ``results`` with ``params``; expect a DataError, check that
    no output is left, and return the message."""
    folder, output = tmp_path / "results", tmp_path / "output"
    return _expect_failure("assembler", name, folder, output, results, DataError, params)

"""A whole job run in-process as the platform runs it: partitioner, an identity app per
chunk, assembler.

The partitioner writes ``data_{i}.bin`` files; each is copied, footer and all, into its
own task folder as ``data.bin`` (with or without ``CHUNK_NUMBER``); every task's results
land flat in one folder (optionally behind a platform prefix), where a name collision
fails; the assembler reads that folder.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bytenite_runtime import task
from bytenite_runtime.chunks import ChunkMeta, chunk_index_of, read_meta
from bytenite_runtime.settings import (
    app_environment,
    assembler_environment,
    partitioner_environment,
)
from bytenite_runtime.task import entrypoint_for


@task.app
def identity(ctx: task.AppContext[Any]) -> None:
    """Write the chunk's payload back as its only result, named by APP_PARAMS ``name``."""
    ctx.results.write_bytes(ctx.params.get("name", "part.bin"), ctx.chunk.read_bytes())


@dataclass
class Pipeline:
    """What one run left behind: chunk payloads, metadata (footer or format slot) and
    indices in order, the result names the assembler saw, and the output."""

    payloads: list[bytes]
    metas: list[ChunkMeta | None]
    chunk_indices: list[int]
    result_names: list[str]
    output: dict[str, bytes]


def run_pipeline(
    partitioner: str,
    files: Mapping[str, bytes],
    partitioner_params: Mapping[str, Any],
    assembler: str,
    send_chunk_number: bool,
    *,
    result_name: str = "part.bin",
    assembler_params: Mapping[str, Any] | None = None,
    result_prefix: str = "",
) -> Pipeline:
    """Run the job; each result reaches the assembler as ``result_prefix`` + its name."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source, chunks, results, output = (root / n for n in ("src", "chunks", "res", "out"))
        for folder in (source, chunks, results, output):
            folder.mkdir()
        for rel, data in files.items():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            (source / rel).write_bytes(data)
        entrypoint_for("partitioner", partitioner).invoke(
            partitioner_environment(source, chunks, dict(partitioner_params), None)
        )
        written = sorted(p.name for p in chunks.iterdir())
        indices = sorted(i for name in written if (i := chunk_index_of(name)) is not None)
        assert len(indices) == len(written), f"stray files in CHUNKS_DIR: {written}"
        payloads, metas = [], []
        for i in indices:
            meta, size = read_meta(chunks / f"data_{i}.bin")
            assert meta is None or (meta.index, meta.count) == (i, len(indices))
            payloads.append((chunks / f"data_{i}.bin").read_bytes()[:size])
            metas.append(meta)
            task_dir, task_results = root / f"task{i}", root / f"results{i}"
            task_dir.mkdir()
            task_results.mkdir()
            shutil.copyfile(chunks / f"data_{i}.bin", task_dir / "data.bin")
            number = i if send_chunk_number else None
            app_params = {"name": result_name}
            identity.invoke(app_environment(task_dir, task_results, app_params, root, root, number))
            for result in task_results.iterdir():
                target = results / (result_prefix + result.name)
                assert not target.exists(), f"result collision: {target.name}"
                result.replace(target)
        result_names = sorted(p.name for p in results.iterdir())
        entrypoint_for("assembler", assembler).invoke(
            assembler_environment(results, output, dict(assembler_params or {}), None)
        )
        produced = {p.name: p.read_bytes() for p in output.iterdir()}
    return Pipeline(payloads, metas, indices, result_names, produced)

"""Whole-file partitioners: ``passthrough`` and ``replicate-fanout``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import Field

from .._chunk_writer import NewChunk
from ..components import Partitioner
from ..errors import DataError
from ..task import PartitionerContext

__all__ = ["Passthrough", "ReplicateFanout"]


class Passthrough(Partitioner):
    """One task per source file, its chunk the file itself (one file: one task)."""

    name: ClassVar[str] = "passthrough"
    summary: ClassVar[str] = "One task per source file; the chunk is the file, untouched."

    def partition(self, ctx: PartitionerContext[Any]) -> Iterator[NewChunk]:
        for path in ctx.sources:
            yield NewChunk(path=path, source=path.relative_to(ctx.source_dir).as_posix())


class ReplicateFanout(Partitioner):
    """``num_replicas`` tasks, each given the same source file (e.g. one prompt, N images)."""

    name: ClassVar[str] = "replicate-fanout"
    summary: ClassVar[str] = "The one source file, replicated into num_replicas chunks."
    num_replicas: int = Field(
        ..., ge=1, le=100_000, description="How many tasks to run, each on a copy of the source."
    )

    def partition(self, ctx: PartitionerContext[Any]) -> Iterator[NewChunk]:
        if len(ctx.sources) != 1:
            shown = ", ".join(p.relative_to(ctx.source_dir).as_posix() for p in ctx.sources[:3])
            more = ", …" if len(ctx.sources) > 3 else ""
            raise DataError(
                f"SOURCE_DIR: replicate-fanout replicates one file, found {len(ctx.sources)} "
                f"({shown}{more})"
            )
        source = ctx.sources[0]
        name = source.relative_to(ctx.source_dir).as_posix()
        for replica in range(self.num_replicas):
            yield NewChunk(path=source, source=name, fields={"replica": replica})

"""The ``concat`` assembler: results joined in chunk order, one output per result name.

Results are grouped by their original name (``part.chunk-000003.txt`` belongs to
``part.txt``), so an app writing ``part.txt`` per task yields one ``part.txt`` whose
bytes are every task's bytes in chunk order.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal

from pydantic import Field, field_validator

from .._io import Result
from ..components import Assembler
from ..errors import DataError
from ..task import AssemblerContext

__all__ = ["Concat", "group_results"]

_BLOCK = 8 << 20


def group_results(results: list[Result] | tuple[Result, ...]) -> dict[str, list[Result]]:
    """Results grouped by original name, each group in chunk order; unordered results in
    a group of several are an error naming them."""
    groups: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        groups[result.original].append(result)
    for name, members in groups.items():
        if len(members) < 2:
            continue
        unordered = [m.name for m in members if m.index is None]
        if unordered:
            raise DataError(
                f"result {unordered[0]!r}: no chunk index in its name, so {name!r} cannot be "
                "put in order (write results through the library, and give the task its "
                "index via CHUNK_NUMBER or chunk metadata)"
            )
        seen: dict[int, str] = {}
        for m in members:
            assert m.index is not None
            if m.index in seen:
                raise DataError(
                    f"chunk {m.index}: two results for {name!r}: {seen[m.index]!r}, {m.name!r}"
                )
            seen[m.index] = m.name
    return dict(groups)


def _append(dst: BinaryIO, path: Path) -> None:
    with path.open("rb", buffering=0) as src:
        remaining = os.fstat(src.fileno()).st_size
        # In-kernel copy where the filesystem allows it; both offsets advance.
        with contextlib.suppress(OSError):
            while remaining > 0:
                sent = os.copy_file_range(src.fileno(), dst.fileno(), remaining)
                if sent == 0:
                    break
                remaining -= sent
        # Not supported here (EXDEV, EINVAL…), or the kernel stopped early (it may answer 0
        # before the end on some filesystems): carry on from the current offsets.
        shutil.copyfileobj(src, dst, _BLOCK)


class Concat(Assembler):
    """Results concatenated byte for byte in chunk order, one output file per result name."""

    name: ClassVar[str] = "concat"
    summary: ClassVar[str] = "Results joined in chunk order (bytes), one output per result name."
    format: Literal["auto", "bytes"] = Field(
        "auto", description="How to join: 'bytes' appends files as they are; 'auto' picks by type."
    )
    output_name: str | None = Field(
        None,
        description="Name of the output file when all results share one name (default: that name).",
    )

    @field_validator("output_name")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        if value is not None and (Path(value).name != value or value in {"", ".", ".."}):
            raise ValueError("must be a plain file name, without folders")
        return value

    def assemble(self, ctx: AssemblerContext[Any]) -> None:
        if not ctx.results:
            raise DataError("TASK_RESULTS_DIR: no results to concatenate")
        groups = group_results(list(ctx.results))
        if self.output_name is not None and len(groups) > 1:
            raise DataError(
                f"output_name is set but results have {len(groups)} different names "
                f"({', '.join(sorted(groups)[:3])}…)"
            )
        for original, members in groups.items():
            name = self.output_name or original
            with ctx.output.path(name).open("wb", buffering=0) as dst:
                for member in members:
                    _append(dst, member.path)
            ctx.log.info("%s: joined %d result(s)", name, len(members))

"""The ``passthrough`` assembler, and the result-name rule other file assemblers share."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field

from .._copy import link_or_copy
from .._inputs import Result
from ..components import Assembler
from ..task import AssemblerContext

__all__ = ["Passthrough", "output_names"]


def output_names(results: Sequence[Result], restore: bool) -> list[str]:
    """Names for results in the output: the original names when ``restore`` and no two are
    alike, else the names as received (which are unique by construction)."""
    if restore:
        originals = [r.original for r in results]
        # Alike: equal but for Unicode normalization or case, as macOS and Windows file
        # systems compare names, so one would overwrite the other once downloaded or unzipped.
        if len({unicodedata.normalize("NFC", n).casefold() for n in originals}) == len(originals):
            return originals
    return [r.name for r in results]


class Passthrough(Assembler):
    """Every task's result files go to the destination as they are."""

    name: ClassVar[str] = "passthrough"
    summary: ClassVar[str] = "Every result file goes to the output unchanged."
    restore_names: bool = Field(
        True,
        description="Drop the 'chunk-NNNNNN.' marker from result names when no two results "
        "would then share a name.",
    )

    def assemble(self, ctx: AssemblerContext[Any]) -> None:
        for result, name in zip(
            ctx.results, output_names(ctx.results, self.restore_names), strict=True
        ):
            link_or_copy(result.path, ctx.output.path(name))
        ctx.log.info("passed %d result file(s) through", len(ctx.results))

"""Base classes of the built-in components: a frozen params model with one method.

A component *is* its parameters: the model is validated from ``PARTITIONER_PARAMS`` /
``ASSEMBLER_PARAMS`` with unknown keys rejected, so a typo fails loudly, and the same
model generates the parameter table and ``schema.json`` of its engine.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .chunks import MetadataMode

if TYPE_CHECKING:
    from .task import AssemblerContext, PartitionerContext

__all__ = ["Assembler", "Partitioner"]


class _Component(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str]
    summary: ClassVar[str]

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads true as 1: "rows_per_chunk": true is a slip to name,
        # not a size to use. Numbers given as strings ("2") stay accepted.
        if isinstance(value, bool) and info.field_name in _numeric_fields(cls):
            raise ValueError(f"must be a number, not {str(value).lower()}")
        return value


@functools.cache
def _numeric_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` that take an int or a float, and no bool."""
    return frozenset(
        name for name, field in model.model_fields.items() if _is_numeric(field.annotation)
    )


def _is_numeric(annotation: Any) -> bool:
    """Whether ``annotation`` (through Optional, unions and Annotated) takes an int or a
    float, and not a bool."""
    kinds: set[Any] = set()
    pending = [annotation]
    while pending:
        current = pending.pop()
        origin = typing.get_origin(current)
        if origin is typing.Annotated:
            pending.append(typing.get_args(current)[0])
        elif origin in (typing.Union, types.UnionType):
            pending.extend(typing.get_args(current))
        else:
            kinds.add(current)
    return bool(kinds & {int, float}) and bool not in kinds


class Partitioner(_Component):
    """Base of every built-in partitioner.

    A subclass must:

    1. set ``name`` (kebab-case registry key) and ``summary`` (one line);
    2. declare its params as fields with a description, a default where one makes sense,
       and constraints (``ge``, ``Literal``…) instead of checks in code;
    3. implement ``partition(ctx)`` yielding chunks (bytes, str, a path or ``NewChunk``)
       in order, never writing into ``CHUNKS_DIR`` itself (the runtime names, stages and
       annotates chunks);
    4. raise :class:`~bytenite_runtime.errors.DataError` naming the file and the byte,
       row, pixel or time range for bad data;
    5. be listed in ``registry._BUILTINS``.
    """

    chunk_metadata: MetadataMode = Field(
        "auto",
        description="How chunk metadata travels: 'auto' (format slot where there is one), "
        "'footer' (appended, stripped by the library) or 'off'.",
    )

    def partition(self, ctx: PartitionerContext[Any]) -> Iterable[Any]:
        raise NotImplementedError


class Assembler(_Component):
    """Base of every built-in assembler.

    A subclass must:

    1. set ``name`` and ``summary``;
    2. declare its params as constrained fields (as for :class:`Partitioner`);
    3. implement ``assemble(ctx)`` reading ``ctx.results`` (already in chunk order) and
       writing through ``ctx.output`` (staged; visible only if the assembler succeeds);
    4. raise :class:`~bytenite_runtime.errors.DataError` naming the result (and chunk)
       at fault;
    5. be listed in ``registry._BUILTINS``.
    """

    def assemble(self, ctx: AssemblerContext[Any]) -> None:
        raise NotImplementedError

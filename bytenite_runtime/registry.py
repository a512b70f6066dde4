"""Built-in components by kebab-case name, imported only when asked for."""

from __future__ import annotations

import importlib
from typing import Literal

from .components import Assembler, Partitioner
from .errors import ConfigError, UnknownNameError

__all__ = ["get", "kind_of", "names"]

ComponentKind = Literal["partitioner", "assembler"]

_BUILTINS: dict[ComponentKind, dict[str, str]] = {
    "partitioner": {
        "passthrough": "bytenite_runtime.partitioners.files:Passthrough",
        "replicate-fanout": "bytenite_runtime.partitioners.files:ReplicateFanout",
        "row": "bytenite_runtime.partitioners.rows:Row",
        "time-chunk": "bytenite_runtime.partitioners.time_chunk:TimeChunk",
        "tile": "bytenite_runtime.partitioners.tile:Tile",
    },
    "assembler": {
        "passthrough": "bytenite_runtime.assemblers.files:Passthrough",
        "zipper": "bytenite_runtime.assemblers.zip:Zipper",
        "concat": "bytenite_runtime.assemblers.concat:Concat",
        "mosaic": "bytenite_runtime.assemblers.mosaic:Mosaic",
    },
}


def names(kind: ComponentKind) -> list[str]:
    """Registered names of one kind, sorted."""
    return sorted(_BUILTINS[kind])


def get(kind: ComponentKind, name: str) -> type[Partitioner] | type[Assembler]:
    """The component class registered as ``name``; unknown names suggest the nearest."""
    try:
        target = _BUILTINS[kind][name]
    except KeyError:
        others = [k for k, table in _BUILTINS.items() if name in table]
        raise UnknownNameError(kind, name, _BUILTINS[kind], other_kinds=others) from None
    module_name, _, attr = target.partition(":")
    component: type[Partitioner] | type[Assembler] = getattr(
        importlib.import_module(module_name), attr
    )
    return component


def kind_of(name: str) -> ComponentKind:
    """The kind a name is registered under; ambiguous names (``passthrough``) need a kind."""
    kinds = [kind for kind, table in _BUILTINS.items() if name in table]
    if len(kinds) == 1:
        return kinds[0]
    if not kinds:
        raise UnknownNameError("component", name, {n for t in _BUILTINS.values() for n in t})
    raise ConfigError(f"{name!r} is both a partitioner and an assembler; say which kind")

"""What a component function receives: one context per component kind."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from ._inputs import Chunk, Result
from ._staging import Output, Results
from .errors import ConfigError
from .settings import (
    SHARED_CACHE_DIR,
    USER_CACHE_DIR,
    AppSettings,
    AssemblerSettings,
    PartitionerSettings,
    Secret,
)

__all__ = ["AppContext", "AssemblerContext", "PartitionerContext"]

P = TypeVar("P")


@dataclass(frozen=True)
class _Common(Generic[P]):
    params: P
    log: logging.Logger
    secrets: Mapping[str, Secret]

    def _cache(self, folder: Path | None, variable: str) -> Path:
        if folder is None:
            raise ConfigError(f"{variable}: is not set, so this component has no such cache")
        return folder


@dataclass(frozen=True)
class PartitionerContext(_Common[P]):
    """What a partitioner function gets: the source files, in a stable order."""

    settings: PartitionerSettings
    sources: Sequence[Path]

    @property
    def source_dir(self) -> Path:
        return self.settings.source_dir

    @property
    def shared_cache(self) -> Path:
        return self._cache(self.settings.shared_cache_dir, SHARED_CACHE_DIR)


@dataclass(frozen=True)
class AppContext(_Common[P]):
    """What an app function gets: its chunk, a results writer and the caches."""

    settings: AppSettings
    chunk: Chunk
    results: Results

    @property
    def user_cache(self) -> Path:
        return self._cache(self.settings.user_cache_dir, USER_CACHE_DIR)

    @property
    def shared_cache(self) -> Path:
        return self._cache(self.settings.shared_cache_dir, SHARED_CACHE_DIR)


@dataclass(frozen=True)
class AssemblerContext(_Common[P]):
    """What an assembler function gets: every result in chunk order, and an output writer."""

    settings: AssemblerSettings
    results: Sequence[Result]
    output: Output

    @property
    def shared_cache(self) -> Path:
        return self._cache(self.settings.shared_cache_dir, SHARED_CACHE_DIR)

"""bytenite-runtime: typed settings, the ``task`` API, built-in components and a simulator.

Importing this package is cheap: it loads pydantic-settings and orjson, nothing heavy;
built-in components load on first use, and settings are read only at an entry point.
"""

from . import task
from ._chunk_writer import NewChunk
from ._inputs import Chunk, Result
from .chunks import ChunkMeta
from .components import Assembler, Partitioner
from .errors import (
    ByteniteError,
    ComponentError,
    ConfigError,
    DataError,
    JobFailed,
    ResourceError,
    SettingsError,
    TemplateError,
    UnknownNameError,
)
from .settings import AppSettings, AssemblerSettings, PartitionerSettings, Secret

__all__ = [
    "AppSettings",
    "Assembler",
    "AssemblerSettings",
    "ByteniteError",
    "Chunk",
    "ChunkMeta",
    "ComponentError",
    "ConfigError",
    "DataError",
    "JobFailed",
    "NewChunk",
    "Partitioner",
    "PartitionerSettings",
    "ResourceError",
    "Result",
    "Secret",
    "SettingsError",
    "TemplateError",
    "UnknownNameError",
    "task",
]

__version__ = "0.1.0"

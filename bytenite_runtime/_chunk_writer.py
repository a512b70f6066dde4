"""What a partitioner yields (:class:`NewChunk`) and how it becomes ``data_{i}.bin`` in
``CHUNKS_DIR``: staged beside its final name, renamed into place, footers appended once
the chunk count is known, all removed again if the partitioner fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ._copy import link_or_copy
from ._inputs import not_a_file
from .chunks import ChunkMeta, MetadataMode, append_footer, chunk_file_name
from .errors import ConfigError, DataError, listed

__all__ = ["ChunkWriter", "NewChunk"]


@dataclass(frozen=True)
class NewChunk:
    """One chunk a partitioner yields: its bytes and what travels with them.

    Exactly one of ``data`` (bytes or text), ``path`` (a file to copy) or ``write``
    (a callable that writes the payload to a binary stream) gives the payload.
    ``embedded`` says the partitioner already put the metadata in the format's slot.
    """

    data: bytes | str | None = None
    path: Path | None = None
    write: Callable[[BinaryIO], None] | None = None
    source: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    embedded: bool = False

    def __post_init__(self) -> None:
        given = sum(x is not None for x in (self.data, self.path, self.write))
        if given != 1:
            raise TypeError("NewChunk needs exactly one of data, path or write")


def _as_new_chunk(item: object) -> NewChunk:
    if isinstance(item, NewChunk):
        return item
    if isinstance(item, bytes | bytearray | memoryview):
        return NewChunk(data=bytes(item))
    if isinstance(item, str):
        return NewChunk(data=item)
    if isinstance(item, os.PathLike):
        path = Path(item)
        return NewChunk(path=path, source=path.name)
    raise TypeError(
        f"a partitioner must yield bytes, str, a path or NewChunk, not {type(item).__name__}"
    )


class ChunkWriter:
    """Writes ``data_{i}.bin`` files into ``CHUNKS_DIR`` atomically, in yield order."""

    def __init__(self, chunks_dir: Path, metadata: MetadataMode = "auto") -> None:
        self.dir = chunks_dir
        self.metadata = metadata
        self._written: list[tuple[Path, NewChunk]] = []
        # Anything else that appears in CHUNKS_DIR is the partitioner's own doing.
        self._before = {p.name for p in chunks_dir.iterdir()}

    def add(self, item: object) -> Path:
        chunk = _as_new_chunk(item)
        index = len(self._written)
        final = self.dir / chunk_file_name(index)
        partial = self.dir / f".{final.name}.partial"
        self._written.append((final, chunk))
        if final.exists() and final.name not in self._before:
            raise ConfigError(
                f"chunk {index}: {final.name!r} is already in CHUNKS_DIR, written there by the "
                "partitioner itself; yield every chunk (the runtime writes data_<i>.bin) and "
                "write none there directly"
            )
        needs_copy = self.metadata == "footer" and not chunk.embedded
        try:
            if chunk.path is not None:
                reason = not_a_file(chunk.path)
                if reason is not None:
                    shown = chunk.source or str(chunk.path)
                    raise DataError(f"chunk {index}: source {shown!r} {reason}")
                if needs_copy:
                    shutil.copyfile(chunk.path, partial)
                else:
                    link_or_copy(chunk.path, partial)
            else:
                with partial.open("wb") as out:
                    if chunk.write is not None:
                        chunk.write(out)
                    else:
                        data = chunk.data
                        out.write(data.encode() if isinstance(data, str) else data or b"")
            partial.replace(final)
        except OSError as exc:
            if exc.filename is None:  # a write to the stream: the chunk's file is the place
                exc.filename = str(partial)
            raise
        finally:
            partial.unlink(missing_ok=True)
        return final

    @property
    def count(self) -> int:
        return len(self._written)

    def finish(self) -> int:
        """Append footers now that the count is known; return the number of chunks, which
        must not be 0."""
        count = len(self._written)
        # CHUNKS_DIR is listed only when no chunk came: it may hold a great many.
        if count == 0 and (made := self.made_directly()):
            # The platform's own way (files in CHUNKS_DIR), which the runtime does for you.
            names = listed([repr(name) for name in made], 3)
            raise ConfigError(
                f"the partitioner yielded no chunks but wrote {names} into CHUNKS_DIR itself; "
                "yield each chunk instead (bytes, str, a path or task.NewChunk) and the runtime "
                "writes it as data_<i>.bin"
            )
        if count == 0:
            raise DataError("the partitioner produced no chunks")
        if self.metadata == "footer":
            for index, (path, chunk) in enumerate(self._written):
                if not chunk.embedded:
                    meta = ChunkMeta(index, count, chunk.source, chunk.fields)
                    with path.open("ab") as stream:
                        append_footer(stream, meta)
        return count

    def made_directly(self) -> list[str]:
        """What the partitioner made in CHUNKS_DIR itself, not by yielding it, sorted."""
        ours = {path.name for path, _ in self._written}
        return sorted({p.name for p in self.dir.iterdir()} - self._before - ours)

    def abort(self) -> None:
        """Remove every chunk written so far, and what the partitioner made there itself."""
        for name in self.made_directly():
            path = self.dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        for path, _ in self._written:
            path.unlink(missing_ok=True)
        self._written.clear()

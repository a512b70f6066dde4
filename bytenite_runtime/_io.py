"""Reading chunks, writing chunks, staging results and output: all file moves in one place.

Every writer stages its files and makes them visible only on success, so a failing
component leaves no half-written chunk, result or output behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ._names import NAME_MAX, file_name_problem, name_bytes, shown_name
from .chunks import (
    ChunkMeta,
    MetadataMode,
    append_footer,
    chunk_file_name,
    parse_result_name,
    read_meta,
    result_name,
)
from .errors import ConfigError, DataError

__all__ = [
    "Chunk",
    "ChunkWriter",
    "NewChunk",
    "Output",
    "Result",
    "Results",
    "list_results",
    "list_sources",
]


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


ChunkItem = NewChunk | bytes | bytearray | memoryview | str | os.PathLike[str]


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


def _link_or_copy(src: Path, dst: Path) -> None:
    # A hard link costs nothing and both sides are read-only from here on;
    # across filesystems (or where links are refused) fall back to a copy.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


class ChunkWriter:
    """Writes ``data_{i}.bin`` files into ``CHUNKS_DIR`` atomically, in yield order."""

    def __init__(self, chunks_dir: Path, metadata: MetadataMode = "auto") -> None:
        self.dir = chunks_dir
        self.metadata = metadata
        self._written: list[tuple[Path, NewChunk]] = []

    def add(self, item: object) -> Path:
        chunk = _as_new_chunk(item)
        index = len(self._written)
        final = self.dir / chunk_file_name(index)
        partial = self.dir / f".{final.name}.partial"
        self._written.append((final, chunk))
        needs_copy = self.metadata == "footer" and not chunk.embedded
        try:
            if chunk.path is not None:
                if not chunk.path.is_file():
                    raise DataError(f"chunk {index}: source {str(chunk.path)!r} is not a file")
                if needs_copy:
                    shutil.copyfile(chunk.path, partial)
                else:
                    _link_or_copy(chunk.path, partial)
            else:
                with partial.open("wb") as out:
                    if chunk.write is not None:
                        chunk.write(out)
                    else:
                        data = chunk.data
                        out.write(data.encode() if isinstance(data, str) else data or b"")
            partial.replace(final)
        finally:
            partial.unlink(missing_ok=True)
        return final

    @property
    def count(self) -> int:
        return len(self._written)

    def finish(self) -> int:
        """Append footers now that the count is known; return the number of chunks."""
        count = len(self._written)
        if self.metadata == "footer":
            for index, (path, chunk) in enumerate(self._written):
                if not chunk.embedded:
                    meta = ChunkMeta(index, count, chunk.source, chunk.fields)
                    with path.open("ab") as stream:
                        append_footer(stream, meta)
        return count

    def abort(self) -> None:
        """Remove every chunk written so far."""
        for path, _ in self._written:
            path.unlink(missing_ok=True)
        self._written.clear()


class Chunk:
    """The chunk an app task received: payload, index and metadata.

    ``index`` comes from the chunk's metadata when it carries some, else from
    ``CHUNK_NUMBER``; it is None when neither is available.
    """

    def __init__(self, raw_path: Path, chunk_number: int | None, scratch: Path) -> None:
        self.raw_path = raw_path
        self.meta, self.size = read_meta(raw_path)
        self._scratch = scratch
        # Only a footer makes the file longer than its payload.
        self._payload: Path | None = raw_path if self.size == raw_path.stat().st_size else None
        if self.meta is not None:
            self.index: int | None = self.meta.index
        else:
            self.index = chunk_number
        self.chunk_number = chunk_number

    @property
    def source(self) -> str | None:
        return self.meta.source if self.meta else None

    @property
    def fields(self) -> Mapping[str, Any]:
        return self.meta.fields if self.meta else {}

    @property
    def path(self) -> Path:
        """A file holding exactly the payload (a stripped copy when the chunk had a footer)."""
        if self._payload is None:
            target = self._scratch / "data.bin"
            with self.raw_path.open("rb") as src, target.open("wb") as dst:
                _copy_exactly(src, dst, self.size)
            self._payload = target
        return self._payload

    def open(self) -> BinaryIO:
        """A binary stream over the payload only."""
        return self.path.open("rb")

    def read_bytes(self) -> bytes:
        with self.raw_path.open("rb") as stream:
            return stream.read(self.size)

    def read_text(self, encoding: str = "utf-8") -> str:
        data = self.read_bytes()
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            where = f"chunk {self.index}" if self.index is not None else "chunk"
            raise DataError(
                f"{where} byte {exc.start}: not valid {encoding} ({exc.reason})"
            ) from None

    def __repr__(self) -> str:
        return f"Chunk(index={self.index}, size={self.size}, source={self.source!r})"


def _copy_exactly(src: BinaryIO, dst: BinaryIO, size: int) -> None:
    remaining = size
    while remaining:
        block = src.read(min(remaining, 1 << 20))
        if not block:
            break
        dst.write(block)
        remaining -= len(block)


class _Staged:
    """A hidden staging folder inside ``target``; files appear in ``target`` on commit."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.dir = Path(tempfile.mkdtemp(prefix=".bytenite-staging-", dir=target))

    noun = "output"

    def path(self, name: str) -> Path:
        """Where to write a top-level file called ``name``; a name that cannot be
        committed as it is written fails here, before any byte is written."""
        self._check_name(name)
        return self.dir / name

    def _check_name(self, name: str) -> None:
        problem = file_name_problem(name)
        if problem is not None:
            raise ConfigError(f"{self.noun} name {shown_name(name)} {problem}")
        final = self.final_name(name)
        if final != name and name_bytes(final) > NAME_MAX:
            prefix = final[: len(final) - len(name)]
            room = NAME_MAX - name_bytes(prefix)
            raise ConfigError(
                f"{self.noun} name {shown_name(name)} is too long: with its {prefix!r} prefix "
                f"it is {name_bytes(final)} bytes, over the {NAME_MAX}-byte file-name limit; "
                f"keep {self.noun} names to {room} bytes"
            )

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.path(name)
        path.write_bytes(data)
        return path

    def write_text(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.path(name)
        path.write_text(text, encoding=encoding)
        return path

    def write_json(self, name: str, value: object) -> Path:
        path = self.path(name)
        path.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2))
        return path

    def final_name(self, name: str) -> str:
        return name

    def commit(self) -> list[Path]:
        """Move every staged top-level entry into the target; return the final paths.

        All names are checked before anything moves, so a clash commits nothing.
        """
        entries = sorted(self.dir.iterdir())
        finals: dict[str, Path] = {}
        for entry in entries:
            # Files made in ``dir`` directly never went through path().
            self._check_name(entry.name)
            if entry.is_symlink():
                self._materialize(entry)
            name = self.final_name(entry.name)
            if name in finals:
                first = finals[name].name
                raise DataError(f"{name}: written twice (as {first!r} and {entry.name!r})")
            if (self.target / name).exists():
                raise DataError(f"{name}: already exists in {str(self.target)!r}")
            finals[name] = entry
        for name, entry in finals.items():
            entry.replace(self.target / name)
        self.dir.rmdir()
        return [self.target / name for name in finals]

    def _materialize(self, link: Path) -> None:
        """A staged symbolic link to a file replaced by that file (hard-linked or copied): a
        link is not what the platform uploads, and its target (an app's stripped chunk,
        say) may be gone once the component ends. A link to a folder stays a link."""
        target = link.readlink()
        if not link.exists():
            raise DataError(
                f"{self.noun} {shown_name(link.name)} is a symbolic link to a missing file "
                f"({str(target)!r})"
            )
        if link.is_file():
            partial = link.with_name(f".{link.name}.partial")
            _link_or_copy(link.resolve(), partial)
            partial.replace(link)

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class Results(_Staged):
    """An app task's results writer: every file it holds gets the chunk index in its name."""

    noun = "result"

    def __init__(self, target: Path, index: int | None) -> None:
        super().__init__(target)
        self.index = index

    def final_name(self, name: str) -> str:
        return result_name(name, self.index)


class Output(_Staged):
    """The assembler's output folder writer."""


@dataclass(frozen=True)
class Result:
    """One task result the assembler received; ``index`` is None when unordered."""

    path: Path
    index: int | None
    original: str

    @property
    def name(self) -> str:
        return self.path.name


def list_results(folder: Path) -> list[Result]:
    """Top-level result files, ordered by chunk index, then name; unordered ones last."""
    found: list[Result] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file() and not entry.name.startswith(".bytenite-"):
                parsed = parse_result_name(entry.name)
                found.append(Result(Path(entry.path), parsed.index, parsed.original))
    found.sort(key=lambda r: (r.index is None, r.index or 0, r.original, r.name))
    return found


def list_sources(folder: Path) -> tuple[list[Path], list[Path]]:
    """Regular files under ``folder`` (recursively), sorted by relative path, and the
    hidden ones skipped (a dotfile, or a file in a dot-folder), relative to it and sorted:
    one walk gives both."""
    found: list[Path] = []
    hidden: list[Path] = []
    for root, dirs, files in os.walk(folder):
        within = Path(root).relative_to(folder)
        if any(part.startswith(".") for part in within.parts):
            hidden.extend(within / f for f in files)
            continue
        dirs.sort()
        found.extend(Path(root, f) for f in files if not f.startswith("."))
        hidden.extend(within / f for f in files if f.startswith("."))
    found.sort(key=lambda p: p.relative_to(folder).as_posix())
    hidden.sort(key=lambda p: p.as_posix())
    return found, hidden

"""What each component reads: a partitioner's source files, an app's chunk (payload,
index and metadata) and an assembler's task results, in chunk order.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from ._staging import STAGING_PREFIX
from .chunks import parse_result_name, read_meta
from .errors import DataError

T = TypeVar("T")

__all__ = ["Chunk", "Result", "list_results", "list_sources", "not_a_file", "reading_results"]


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
    """Top-level result files, ordered by chunk index, then name; unordered ones last. An
    entry that is not a file (through links) is an error naming it."""
    found: list[Result] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(STAGING_PREFIX) and entry.is_dir():
                continue  # an app's staging folder, left by a task killed before it ended
            if not entry.is_file():
                # Left out, it would be a chunk missing from the output without a word.
                reason = not_a_file(Path(entry.path)) or "is not a file"
                raise DataError(
                    f"TASK_RESULTS_DIR: {entry.name!r} {reason}: only files are results"
                )
            parsed = parse_result_name(entry.name)
            found.append(Result(Path(entry.path), parsed.index, parsed.original))
    found.sort(key=lambda r: (r.index is None, r.index or 0, r.original, r.name))
    return found


def reading_results(results: Sequence[Result], fn: Callable[..., T]) -> Callable[..., T]:
    """``fn``, where an OSError on a listed result (deleted, or made unreadable, after the
    listing) is a DataError naming the result, not a crash of the assembler's code."""

    def run(*args: Any) -> T:
        try:
            return fn(*args)
        except OSError as exc:
            said = f"{exc.filename} {exc}"
            for result in results:
                if str(result.path) in said:
                    where = f"chunk {result.index}: " if result.index is not None else ""
                    raise DataError(
                        f"{where}result {result.name!r} cannot be read "
                        f"({exc.strerror or exc}): removed or changed after it was listed"
                    ) from None
            raise

    return run


def list_sources(folder: Path) -> tuple[list[Path], list[Path]]:
    """Regular files under ``folder`` (recursively), sorted by relative path, and the
    hidden ones skipped (a dotfile, or a file in a dot-folder), relative to it and sorted:
    one walk gives both."""
    found: list[Path] = []
    hidden: list[Path] = []
    # A link to a folder is read as the folder, as a link to a file is read as the file;
    # a folder reached a second time (a link to an ancestor) is not walked again.
    walked: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = Path(root).stat()
        if (real.st_dev, real.st_ino) in walked:
            dirs.clear()
            continue
        walked.add((real.st_dev, real.st_ino))
        within = Path(root).relative_to(folder)
        if any(part.startswith(".") for part in within.parts):
            hidden.extend(within / f for f in files)
            continue
        dirs.sort()
        found.extend(Path(root, f) for f in files if not f.startswith("."))
        hidden.extend(within / f for f in files if f.startswith("."))
    found.sort(key=lambda p: p.relative_to(folder).as_posix())
    hidden.sort(key=lambda p: p.as_posix())
    for path in found:
        _check_regular(path, folder)
    return found, hidden


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def not_a_file(path: Path) -> str | None:
    """Why ``path`` is not a file to read, in words ("does not exist", "is a named pipe,
    not a file"), or None when it is one (through symbolic links)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if path.is_symlink():
            return f"is a symbolic link that cannot be followed ({exc.strerror or exc})"
        return "does not exist"
    for test, what in _KINDS:
        if test(mode):
            return f"is {what}, not a file"
    return None


def _check_regular(path: Path, folder: Path) -> None:
    """A pipe, socket or device among the sources is an error naming it: reading one
    would wait for a writer forever, or never end. A link that cannot be followed is left
    to the reader, which names why."""
    reason = not_a_file(path)
    if reason is not None and path.exists():
        name = path.relative_to(folder).as_posix()
        raise DataError(f"SOURCE_DIR: {name!r} {reason}: only files are read")

"""Compressed table sources: gzip and zstd read through a temporary plain copy."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import DataError

__all__ = ["GZIP", "ZSTD", "decompressed", "inner_name"]

GZIP = b"\x1f\x8b"
ZSTD = b"\x28\xb5\x2f\xfd"
_COMPRESSIONS = {".gz": ("gzip", GZIP), ".gzip": ("gzip", GZIP), ".zst": ("zstd", ZSTD)}
_COMPRESSIONS[".zstd"] = _COMPRESSIONS[".zst"]
_COPY_BLOCK = 8 << 20


def inner_name(path: Path) -> str:
    """The file's name without its compression suffix (``t.csv`` for ``t.csv.gz``)."""
    name = path.name
    for suffix in _COMPRESSIONS:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _check_compression(path: Path, magic: bytes) -> None:
    """A compressed name over other bytes is an error: read as they are, the name would
    say something the bytes do not. (Compressed bytes under a plain name are read
    decompressed: the magic says what they are.)"""
    suffix = path.name[len(inner_name(path)) :].lower()
    if suffix:
        kind, expected = _COMPRESSIONS[suffix]
        if not magic.startswith(expected):
            raise DataError(
                f"{path.name}: not {kind} data (no {kind} magic bytes); rename it or compress it"
            )


@contextlib.contextmanager
def decompressed(path: Path) -> Iterator[Path]:
    """``path`` itself, or a temporary decompressed copy of a gzip/zstd file.

    Decompressing once to a temporary file (outside ``CHUNKS_DIR``, so it never becomes a
    task) keeps every later pass a plain file read, at the cost of disk, not memory.
    """
    try:
        with path.open("rb") as stream:
            magic = stream.read(4)
    except OSError as exc:  # a dangling symlink or a link loop among the sources
        raise DataError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    _check_compression(path, magic)
    if not (magic.startswith(GZIP) or magic.startswith(ZSTD)):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="bytenite-table-") as scratch:
        plain = Path(scratch) / inner_name(path)
        try:
            with path.open("rb") as raw, plain.open("wb") as out:
                if magic.startswith(GZIP):
                    import gzip

                    with gzip.GzipFile(fileobj=raw) as unzipped:
                        shutil.copyfileobj(unzipped, out, _COPY_BLOCK)
                else:
                    _unzstd(raw, out)
        except (OSError, EOFError, ValueError) as exc:
            kind = "gzip" if magic.startswith(GZIP) else "zstd"
            raise DataError(f"{path.name}: not a valid {kind} stream ({exc})") from None
        except Exception as exc:  # zstandard.ZstdError does not derive from the above
            raise DataError(f"{path.name}: not a valid zstd stream ({exc})") from None
        yield plain


def _unzstd(raw: BinaryIO, out: BinaryIO) -> None:
    """Every zstd frame of ``raw`` into ``out``. ``ZstdDecompressor.copy_stream`` stops
    quietly where a stream ends inside a frame, so a truncated file would be cut as if it
    were whole; frame by frame, a frame left unfinished is an error."""
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    frame, fed = dctx.decompressobj(), False
    while data := raw.read(_COPY_BLOCK):
        while data:
            out.write(frame.decompress(data))
            fed = True
            if not frame.eof:
                break
            data = frame.unused_data
            frame, fed = dctx.decompressobj(), False
    if fed and not frame.eof:
        raise EOFError("compressed file ended before the end of a zstd frame")

"""The name a mosaic gives each source image's output, in one place: the ``mosaic``
assembler writes it, and the ``tile`` partitioner checks up front that a source's name
can give one (:func:`check_mosaic_name`: folders joined to the file name can make no
file name). Plain Python, no Pillow."""

from __future__ import annotations

from pathlib import PurePosixPath

from .._names import file_name_problem, shown_name
from ..errors import DataError
from .formats import EXTENSIONS, ImageFormat, format_of_name

__all__ = ["check_mosaic_name", "mosaic_name", "shortest_mosaic_name"]


def mosaic_name(
    source: str, fmt: ImageFormat, result: str | None = None, *, full: bool = False
) -> str:
    """The output name of ``source``'s mosaic in ``fmt``: its folders joined to its file
    name by ``_``, the source's extension kept when it names ``fmt``; ``result``: the
    tiles' result name, for a source whose tiles came back under several; ``full``: keep
    the source's extension and the result's in the name (for names that would collide)."""
    # The source comes from metadata, which another tool may have written with an
    # absolute or a Windows path: only the relative parts make the name.
    path = PurePosixPath(source.replace("\\", "/").lstrip("/") or "image")
    whole = full or not path.suffix
    stem = "_".join(path.parts) if whole else "_".join(path.with_suffix("").parts)
    if result is not None:
        original = PurePosixPath(result)
        stem = f"{stem}-{original.name if full else original.stem}"
    keep = format_of_name(path.name) == fmt and result is None and not full
    return stem + (path.suffix if keep else EXTENSIONS[fmt])


def shortest_mosaic_name(source: str) -> str:
    """The shortest name any mosaic of ``source``'s tiles can have (whatever its format),
    so one that is no file name means every mosaic of them fails."""
    return min((mosaic_name(source, fmt) for fmt in EXTENSIONS), key=len)


def check_mosaic_name(source: str) -> None:
    """A DataError when no mosaic of ``source``'s tiles could be given a file name."""
    # The mosaic names its output after the source, folders joined to the file name: two
    # names the file system took can join into one it refuses, and only the assembler
    # would find out, after every task ran.
    name = shortest_mosaic_name(source)
    problem = file_name_problem(name)
    if problem is not None:
        raise DataError(
            f"{shown_name(source)}: the mosaic of its tiles would be named {shown_name(name)}, "
            f"which {problem}; shorten or rename the source or its folders"
        )

"""The name a mosaic gives each source image's output, in one place: the ``mosaic``
assembler writes it (:func:`mosaic_names`: every group's, collisions resolved), and the
``tile`` partitioner checks up front that a source's name can give one
(:func:`check_mosaic_name`: folders joined to the file name can make no file name).
Plain Python, no Pillow."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import PurePosixPath

from .._names import file_name_problem, shown_name
from ..errors import DataError
from .formats import EXTENSIONS, ImageFormat, format_of_name

__all__ = ["check_mosaic_name", "mosaic_name", "mosaic_names", "shortest_mosaic_name"]


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


def mosaic_names(formats: Mapping[tuple[str, str], ImageFormat]) -> dict[tuple[str, str], str]:
    """The output name of each group of tiles, by (source, result name), given its output
    format: see :func:`mosaic_name`; a DataError when two groups would share one, or when
    one is no file name."""
    per_source = Counter(source for source, _ in formats)

    def named(key: tuple[str, str], *, full: bool = False) -> str:
        source, result = key
        return mosaic_name(
            source, formats[key], result if per_source[source] > 1 else None, full=full
        )

    names = {key: named(key) for key in formats}
    # Two sources that differ only in extension (photo.png, photo.jpg joined as PNG)
    # would share a name: those keep their source's extension in it.
    shared = Counter(names.values())
    for key in formats:
        if shared[names[key]] > 1:
            names[key] = named(key, full=True)
    owners: dict[str, tuple[str, str]] = {}
    for key, name in sorted(names.items()):
        first = owners.setdefault(name, key)
        if first != key:
            what = (
                f"results {first[1]!r} and {key[1]!r} of source {key[0]!r}"
                if first[0] == key[0]
                else f"sources {first[0]!r} and {key[0]!r}"
            )
            raise DataError(f"mosaic: {what} would both be written as {name!r}")
    for (source, _), name in names.items():
        # The name comes from the data (the source and result names), so it is bad data,
        # found before any mosaic is built; the tile partitioner finds most of these.
        problem = file_name_problem(name)
        if problem is not None:
            raise DataError(
                f"mosaic {shown_name(source)}: output name {shown_name(name)} {problem}"
            )
    return names

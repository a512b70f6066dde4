"""NumPy ``.npy`` arrays, split along the first axis through a memory map.

The array is never loaded: planning reads the header only, and each chunk is written
from a slice of a read-only memory map, so memory holds at most a copy buffer.
A slice of a Fortran-ordered source is written C-ordered through a bounded buffer (a
single chunk holding the whole array stays Fortran-ordered, which is just as valid).
The format has no free metadata slot, so metadata travels by footer when asked.
``np.load`` reads exactly the bytes the header promises and ignores what follows
(checked for files, memory maps and file-like objects), so a footer does not stop an
app that does not use this library from reading the chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..chunks import ChunkMeta
from ..errors import DataError
from .source import Sizing
from .spans import Unit, plan_cuts

__all__ = ["NpyPiece", "plan", "read_table"]


@dataclass(frozen=True, slots=True)
class _Header:
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    offset: int


def _read_header(path: Path, name: str) -> _Header:
    fmt = np.lib.format
    with path.open("rb") as fp:
        if fp.read(len(fmt.MAGIC_PREFIX)) != fmt.MAGIC_PREFIX:
            raise DataError(f"{name}: not a .npy file (no \\x93NUMPY magic)")
        fp.seek(0)
        try:
            major, _ = fmt.read_magic(fp)
            # Version 3 differs from 2 only in the header text's encoding (UTF-8 field
            # names); shape, order and item size read the same, which is all used here.
            reader = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, _fortran, dtype = reader(fp)
        except (ValueError, SyntaxError) as exc:
            raise DataError(f"{name}: corrupt .npy header ({exc})") from None
        return _Header(tuple(shape), dtype, fp.tell())


def _checked(path: Path, name: str) -> _Header:
    header = _read_header(path, name)
    if header.dtype.hasobject:
        raise DataError(
            f"{name}: object arrays cannot be memory-mapped or split; save a plain dtype"
        )
    if not header.shape:
        raise DataError(f"{name}: a 0-d array has no rows to split")
    expected = header.offset + math.prod(header.shape) * header.dtype.itemsize
    size = path.stat().st_size
    if size < expected:
        raise DataError(
            f"{name} byte {size}: truncated .npy (the header promises {expected} bytes)"
        )
    if size > expected:
        # np.load and the memory map read the promised bytes and ignore the rest, so a
        # damaged file (a wrong shape, appended data) would be split without a word.
        raise DataError(
            f"{name} byte {expected}: {size - expected} unexpected bytes after the .npy data "
            f"(the header promises {expected} bytes, the file has {size})"
        )
    if header.shape[0] == 0:
        raise DataError(f"{name}: no rows")
    return header


def _mapped(path: Path, name: str) -> np.ndarray[Any, Any]:
    try:
        array: np.ndarray[Any, Any] = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{name}: cannot memory-map the array ({exc})") from None
    return array


class _Sink:
    """A plain writer: ``write_array`` then copies a strided view through a bounded buffer
    instead of ``tofile``, which would write a non-contiguous view item by item."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, data: bytes) -> int:
        return self._out.write(data)


@dataclass(frozen=True)
class NpyPiece:
    """Rows ``rows`` of one ``.npy`` array (first axis), written as a ``.npy`` file."""

    path: Path
    name: str
    rows: tuple[int, int]
    embeds: bool = False

    def write(self, out: BinaryIO, meta: ChunkMeta | None) -> None:
        # No second header check here: plan() made it, and np.load refuses a file too
        # short for its header (a DataError through _mapped).
        array = _mapped(self.path, self.name)
        view = array[self.rows[0] : self.rows[1]]
        contiguous = view.flags.c_contiguous or view.flags.f_contiguous
        np.lib.format.write_array(out if contiguous else _Sink(out), view, allow_pickle=False)


def plan(path: Path, name: str, sizing: Sizing) -> list[NpyPiece]:
    """The chunks of one ``.npy`` file, planned from its header alone."""
    header = _checked(path, name)
    rows = header.shape[0]
    row_bytes = math.prod(header.shape[1:]) * header.dtype.itemsize
    cuts = plan_cuts([Unit(0, rows, rows * row_bytes)], sizing)
    return [NpyPiece(path, name, cut.rows) for cut in cuts]


def read_table(path: Path) -> Any:
    """The ``.npy`` array at ``path`` as an Arrow table (``output_format``): a structured
    array's fields or a 2-D array's columns (``c0``, ``c1``…) as columns, else ``value``."""
    import pyarrow as pa  # type: ignore[import-untyped]

    array = np.load(path, allow_pickle=False)
    if not array.dtype.isnative:
        # Arrow holds native byte order only; a big-endian file's values are the same.
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype.names is not None and array.ndim == 1:
        columns = {field: array[field] for field in array.dtype.names}
    elif array.ndim == 1:
        columns = {"value": array}
    elif array.ndim == 2:
        columns = {f"c{j}": array[:, j] for j in range(array.shape[1])}
    else:
        raise ValueError(f"only 1-D and 2-D arrays become tables (got shape {array.shape})")
    return pa.table({name: _arrow_values(values) for name, values in columns.items()})


def _arrow_values(values: np.ndarray[Any, Any]) -> Any:
    """``values`` as pyarrow takes them: as they are, except text holding a NUL before
    other characters, which pyarrow would cut at that NUL (b"a\\x00b" becomes b"a")."""
    import pyarrow as pa

    kind = values.dtype.kind
    if kind not in "SU" or not values.dtype.itemsize or not len(values):
        return values
    unit = np.uint8 if kind == "S" else np.uint32
    codes = np.ascontiguousarray(values).view(unit).reshape(len(values), -1) != 0
    if not (codes[:, 1:] & ~codes[:, :-1]).any():
        return values
    # numpy's own items keep such NULs (it drops trailing ones alone, as pyarrow does).
    return pa.array(values.tolist(), pa.binary() if kind == "S" else pa.string())

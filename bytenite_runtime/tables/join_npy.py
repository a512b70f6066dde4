"""``.npy`` results joined along the first axis: one header, then each data section copied.

Only headers are parsed; C-order data sections are copied in the kernel as they are. A
Fortran-order result (numpy writes one for a transposed array) is re-laid in C order
through a memory map, a block of rows at a time, since its bytes cannot be appended.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from .._copy import append_file, write_all
from .._inputs import Result
from ..errors import DataError
from .join import label

__all__ = ["NpyJoin"]

_BLOCK = 8 << 20


@dataclass(frozen=True)
class _Array:
    result: Result
    shape: tuple[int, ...]
    dtype: Any
    fortran: bool
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * int(self.dtype.itemsize)


def _read_header(result: Result) -> _Array:
    where = label(result)
    with result.path.open("rb") as stream:
        try:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
            elif version in ((2, 0), (3, 0)):
                # 3.0 is 2.0 with a UTF-8 header, for field names latin-1 cannot hold: read
                # as 2.0, shape, order and item size come out right; the names are fixed below.
                shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
            else:
                raise DataError(f"{where}: .npy format version {version} is not supported")
        except ValueError as exc:
            raise DataError(f"{where}: not a valid .npy file ({exc})") from None
        array = _Array(result, tuple(shape), np.dtype(dtype), bool(fortran), stream.tell())
    if not array.shape:
        raise DataError(f"{where}: a 0-d array has no first axis to join along")
    if array.dtype.hasobject:
        raise DataError(f"{where}: dtype {array.dtype} holds Python objects (pickled), not data")
    size = result.path.stat().st_size
    end = array.offset + array.nbytes
    if size < end:
        raise DataError(
            f"{where} byte {size}: truncated .npy file: shape {array.shape} needs "
            f"{array.nbytes} data bytes, the file has {size - array.offset}"
        )
    if size > end:
        # Only the promised bytes would be copied: the rest (a wrong shape in the header,
        # data appended) would vanish from the join without a word.
        raise DataError(
            f"{where} byte {end}: {size - end} unexpected bytes after the .npy data (shape "
            f"{array.shape} needs {array.nbytes} data bytes, the file has {size - array.offset})"
        )
    if version == (3, 0):
        # numpy's public header readers decode latin-1 only; np.load's map reads no data.
        mapped = np.load(result.path, mmap_mode="r", allow_pickle=False)
        array = dataclasses.replace(array, dtype=mapped.dtype)
    return array


class NpyJoin:
    """A planned ``.npy`` join: dtype and trailing shape checked, first-axis lengths known."""

    def __init__(self, results: Sequence[Result]) -> None:
        self.arrays = [_read_header(result) for result in results]
        first = self.arrays[0]
        for array in self.arrays[1:]:
            if array.dtype != first.dtype:
                raise DataError(
                    f"{label(array.result)}: dtype {array.dtype} differs from "
                    f"{label(first.result)}'s {first.dtype}"
                )
            if array.shape[1:] != first.shape[1:]:
                raise DataError(
                    f"{label(array.result)}: shape {array.shape} does not continue "
                    f"{label(first.result)}'s {first.shape} (joined along the first axis, "
                    "so shape[1:] must match)"
                )
        self.rows: list[int | None] = [array.shape[0] for array in self.arrays]

    def write(self, out: Path) -> None:
        first = self.arrays[0]
        total = sum(array.shape[0] for array in self.arrays)
        header = {
            "descr": npy_format.dtype_to_descr(first.dtype),
            "fortran_order": False,
            "shape": (total, *first.shape[1:]),
        }
        with out.open("wb", buffering=0) as dst:
            try:
                npy_format.write_array_header_1_0(dst, header)
            except UnicodeEncodeError:  # field names latin-1 cannot hold need 3.0
                write_all(dst, _header_3_0(header))
            except ValueError:  # a header over 64 KiB (huge structured dtypes) needs 2.0
                npy_format.write_array_header_2_0(dst, header)
            for array in self.arrays:
                if array.fortran and len(array.shape) > 1:
                    _write_c_order(dst, array)
                else:
                    append_file(dst, array.result.path, array.offset, array.nbytes)


def _header_3_0(header: dict[str, Any]) -> bytes:
    """A format 3.0 header, which numpy writes only through private helpers; the layout is
    its format's: magic, version, u32 length, then the dict's repr in UTF-8, padded with
    spaces and a final newline so the data starts on a 64-byte boundary."""
    text = "{" + "".join(f"{key!r}: {value!r}, " for key, value in sorted(header.items())) + "}"
    body = text.encode("utf-8")
    prefix = npy_format.MAGIC_PREFIX + bytes((3, 0))
    pad = -(len(prefix) + 4 + len(body) + 1) % 64
    return prefix + struct.pack("<I", len(body) + pad + 1) + body + b" " * pad + b"\n"


def _write_c_order(dst: Any, array: _Array) -> None:
    mapped = np.load(array.result.path, mmap_mode="r")
    step = max(1, _BLOCK // max(1, array.nbytes // max(1, array.shape[0])))
    for start in range(0, array.shape[0], step):
        write_all(dst, np.ascontiguousarray(mapped[start : start + step]).tobytes())

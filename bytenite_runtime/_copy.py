"""Copying byte ranges between files: the one copy loop partitioners and assemblers share;
and a whole file hard-linked, or copied where a link cannot be made."""

from __future__ import annotations

import contextlib
import mmap
import os
import shutil
from pathlib import Path
from typing import BinaryIO

from .errors import DataError

__all__ = ["append_file", "copy_range", "link_or_copy", "write_all"]

_BUFFER = 1 << 20


def copy_range(source: int, out: BinaryIO, start: int, stop: int, name: str = "source") -> None:
    """Append bytes ``start``–``stop`` of file descriptor ``source`` to ``out``.

    The kernel copies (``copy_file_range``, else ``sendfile``) only when source and
    target offsets sit at the same place in a page: otherwise every page it writes is
    pieced together from two, and copying 1 GiB into 16 chunks behind a header took
    0.36 s against 0.24 s through a 1 MiB buffer (and 0.25 s for ``cp``). An 8 MiB
    buffer was as fast only once it was paged in: 0.8-1.3 s in a fresh process.
    """
    if start >= stop:
        return
    try:
        target: int | None = out.fileno()
    except (AttributeError, OSError, ValueError):
        target = None
    if target is not None:
        out.flush()
        if (start - os.lseek(target, 0, os.SEEK_CUR)) % mmap.PAGESIZE == 0:
            for kernel_copy in (_copy_file_range, _sendfile):
                start = kernel_copy(source, target, start, stop)
    buffer = memoryview(bytearray(min(_BUFFER, stop - start)))
    while start < stop:
        got = os.preadv(source, [buffer[: stop - start]], start)
        if not got:
            raise DataError(f"{name}: ended at byte {start}, before byte {stop}")
        if target is None:
            out.write(buffer[:got])
        else:
            _write_fd(target, buffer[:got])
        start += got


def append_file(out: BinaryIO, path: Path, start: int = 0, length: int | None = None) -> None:
    """Append ``length`` bytes of ``path`` from ``start`` (default: to its end) to ``out``."""
    with path.open("rb", buffering=0) as src:
        fd = src.fileno()
        stop = os.fstat(fd).st_size if length is None else start + length
        copy_range(fd, out, start, stop, path.name)


def write_all(out: BinaryIO, data: bytes | memoryview) -> None:
    """Write every byte to ``out`` (a raw stream's write may be short)."""
    view = memoryview(data)
    while view:
        view = view[out.write(view) or 0 :]


def _write_fd(target: int, data: memoryview) -> None:
    while data:
        data = data[os.write(target, data) :]


def _copy_file_range(source: int, target: int, start: int, stop: int) -> int:
    # Any failure (EXDEV on older kernels, EINVAL or EOPNOTSUPP on some filesystems)
    # leaves the offsets where the last success put them; the next method carries on.
    with contextlib.suppress(OSError, AttributeError):
        while start < stop:
            sent = os.copy_file_range(source, target, stop - start, start)
            if not sent:
                break
            start += sent
    return start


def _sendfile(source: int, target: int, start: int, stop: int) -> int:
    with contextlib.suppress(OSError, AttributeError):
        while start < stop:
            sent = os.sendfile(target, source, start, stop - start)
            if not sent:
                break
            start += sent
    return start


def link_or_copy(src: Path, dst: Path) -> None:
    # A hard link costs nothing and both sides are read-only from here on;
    # across filesystems (or where links are refused) fall back to a copy.
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)

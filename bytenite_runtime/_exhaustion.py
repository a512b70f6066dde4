"""OS failures that are the machine's, not the data's or the component code's: a full
disk, a read-only or unwritable folder, too few file descriptors, too little memory.

Each becomes one :class:`~.errors.ResourceError` line naming what ran out and where, by
the variable of the folder it happened in (``CHUNKS_DIR``, ``OUTPUT_DIR``, ``TMPDIR``…):
never a traceback, never a bare ``[Errno 28]``, never blamed on the data.
"""

from __future__ import annotations

import errno
import os
import resource
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .errors import ResourceError
from .settings import AppSettings, AssemblerSettings, ComponentSettings, PartitionerSettings

__all__ = ["REFUSED_WRITES", "Place", "is_exhaustion", "places", "resource_error", "temp_place"]

Place = tuple[str, Path]
"""A folder and the variable that named it."""

_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file system",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EMFILE: "too many open files",
    errno.ENFILE: "too many open files in the system",
    errno.ENOMEM: "out of memory",
}
REFUSED_WRITES = frozenset(_SPACE | {errno.EROFS, errno.EMFILE, errno.ENFILE})
"""The machine refusing a write, whoever reports it. Narrower than :func:`is_exhaustion`:
a media library's EACCES or EPERM may be the input's, not the machine's."""


def is_exhaustion(exc: BaseException) -> bool:
    """Whether ``exc`` is the machine's failure (disk, descriptors, memory, a refused write)."""
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, OSError) and exc.errno in _REASONS


def temp_place() -> Place:
    """The temporary folder (``TMPDIR``, else the system's) that ffmpeg and joins use."""
    return ("TMPDIR", Path(tempfile.gettempdir()))


def _limit(which: int) -> int | None:
    soft = resource.getrlimit(which)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def _reason(exc: BaseException) -> str:
    code = exc.errno if isinstance(exc, OSError) else errno.ENOMEM
    reason = _REASONS.get(code or errno.ENOMEM, "out of memory")
    if code == errno.EMFILE and (fds := _limit(resource.RLIMIT_NOFILE)) is not None:
        reason += f" (the file descriptor limit, ulimit -n, is {fds})"
    if code == errno.ENOMEM and (size := _limit(resource.RLIMIT_AS)) is not None:
        reason += f" (the address-space limit, ulimit -v, is {size // 2**20} MiB)"
    return reason


def _inside(path: str, folder: Path) -> bool:
    # Absolute, not resolved: a link in the way must not cost a stat per folder.
    return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))  # noqa: PTH100


def _shown(path: str) -> str:
    # A staged file's name is what the user knows it by, not the hidden partial or the
    # staging folder around it.
    name = Path(path).name
    if name.startswith(".") and name.endswith(".partial"):
        name = name[1 : -len(".partial")]
    return repr(name)


def _full(places: Sequence[Place]) -> Place | None:
    for place in places:
        try:
            st = os.statvfs(place[1])
        except OSError:
            continue
        if st.f_bavail * st.f_frsize < 2**20:
            return place
    return None


def resource_error(exc: BaseException, places: Sequence[Place], chunk: int | None) -> ResourceError:
    """``exc`` (see :func:`is_exhaustion`) as one line naming the folder among ``places``
    (the first is where the component writes, blamed when nothing else tells)."""
    path: str | None = None
    if isinstance(exc, OSError):
        # A copy's error names both files; a write failure is the destination's.
        names = (exc.filename2, exc.filename) if exc.errno in _SPACE else (exc.filename,)
        path = next((os.fsdecode(n) for n in names if isinstance(n, str | bytes)), None)
    place = next((p for p in places if path is not None and _inside(path, p[1])), None)
    if place is None and isinstance(exc, OSError) and exc.errno in _SPACE:
        place = _full(places) or places[0]
    where = f"{place[0]} {str(place[1])!r}: " if place is not None else ""
    verb = "writing " if isinstance(exc, OSError) and exc.errno in {*_SPACE, errno.EROFS} else ""
    what = ""
    if path is not None:
        what = f" ({verb}{_shown(path) if place is not None else repr(path)})"
    prefix = f"chunk {chunk}: " if chunk is not None else ""
    return ResourceError(f"{prefix}{where}{_reason(exc)}{what}")


def places(settings: ComponentSettings) -> list[Place]:
    """The folders a component touches, by their variables, where it writes first."""
    if isinstance(settings, PartitionerSettings):
        places = [("CHUNKS_DIR", settings.chunks_dir), ("SOURCE_DIR", settings.source_dir)]
    elif isinstance(settings, AppSettings):
        places = [("TASK_RESULTS_DIR", settings.task_results_dir), ("TASK_DIR", settings.task_dir)]
        if settings.user_cache_dir is not None:
            places.append(("USER_CACHE_DIR", settings.user_cache_dir))
    else:
        assert isinstance(settings, AssemblerSettings)
        places = [
            ("OUTPUT_DIR", settings.output_dir),
            ("TASK_RESULTS_DIR", settings.task_results_dir),
        ]
    return [*places, temp_place()]

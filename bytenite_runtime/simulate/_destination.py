"""The output folder: refused before the job runs where replacing it could lose anything
but an earlier run's output, and filled in one step when the job completes.

A delivered folder holds :data:`OUTPUT_RECORD`, a small JSON record of the job and of
every entry it delivered. ``--overwrite`` replaces only a folder that holds such a record
and nothing the record does not list, so a mistyped ``--output ~/Documents`` is refused
rather than emptied, and a file put beside an earlier run's output survives.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .._names import is_utf8, shown_name
from ..errors import ConfigError, DataError, TemplateError
from ._sources import os_reason

__all__ = ["OUTPUT_RECORD", "check_destination", "deliver"]

OUTPUT_RECORD = ".bytenite-output"
"""The record a delivery leaves in its folder (hidden, as Sphinx's ``.buildinfo`` is)."""


def check_destination(
    folder: Path | None, overwrite: bool, keep: Sequence[tuple[str, Path]] = ()
) -> None:
    """Refuse, before the job runs, to replace anything but an earlier run's output (and
    that only with ``overwrite``), and ever to replace a top-level folder (``/tmp``) or a
    folder that is or holds one of ``keep`` (what it is, where): the current folder, the
    home folder, the source, the job records."""
    if folder is None:
        return
    target = folder.resolve()
    for what, path in keep:
        # A folder the job has yet to make too (its records): the delivery would remove it.
        where = path.resolve()
        if where.is_relative_to(target):  # the folder itself, or inside it
            raise TemplateError(
                f"output folder {str(folder)!r} holds {what} ({str(path)!r}); the output "
                "replaces its folder whole: choose another"
            )
    if not folder.exists():
        return
    if not folder.is_dir():
        raise TemplateError(f"output {str(folder)!r} exists and is not a folder")
    if len(target.parts) <= 2:
        # /tmp, /usr, /home: never an output, and shared with everything else on the machine.
        raise TemplateError(
            f"output folder {str(folder)!r} is a top-level folder of the file system; the "
            "output replaces its folder whole: choose another"
        )
    held, _ = _walk(folder)
    if not held:
        return
    delivered = _delivered(folder)
    if delivered is None:
        raise TemplateError(
            f"output folder {str(folder)!r} is not empty and no earlier run delivered it (it "
            f"has no {OUTPUT_RECORD}), so even --overwrite leaves it: empty it or choose "
            "another"
        )
    foreign = sorted(e for e in held if e not in delivered and _hashed(e) not in delivered)
    if foreign:
        raise TemplateError(
            f"output folder {str(folder)!r} holds {foreign[0]!r}, which the run that "
            "delivered it did not write, so even --overwrite leaves it: move it or choose "
            "another folder"
        )
    if not overwrite:
        raise TemplateError(
            f"output folder {str(folder)!r} holds an earlier run's output "
            "(pass --overwrite to replace it)"
        )


def deliver(
    output: Path,
    folder: Path | None,
    job: str,
    redact: Callable[[str], str] = str,
    check_stop: Callable[[], None] = lambda: None,
    overwrite: bool = False,
) -> list[Path]:
    """Move the assembler's output into ``folder`` in one step, with the record of what
    job ``job`` delivered there; nothing partial is left. Returns the output's files.

    An entry whose name holds a secret (``redact`` changes it) is recorded by its hash.
    ``check_stop`` raises to stop the job: it is called before each file is copied and
    before the copy takes the folder's place, so a stop undoes the delivery (an earlier
    output it was replacing left whole) until the moment the output is in place. The
    folder is checked again, with ``overwrite``, as the copy takes its place: another job
    may have delivered there since this one started."""
    if folder is None:
        return []
    if (output / OUTPUT_RECORD).exists() or (output / OUTPUT_RECORD).is_symlink():
        raise DataError(
            f"the assembler's output holds {OUTPUT_RECORD!r}, the name the simulator keeps "
            "for its record of a delivery: name that output otherwise"
        )
    staging: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
        shutil.copytree(output, staging, dirs_exist_ok=True, copy_function=_checked(check_stop))
        # One walk of the copy (links in the output followed, as the copy follows them)
        # serves the name check, the record and the list of files returned.
        entries, files = _walk(staging)
        odd = next((e for e in sorted(entries) if not is_utf8(e)), None)
        if odd is not None:
            # Object stores name files in UTF-8, and so does the report (JSON).
            raise DataError(f"the assembler's output {shown_name(odd)} is not named in valid UTF-8")
        listed = [e if redact(e) == e else _hashed(e) for e in entries]
        record = {"job": job, "entries": sorted(listed)}
        (staging / OUTPUT_RECORD).write_text(json.dumps(record, indent=1) + "\n")
        check_stop()
        with _locked(folder.parent):
            _check_again(folder, overwrite)
            aside = _put_in_place(staging, folder)
        staging = None
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ConfigError(
                f"output folder {str(folder)!r} cannot be written ({os_reason(folder, exc)})"
            ) from None
        raise
    return sorted(folder / f for f in files)


def _checked(check_stop: Callable[[], None]) -> Callable[[str, str], object]:
    """``shutil.copy2``, calling ``check_stop`` first: a stop need not wait for the rest
    of a large output to be copied only to be thrown away."""

    def copy(source: str, target: str) -> object:
        check_stop()
        return shutil.copy2(source, target)

    return copy


@contextlib.contextmanager
def _locked(parent: Path) -> Iterator[None]:
    """Hold the lock on ``parent`` (released when the process ends, however it ends), so
    jobs delivering into the same folder, or beside each other, do so one at a time."""
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _check_again(folder: Path, overwrite: bool) -> None:
    """Refuse, as :func:`check_destination` did before the job ran, an output folder that
    another job filled meanwhile, naming it."""
    if not overwrite and folder.is_dir() and _walk(folder)[0]:
        record = _job_of(folder)
        by = f"job {record}" if record else "another job"
        raise TemplateError(
            f"output folder {str(folder)!r} was written by {by} while this one ran, so it "
            "is left as it is (pass --overwrite to replace it)"
        )
    check_destination(folder, overwrite=True)


def _job_of(folder: Path) -> str | None:
    with contextlib.suppress(OSError, UnicodeDecodeError, ValueError, AttributeError):
        job = json.loads((folder / OUTPUT_RECORD).read_text(encoding="utf-8")).get("job")
        return job if isinstance(job, str) else None
    return None


def _put_in_place(staging: Path, folder: Path) -> Path | None:
    """Rename ``staging`` to ``folder``, an earlier output there set aside first (returned,
    for the caller to remove) and removed only once the new one is in place: removing it
    first would leave it half gone if that failed or the simulator were killed meanwhile."""
    if not folder.exists():
        staging.replace(folder)
        return None
    aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
    try:
        folder.replace(aside)
    except BaseException:
        aside.rmdir()
        raise
    try:
        staging.replace(folder)
    except BaseException:
        aside.replace(folder)
        raise
    return aside


def _hashed(entry: str) -> str:
    # A name the record must not show, as a secret in it would be shown.
    return "sha256:" + hashlib.sha256(entry.encode("utf-8", "surrogateescape")).hexdigest()


def _walk(folder: Path) -> tuple[set[str], list[str]]:
    """Every file, folder and link under ``folder`` (links not followed), and the files
    among them, as paths relative to it, less the delivery record."""
    found: set[str] = set()
    files: list[str] = []
    for top, dirs, names in os.walk(folder):
        base = Path(top).relative_to(folder)
        found.update((base / name).as_posix() for name in dirs)
        for name in names:
            entry = (base / name).as_posix()
            if entry != OUTPUT_RECORD:
                found.add(entry)
                files.append(entry)
    return found, files


def _delivered(folder: Path) -> set[str] | None:
    """The entries the record in ``folder`` lists, or None without a readable record."""
    try:
        record = json.loads((folder / OUTPUT_RECORD).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    entries = record.get("entries") if isinstance(record, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        return None
    return set(entries)

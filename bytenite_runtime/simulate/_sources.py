"""Data sources into the partitioner's folder, output folder to the destination."""

from __future__ import annotations

import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError, DataError, JobFailed, TemplateError
from ._process import Flag
from ._request import DataSource

__all__ = [
    "BYPASS_FILE",
    "INPUT_ONLY",
    "OUTPUT_ONLY",
    "check_report",
    "check_source",
    "fetch_source",
    "os_reason",
    "resolved",
]

BYPASS_FILE = "bypass.txt"
# What the platform takes in one role only (CONTRACT.md): url and file are inputs, the
# temporary bucket an output. A local 'file' destination is the simulator's own.
INPUT_ONLY = frozenset({"url", "file"})
OUTPUT_ONLY = frozenset({"bucket"})
_SUPPORTED_SOURCES = ("file", "url", "bypass")
_SUPPORTED_DESTINATIONS = ("bucket", "file", "bypass")
_READ = 1 << 16


def _source_path(source: DataSource, base: Path) -> Path:
    raw = source.params.get("path")
    if not isinstance(raw, str) or not raw:
        raise TemplateError(
            "dataSource.params.path: a 'file' source needs a local path (or use --source)"
        )
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base / path


def _source_url(source: DataSource) -> str:
    url = source.params.get("url")
    if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise TemplateError(f"dataSource.params.url: {url!r} is not an http(s) URL")
    return url


def check_source(source: DataSource | None, base: Path) -> DataSource:
    """Refuse, before the job runs, a source that cannot be fetched: none, one that is not
    simulated, a local path that does not exist, or a URL that is not http(s)."""
    if source is None:
        raise TemplateError("dataSource: none given (set it in the request or pass --source)")
    if source.descriptor in OUTPUT_ONLY:
        raise TemplateError(
            f"dataSource.dataSourceDescriptor: {source.descriptor!r} is a destination only"
        )
    if source.descriptor not in _SUPPORTED_SOURCES:
        raise TemplateError(
            f"dataSource.dataSourceDescriptor: {source.descriptor!r} is not simulated "
            f"(use {', '.join(_SUPPORTED_SOURCES)})"
        )
    if source.descriptor == "url":
        _source_url(source)
    elif source.descriptor == "file":
        path = _source_path(source, base)
        if not path.is_file() and not path.is_dir():
            raise TemplateError(f"dataSource.params.path: {str(path)!r} does not exist")
    return source


def fetch_source(
    source: DataSource | None,
    target: Path,
    base: Path,
    timeout: float = 60,
    stop: Flag | None = None,
) -> list[Path]:
    """Put the source's file(s) into ``target`` as the platform would; return them. A
    download ends early, raising ``JobFailed``, once ``stop`` is set."""
    source = check_source(source, base)
    if source.descriptor == "bypass":
        # The platform still hands the partitioner a small dummy file so it can fan out.
        dummy = target / BYPASS_FILE
        dummy.write_text("bypass\n")
        return [dummy]
    if source.descriptor == "url":
        return [_download(source, target, timeout, stop)]
    path = _source_path(source, base)
    try:
        if path.is_file():
            copy = target / path.name
            shutil.copyfile(path, copy)
            return [copy]
        if path.is_dir():
            shutil.copytree(path, target, dirs_exist_ok=True)
            return sorted(p for p in target.rglob("*") if p.is_file())
    except shutil.Error as exc:
        # copytree goes on past a bad entry and lists them all at the end: name the first.
        raise DataError(_copy_failure(path, *exc.args[0][0])) from None
    except OSError as exc:
        raise DataError(_copy_failure(path, str(path), "", exc.strerror or str(exc))) from None
    raise TemplateError(f"dataSource.params.path: {str(path)!r} does not exist")


def _copy_failure(root: Path, src: str, _dst: str, why: str) -> str:
    entry = Path(src)
    shown = entry.relative_to(root).as_posix() if entry.is_relative_to(root) else src
    if len(shown) > 80:  # a symbolic link loop, followed until the system says stop
        shown = shown[:40] + "…" + shown[-39:]
    why = re.sub(r"^\[Errno \d+\] ([^:]*).*", r"\1", why)
    if entry.is_symlink():
        try:
            entry.stat()
        except FileNotFoundError:
            why = f"a symbolic link to a missing file ({str(entry.readlink())!r})"
        except OSError as exc:
            why = f"a symbolic link that cannot be followed: {exc.strerror}"
    # A file source, or the folder itself, is the path already named: not '.' after it.
    where = "" if entry == root else f": {shown!r}"
    return f"dataSource.params.path: {str(root)!r}{where} cannot be copied ({why})"


def _download(source: DataSource, target: Path, timeout: float, stop: Flag | None) -> Path:
    url = _source_url(source)
    name = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name or "download"
    dest = target / name
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, dest.open("wb") as out:  # noqa: S310 - scheme checked above
            # Small reads, each followed by a look at ``stop``: a Ctrl-C during a long
            # download is acted on within one read, not after the last byte.
            while block := response.read1(_READ):
                if stop is not None and stop.is_set():
                    dest.unlink(missing_ok=True)
                    raise JobFailed(f"dataSource.params.url: {url}: download stopped")
                out.write(block)
    except urllib.error.HTTPError as exc:
        dest.unlink(missing_ok=True)
        raise DataError(
            f"dataSource.params.url: {url} answered HTTP {exc.code} {exc.reason}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        dest.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"dataSource.params.url: {url} could not be downloaded ({reason})"
        ) from None
    return dest


def destination_folder(
    destination: DataSource | None, override: Path | None, default: Path, base: Path
) -> Path | None:
    """Where the output goes on this machine; None for a bypass destination. A relative
    ``params.path`` is relative to ``base`` (the request's folder), as a source's is."""
    if destination is not None and destination.descriptor == "url":
        raise TemplateError("dataDestination.dataSourceDescriptor: 'url' is a source only")
    if destination is not None and destination.descriptor not in _SUPPORTED_DESTINATIONS:
        raise TemplateError(
            f"dataDestination.dataSourceDescriptor: {destination.descriptor!r} is not simulated "
            f"(use {', '.join(_SUPPORTED_DESTINATIONS)})"
        )
    if destination is not None and destination.descriptor == "bypass":
        return None
    if override is not None:
        return override
    raw = destination.params.get("path") if destination is not None else None
    if raw is None:
        return default
    if not isinstance(raw, str) or not raw or "\0" in raw:
        # Ignored, the output would land in the default folder without a word; a NUL is
        # in no path the system takes.
        raise TemplateError(f"dataDestination.params.path: must be a folder path (got {raw!r})")
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base / path


def check_report(report: Path, keep: Sequence[tuple[str, Path]]) -> None:
    """Refuse, before the job runs, a ``--report`` path that would replace what the job
    reads (``keep``: the request, the source, the secrets file, a component's folder)."""
    target = report.resolve()
    for what, path in keep:
        where = path.resolve()
        if target.is_relative_to(where):  # the file itself, or inside a folder
            how = "would replace" if target == where else "is inside"
            raise ConfigError(
                f"--report: {str(report)!r} {how} {what} ({str(path)!r}); choose another path"
            )


def resolved(path: Path, what: str) -> Path:
    """``path`` resolved; a symbolic link loop on the way, which Python before 3.13 raises
    as a RuntimeError, is a ConfigError naming ``what`` (the option or folder)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        raise ConfigError(
            f"{what} {str(path)!r}: a symbolic link loop (too many levels of symbolic links); "
            "choose another path"
        ) from None


def local_source(source: DataSource | None, base: Path) -> Path | None:
    """The path of a ``file`` source (None for the others)."""
    if source is None or source.descriptor != "file":
        return None
    return _source_path(source, base)


def os_reason(path: Path, exc: OSError) -> str:
    """Why ``path`` could not be made or written, for a message: a file where a folder of
    its path should be is named (mkdir says only 'File exists' or 'Not a directory')."""
    for ancestor in (path, *path.parents):
        if ancestor.exists() or ancestor.is_symlink():
            if not ancestor.is_dir() and ancestor != path:
                return f"{str(ancestor)!r} is not a folder"
            break
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        # copytree gathers its failures as (source, destination, str(error)) triples; the
        # first one's reason, without both paths, says why (no space left on device).
        first = str(exc.args[0][0][-1]) if exc.args[0] else ""
        found = re.match(r"\[Errno \d+\] ([^:]+)", first)
        return found.group(1) if found else first
    return exc.strerror or str(exc)

"""Finding and running the ffmpeg executable."""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .._exhaustion import REFUSED_WRITES
from ..errors import ConfigError, DataError
from ..settings import FFMPEG, ffmpeg_override

__all__ = [
    "FfmpegError",
    "encoders",
    "find_ffmpeg",
    "is_refusal",
    "pixel_formats",
    "run_ffmpeg",
    "version",
]

_TAIL_LINES = 3
_OLDEST = (5, 1)
"""The oldest ffmpeg the commands here are written for (``-fps_mode`` came in 5.1)."""


class FfmpegError(DataError):
    """ffmpeg exited non-zero; ``command`` is what ran, ``stderr_tail`` its last lines.

    A DataError (exit 3): with a command this library built, what ffmpeg rejects is
    almost always the input (a damaged file, a stream it cannot decode).
    """

    def __init__(
        self, what: str, command: Sequence[str], returncode: int, stderr: str, hint: str = ""
    ) -> None:
        self.command = tuple(command)
        lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
        self.stderr_tail = tuple(lines[-_TAIL_LINES:])
        tail = " | ".join(self.stderr_tail) or "no output"
        shown = shlex.join([Path(self.command[0]).name, *self.command[1:]])
        super().__init__(f"{what}: ffmpeg {_ended(returncode)}: {tail}{hint} (command: {shown})")


def _ended(returncode: int) -> str:
    """How ffmpeg ended: ``subprocess`` gives a kill by signal N as -N."""
    if returncode >= 0:
        return f"exited with {returncode}"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"was killed by signal {-returncode}"


def find_ffmpeg(explicit: str | None = None) -> str:
    """The ffmpeg to run: ``explicit``, else ``BYTENITE_FFMPEG``, else ``ffmpeg`` on PATH,
    else the binary bundled with the ``imageio-ffmpeg`` wheel."""
    named, origin = explicit, "the ffmpeg argument"
    if named is None:
        named, origin = ffmpeg_override(), FFMPEG
    if named is not None:
        found = shutil.which(named)
        if found is None:
            # A setting, not the input data: exit 2 like every other bad variable.
            raise ConfigError(f"{origin}: {named!r} is not an executable")
        return found
    return _default_ffmpeg()


@functools.cache
def _default_ffmpeg() -> str:
    on_path = shutil.which("ffmpeg")
    if on_path is not None:
        return on_path
    try:
        import imageio_ffmpeg  # type: ignore[import-untyped]
    except ImportError:
        raise DataError(
            "ffmpeg not found: put it on PATH, set BYTENITE_FFMPEG, or install the media "
            "extra (pip install 'bytenite-runtime[media]')"
        ) from None
    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


def run_ffmpeg(
    args: Sequence[str], *, what: str, ffmpeg: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``ffmpeg -nostdin -y <args>`` quietly; an FfmpegError says ``what`` failed.

    Commands are plain lists rather than ffmpeg-python graphs: they are short and fixed,
    and a list is what the error message shows back.
    """
    command = [find_ffmpeg(ffmpeg), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    # ffmpeg 5.1 exits 0 when only its trailer met a full disk, leaving a cut-short file.
    if (refused := _refused(done.stderr.decode(errors="replace"))) is not None:
        raise refused
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace")
        if done.returncode == -signal.SIGSEGV:
            hint = _crashed(command[0])
        elif "Unrecognized option" in stderr:
            hint = _too_old(command[0])
        else:
            hint = ""
        raise FfmpegError(what, command, done.returncode, stderr, hint)
    return done


def is_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` (PyAV's errors are OSErrors too) is the machine refusing a write: a
    full disk, a read-only folder, too few file descriptors; never the media's fault."""
    return isinstance(exc, OSError) and exc.errno in REFUSED_WRITES


def _refused(stderr: str) -> OSError | None:
    """The machine's refusal ffmpeg reported (a full disk, a read-only folder, too few file
    descriptors) as the OSError it was, naming the file when ffmpeg did: the runtime then
    reports it as a ResourceError naming the folder, not as the input's fault."""
    for line in reversed(stderr.splitlines()):
        for code in REFUSED_WRITES:
            reason = os.strerror(code)
            if line.rstrip().endswith(reason):
                found = re.search(r"(/.*?): " + re.escape(reason) + "$", line.rstrip())
                return OSError(code, reason, found[1] if found else None)
    return None


def version(ffmpeg: str | None = None) -> str:
    """What ``ffmpeg -version`` says of itself ("ffmpeg version 5.1.9-0+deb12u1"), or ""
    when it cannot say."""
    try:
        done = subprocess.run(
            [find_ffmpeg(ffmpeg), "-version"], capture_output=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    first = done.stdout.decode(errors="replace").partition("\n")[0]
    return first.split(" Copyright")[0].strip()


def _too_old(ffmpeg: str) -> str:
    """What to say when ``ffmpeg`` rejected an option: its version, when older than the
    oldest these commands are written for (Ubuntu 22.04's PATH ffmpeg is 4.4, for one)."""
    found = re.match(r"ffmpeg version n?(\d+)\.(\d+)", version(ffmpeg))
    if found is None or (int(found[1]), int(found[2])) >= _OLDEST:
        return ""
    oldest = ".".join(map(str, _OLDEST))
    return (
        f"; this ffmpeg is {found[1]}.{found[2]}, older than the {oldest} these commands "
        f"need: set {FFMPEG} to a newer one (the media extra's imageio-ffmpeg "
        "bundles one)"
    )


def _crashed(ffmpeg: str) -> str:
    """What to say when ``ffmpeg`` crashed (SIGSEGV): the likely cause when it is linked
    statically, nothing otherwise."""
    if not _statically_linked(ffmpeg):
        return ""
    return (
        f"; this ffmpeg ({version(ffmpeg).removeprefix('ffmpeg version ') or 'version unknown'})"
        " is linked statically, and "
        "static glibc builds (johnvansickle.com's, those imageio-ffmpeg 0.6 and 0.7 bundle) "
        "crash in the host's iconv modules, which ffmpeg loads to read MPEG-TS service "
        f"names: set {FFMPEG} to a dynamically linked one (a distribution's, or the one "
        "imageio-ffmpeg 0.8 bundles)"
    )


_PT_INTERP = 3


@functools.cache
def _statically_linked(path: str) -> bool:
    """Whether ``path`` is a 64-bit ELF executable without a program interpreter."""
    try:
        with Path(path).open("rb") as file:
            head = file.read(64)
            if len(head) < 64 or head[:5] != b"\x7fELF\x02":
                return False
            order = "<" if head[5] == 1 else ">"
            (table_at,) = struct.unpack_from(order + "Q", head, 32)
            size, count = struct.unpack_from(order + "HH", head, 54)
            file.seek(table_at)
            table = file.read(size * count)
    except OSError:
        return False
    if not size or len(table) < size * count:
        return False
    kinds = {struct.unpack_from(order + "I", table, at)[0] for at in range(0, len(table), size)}
    return _PT_INTERP not in kinds


@functools.cache
def encoders(ffmpeg: str | None = None) -> frozenset[str]:
    """Names of the encoders this ffmpeg was built with (``ffmpeg -encoders``)."""
    done = run_ffmpeg(["-encoders"], what="listing encoders", ffmpeg=ffmpeg)
    names = set()
    for line in done.stdout.decode(errors="replace").splitlines():
        parts = line.split()
        # Rows look like " V....D libx264  description"; the legend above has "=" in it.
        if len(parts) >= 2 and len(parts[0]) == 6 and "=" not in line:
            names.add(parts[1])
    return frozenset(names)


@functools.cache
def pixel_formats(encoder: str, ffmpeg: str | None = None) -> tuple[str, ...]:
    """The pixel formats ``encoder`` takes, in the order ffmpeg lists them (``ffmpeg -h
    encoder=NAME``); empty when ffmpeg does not say."""
    try:
        done = run_ffmpeg(["-h", f"encoder={encoder}"], what=f"describing {encoder}", ffmpeg=ffmpeg)
    except FfmpegError:
        return ()
    for line in done.stdout.decode(errors="replace").splitlines():
        label, _, names = line.strip().partition(":")
        if label == "Supported pixel formats":
            return tuple(names.split())
    return ()

"""Finding and running the ffmpeg executable."""

from __future__ import annotations

import functools
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import DataError
from ..settings import FFMPEG, ffmpeg_override

__all__ = ["FfmpegError", "encoders", "find_ffmpeg", "run_ffmpeg", "version"]

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
        super().__init__(
            f"{what}: ffmpeg exited with {returncode}: {tail}{hint} (command: {shown})"
        )


def find_ffmpeg(explicit: str | None = None) -> str:
    """The ffmpeg to run: ``explicit``, else ``BYTENITE_FFMPEG``, else ``ffmpeg`` on PATH,
    else the binary bundled with the ``imageio-ffmpeg`` wheel."""
    named, origin = explicit, "the ffmpeg argument"
    if named is None:
        named, origin = ffmpeg_override(), FFMPEG
    if named is not None:
        found = shutil.which(named)
        if found is None:
            raise DataError(f"{origin}: {named!r} is not an executable")
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
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace")
        hint = _too_old(command[0]) if "Unrecognized option" in stderr else ""
        raise FfmpegError(what, command, done.returncode, stderr, hint)
    return done


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

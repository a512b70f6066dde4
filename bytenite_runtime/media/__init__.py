"""ffmpeg plumbing for the video and audio components.

* :mod:`._ffmpeg` finds the executable (``BYTENITE_FFMPEG``, then ``PATH``, then the
  binary the ``imageio-ffmpeg`` wheel ships) and runs it, turning a failure into an
  :class:`FfmpegError` that carries the command and the last lines of its stderr;
* :mod:`.probe` reads streams, durations, frame times and keyframes with PyAV (no
  ffprobe needed): packets are demuxed, never decoded;
* :mod:`.gpu` picks NVENC when a GPU and the encoder are both usable, else libx264;
* :mod:`.cut` writes ``time-chunk`` chunks, :mod:`.join` joins media results;
* :mod:`.slots` carries chunk metadata in the container's ``comment`` tag.

Importing this package is cheap; PyAV is imported by the modules that need it.
"""

from __future__ import annotations

from pathlib import PurePath

from ._ffmpeg import FfmpegError, find_ffmpeg, run_ffmpeg

__all__ = ["MEDIA_EXTENSIONS", "FfmpegError", "find_ffmpeg", "is_media_name", "run_ffmpeg"]

MEDIA_EXTENSIONS = frozenset(
    "mp4 m4v mov mkv webm ts mts m2ts mka wav flac mp3 aac m4a opus ogg oga".split()
)
"""Extensions the ``concat`` assembler joins as media when its format is ``auto``."""


def is_media_name(name: str) -> bool:
    """True for a file name whose extension is a video or audio container."""
    return PurePath(name).suffix.lower().lstrip(".") in MEDIA_EXTENSIONS

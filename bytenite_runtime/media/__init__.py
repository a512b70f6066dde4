"""ffmpeg plumbing for the video and audio components.

* :mod:`._ffmpeg` finds the executable (``BYTENITE_FFMPEG``, then ``PATH``, then the
  binary the ``imageio-ffmpeg`` wheel ships) and runs it, turning a failure into an
  :class:`FfmpegError` that carries the command and the last lines of its stderr;
* :mod:`.probe` reads streams, durations, frame times and keyframes with PyAV (no
  ffprobe needed): packets are demuxed, never decoded (:mod:`._scan`, in one pass, or
  :mod:`._mp4index`, from an MP4's index), into the tracks of :mod:`._tracks`;
* :mod:`.gpu` picks NVENC when a GPU and the encoder are both usable, else libx264;
* :mod:`.plan` places the cuts, and :mod:`.cut` writes ``time-chunk`` chunks: stream
  copy (:mod:`._cut_copy`, its pieces :mod:`._cut_pieces`), exact (:mod:`._cut_exact`),
  with what they share in :mod:`._cut_out`;
* :mod:`.join` joins media results: its checks (:mod:`._join_checks`), what each
  output holds (:mod:`._join_codecs`), stream copy (:mod:`._join_copy`, in this process
  :mod:`.remux` for MP4/MOV and :mod:`._ogg` for Ogg Vorbis), re-encode
  (:mod:`._join_encode`);
* :mod:`.slots` carries chunk metadata in the container's ``comment`` tag.

Importing this package is cheap; PyAV is imported by the modules that need it.
"""

from __future__ import annotations

from pathlib import PurePath

from ._ffmpeg import FfmpegError, find_ffmpeg, run_ffmpeg, version

__all__ = [
    "MEDIA_EXTENSIONS",
    "MUXERS",
    "FfmpegError",
    "find_ffmpeg",
    "is_media_name",
    "run_ffmpeg",
    "version",
]

MUXERS = {
    "mp4": "mp4", "m4v": "mp4", "mov": "mov", "mkv": "matroska", "webm": "webm",
    "ts": "mpegts", "mts": "mpegts", "m2ts": "mpegts", "mka": "matroska", "wav": "wav",
    "flac": "flac", "mp3": "mp3", "aac": "adts", "m4a": "ipod", "opus": "ogg", "ogg": "ogg",
    "oga": "ogg",
}  # fmt: skip
"""The ffmpeg muxer for each video or audio extension."""

MEDIA_EXTENSIONS = frozenset(MUXERS)
"""Extensions the ``concat`` assembler joins as media when its format is ``auto``."""


def is_media_name(name: str) -> bool:
    """True for a file name whose extension is a video or audio container."""
    return PurePath(name).suffix.lower().lstrip(".") in MEDIA_EXTENSIONS

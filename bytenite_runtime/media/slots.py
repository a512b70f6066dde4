"""Chunk metadata in a media container's ``comment`` tag.

Every container ``time-chunk`` writes has a global comment (MP4/MOV ``©cmt``, Matroska
and WebM ``COMMENT``, ID3, Vorbis comments, WAV ``ICMT``) except ADTS. The tag has two
virtues: the chunk stays a plain playable file, and ffmpeg copies global metadata to
its output by default, so an app that re-encodes its chunk hands the metadata on to
the concat assembler without knowing it is there.

``chunks.read_slot`` calls :func:`read_media_meta` for chunks that start like a media
container; it reads headers only (PyAV opens the file, it demuxes nothing).
"""

from __future__ import annotations

from pathlib import Path

from ..chunks import META_KEY, ChunkMeta
from ..errors import DataError

__all__ = ["PREFIX", "encode_comment", "read_media_meta"]

PREFIX = META_KEY + "="


def encode_comment(meta: ChunkMeta) -> str:
    """The comment value carrying ``meta``."""
    return PREFIX + meta.to_json().decode()


def read_media_meta(path: Path) -> ChunkMeta | None:
    """The chunk metadata in a media file's comment tag, or None (also for a damaged file:
    the app that reads it will meet the damage)."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            metadata = dict(container.metadata)
            # Ogg keeps its tags on the stream (Vorbis comments in OpusTags).
            for stream in container.streams:
                metadata = {**dict(stream.metadata), **metadata}
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return None
    raw = next((v for k, v in metadata.items() if k.lower() == "comment"), None)
    if not isinstance(raw, str) or not raw.startswith(PREFIX):
        return None
    try:
        return ChunkMeta.from_json(raw[len(PREFIX) :].encode())
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path.name}: metadata under {META_KEY!r} is not valid ({exc})") from None
